# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
hyperparameter_tuning/xgboost_direct_marketing/hpo_xgboost_direct_marketing_sagemaker_python_sdk.ipynb
(commit c79ad65de^, the last before the 2023 pruning of hyperparameter_tuning/).

Built-in XGBoost tuned with ``HyperparameterTuner`` on ``validation:auc`` (Bayesian, the
default); static hyperparameters include dart's ``rate_drop`` and ``tweedie_variance_power``,
which SageMaker's XGBoost accepts.

Changed beyond imports and data (see README.md):
- ``np.in1d`` is gone from numpy 2.4: ``np.isin`` (same result);
- ``np.split(DataFrame, ...)`` returns ndarrays under numpy 2.4 + pandas 3: written with iloc;
- (none else: the last cell's ``boto3.client("sagemaker")`` is mlcore's through the import
  ``from mlcore.sagemaker import boto3``.)
Data: ``bank-additional-full.csv`` is generated with the notebook's columns (fixed seed) instead
of ``!wget`` + ``!unzip``; num_round 100 -> 10, max_jobs 20 -> 2, max_parallel_jobs 3 -> 2.
"""

# ---- data (replaces !wget .../bank-additional.zip and !unzip) ----
import os

import numpy as np
import pandas as pd


def _write_bank(path, n=2000, seed=5):
    rng = np.random.default_rng(seed)
    jobs = ["admin.", "blue-collar", "technician", "services", "management", "retired",
            "student", "unemployed"]
    df = pd.DataFrame({
        "age": rng.integers(18, 90, n), "job": rng.choice(jobs, n),
        "marital": rng.choice(["married", "single", "divorced"], n),
        "education": rng.choice(["basic.9y", "high.school", "university.degree"], n),
        "default": rng.choice(["no", "unknown"], n), "housing": rng.choice(["yes", "no"], n),
        "loan": rng.choice(["yes", "no"], n), "contact": rng.choice(["cellular", "telephone"], n),
        "month": rng.choice(["may", "jun", "jul", "aug", "nov"], n),
        "day_of_week": rng.choice(["mon", "tue", "wed", "thu", "fri"], n),
        "duration": rng.integers(0, 1000, n), "campaign": rng.integers(1, 10, n),
        "pdays": np.where(rng.random(n) < 0.8, 999, rng.integers(0, 27, n)),
        "previous": rng.integers(0, 4, n),
        "poutcome": rng.choice(["nonexistent", "failure", "success"], n),
        "emp.var.rate": rng.normal(0, 1.5, n).round(1), "cons.price.idx": rng.normal(93.5, 0.5, n),
        "cons.conf.idx": rng.normal(-40, 4, n), "euribor3m": rng.uniform(0.6, 5, n),
        "nr.employed": rng.normal(5160, 70, n),
    })
    score = (1.8 * (df["pdays"] != 999) + 1.2 * df["job"].isin(["student", "retired"])
             + 1.5 * (df["poutcome"] == "success") + 0.6 * (df["contact"] == "cellular") - 1.8)
    df["y"] = np.where(score + rng.normal(0, 0.6, n) > 0, "yes", "no")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    df.to_csv(path, sep=";", index=False)


_write_bank("./bank-additional/bank-additional-full.csv")

# ---- [3] ----
from mlcore import sagemaker
from mlcore.sagemaker import boto3  # was: import boto3
from mlcore.sagemaker.tuner import (
    IntegerParameter,
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
)
from mlcore.sagemaker.inputs import TrainingInput

import numpy as np  # For matrix operations and numerical processing
import pandas as pd  # For munging tabular data
import os

region = boto3.Session().region_name
smclient = boto3.Session().client("sagemaker")

role = sagemaker.get_execution_role()

bucket = sagemaker.Session().default_bucket()
prefix = "sagemaker/DEMO-hpo-xgboost-dm"

# ---- [7] ----
data = pd.read_csv("./bank-additional/bank-additional-full.csv", sep=";")
pd.set_option("display.max_columns", 500)  # Make sure we can see all of the columns
pd.set_option("display.max_rows", 50)  # Keep the output on one page

# ---- [11] (np.in1d -> np.isin) ----
data["no_previous_contact"] = np.where(
    data["pdays"] == 999, 1, 0
)  # Indicator variable to capture when pdays takes a value of 999
data["not_working"] = np.where(
    np.isin(data["job"], ["student", "retired", "unemployed"]), 1, 0
)  # Indicator for individuals not actively employed
model_data = pd.get_dummies(data)  # Convert categorical variables to sets of indicators

# ---- [13] ----
model_data = model_data.drop(
    ["duration", "emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m", "nr.employed"],
    axis=1,
)

# ---- [15] (np.split on a DataFrame, written with iloc) ----
_shuffled = model_data.sample(frac=1, random_state=1729)
_cuts = [int(0.7 * len(model_data)), int(0.9 * len(model_data))]
train_data, validation_data, test_data = (
    _shuffled.iloc[: _cuts[0]], _shuffled.iloc[_cuts[0]: _cuts[1]], _shuffled.iloc[_cuts[1]:])

pd.concat([train_data["y_yes"], train_data.drop(["y_no", "y_yes"], axis=1)], axis=1).to_csv(
    "train.csv", index=False, header=False
)
pd.concat(
    [validation_data["y_yes"], validation_data.drop(["y_no", "y_yes"], axis=1)], axis=1
).to_csv("validation.csv", index=False, header=False)
pd.concat([test_data["y_yes"], test_data.drop(["y_no", "y_yes"], axis=1)], axis=1).to_csv(
    "test.csv", index=False, header=False
)

# ---- [17] ----
boto3.Session().resource("s3").Bucket(bucket).Object(
    os.path.join(prefix, "train/train.csv")
).upload_file("train.csv")
boto3.Session().resource("s3").Bucket(bucket).Object(
    os.path.join(prefix, "validation/validation.csv")
).upload_file("validation.csv")

# ---- [19] ----
sess = sagemaker.Session()

container = sagemaker.image_uris.retrieve("xgboost", boto3.Session().region_name, "latest")

xgb = sagemaker.estimator.Estimator(
    container,
    role,
    instance_count=1,
    instance_type="ml.m4.xlarge",
    output_path="s3://{}/{}/output".format(bucket, prefix),
    sagemaker_session=sess,
)

xgb.set_hyperparameters(
    eval_metric="auc",
    objective="binary:logistic",
    num_round=10,
    rate_drop=0.3,
    tweedie_variance_power=1.4,
)

# ---- [21] ----
hyperparameter_ranges = {
    "eta": ContinuousParameter(0, 1),
    "min_child_weight": ContinuousParameter(1, 10),
    "alpha": ContinuousParameter(0, 2),
    "max_depth": IntegerParameter(1, 10),
}

# ---- [23] ----
objective_metric_name = "validation:auc"

# ---- [25] ----
tuner = HyperparameterTuner(
    xgb, objective_metric_name, hyperparameter_ranges, max_jobs=2, max_parallel_jobs=2
)

# ---- [27] ----
s3_input_train = TrainingInput(
    s3_data="s3://{}/{}/train".format(bucket, prefix), content_type="csv"
)
s3_input_validation = TrainingInput(
    s3_data="s3://{}/{}/validation/".format(bucket, prefix), content_type="csv"
)

tuner.fit({"train": s3_input_train, "validation": s3_input_validation}, include_cls_metadata=False)

# ---- [29] ----
status = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(
    HyperParameterTuningJobName=tuner.latest_tuning_job.job_name
)["HyperParameterTuningJobStatus"]
print(status)

# ---- corpus check (not in the notebook) ----
assert status == "Completed", status
df = tuner.analytics().dataframe()
print(df)
assert len(df) == 2, df
assert float(df["FinalObjectiveValue"].max()) > 0.75, df["FinalObjectiveValue"]
assert tuner.best_training_job() == df.sort_values("FinalObjectiveValue").iloc[-1]["TrainingJobName"]
