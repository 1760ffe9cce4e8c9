# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
introduction_to_amazon_algorithms/xgboost_abalone/xgboost_abalone_dist_script_mode.ipynb
(commit a75d5f253ef1), with its entry point code/xgboost_abalone_dist_script_mode/abalone.py
copied unchanged from the same folder.

XGBoost framework script mode (``sagemaker.xgboost.estimator.XGBoost(entry_point=...)``) on
two instances over libsvm channels, deployed with the script's ``model_fn`` and the XGBoost
container's default input/predict/output handlers, called through
``session.sagemaker_runtime_client.invoke_endpoint(ContentType="text/libsvm")``.

abalone.py imports the SageMaker XGBoost container's own modules
(``sagemaker_containers.entry_point``, ``sagemaker_xgboost_container.distributed`` and
``.data_utils.get_dmatrix``), which the container provides to the script on SageMaker.
Data: the abalone libsvm file is generated (fixed seed) instead of downloaded.
"""

# ---- data (replaces s3.download_file(... "datasets/tabular/uci_abalone/abalone.libsvm" ...)) ----
import numpy as np


def _write_abalone(path, n=800, seed=11):
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 4, n)
    length = rng.uniform(0.1, 0.8, n)
    whole = 3.0 * length**3 * rng.uniform(0.8, 1.2, n)
    X = np.column_stack([sex, length, length * 0.78, length * 0.27, whole, whole * 0.43,
                         whole * 0.22, whole * 0.29])
    rings = np.clip(np.round(3 + 14 * length + 8 * whole * 0.29 - 1.5 * (sex == 3)
                             + rng.normal(0, 1.0, n)), 1, 29)
    with open(path, "w") as f:
        for label, row in zip(rings, X):
            f.write(f"{int(label)} " + " ".join(f"{i + 1}:{v:.4g}" for i, v in enumerate(row)) + "\n")


_write_abalone("abalone")

# ---- [5] ----
import os
import boto3
import re
from mlcore import sagemaker

role = sagemaker.get_execution_role()
region = sagemaker.Session().boto_region_name

bucket = sagemaker.Session().default_bucket()
prefix = "sagemaker/DEMO-xgboost-dist-script"

# ---- [7] ----
import io
import boto3
import random

random.seed(42)


def data_split(
    FILE_DATA,
    DATA_DIR,
    FILE_TRAIN_BASE,
    FILE_TRAIN_1,
    FILE_VALIDATION,
    FILE_TEST,
    PERCENT_TRAIN_0,
    PERCENT_TRAIN_1,
    PERCENT_VALIDATION,
    PERCENT_TEST,
):
    data = [l for l in open(FILE_DATA, "r")]
    train_file_0 = open(DATA_DIR + "/" + FILE_TRAIN_0, "w")
    train_file_1 = open(DATA_DIR + "/" + FILE_TRAIN_1, "w")
    valid_file = open(DATA_DIR + "/" + FILE_VALIDATION, "w")
    tests_file = open(DATA_DIR + "/" + FILE_TEST, "w")

    num_of_data = len(data)
    num_train_0 = int((PERCENT_TRAIN_0 / 100.0) * num_of_data)
    num_train_1 = int((PERCENT_TRAIN_1 / 100.0) * num_of_data)
    num_valid = int((PERCENT_VALIDATION / 100.0) * num_of_data)
    num_tests = int((PERCENT_TEST / 100.0) * num_of_data)

    data_fractions = [num_train_0, num_train_1, num_valid, num_tests]
    split_data = [[], [], [], []]

    rand_data_ind = 0

    for split_ind, fraction in enumerate(data_fractions):
        for i in range(fraction):
            rand_data_ind = random.randint(0, len(data) - 1)
            split_data[split_ind].append(data[rand_data_ind])
            data.pop(rand_data_ind)

    for l in split_data[0]:
        train_file_0.write(l)

    for l in split_data[1]:
        train_file_1.write(l)

    for l in split_data[2]:
        valid_file.write(l)

    for l in split_data[3]:
        tests_file.write(l)

    train_file_0.close()
    train_file_1.close()
    valid_file.close()
    tests_file.close()


def write_to_s3(fobj, bucket, key):
    return (
        boto3.Session(region_name=region)
        .resource("s3")
        .Bucket(bucket)
        .Object(key)
        .upload_fileobj(fobj)
    )


def upload_to_s3(bucket, channel, filename):
    fobj = open(filename, "rb")
    key = prefix + "/" + channel
    url = "s3://{}/{}/{}".format(bucket, key, filename)
    print("Writing to {}".format(url))
    write_to_s3(fobj, bucket, key)


# ---- [9] ----
FILE_DATA = "abalone"

# Split the downloaded data into train/test/validation files
FILE_TRAIN_0 = "abalone.train_0"
FILE_TRAIN_1 = "abalone.train_1"
FILE_VALIDATION = "abalone.validation"
FILE_TEST = "abalone.test"
PERCENT_TRAIN_0 = 35
PERCENT_TRAIN_1 = 35
PERCENT_VALIDATION = 15
PERCENT_TEST = 15

DATA_DIR = "data"

if not os.path.exists(DATA_DIR):
    os.mkdir(DATA_DIR)

data_split(
    FILE_DATA,
    DATA_DIR,
    FILE_TRAIN_0,
    FILE_TRAIN_1,
    FILE_VALIDATION,
    FILE_TEST,
    PERCENT_TRAIN_0,
    PERCENT_TRAIN_1,
    PERCENT_VALIDATION,
    PERCENT_TEST,
)

# ---- [10] ----
# Upload the files to the S3 bucket
upload_to_s3(bucket, "train/train_0.libsvm", DATA_DIR + "/" + FILE_TRAIN_0)
upload_to_s3(bucket, "train/train_1.libsvm", DATA_DIR + "/" + FILE_TRAIN_1)
upload_to_s3(bucket, "validation/validation.libsvm", DATA_DIR + "/" + FILE_VALIDATION)
upload_to_s3(bucket, "test/test.libsvm", DATA_DIR + "/" + FILE_TEST)

# ---- [14] ----
hyperparams = {
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.7",
    "objective": "reg:squarederror",
    "num_round": "50",
    "verbosity": "2",
}

instance_type = "ml.m5.2xlarge"
output_path = "s3://{}/{}/{}/output".format(bucket, prefix, "abalone-dist-xgb")
content_type = "libsvm"

# ---- [15] ----
# Open Source distributed script mode
from mlcore.sagemaker.session import Session
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.xgboost.estimator import XGBoost

session = Session()
script_path = "abalone.py"

xgb_script_mode_estimator = XGBoost(
    entry_point=script_path,
    framework_version="1.7-1",  # Note: framework_version is mandatory
    hyperparameters=hyperparams,
    role=role,
    instance_count=2,
    instance_type=instance_type,
    output_path=output_path,
)

train_input = TrainingInput(
    "s3://{}/{}/{}/".format(bucket, prefix, "train"), content_type=content_type
)
validation_input = TrainingInput(
    "s3://{}/{}/{}/".format(bucket, prefix, "validation"), content_type=content_type
)

# ---- [17] ----
xgb_script_mode_estimator.fit({"train": train_input, "validation": validation_input})

# ---- [19] ----
predictor = xgb_script_mode_estimator.deploy(
    initial_instance_count=1, instance_type="ml.m5.2xlarge"
)

# ---- [20] ----
test_file = DATA_DIR + "/" + FILE_TEST
with open(test_file, "r") as f:
    payload = f.read()

# ---- [21] ----
runtime_client = session.sagemaker_runtime_client
response = runtime_client.invoke_endpoint(
    EndpointName=predictor.endpoint_name, ContentType="text/libsvm", Body=payload
)
result = response["Body"].read().decode("ascii")
print("Predicted values are {}.".format(result))

# ---- corpus check (not in the notebook): rmse of the predictions on the held-out file ----
labels = np.array([float(line.split(" ")[0]) for line in payload.strip().split("\n")])
# No Accept: the framework container answers in its default, JSON (a list of predictions).
import json

preds = np.array(json.loads(result), dtype=float).ravel()
assert preds.shape == labels.shape, (preds.shape, labels.shape)
rmse = float(np.sqrt(np.mean((preds - labels) ** 2)))
print("rmse", rmse, "label std", labels.std())
assert rmse < 0.6 * labels.std(), rmse

# ---- [23] ----
predictor.delete_model()
predictor.delete_endpoint()
