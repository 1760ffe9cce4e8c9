# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
sagemaker_model_monitor/introduction/SageMaker-ModelMonitoring.ipynb (commit a75d5f253ef1),
cells 3-18 (deploy with data capture, send traffic, read the capture files) and the endpoint
deletion of its cleanup cell.

A pre-trained XGBoost churn model brought in as ``Model(image_uri=..., model_data=<https S3
URL>, role=...)``, deployed with ``DataCaptureConfig(enable_capture=True,
sampling_percentage=100, destination_s3_uri=...)``, called row by row through
``Predictor(endpoint_name, serializer=CSVSerializer())``; the capture files are then listed and
read with a boto3 S3 client under ``<destination>/<endpoint>/...`` as SageMaker writes them.

Changed beyond imports and data: the baselining and monitoring-schedule half (cells 24-37+:
``DefaultModelMonitor.suggest_baseline``, ``create_monitoring_schedule``) is not transcribed;
mlcore has no model monitor jobs. ``!head -180 ...`` is the same file cut written in Python.
Data: ``model/xgb-churn-prediction-model.tar.gz`` and ``test_data/test-dataset-input-cols.csv``
(shipped in the notebook's folder) are generated here: a 20-round xgboost binary:logistic booster
saved as ``xgboost-model`` on synthetic churn-like features (fixed seed); 180 rows -> 5.
"""

# ---- data (replaces the notebook folder's model/ and test_data/ files) ----
import os
import tarfile

import numpy as np
import xgboost


def _make_model_and_test_data(n=1500, f=69, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).round(4)
    y = (X[:, 0] * 1.5 - X[:, 1] + 0.5 * X[:, 2] + rng.normal(0, 0.5, n) > 0).astype(float)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1},
                            xgboost.DMatrix(X[:1200], label=y[:1200]), num_boost_round=20)
    os.makedirs("model", exist_ok=True)
    booster.save_model("xgboost-model")
    with tarfile.open("model/xgb-churn-prediction-model.tar.gz", "w:gz") as tar:
        tar.add("xgboost-model")
    os.makedirs("test_data", exist_ok=True)
    np.savetxt("test_data/test-dataset-input-cols.csv", X[1200:], delimiter=",", fmt="%.4f")
    return booster, X[1200:]


LOCAL_BOOSTER, TEST_X = _make_model_and_test_data()

# ---- [3] ----
import os
import boto3
import re
import json
from mlcore import sagemaker
from mlcore.sagemaker import get_execution_role, session

sm_session = sagemaker.Session()
region = sm_session.boto_region_name
role = get_execution_role()
print("Role ARN: {}".format(role))
bucket = sm_session.default_bucket()
print("Demo Bucket: {}".format(bucket))
prefix = "sagemaker/DEMO-ModelMonitor"

data_capture_prefix = "{}/datacapture".format(prefix)
s3_capture_upload_path = "s3://{}/{}".format(bucket, data_capture_prefix)
reports_prefix = "{}/reports".format(prefix)
s3_report_path = "s3://{}/{}".format(bucket, reports_prefix)
code_prefix = "{}/code".format(prefix)
s3_code_preprocessor_uri = "s3://{}/{}/{}".format(bucket, code_prefix, "preprocessor.py")
s3_code_postprocessor_uri = "s3://{}/{}/{}".format(bucket, code_prefix, "postprocessor.py")

print("Capture path: {}".format(s3_capture_upload_path))
print("Report path: {}".format(s3_report_path))
print("Preproc Code path: {}".format(s3_code_preprocessor_uri))
print("Postproc Code path: {}".format(s3_code_postprocessor_uri))

# ---- [5] ----
model_file = open("model/xgb-churn-prediction-model.tar.gz", "rb")
s3_key = os.path.join(prefix, "xgb-churn-prediction-model.tar.gz")
boto3.Session().resource("s3").Bucket(bucket).Object(s3_key).upload_fileobj(model_file)

# ---- [7] ----
from time import gmtime, strftime
from mlcore.sagemaker.model import Model
from mlcore.sagemaker.image_uris import retrieve

model_name = "DEMO-xgb-churn-pred-model-monitor-" + strftime("%Y-%m-%d-%H-%M-%S", gmtime())
model_url = "https://{}.s3-{}.amazonaws.com/{}/xgb-churn-prediction-model.tar.gz".format(
    bucket, region, prefix
)

image_uri = retrieve("xgboost", region, "0.90-1")

model = Model(image_uri=image_uri, model_data=model_url, role=role)

# ---- [9] ----
from mlcore.sagemaker.model_monitor import DataCaptureConfig

endpoint_name = "DEMO-xgb-churn-pred-model-monitor-" + strftime("%Y-%m-%d-%H-%M-%S", gmtime())
print("EndpointName={}".format(endpoint_name))

data_capture_config = DataCaptureConfig(
    enable_capture=True, sampling_percentage=100, destination_s3_uri=s3_capture_upload_path
)

predictor = model.deploy(
    initial_instance_count=1,
    instance_type="ml.m4.xlarge",
    endpoint_name=endpoint_name,
    data_capture_config=data_capture_config,
)

# ---- [12] (!head -180 ... > test_sample.csv, 5 rows here) ----
from mlcore.sagemaker.predictor import Predictor
from mlcore.sagemaker.serializers import CSVSerializer
import time

predictor = Predictor(endpoint_name=endpoint_name, serializer=CSVSerializer())

# Get a subset of test data for a quick test
with open("test_data/test-dataset-input-cols.csv") as src, open("test_data/test_sample.csv", "w") as dst:
    dst.writelines(src.readlines()[:5])
print("Sending test traffic to the endpoint {}. \nPlease wait...".format(endpoint_name))

responses = []  # corpus check: keep what the notebook discards
with open("test_data/test_sample.csv", "r") as f:
    for row in f:
        payload = row.rstrip("\n")
        response = predictor.predict(data=payload)
        responses.append(response)
        time.sleep(1)

print("Done!")

# ---- [14] ----
s3_client = boto3.Session().client("s3")
current_endpoint_capture_prefix = "{}/{}".format(data_capture_prefix, endpoint_name)
result = s3_client.list_objects(Bucket=bucket, Prefix=current_endpoint_capture_prefix)
capture_files = [capture_file.get("Key") for capture_file in result.get("Contents")]
print("Found Capture Files:")
print("\n ".join(capture_files))


# ---- [16] ----
def get_obj_body(obj_key):
    return s3_client.get_object(Bucket=bucket, Key=obj_key).get("Body").read().decode("utf-8")


capture_file = get_obj_body(capture_files[-1])
print(capture_file[:2000])

# ---- [18] ----
import json

print(json.dumps(json.loads(capture_file.split("\n")[0]), indent=2))

# ---- corpus check (not in the notebook) ----
# Every request was captured (SageMaker's record layout), and the endpoint's answers are the
# brought-in model's own predictions.
records = [json.loads(line) for key in capture_files
           for line in get_obj_body(key).splitlines() if line.strip()]
assert len(records) == 5, len(records)
first = records[0]["captureData"]
assert first["endpointInput"]["mode"] == "INPUT" and first["endpointOutput"]["mode"] == "OUTPUT"
assert first["endpointInput"]["observedContentType"] == "text/csv", first["endpointInput"]
expected = LOCAL_BOOSTER.predict(xgboost.DMatrix(TEST_X[:5]))
got = np.array([float(r.decode("utf-8") if isinstance(r, bytes) else
                      (r["predictions"][0] if isinstance(r, dict) else r)) for r in responses])
np.testing.assert_allclose(got, expected, rtol=1e-4)

# ---- cleanup cell ----
predictor.delete_endpoint()
