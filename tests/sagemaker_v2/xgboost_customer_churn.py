# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
introduction_to_applying_machine_learning/xgboost_customer_churn/xgboost_customer_churn.ipynb
(commit a75d5f253ef1, the last before the 2024 re-layout moved it to
archived/xgboost_customer_churn_outputs.ipynb).

Built-in XGBoost on CSV channels, deployed with ``serializer=CSVSerializer()``, predictions read
as ``predictor.predict(array).decode("utf-8")``.

Changed beyond imports and data (see README.md):
- exploration-only cells (``display``, histograms, scatter matrix, plots) are left out: IPython is
  not installed and they feed nothing downstream;
- ``np.split(DataFrame, ...)`` returns plain ndarrays under numpy 2.4 + pandas 3 (no
  ``DataFrame.swapaxes``), so the same split is written with ``iloc``.
Data: ``churn.txt`` is generated (same columns as the notebook's synthetic file, fixed seed)
instead of downloaded (2,000 rows).
"""

# ---- data (replaces s3.download_file(... "datasets/tabular/synthetic/churn.txt" ...)) ----
import numpy as np
import pandas as pd


def _write_churn(path, n=2000, seed=7):
    rng = np.random.default_rng(seed)
    states = np.array(["KS", "OH", "NJ", "OK", "AL", "MA", "MO", "LA", "WV", "IN"])
    df = pd.DataFrame({
        "State": rng.choice(states, n),
        "Account Length": rng.integers(1, 240, n),
        "Area Code": rng.choice([408, 415, 510], n),
        "Phone": [f"{rng.integers(300, 999)}-{rng.integers(1000, 9999)}" for _ in range(n)],
        "Int'l Plan": rng.choice(["yes", "no"], n, p=[0.1, 0.9]),
        "VMail Plan": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        "VMail Message": rng.integers(0, 50, n),
        "Day Mins": rng.normal(180, 55, n).round(1),
        "Day Calls": rng.integers(40, 160, n),
        "Eve Mins": rng.normal(200, 50, n).round(1),
        "Eve Calls": rng.integers(40, 160, n),
        "Night Mins": rng.normal(200, 50, n).round(1),
        "Night Calls": rng.integers(40, 160, n),
        "Intl Mins": rng.normal(10, 3, n).round(1),
        "Intl Calls": rng.integers(0, 20, n),
        "CustServ Calls": rng.poisson(1.5, n),
    })
    for kind, rate in (("Day", 0.17), ("Eve", 0.085), ("Night", 0.045), ("Intl", 0.27)):
        df[f"{kind} Charge"] = (df[f"{kind} Mins"] * rate).round(2)
    score = 2.0 * (0.03 * (df["Day Mins"] - 180) + 1.1 * (df["CustServ Calls"] - 1.5)
             + 2.5 * (df["Int'l Plan"] == "yes") - 1.0 * (df["VMail Plan"] == "yes"))
    df["Churn?"] = np.where(score + rng.normal(0, 0.3, n) > 1.0, "True.", "False.")
    df.to_csv(path, index=False)


_write_churn("churn.txt")

# ---- [4] ----
from mlcore import sagemaker

sess = sagemaker.Session()
bucket = sess.default_bucket()
prefix = "sagemaker/DEMO-xgboost-churn"

# Define IAM role
import boto3
import re
from mlcore.sagemaker import get_execution_role

role = get_execution_role()

# ---- [6] ----
import io
import os
import sys
import time
import json
from time import strftime, gmtime
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.serializers import CSVSerializer

# ---- [9] ----
churn = pd.read_csv("./churn.txt")
pd.set_option("display.max_columns", 500)

# ---- [14] ----
churn = churn.drop("Phone", axis=1)
churn["Area Code"] = churn["Area Code"].astype(object)

# ---- [19] ----
churn = churn.drop(["Day Charge", "Eve Charge", "Night Charge", "Intl Charge"], axis=1)

# ---- [21] ----
model_data = pd.get_dummies(churn)
model_data = pd.concat(
    [model_data["Churn?_True."], model_data.drop(["Churn?_False.", "Churn?_True."], axis=1)], axis=1
)
model_data = model_data.astype(float)

# ---- [23] (np.split on a DataFrame, written with iloc: see the docstring) ----
_shuffled = model_data.sample(frac=1, random_state=1729)
_cuts = [int(0.7 * len(model_data)), int(0.9 * len(model_data))]
train_data, validation_data, test_data = (
    _shuffled.iloc[: _cuts[0]], _shuffled.iloc[_cuts[0]: _cuts[1]], _shuffled.iloc[_cuts[1]:])
train_data.to_csv("train.csv", header=False, index=False)
validation_data.to_csv("validation.csv", header=False, index=False)

# ---- [26] ----
boto3.Session().resource("s3").Bucket(bucket).Object(
    os.path.join(prefix, "train/train.csv")
).upload_file("train.csv")
boto3.Session().resource("s3").Bucket(bucket).Object(
    os.path.join(prefix, "validation/validation.csv")
).upload_file("validation.csv")

# ---- [28] ----
container = sagemaker.image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")

# ---- [30] ----
s3_input_train = TrainingInput(
    s3_data="s3://{}/{}/train".format(bucket, prefix), content_type="csv"
)
s3_input_validation = TrainingInput(
    s3_data="s3://{}/{}/validation/".format(bucket, prefix), content_type="csv"
)

# ---- [32] ----
sess = sagemaker.Session()

xgb = sagemaker.estimator.Estimator(
    container,
    role,
    instance_count=1,
    instance_type="ml.m4.xlarge",
    output_path="s3://{}/{}/output".format(bucket, prefix),
    sagemaker_session=sess,
)
xgb.set_hyperparameters(
    max_depth=5,
    eta=0.2,
    gamma=4,
    min_child_weight=6,
    subsample=0.8,
    verbosity=0,
    objective="binary:logistic",
    num_round=100,
)

xgb.fit({"train": s3_input_train, "validation": s3_input_validation})

# ---- [34] ----
xgb_predictor = xgb.deploy(
    initial_instance_count=1, instance_type="ml.m4.xlarge", serializer=CSVSerializer()
)

# ---- [37] ----
def predict(data, rows=500):
    split_array = np.array_split(data, int(data.shape[0] / float(rows) + 1))
    predictions = ""
    for array in split_array:
        predictions = "".join([predictions, xgb_predictor.predict(array).decode("utf-8")])

    return predictions.split("\n")[:-1]

predictions = predict(test_data.to_numpy()[:, 1:])

# ---- [38] ----
predictions = np.array([float(num) for num in predictions])
print(predictions)

# ---- [40] ----
print(pd.crosstab(
    index=test_data.iloc[:, 0],
    columns=np.round(predictions),
    rownames=["actual"],
    colnames=["predictions"],
))

# ---- [44] ----
print(pd.crosstab(index=test_data.iloc[:, 0], columns=np.where(predictions > 0.3, 1, 0)))

# ---- [47] (the cost curve, without its plot) ----
cutoffs = np.arange(0.01, 1, 0.01)
costs = []
for c in cutoffs:
    costs.append(
        np.sum(
            np.sum(
                np.array([[0, 100], [500, 100]])
                * pd.crosstab(index=test_data.iloc[:, 0], columns=np.where(predictions > c, 1, 0))
            )
        )
    )
costs = np.array(costs)

# ---- [48] ----
print(
    "Cost is minimized near a cutoff of:",
    cutoffs[np.argmin(costs)],
    "for a cost of:",
    np.min(costs),
)

# ---- corpus check (not in the notebook): predictions agree with the generated truth ----
truth = test_data.iloc[:, 0].to_numpy()
assert predictions.shape == truth.shape, (predictions.shape, truth.shape)
assert ((predictions >= 0) & (predictions <= 1)).all(), predictions[:10]
accuracy = float((np.round(predictions) == truth).mean())
print("accuracy", accuracy)
assert accuracy > 0.8, accuracy

# ---- [52] ----
xgb_predictor.delete_endpoint()
