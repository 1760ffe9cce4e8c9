"""``sagemaker_client``'s hosting operations: CreateModel, CreateEndpointConfig,
CreateEndpoint and their Describe / Delete, onto mlcore's endpoints service.

Models and endpoint configurations are definitions only, until an endpoint is created from
them (SageMaker keeps them as resources; mlcore's records keep endpoints). They live in this
process, in the module-level tables below, as long as the process does: a notebook (one
process) creates, deploys and deletes them in turn. An endpoint, once created, is an ordinary
mlcore endpoint (``mlcore endpoints list``) with its own record; only the name of the
configuration it came from is kept here.
"""

from __future__ import annotations

import threading
import time

from mlcore import registry
from mlcore.errors import RegistryError
from mlcore.records import EndpointRecord
from mlcore.sagemaker._client_calls import arn, client_error, group_name, operation, package
from mlcore.sagemaker._client_packages import check_artifact, model_data_url, serving_fields
from mlcore.services._shapes import ROLE_ARN, compact, when
from mlcore.specs import DataCaptureSpec, Endpoint, ModelRef, ServerlessSpec, VariantSpec

_LOCK = threading.Lock()
_MODELS: dict[str, dict] = {}  # ModelName -> {"describe": DescribeModel, "refs": [ModelRef]}
_CONFIGS: dict[str, dict] = {}  # EndpointConfigName -> {"describe": ..., "spec": {...}}
_CONFIG_OF: dict[str, str] = {}  # EndpointName -> the EndpointConfigName it was created from
_ANSWERED: set[str] = set()  # endpoints created here that have answered their health check


def _not_found(op: str, what: str, resource: str, name: str):
    return client_error(op, f'Could not find {what} "{arn(resource, name)}".')


def _model_ref(op: str, c: dict) -> ModelRef:
    """The ModelRef a ContainerDefinition names: a model package version (or a group's
    approved version), a built-in's artifact, an inference script's, or (Mode MultiModel)
    a prefix of artifacts."""
    if c.get("ModelPackageName"):
        name = c["ModelPackageName"]
        if "/" not in name:  # a group: its newest Approved version when the endpoint starts
            group = group_name(name)
            registry.describe_group(group)
            return ModelRef(name=group)
        group, version = package(name)
        p = registry.describe(group_name(group), version)
        return ModelRef(name=p.model_package_group_name, version=p.version)
    url = model_data_url(c)
    if c.get("Mode") == "MultiModel":
        fields = serving_fields(c)
        if "algorithm" not in fields:
            raise RegistryError("Mode MultiModel serves a built-in algorithm's models; give "
                                "the algorithm's Image")
        return ModelRef(model_data_prefix=check_artifact(url, "the MultiModel container"),
                        algorithm=fields["algorithm"])
    return ModelRef(model_data=check_artifact(url, "the container"), **serving_fields(c))


