# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
deploy_and_monitor/sm-async_inference_with_python_sdk/sm-async_inference_with_python_sdk.ipynb
(commit 2d519b52c3a2, the repository's HEAD: the notebook exists only after the re-layout; the
folder's name begins with five spaces there).

A pre-trained built-in XGBoost model brought in as ``Model(name=..., image_uri=...,
model_data=<s3 URI>, role=..., predictor_cls=Predictor)`` and deployed as an **async
endpoint**: ``deploy(async_inference_config=AsyncInferenceConfig(output_path=...,
max_concurrent_invocations_per_instance=4))`` returns an ``AsyncPredictor``; each libsvm input
is staged with ``Session().upload_data(..., extra_args={"ContentType": "text/libsvm"})`` and
sent with ``predict_async(input_path=...)``, and its result is polled with
``Session().read_s3_file`` (``ClientError`` NoSuchKey while it is not there yet). The
Application Auto Scaling cells (register / put policy / deregister) are boto3's own calls,
unchanged (the loopback moto server answers them in the corpus runner); an async endpoint's
workers already scale to zero and back on its queue here.

Changed beyond imports and data: the ``!pip install`` cell (10) is left out.
Data: the cell downloading ``input/test_point_<i>.libsvm`` and
``model/demo-xgboost-model.tar.gz`` from ``sagemaker-example-files-prod-<region>`` (13) is
replaced by generating them: a 20-round ``reg:squarederror`` booster saved as
``xgboost-model`` on abalone-like features (8, libsvm, fixed seed) and one libsvm row per test
point; 25 test points -> 5 (cell 47's ``range(25)`` -> ``range(5)``).
"""

# ---- data (replaces cell [13]: the input files and the model, downloaded there) ----
import os
import tarfile

import numpy as np
import xgboost


def _abalone(n=600, seed=13):
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 4, n)
    length = rng.uniform(0.1, 0.8, n)
    diameter = length * rng.uniform(0.7, 0.85, n)
    height = length * rng.uniform(0.2, 0.35, n)
    whole = 3.0 * length**3 * rng.uniform(0.8, 1.2, n)
    shucked, viscera, shell = whole * 0.43, whole * 0.22, whole * 0.29
    rings = np.clip(np.round(3 + 14 * length + 8 * shell + (sex == 3) * -1.5
                             + rng.normal(0, 1.0, n)), 1, 29)
    X = np.column_stack([sex, length, diameter, height, whole, shucked, viscera, shell]).round(4)
    return X, rings


def _make_model_and_inputs(n_test=5):
    X, y = _abalone()
    booster = xgboost.train({"objective": "reg:squarederror", "max_depth": 4, "eta": 0.3,
                             "seed": 1}, xgboost.DMatrix(X[:500], label=y[:500]),
                            num_boost_round=20)
    os.makedirs("model", exist_ok=True)
    booster.save_model("xgboost-model")
    with tarfile.open("model/demo-xgboost-model.tar.gz", "w:gz") as tar:
        tar.add("xgboost-model")
    os.makedirs("input", exist_ok=True)
    for i in range(n_test):
        row = X[500 + i]
        with open(f"input/test_point_{i}.libsvm", "w") as f:
            f.write(f"{int(y[500 + i])} " + " ".join(f"{j + 1}:{v:g}" for j, v in enumerate(row)) + "\n")
    return booster, X[500:500 + n_test]


LOCAL_BOOSTER, TEST_X = _make_model_and_inputs()

# ---- [11] ----
from mlcore import sagemaker
import boto3
from time import gmtime, strftime
from datetime import datetime

boto_session = boto3.session.Session()
sm_session = sagemaker.session.Session()
region = boto_session.region_name

# ---- [15] ----
sm_role = sagemaker.get_execution_role()
# Feel free to use your own role here
# sm_role = "arn:aws:iam::123456789012:role/sagemaker-custom-role"
print(f"Using Role: {sm_role}")
s3_bucket = sm_session.default_bucket()
default_bucket_prefix = sm_session.default_bucket_prefix
print(f"Will use bucket '{s3_bucket}' for storing all resources related to this notebook")

# ---- [16] ----
bucket_prefix = "DEMO-async-inference"

# If a default bucket prefix is specified, append it to the s3 path
if default_bucket_prefix:
    bucket_prefix = f"{default_bucket_prefix}/{bucket_prefix}"

resource_name = "AsyncInferenceDemo-{}-{}"

# ---- [19] ----
model_s3_key = f"{bucket_prefix}/demo-xgboost-model.tar.gz"
model_url = f"s3://{s3_bucket}/{model_s3_key}"
print(f"Uploading Model to {model_url}")

with open("model/demo-xgboost-model.tar.gz", "rb") as model_file:
    boto_session.resource("s3").Bucket(s3_bucket).Object(model_s3_key).upload_fileobj(model_file)

# ---- [21] ----
from mlcore.sagemaker import image_uris

# Specify an AWS container image and region as desired
container = image_uris.retrieve(region=region, framework="xgboost", version="0.90-1")

# ---- [23] ----
from mlcore.sagemaker.model import Model
from mlcore.sagemaker.predictor import Predictor

model_name = resource_name.format("Model", datetime.now().strftime("%Y-%m-%d-%H-%M-%S"))

model_predictor = Model(
    name=model_name,
    image_uri=container,
    model_data=model_url,
    role=sm_role,
    predictor_cls=Predictor,
)
model_name

# ---- [26] ----
from mlcore.sagemaker.async_inference.async_inference_config import AsyncInferenceConfig

async_config = AsyncInferenceConfig(
    output_path=f"s3://{s3_bucket}/{bucket_prefix}/output",
    max_concurrent_invocations_per_instance=4,
    # Optionally specify Amazon SNS topics
    # notification_config = {
    # "SuccessTopic": "arn:aws:sns:<aws-region>:<account-id>:<topic-name>",
    # "ErrorTopic": "arn:aws:sns:<aws-region>:<account-id>:<topic-name>",
    # }
)

# ---- [29] ----
endpoint_name = resource_name.format("Endpoint", datetime.now().strftime("%Y-%m-%d-%H-%M-%S"))

async_predictor = model_predictor.deploy(
    async_inference_config=async_config,
    instance_type="ml.m5.xlarge",
    initial_instance_count=1,
    endpoint_name=endpoint_name,
)
endpoint_name

# ---- [32] ----
client = boto3.client(
    "application-autoscaling"
)  # Common class representing Application Auto Scaling for SageMaker amongst other services

resource_id = (
    "endpoint/" + endpoint_name + "/variant/" + "AllTraffic"
)  # This is the format in which application autoscaling references the endpoint

# Configure Autoscaling on asynchronous endpoint down to zero instances
response = client.register_scalable_target(
    ServiceNamespace="sagemaker",
    ResourceId=resource_id,
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    MinCapacity=0,
    MaxCapacity=5,
)

response = client.put_scaling_policy(
    PolicyName="Invocations-ScalingPolicy",
    ServiceNamespace="sagemaker",  # The namespace of the AWS service that provides the resource.
    ResourceId=resource_id,  # Endpoint name
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",  # SageMaker supports only Instance Count
    PolicyType="TargetTrackingScaling",  # 'StepScaling'|'TargetTrackingScaling'
    TargetTrackingScalingPolicyConfiguration={
        "TargetValue": 5.0,  # The target value for the metric. - here the metric is - SageMakerVariantInvocationsPerInstance
        "CustomizedMetricSpecification": {
            "MetricName": "ApproximateBacklogSizePerInstance",
            "Namespace": "AWS/SageMaker",
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}],
            "Statistic": "Average",
        },
        "ScaleInCooldown": 600,  # The cooldown period helps you prevent your Auto Scaling group from launching or terminating
        # additional instances before the effects of previous activities are visible.
        # You can configure the length of time based on your instance startup time or other application needs.
        # ScaleInCooldown - The amount of time, in seconds, after a scale in activity completes before another scale in activity can start.
        "ScaleOutCooldown": 300,  # ScaleOutCooldown - The amount of time, in seconds, after a scale out activity completes before another scale out activity can start.
        # 'DisableScaleIn': True|False - ndicates whether scale in by the target tracking policy is disabled.
        # If the value is true , scale in is disabled and the target tracking policy won't remove capacity from the scalable resource.
    },
)

# ---- [36] ----
import os


def upload_file(input_location):
    prefix = f"{bucket_prefix}/input"
    return sm_session.upload_data(
        input_location,
        bucket=sm_session.default_bucket(),
        key_prefix=prefix,
        extra_args={"ContentType": "text/libsvm"},
    )


# ---- [39] ----
input_1_location = "input/test_point_0.libsvm"
input_1_s3_location = upload_file(input_1_location)

# ---- [40] ----
async_response = async_predictor.predict_async(input_path=input_1_s3_location)
output_location = async_response.output_path

# ---- [43] ----
import urllib, time
from botocore.exceptions import ClientError


def get_output(output_location):
    output_url = urllib.parse.urlparse(output_location)
    bucket = output_url.netloc
    key = output_url.path[1:]
    while True:
        try:
            return sm_session.read_s3_file(bucket=output_url.netloc, key_prefix=output_url.path[1:])
        except ClientError as e:
            if e.response["Error"]["Code"] == "NoSuchKey":
                print("waiting for output...")
                time.sleep(2)
                continue
            raise


# ---- [44] ----
output = get_output(output_location)
print(f"Output: {output}")

# ---- [47] (range(25) -> range(5): five generated test points) ----
inferences = []
for i in range(5):
    input_file = f"input/test_point_{i}.libsvm"
    input_file_s3_location = upload_file(input_file)
    print(f"Invoking Endpoint with {input_file}")
    async_response = async_predictor.predict_async(input_path=input_file_s3_location)
    output_location = async_response.output_path
    print(output_location)
    inferences += [(input_file, output_location)]
    time.sleep(0.5)

for input_file, output_location in inferences:
    output = get_output(output_location)
    print(f"Input File: {input_file}, Output: {output}")

# ---- corpus check (not in the notebook) ----
# deploy() returned v2's AsyncPredictor named after the model, the missing failure path was
# filled in with v2's default layout, each result sits at <output_path>/<inference id>.out,
# and every answer is the brought-in booster's own prediction for its input file.
import re

from mlcore.sagemaker.async_inference import AsyncInferenceResponse, WaiterConfig
from mlcore.sagemaker.predictor_async import AsyncPredictor

assert isinstance(async_predictor, AsyncPredictor) and async_predictor.name == model_name
assert async_predictor.endpoint_name == endpoint_name
assert re.fullmatch(rf"s3://{s3_bucket}/async-endpoint-failures/{model_name}-\d+-[0-9a-f]{{4}}",
                    async_config.failure_path), async_config.failure_path
assert isinstance(async_response, AsyncInferenceResponse)
assert async_response.failure_path.startswith(async_config.failure_path + "/")
expected = LOCAL_BOOSTER.predict(xgboost.DMatrix(TEST_X))
assert len(inferences) == len(expected) == 5
for (input_file, output_location), want in zip(inferences, expected):
    assert re.fullmatch(rf"s3://{s3_bucket}/{bucket_prefix}/output/[0-9a-f-]+\.out",
                        output_location), output_location
    got = float(get_output(output_location))
    assert abs(got - want) <= 1e-5 * max(1.0, abs(want)), (input_file, got, want)
assert float(async_response.get_result(WaiterConfig(max_attempts=30, delay=1))) == float(
    get_output(output_location))

# ---- [50] ----
response = client.deregister_scalable_target(
    ServiceNamespace="sagemaker",
    ResourceId=resource_id,
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
)

# ---- [52] ----
# Delete the SageMaker endpoint
async_predictor.delete_endpoint()
