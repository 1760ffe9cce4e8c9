"""The boto3-shaped clients of ``Session()``: what they offer, how they check their arguments
and refuse (botocore's ParamValidationError, then ClientError with SageMaker's codes), the
response shapes (botocore's service model, through ``shape_problems``), and a registry
version made from an Image + ModelDataUrl resolving to what the endpoint service serves. No
Ray: MLflow and the records run on SQLite under the session's MLCORE_HOME. (The calls run end
to end, endpoint and invocation included, in the v2 example corpus.)"""

from __future__ import annotations

import os
import tarfile
import uuid

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from mlcore.errors import EndpointError, RegistryError
from mlcore.sagemaker import Session, image_uris
from mlcore.sagemaker._client import _package
from mlcore.services._shapes import shape_problems


@pytest.fixture
def client():
    return Session().sagemaker_client


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """A model.tar.gz holding an xgboost-model file, as a built-in XGBoost job packs it."""
    import warnings

    import numpy as np
    import xgboost as xgb

    tmp_path = tmp_path_factory.mktemp("artifact")
    rng = np.random.default_rng(7)
    X = rng.normal(size=(64, 3))
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, label=X[:, 0]), 3)
    with warnings.catch_warnings():  # the built-in's own file name has no extension
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(tmp_path / "xgboost-model"))
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    return str(path)


@pytest.fixture
def approved(client, tarball):
    """An Approved xgboost package: (group, its ARN)."""
    group = _name("grp")
    client.create_model_package_group(ModelPackageGroupName=group)
    arn = client.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{
            "Image": image_uris.retrieve("xgboost", version="1.7-1"), "ModelDataUrl": tarball}]},
    )["ModelPackageArn"]
    return group, arn


# --- calling convention -----------------------------------------------------------------
def test_model_package_arns_in_every_spelling():
    assert _package("churn/3") == ("churn", 3)
    assert _package("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3") == ("churn", 3)
    assert _package("models:/churn/12") == ("churn", 12)
    for bad in ("churn", "churn/latest", "", None):
        with pytest.raises(RegistryError, match="ModelPackageArn"):
            _package(bad)


def test_unknown_operations_name_what_exists():
    sess = Session()
    with pytest.raises(AttributeError, match="no operation 'create_training_job'.*update_model_package"):
        _ = sess.sagemaker_client.create_training_job
    with pytest.raises(AttributeError, match="offers invoke_endpoint"):
        _ = sess.sagemaker_runtime_client.invoke_endpoint_with_response_stream
    with pytest.raises(ValueError, match="no waiter 'model_ready'"):
        sess.sagemaker_client.get_waiter("model_ready")


def test_parameters_are_checked_as_boto3_checks_them(client):
    with pytest.raises(ParamValidationError, match="Missing required parameter.*ModelPackageGroupName"):
        client.create_model_package_group()
    with pytest.raises(ParamValidationError, match="Unknown parameter.*ModelPackageGroup"):
        client.create_model_package_group(ModelPackageGroupName="g", ModelPackageGroup="x")
    with pytest.raises(ParamValidationError, match="Invalid type"):
        client.describe_endpoint(EndpointName=3)
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        client.describe_endpoint("ep")


def test_the_service_refuses_enumerations_names_and_ranges(client):
    with pytest.raises(ClientError, match="enum value set: \\[Approved, Rejected, "
                       "PendingManualApproval\\]") as e:
        client.update_model_package(ModelPackageArn="g/1", ModelApprovalStatus="approved")
    assert _code(e) == "ValidationException"
    assert "at 'modelApprovalStatus'" in str(e.value)
    with pytest.raises(ClientError, match="regular expression pattern") as e:
        client.create_model_package_group(ModelPackageGroupName="no_underscores")
    assert _code(e) == "ValidationException"
    variant = {"VariantName": "AllTraffic", "ModelName": "m",
               "ServerlessConfig": {"MemorySizeInMB": 512, "MaxConcurrency": 1}}
    with pytest.raises(ParamValidationError, match="valid min value: 1024"):  # boto3 checks minimums
        client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
    variant["ServerlessConfig"] = {"MemorySizeInMB": 8192, "MaxConcurrency": 500}
    with pytest.raises(ClientError, match="2 validation errors detected.*memorySizeInMB.*"
                       "less than or equal to 6144.*maxConcurrency.*less than or equal to 200"):
        client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])


