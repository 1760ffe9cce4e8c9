# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
serverless-inference/serverless-model-registry.ipynb (commit a75d5f253ef1).

Register -> approve -> deploy from the registry, serverless: a built-in XGBoost model trained
with the SDK, then a model package group and a PendingManualApproval package created with the
SageMaker API, approved with ``update_model_package(ModelApprovalStatus="Approved")``, a model
made from the package, an endpoint config with ``ServerlessConfig`` (MemorySizeInMB 1024,
MaxConcurrency 10), the endpoint created and polled until InService, invoked, deleted.

The notebook drives the SageMaker API with boto3 clients: ``import boto3`` is
``from mlcore.sagemaker import boto3``, whose "sagemaker" / "sagemaker-runtime" clients are
mlcore's (other services are boto3's own). Changed beyond imports and data:
- ``!aws s3 cp file s3://...`` is the same upload with boto3's ``upload_file``;
- the endpoint poll sleeps 1 s instead of 15 s.
Data: ``abalone_dataset1_train.csv`` (label first, 8 scaled features, no header) is generated
(fixed seed) instead of downloaded.
"""

# ---- data (replaces s3.download_file(... "abalone_dataset1_train.csv" ...)) ----
import numpy as np


def _abalone_csv(path, n=800, seed=21):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(0, 0.1, n), rng.normal(0.5, 0.12, n), rng.normal(0.4, 0.1, n),
                         rng.normal(0.14, 0.04, n), rng.normal(0.8, 0.5, n),
                         rng.normal(0, 0.1, n), rng.normal(0, 0.1, n), rng.integers(0, 2, n)])
    y = np.clip(np.round(4 + 10 * X[:, 1] + 6 * X[:, 4] + rng.normal(0, 0.8, n)), 1, 29)
    np.savetxt(path, np.column_stack([y, X]), delimiter=",", fmt="%.6g")


_abalone_csv("abalone_dataset1_train.csv")

# ---- [7] ----
# Setup clients
from mlcore.sagemaker import boto3  # was: import boto3
from mlcore import sagemaker

client = boto3.client(service_name="sagemaker")
runtime = boto3.client(service_name="sagemaker-runtime")

# ---- [8] ----
from mlcore import sagemaker
from mlcore.sagemaker.estimator import Estimator

boto_session = boto3.session.Session()
region = boto_session.region_name
print(region)
sagemaker_session = sagemaker.Session()
base_job_prefix = "xgboost-example"
role = sagemaker.get_execution_role()
print(role)
default_bucket = sagemaker_session.default_bucket()
s3_prefix = base_job_prefix

training_instance_type = "ml.m5.xlarge"

# ---- [10] (!aws s3 cp abalone_dataset1_train.csv s3://{default_bucket}/xgboost-regression/train.csv) ----
boto3.client("s3").upload_file(
    "abalone_dataset1_train.csv", default_bucket, "xgboost-regression/train.csv")

# ---- [12] ----
from mlcore.sagemaker.inputs import TrainingInput

training_path = f"s3://{default_bucket}/xgboost-regression/train.csv"
train_input = TrainingInput(training_path, content_type="text/csv")

# ---- [13] ----
model_path = f"s3://{default_bucket}/{s3_prefix}/xgb_model"

# retrieve xgboost image
image_uri = sagemaker.image_uris.retrieve(
    framework="xgboost",
    region=region,
    version="1.0-1",
    py_version="py3",
    instance_type=training_instance_type,
)

# Configure Training Estimator
xgb_train = Estimator(
    image_uri=image_uri,
    instance_type=training_instance_type,
    instance_count=1,
    output_path=model_path,
    sagemaker_session=sagemaker_session,
    role=role,
)

# Set Hyperparameters
xgb_train.set_hyperparameters(
    objective="reg:linear",
    num_round=50,
    max_depth=5,
    eta=0.2,
    gamma=4,
    min_child_weight=6,
    subsample=0.7,
    silent=0,
)

# ---- [14] ----
# Fit model
xgb_train.fit({"train": train_input})

# ---- [15] ----
# Retrieve model data from training job
model_artifacts = xgb_train.model_data
print(model_artifacts)

# ---- [17] ----
# Create a Model Package Group: https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-model-group.html
import time
from time import gmtime, strftime

model_package_group_name = "xgboost-abalone" + strftime("%Y-%m-%d-%H-%M-%S", gmtime())
model_package_group_input_dict = {
    "ModelPackageGroupName": model_package_group_name,
    "ModelPackageGroupDescription": "Model package group for xgboost regression model with Abalone dataset",
}

create_model_pacakge_group_response = client.create_model_package_group(
    **model_package_group_input_dict
)
print(
    "ModelPackageGroup Arn : {}".format(create_model_pacakge_group_response["ModelPackageGroupArn"])
)

# ---- [18] ----
model_package_group_arn = create_model_pacakge_group_response["ModelPackageGroupArn"]
modelpackage_inference_specification = {
    "InferenceSpecification": {
        "Containers": [
            {
                "Image": image_uri,
            }
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
}
# Specify the model source
model_url = model_artifacts

# Specify the model data
modelpackage_inference_specification["InferenceSpecification"]["Containers"][0][
    "ModelDataUrl"
] = model_url

create_model_package_input_dict = {
    "ModelPackageGroupName": model_package_group_arn,
    "ModelPackageDescription": "Model for regression with the Abalone dataset",
    "ModelApprovalStatus": "PendingManualApproval",
}
create_model_package_input_dict.update(modelpackage_inference_specification)

# Create cross-account model package
create_mode_package_response = client.create_model_package(**create_model_package_input_dict)
model_package_arn = create_mode_package_response["ModelPackageArn"]
print("ModelPackage Version ARN : {}".format(model_package_arn))

# ---- [19] ----
print(client.list_model_packages(ModelPackageGroupName=model_package_group_name))

# ---- [20] ----
model_package_arn = client.list_model_packages(ModelPackageGroupName=model_package_group_name)[
    "ModelPackageSummaryList"
][0]["ModelPackageArn"]
print(model_package_arn)

# ---- [21] ----
described = client.describe_model_package(ModelPackageName=model_package_arn)
assert described["ModelApprovalStatus"] == "PendingManualApproval", described  # corpus check

# ---- [22] ----
# Approve the model package
model_package_update_input_dict = {
    "ModelPackageArn": model_package_arn,
    "ModelApprovalStatus": "Approved",
}
model_package_update_response = client.update_model_package(**model_package_update_input_dict)
print(model_package_update_response)

# ---- [25] ----
model_name = "xgboost-serverless-model" + strftime("%Y-%m-%d-%H-%M-%S", gmtime())
print("Model name : {}".format(model_name))
container_list = [{"ModelPackageName": model_package_arn}]

create_model_response = client.create_model(
    ModelName=model_name, ExecutionRoleArn=role, Containers=container_list
)

print("Model arn : {}".format(create_model_response["ModelArn"]))

# ---- [27] ----
endpoint_config_name = "xgboost-serverless-epc" + strftime("%Y-%m-%d-%H-%M-%S", gmtime())
print(endpoint_config_name)
create_endpoint_config_response = client.create_endpoint_config(
    EndpointConfigName=endpoint_config_name,
    ProductionVariants=[
        {
            "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 10},
            "ModelName": model_name,
            "VariantName": "AllTraffic",
        }
    ],
)

print("Endpoint Configuration Arn: " + create_endpoint_config_response["EndpointConfigArn"])

# ---- [29] ----
endpoint_name = "xgboost-serverless-ep" + strftime("%Y-%m-%d-%H-%M-%S", gmtime())

print("EndpointName={}".format(endpoint_name))

create_endpoint_response = client.create_endpoint(
    EndpointName=endpoint_name, EndpointConfigName=endpoint_config_name
)
print(create_endpoint_response["EndpointArn"])

# ---- [31] ----
import time

describe_endpoint_response = client.describe_endpoint(EndpointName=endpoint_name)

while describe_endpoint_response["EndpointStatus"] == "Creating":
    describe_endpoint_response = client.describe_endpoint(EndpointName=endpoint_name)
    print(describe_endpoint_response["EndpointStatus"])
    time.sleep(1)  # corpus: 15 s -> 1 s

print(describe_endpoint_response)

# ---- [33] ----
response = runtime.invoke_endpoint(
    EndpointName=endpoint_name,
    Body=b".345,0.224414,.131102,0.042329,.279923,-0.110329,-0.099358,0.0",
    ContentType="text/csv",
)

body = response["Body"].read()
print(body)

# ---- corpus check (not in the notebook) ----
# The served model is the registered, approved one: the same prediction as the training job's
# own model on that row, and close to the generated truth (4 + 10*0.224414 + 6*0.279923).
assert describe_endpoint_response["EndpointStatus"] == "InService", describe_endpoint_response
served = float(body.decode("utf-8").strip().split(",")[0])
print("served", served)
assert abs(served - (4 + 10 * 0.224414 + 6 * 0.279923)) < 2.0, served
assert client.describe_model_package(ModelPackageName=model_package_arn)[
    "ModelApprovalStatus"] == "Approved"

# ---- [35] ----
client.delete_model(ModelName=model_name)
client.delete_endpoint_config(EndpointConfigName=endpoint_config_name)
client.delete_endpoint(EndpointName=endpoint_name)
