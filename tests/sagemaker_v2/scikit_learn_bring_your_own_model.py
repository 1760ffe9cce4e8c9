# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
advanced_functionality/scikit_learn_bring_your_own_model/scikit_learn_bring_your_own_model.ipynb
(commit a75d5f253ef1), with code/inference.py and code/requirements.txt copied unchanged under
code/scikit_learn_bring_your_own_model/code/.

Bring your own model: a ``model.joblib`` trained elsewhere, tarred, put in S3 with boto3, served
by ``SKLearnModel(model_data=..., source_dir="code", entry_point="inference.py")`` (custom
``model_fn`` / ``predict_fn``, default input/output handlers); called with a DataFrame through
``SKLearnPredictor``, then with raw CSV and raw .npy bodies through the runtime client.

Changed beyond imports and data (see README.md):
- ``!tar czvf model.tar.gz $model_file_name`` is the same archive written with ``tarfile``;
(``boto3.client("sagemaker-runtime")`` is mlcore's through the import line
``from mlcore.sagemaker import boto3``.)
Data: ``fetch_california_housing`` downloads at run time, so scikit-learn's bundled diabetes
data stands in (same Bunch: data, target, feature_names); ``model.joblib`` (``!aws s3 cp`` from
aws-ml-blog) is a RandomForestRegressor trained here on the training split.
"""

# ---- [4] ----
import os
from mlcore.sagemaker import boto3  # was: import boto3
import re
import json
import pandas as pd
import numpy as np
from mlcore import sagemaker
from mlcore.sagemaker import get_execution_role
from mlcore.sagemaker.sklearn.model import SKLearnModel
from sklearn.datasets import load_diabetes as fetch_california_housing  # data: bundled, offline
from sklearn.model_selection import train_test_split

region = boto3.Session().region_name

role = get_execution_role()

bucket = sagemaker.Session().default_bucket()
prefix = "sagemaker/DEMO-sklearn-byo-model"
print(f"bucket: {bucket}")

# ---- [6] ----
data = fetch_california_housing()

# ---- [7] ----
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.25, random_state=42
)
# we don't train a model, so we will need only the testing data
testX = pd.DataFrame(X_test, columns=data.feature_names)

# ---- data (replaces !aws s3 cp s3://aws-ml-blog/artifacts/.../model.joblib .) ----
import joblib
from sklearn.ensemble import RandomForestRegressor

joblib.dump(RandomForestRegressor(n_estimators=30, random_state=0).fit(X_train, y_train),
            "model.joblib")

# ---- [12] ----
model_file_name = "model.joblib"

# ---- [13] (!tar czvf model.tar.gz $model_file_name) ----
import tarfile

with tarfile.open("model.tar.gz", "w:gz") as tar:
    tar.add(model_file_name)

# ---- [15] ----
fObj = open("model.tar.gz", "rb")
key = os.path.join(prefix, "model.tar.gz")
boto3.Session().resource("s3").Bucket(bucket).Object(key).upload_fileobj(fObj)

# ---- [17] ----
model_data = "s3://{}/{}".format(bucket, key)
print(f"model data: {model_data}")

# ---- [23] ----
model = SKLearnModel(
    role=role,
    model_data=model_data,
    framework_version="1.2-1",
    py_version="py3",
    source_dir="code",
    entry_point="inference.py",
)

# ---- [25] ----
predictor = model.deploy(instance_type="ml.t2.medium", initial_instance_count=1)

# ---- [29] ----
# the SKLearnPredictor does the serialization from pandas for us
predictions = predictor.predict(testX[data.feature_names])
print(predictions)

# ---- [31] ----
runtime = boto3.client("sagemaker-runtime")

# ---- [33] ----
# csv serialization
response = runtime.invoke_endpoint(
    EndpointName=predictor.endpoint,
    Body=testX[data.feature_names].to_csv(header=False, index=False).encode("utf-8"),
    ContentType="text/csv",
)
csv_body = response["Body"].read()
print(csv_body)

# ---- [35] ----
# npy serialization
from io import BytesIO

# Serialise numpy ndarray as bytes
buffer = BytesIO()
# Assuming testX is a data frame
np.save(buffer, testX[data.feature_names].values)
response = runtime.invoke_endpoint(
    EndpointName=predictor.endpoint, Body=buffer.getvalue(), ContentType="application/x-npy"
)
npy_body = response["Body"].read()
print(npy_body)

# ---- corpus check (not in the notebook): the endpoint answers what the model answers ----
expected = joblib.load("model.joblib").predict(X_test)
predictions = np.asarray(predictions, dtype=float).ravel()
np.testing.assert_allclose(predictions, expected, rtol=1e-5)
rmse = float(np.sqrt(np.mean((predictions - y_test) ** 2)))
print("rmse", rmse, "target std", y_test.std())
assert rmse < y_test.std(), rmse
assert len(csv_body) > 0 and len(npy_body) > 0

# ---- [37] ----
predictor.delete_endpoint()