# --- the registry -------------------------------------------------------------------------
def test_package_from_image_and_model_data_is_a_registry_version(client, tarball):
    from mlcore import registry

    group = _name("Abalone")
    created = client.create_model_package_group(ModelPackageGroupName=group,
                                                ModelPackageGroupDescription="abalone")
    assert not shape_problems(created, "CreateModelPackageGroup")
    assert created["ModelPackageGroupArn"].endswith(f":model-package-group/{group.lower()}")
    described = client.describe_model_package_group(ModelPackageGroupName=created["ModelPackageGroupArn"])
    assert not shape_problems(described, "DescribeModelPackageGroup"), described
    assert (described["ModelPackageGroupName"], described["ModelPackageGroupDescription"]) == (group, "abalone")
    with pytest.raises(ClientError, match="already exists") as e:
        client.create_model_package_group(ModelPackageGroupName=group.lower())  # names ignore case
    assert _code(e) == "ValidationException"

    image = image_uris.retrieve("xgboost", version="1.0-1")
    made = client.create_model_package(
        ModelPackageGroupName=created["ModelPackageGroupArn"], ModelPackageDescription="v1",
        InferenceSpecification={"Containers": [{"Image": image, "ModelDataUrl": tarball}],
                                "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]})
    assert not shape_problems(made, "CreateModelPackage")
    arn = made["ModelPackageArn"]
    assert arn == f"arn:aws:sagemaker:local:000000000000:model-package/{group.lower()}/1"

    listed = client.list_model_packages(ModelPackageGroupName=group)
    assert not shape_problems(listed, "ListModelPackages"), listed
    assert [p["ModelPackageArn"] for p in listed["ModelPackageSummaryList"]] == [arn]
    d = client.describe_model_package(ModelPackageName=arn)
    assert not shape_problems(d, "DescribeModelPackage"), d
    assert d["ModelApprovalStatus"] == "PendingManualApproval"  # SageMaker's default
    assert (d["ModelPackageGroupName"], d["ModelPackageVersion"]) == (group, 1)
    assert d["InferenceSpecification"]["Containers"] == [{"Image": image, "ModelDataUrl": tarball}]
    assert d["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]

    # In MLflow: a version whose source is the tarball, tagged with what serves it.
    pkg = registry.describe(group, 1)
    assert (pkg.source, pkg.model_data_url, pkg.artifact) == (tarball, tarball, {"algorithm": "xgboost"})

    updated = client.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                          ApprovalDescription="looks good")
    assert updated == {"ModelPackageArn": arn} and not shape_problems(updated, "UpdateModelPackage")
    d = client.describe_model_package(ModelPackageName=f"{group}/1")
    assert (d["ModelApprovalStatus"], d["ApprovalDescription"]) == ("Approved", "looks good")
    assert client.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Rejected")[
        "ModelPackageSummaryList"] == []


def test_the_endpoint_service_serves_the_registered_tarball(client, tarball, tmp_path):
    """ModelPackage(model_package_arn=ARN) and create_model resolve to the tarball, served
    by the built-in's loader, and only once the version is approved."""
    from mlcore.services import endpoints

    group = _name("srv")
    client.create_model_package_group(ModelPackageGroupName=group)
    arn = client.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification={"Containers": [{
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": tarball}]})["ModelPackageArn"]
    ref = endpoints.model_ref(arn)
    assert (ref.name, ref.version) == (group, 1)
    with pytest.raises(EndpointError, match="PendingManualApproval, not Approved"):
        endpoints.resolve(ref)
    client.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    model, info = endpoints.resolve(ref)
    assert info["ModelDataUrl"] == tarball and info["ModelPackageArn"] == f"{group}/1"
    assert model.model_data == tarball and model.container == "xgboost"
    # what a replica does with it: fetch (unpack) the tarball, load, predict
    import numpy as np

    from mlcore import _storage

    loaded = model.load(_storage.fetch_committed(tarball, str(tmp_path / "replica")))
    assert np.asarray(model.predict(loaded, np.zeros((2, 3), dtype=np.float32))).shape[0] == 2


def test_package_refusals(client, tarball, tmp_path):
    group = _name("refuse")
    spec = {"Containers": [{"Image": image_uris.retrieve("xgboost"), "ModelDataUrl": tarball}]}
    with pytest.raises(ClientError, match=f"ModelPackageGroup {group} does not exist") as e:
        client.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)
    assert _code(e) == "ValidationException"
    client.create_model_package_group(ModelPackageGroupName=group)
    cases = [
        ({"Containers": [{"Image": image_uris.retrieve("xgboost"),
                          "ModelDataUrl": str(tmp_path / "absent.tar.gz")}]}, "does not exist"),
        ({"Containers": [{"Image": "my-registry/custom-server:1", "ModelDataUrl": tarball}]},
         "not a built-in algorithm's image.*SAGEMAKER_PROGRAM"),
        ({"Containers": [{"Image": image_uris.retrieve("xgboost")}]}, "needs ModelDataUrl"),
        ({"Containers": spec["Containers"] * 2}, "exactly one container"),
    ]
    for inference, message in cases:
        with pytest.raises(ClientError, match=message) as e:
            client.create_model_package(ModelPackageGroupName=group, InferenceSpecification=inference)
        assert _code(e) == "ValidationException"
    with pytest.raises(ClientError, match="versioned model packages"):
        client.create_model_package(ModelPackageName="loose", InferenceSpecification=spec)
    with pytest.raises(ClientError, match=f"model-package/{group}/7 does not exist") as e:
        client.describe_model_package(ModelPackageName=f"{group}/7")
    assert _code(e) == "ValidationException"

    client.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)
    with pytest.raises(ClientError, match="still has versions") as e:
        client.delete_model_package_group(ModelPackageGroupName=group)
    assert _code(e) == "ConflictException"
    assert client.delete_model_package(ModelPackageName=f"{group}/1") == {}
    assert client.delete_model_package_group(ModelPackageGroupName=group) == {}
    with pytest.raises(ClientError, match="does not exist"):
        client.describe_model_package_group(ModelPackageGroupName=group)


def test_script_packages_name_their_entry_point(client, tarball):
    from mlcore import registry

    group = _name("script")
    client.create_model_package_group(ModelPackageGroupName=group)
    client.create_model_package(ModelPackageGroupName=group, InferenceSpecification={"Containers": [{
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
        "ModelDataUrl": tarball,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_REGION": "us-east-1",
                        "MY_SETTING": "1"}}]})
    assert registry.describe(group, 1).artifact == {
        "entry_point": "inference.py", "framework": "sklearn", "env": {"MY_SETTING": "1"}}


# --- models, endpoint configurations, endpoints ---------------------------------------
def test_models_and_endpoint_configs_are_definitions(client, approved, tarball):
    group, package_arn = approved
    model = _name("model")
    made = client.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::1:role/x",
                               Containers=[{"ModelPackageName": package_arn}])
    assert not shape_problems(made, "CreateModel")
    d = client.describe_model(ModelName=model)
    assert not shape_problems(d, "DescribeModel"), d
    assert d["Containers"] == [{"ModelPackageName": package_arn}]
    with pytest.raises(ClientError, match="Cannot create already existing model") as e:
        client.create_model(ModelName=model, PrimaryContainer={"ModelPackageName": package_arn})
    assert _code(e) == "ValidationException"
    direct = _name("direct")
    client.create_model(ModelName=direct, PrimaryContainer={
        "Image": image_uris.retrieve("xgboost"), "ModelDataUrl": tarball})

    config = _name("epc")
    made = client.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model,
         "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 10}},
        {"VariantName": "Direct", "ModelName": direct, "InstanceType": "ml.m5.xlarge",
         "InitialInstanceCount": 1, "InitialVariantWeight": 0.5}])
    assert not shape_problems(made, "CreateEndpointConfig")
    d = client.describe_endpoint_config(EndpointConfigName=config)
    assert not shape_problems(d, "DescribeEndpointConfig"), d
    assert [v["VariantName"] for v in d["ProductionVariants"]] == ["AllTraffic", "Direct"]

    assert client.delete_endpoint_config(EndpointConfigName=config) == {}
    assert client.delete_model(ModelName=model) == {}
    for call, message in [
        (lambda: client.delete_model(ModelName=model), f'Could not find model "arn:aws:sagemaker:local:000000000000:model/{model}"'),
        (lambda: client.describe_model(ModelName=model), "Could not find model"),
        (lambda: client.delete_endpoint_config(EndpointConfigName=config), "Could not find endpoint configuration"),
        (lambda: client.describe_endpoint_config(EndpointConfigName=config), "Could not find endpoint configuration"),
        (lambda: client.create_endpoint(EndpointName=_name("ep"), EndpointConfigName=config), "Could not find endpoint configuration"),
        (lambda: client.describe_endpoint(EndpointName="no-such-endpoint"), 'Could not find endpoint "arn:'),
        (lambda: client.delete_endpoint(EndpointName="no-such-endpoint"), "Could not find endpoint"),
        (lambda: client.describe_training_job(TrainingJobName="no-such-job"), "Requested resource not found"),
    ]:
        with pytest.raises(ClientError, match=message) as e:
            call()
        assert _code(e) == "ValidationException"