class HostingOperations:
    """Models, endpoint configurations and endpoints."""

    @operation("CreateModel")
    def create_model(self, ModelName: str, PrimaryContainer: dict | None = None,
                     Containers: list | None = None, ExecutionRoleArn: str | None = None,
                     InferenceExecutionConfig: dict | None = None) -> dict:
        op = "CreateModel"
        if (PrimaryContainer is None) == (Containers is None):
            raise client_error(op, "Provide either PrimaryContainer or Containers, not both "
                               "and not neither.")
        containers = [PrimaryContainer] if PrimaryContainer else Containers
        if not containers:
            raise client_error(op, "Containers must hold at least one container.")
        if len(containers) > 1 and (InferenceExecutionConfig or {}).get("Mode") == "Direct":
            raise client_error(op, "InferenceExecutionConfig Mode Direct (each container "
                               "invoked on its own) is not supported by mlcore; leave it out "
                               "for an inference pipeline (Serial)")
        refs = [_model_ref(op, c) for c in containers]
        with _LOCK:
            if ModelName in _MODELS:
                raise client_error(op, "Cannot create already existing model "
                                   f'"{arn("model", ModelName)}".')
            _MODELS[ModelName] = {"refs": refs, "describe": compact({
                "ModelName": ModelName, "ModelArn": arn("model", ModelName),
                "PrimaryContainer": PrimaryContainer, "Containers": Containers,
                "InferenceExecutionConfig": InferenceExecutionConfig,
                "ExecutionRoleArn": ExecutionRoleArn or ROLE_ARN,
                "CreationTime": when(time.time()), "EnableNetworkIsolation": False})}
        return {"ModelArn": arn("model", ModelName)}

    @operation("DescribeModel")
    def describe_model(self, ModelName: str) -> dict:
        if ModelName not in _MODELS:
            raise _not_found("DescribeModel", "model", "model", ModelName)
        return dict(_MODELS[ModelName]["describe"])

    @operation("DeleteModel")
    def delete_model(self, ModelName: str) -> dict:
        with _LOCK:
            if _MODELS.pop(ModelName, None) is None:
                raise _not_found("DeleteModel", "model", "model", ModelName)
        return {}

    @operation("CreateEndpointConfig")
    def create_endpoint_config(self, EndpointConfigName: str, ProductionVariants: list,
                               DataCaptureConfig: dict | None = None) -> dict:
        op = "CreateEndpointConfig"
        variants = [_variant(op, v) for v in ProductionVariants]
        capture = None
        if DataCaptureConfig:
            capture = DataCaptureSpec(
                enable_capture=DataCaptureConfig.get("EnableCapture", True),
                sampling_percentage=DataCaptureConfig["InitialSamplingPercentage"],
                destination_s3_uri=DataCaptureConfig["DestinationS3Uri"])
        with _LOCK:
            if EndpointConfigName in _CONFIGS:
                raise client_error(op, "Cannot create already existing endpoint configuration "
                                   f'"{arn("endpoint-config", EndpointConfigName)}".')
            _CONFIGS[EndpointConfigName] = {
                "variants": variants, "capture": capture,
                "models": [v["ModelName"] for v in ProductionVariants],
                "describe": compact({
                    "EndpointConfigName": EndpointConfigName,
                    "EndpointConfigArn": arn("endpoint-config", EndpointConfigName),
                    "ProductionVariants": ProductionVariants,
                    "DataCaptureConfig": DataCaptureConfig, "CreationTime": when(time.time())})}
        return {"EndpointConfigArn": arn("endpoint-config", EndpointConfigName)}

    @operation("DescribeEndpointConfig")
    def describe_endpoint_config(self, EndpointConfigName: str) -> dict:
        if EndpointConfigName not in _CONFIGS:
            raise _not_found("DescribeEndpointConfig", "endpoint configuration",
                             "endpoint-config", EndpointConfigName)
        return dict(_CONFIGS[EndpointConfigName]["describe"])

    @operation("DeleteEndpointConfig")
    def delete_endpoint_config(self, EndpointConfigName: str) -> dict:
        with _LOCK:
            if _CONFIGS.pop(EndpointConfigName, None) is not None:
                return {}
        if EndpointRecord.exists(EndpointConfigName):  # the facade's endpoints: their own
            return {}                                  # configuration goes with them
        raise _not_found("DeleteEndpointConfig", "endpoint configuration", "endpoint-config",
                         EndpointConfigName)

    @operation("CreateEndpoint")
    def create_endpoint(self, EndpointName: str, EndpointConfigName: str) -> dict:
        """Deploy as CreateEndpoint does: the call returns once the endpoint's replicas are
        asked for, its status Creating until they serve (poll describe_endpoint, or
        ``get_waiter("endpoint_in_service")``)."""
        from mlcore.services import endpoints

        op = "CreateEndpoint"
        cfg = _CONFIGS.get(EndpointConfigName)
        if cfg is None:
            raise _not_found(op, "endpoint configuration", "endpoint-config", EndpointConfigName)
        gone = [m for m in cfg["models"] if m not in _MODELS]
        if gone:
            raise _not_found(op, "model", "model", gone[0])
        if EndpointRecord.exists(EndpointName):
            raise client_error(op, "Cannot create already existing endpoint "
                               f'"{arn("endpoint", EndpointName)}".')
        variants = []
        for v, model in zip(cfg["variants"], cfg["models"], strict=True):  # the models now
            refs = _MODELS[model]["refs"]
            variants.append(v.model_copy(update={"model": _one(refs), "pipeline": _many(refs)}))
        spec = Endpoint(endpoint_name=EndpointName, variants=variants, data_capture=cfg["capture"])
        endpoints.deploy(spec, wait=False)
        with _LOCK:
            _CONFIG_OF[EndpointName] = EndpointConfigName
        return {"EndpointArn": arn("endpoint", EndpointName)}

    @operation("DescribeEndpoint")
    def describe_endpoint(self, EndpointName: str) -> dict:
        from mlcore.services import endpoints

        if not EndpointRecord.exists(EndpointName):
            raise _not_found("DescribeEndpoint", "endpoint", "endpoint", EndpointName)
        d = endpoints.describe(EndpointName)
        if EndpointName in _CONFIG_OF and d["EndpointStatus"] == "InService" \
                and not _answers(EndpointName, d.get("Url")):
            d = {**d, "EndpointStatus": "Creating"}
        return {**d, "EndpointConfigName": _CONFIG_OF.get(EndpointName, d["EndpointConfigName"])}

    @operation("DeleteEndpoint")
    def delete_endpoint(self, EndpointName: str) -> dict:
        from mlcore.services import endpoints

        if not EndpointRecord.exists(EndpointName):
            raise _not_found("DeleteEndpoint", "endpoint", "endpoint", EndpointName)
        endpoints.delete(EndpointName)
        with _LOCK:
            _CONFIG_OF.pop(EndpointName, None)
            _ANSWERED.discard(EndpointName)
        return {}

    @operation("ListEndpoints")
    def list_endpoints(self, MaxResults: int = 10, NameContains: str | None = None) -> dict:
        recs = sorted(EndpointRecord.list(), key=lambda r: r.CreationTime, reverse=True)
        return {"Endpoints": [{
            "EndpointName": r.EndpointName, "EndpointArn": arn("endpoint", r.EndpointName),
            "CreationTime": when(r.CreationTime), "LastModifiedTime": when(r.LastModifiedTime),
            "EndpointStatus": str(r.EndpointStatus)} for r in recs
            if not NameContains or NameContains.lower() in r.EndpointName.lower()][:MaxResults]}