def test_model_and_config_refusals(client, approved, tarball):
    _, package_arn = approved
    container = {"ModelPackageName": package_arn}
    for kwargs, message in [
        ({}, "either PrimaryContainer or Containers"),
        ({"PrimaryContainer": container, "Containers": [container]}, "either PrimaryContainer"),
        ({"Containers": [container, container], "InferenceExecutionConfig": {"Mode": "Direct"}},
         "Mode Direct"),
        ({"PrimaryContainer": {"ModelPackageName": "no-such-group/1"}}, "does not exist"),
        ({"PrimaryContainer": {"Image": image_uris.retrieve("xgboost"),
                               "ModelDataUrl": tarball + ".gone.tar.gz"}}, "does not exist"),
    ]:
        with pytest.raises(ClientError, match=message) as e:
            client.create_model(ModelName=_name("m"), **kwargs)
        assert _code(e) == "ValidationException", kwargs
    model = _name("m")
    client.create_model(ModelName=model, PrimaryContainer=container)
    for variant, message in [
        ({"ModelName": "no-such-model", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1},
         "Could not find model"),
        ({"ModelName": model}, "InstanceType .*or ServerlessConfig"),
        ({"ModelName": model, "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1,
          "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1}}, "one of them"),
        ({"ModelName": model, "InstanceType": "ml.m5.xlarge"}, "needs InitialInstanceCount"),
        ({"ModelName": model, "InstanceType": "ml.nonsense.huge", "InitialInstanceCount": 1},
         "instance_type"),
    ]:
        with pytest.raises(ClientError, match=message) as e:
            client.create_endpoint_config(EndpointConfigName=_name("c"), ProductionVariants=[
                {"VariantName": "AllTraffic", **variant}])
        assert _code(e) == "ValidationException", variant


def test_an_unapproved_package_does_not_reach_an_endpoint(client, tarball):
    """create_endpoint resolves every model before anything starts: a PendingManualApproval
    version is refused (the endpoint service's approval rules) and no endpoint is left."""
    from mlcore.records import EndpointRecord

    group = _name("pending")
    client.create_model_package_group(ModelPackageGroupName=group)
    arn = client.create_model_package(ModelPackageGroupName=group, InferenceSpecification={
        "Containers": [{"Image": image_uris.retrieve("xgboost"), "ModelDataUrl": tarball}]})["ModelPackageArn"]
    model, config, endpoint = _name("m"), _name("c"), _name("ep")
    client.create_model(ModelName=model, PrimaryContainer={"ModelPackageName": arn})
    client.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1}}])
    with pytest.raises(ClientError, match="PendingManualApproval, not Approved") as e:
        client.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    assert _code(e) == "ValidationException"
    assert not EndpointRecord.exists(endpoint)
    assert os.path.exists(tarball)


def test_invoking_an_endpoint_that_does_not_exist():
    runtime = Session().sagemaker_runtime_client
    with pytest.raises(ClientError, match="Endpoint no-such-endpoint of account") as e:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1,2", ContentType="text/csv")
    assert _code(e) == "ValidationException"


def test_boto3_shim_answers_sagemaker_and_passes_the_rest_through():
    import boto3 as real

    from mlcore.sagemaker import boto3
    from mlcore.sagemaker._client import SageMakerClient, SageMakerRuntimeClient

    assert isinstance(boto3.client("sagemaker"), SageMakerClient)
    assert isinstance(boto3.Session().client("sagemaker"), SageMakerClient)
    for name in ("sagemaker-runtime", "runtime.sagemaker"):
        assert isinstance(boto3.client(name), SageMakerRuntimeClient)
    s3 = boto3.Session(region_name="us-east-1").client("s3")
    assert type(s3).__name__ == "S3" and boto3.resource is real.resource
    assert boto3.Session().region_name == real.Session().region_name