def _answers(name: str, url: str | None) -> bool:
    """Whether endpoint ``name``, created without waiting, answers its health check yet.
    Serve reports an application RUNNING a moment before its proxy routes to it; SageMaker's
    InService means the endpoint answers, so until then it reads as Creating."""
    import requests

    if name in _ANSWERED:
        return True
    try:
        ok = bool(url) and requests.get(f"{url}/ping", timeout=2).status_code == 200
    except requests.RequestException:
        ok = False
    if ok:
        _ANSWERED.add(name)
    return ok


def _variant(op: str, v: dict) -> VariantSpec:
    """A ProductionVariant as mlcore's VariantSpec (its model filled in at CreateEndpoint)."""
    name = v.get("ModelName")
    if not name:
        raise client_error(op, f"ProductionVariant {v['VariantName']} needs ModelName.")
    if name not in _MODELS:
        raise _not_found(op, "model", "model", name)
    serverless, instance = v.get("ServerlessConfig"), v.get("InstanceType")
    if bool(serverless) == bool(instance):
        raise client_error(op, f"ProductionVariant {v['VariantName']}: give InstanceType (with "
                           "InitialInstanceCount) or ServerlessConfig, one of them.")
    if instance and not v.get("InitialInstanceCount"):
        raise client_error(op, f"ProductionVariant {v['VariantName']}: InstanceType "
                           f"{instance} needs InitialInstanceCount.")
    refs = _MODELS[name]["refs"]
    return VariantSpec(
        variant_name=v["VariantName"], model=_one(refs), pipeline=_many(refs),
        initial_weight=v.get("InitialVariantWeight", 1.0),
        **({"serverless_config": ServerlessSpec(memory_size_in_mb=serverless["MemorySizeInMB"],
                                                max_concurrency=serverless["MaxConcurrency"])}
           if serverless else {"instance_type": instance,
                               "initial_instance_count": v["InitialInstanceCount"]}))


def _one(refs: list[ModelRef]) -> ModelRef | None:
    return refs[0] if len(refs) == 1 else None


def _many(refs: list[ModelRef]) -> list[ModelRef] | None:
    return refs if len(refs) > 1 else None
