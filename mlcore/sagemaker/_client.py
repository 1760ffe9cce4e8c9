"""``Session().sagemaker_client`` and ``.sagemaker_runtime_client``: the boto3 SageMaker
calls AWS's examples make directly (approve a model package, describe a job, invoke an
endpoint), answered by mlcore's services with boto3's request and response names.

Only the operations below exist; any other is an AttributeError that lists them, rather than
a call that silently does nothing.
"""

from __future__ import annotations

import io
import re

from mlcore.errors import RegistryError


def _package(arn: str) -> tuple[str, int]:
    """``(group, version)`` of ``group/3``, ``arn:...:model-package/group/3`` (SageMaker's
    ARN) or ``models:/group/3``."""
    m = re.search(r"(?:model-package/|models:/|^)([^/:]+)/(\d+)$", arn or "")
    if not m:
        raise RegistryError(f"ModelPackageArn {str(arn)[:200]!r} is not '<group>/<version>' or "
                            "a model package ARN ending in model-package/<group>/<version>")
    return m.group(1), int(m.group(2))


def _package_shape(p) -> dict:
    return {"ModelPackageGroupName": p.model_package_group_name,
            "ModelPackageVersion": p.version, "ModelPackageArn": p.model_package_arn,
            "ModelPackageName": p.model_package_group_name,
            "ModelApprovalStatus": p.approval_status, "ModelPackageStatus": "Completed",
            "ModelPackageDescription": p.description or "",
            "InferenceSpecification": {"Containers": [{"ModelDataUrl": p.source}]}}


class SageMakerClient:
    """The subset of ``boto3.client("sagemaker")`` that examples call, on mlcore."""

    OPERATIONS = ("describe_training_job", "describe_hyper_parameter_tuning_job",
                  "describe_endpoint", "delete_endpoint", "delete_endpoint_config", "delete_model",
                  "stop_training_job", "stop_hyper_parameter_tuning_job", "list_model_packages",
                  "describe_model_package", "update_model_package", "list_training_jobs",
                  "list_endpoints", "get_waiter")

    def __getattr__(self, name):
        raise AttributeError(f"mlcore's sagemaker_client has no operation {name!r}; it offers "
                             f"{', '.join(self.OPERATIONS)}")

    def describe_training_job(self, TrainingJobName: str) -> dict:
        from mlcore.services import training

        return training.describe(TrainingJobName)

    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict:
        from mlcore.services import tuning

        return tuning.describe(HyperParameterTuningJobName)

    def describe_endpoint(self, EndpointName: str) -> dict:
        from mlcore.services import endpoints

        return endpoints.describe(EndpointName)

    def delete_endpoint(self, EndpointName: str) -> dict:
        from mlcore.services import endpoints

        endpoints.delete(EndpointName)
        return {}

    def delete_endpoint_config(self, EndpointConfigName: str) -> dict:
        return {}  # an endpoint's configuration goes with the endpoint

    def delete_model(self, ModelName: str) -> dict:
        return {}  # models are the jobs' artifacts and registry versions, kept

    def stop_training_job(self, TrainingJobName: str) -> dict:
        from mlcore.services import training

        training.stop(TrainingJobName)
        return {}

    def stop_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict:
        from mlcore.services import tuning

        tuning.stop(HyperParameterTuningJobName)
        return {}

    def list_training_jobs(self, MaxResults: int = 100, **_) -> dict:
        from mlcore.records import TrainingJobRecord

        recs = sorted(TrainingJobRecord.list(), key=lambda r: r.CreationTime, reverse=True)
        return {"TrainingJobSummaries": [
            {"TrainingJobName": r.TrainingJobName, "TrainingJobStatus": str(r.TrainingJobStatus)}
            for r in recs[:MaxResults]]}

    def list_endpoints(self, MaxResults: int = 100, **_) -> dict:
        from mlcore.records import EndpointRecord

        return {"Endpoints": [{"EndpointName": r.EndpointName, "EndpointStatus": str(r.EndpointStatus)}
                              for r in EndpointRecord.list()[:MaxResults]]}

    def list_model_packages(self, ModelPackageGroupName: str, MaxResults: int = 100,
                            SortBy: str = "CreationTime", SortOrder: str = "Descending", **_) -> dict:
        from mlcore import registry

        versions = registry.list_versions(ModelPackageGroupName)
        versions = sorted(versions, key=lambda p: p.version, reverse=SortOrder == "Descending")
        return {"ModelPackageSummaryList": [_package_shape(p) for p in versions[:MaxResults]]}

    def describe_model_package(self, ModelPackageName: str) -> dict:
        from mlcore import registry

        return _package_shape(registry.describe(*_package(ModelPackageName)))

    def update_model_package(self, ModelPackageArn: str, ModelApprovalStatus: str | None = None,
                             ApprovalDescription: str | None = None, **_) -> dict:
        """Approve or reject a version (the ``approved`` alias follows)."""
        from mlcore import registry

        group, version = _package(ModelPackageArn)
        if ModelApprovalStatus:
            registry.set_approval(group, version, ModelApprovalStatus)
        return {"ModelPackageArn": f"{group}/{version}"}

    def get_waiter(self, waiter_name: str):
        return _Waiter(self, waiter_name)


class _Waiter:
    """``client.get_waiter("endpoint_in_service" | "training_job_completed_or_stopped")``."""

    _WAITS = {"endpoint_in_service": ("describe_endpoint", "EndpointName", "EndpointStatus"),
              "training_job_completed_or_stopped": ("describe_training_job", "TrainingJobName",
                                                    "TrainingJobStatus")}

    def __init__(self, client: SageMakerClient, name: str):
        if name not in self._WAITS:
            raise ValueError(f"no waiter {name!r}; mlcore has {', '.join(self._WAITS)}")
        self.client, self.name = client, name

    def wait(self, WaiterConfig: dict | None = None, **kwargs) -> None:
        import time

        op, key, status = self._WAITS[self.name]
        delay = (WaiterConfig or {}).get("Delay", 1)
        for _ in range((WaiterConfig or {}).get("MaxAttempts", 600)):
            value = str(getattr(self.client, op)(kwargs[key]).get(status))
            if value in ("InService", "Completed", "Stopped"):
                return
            if value == "Failed":
                raise RuntimeError(f"{self.name}: {kwargs[key]} failed")
            time.sleep(delay)
        raise TimeoutError(f"{self.name}: {kwargs[key]} still {value}")


class _Body(io.BytesIO):
    """boto3's StreamingBody: ``read()`` the response."""


class SageMakerRuntimeClient:
    """``boto3.client("sagemaker-runtime").invoke_endpoint`` over the endpoint's HTTP API."""

    def __getattr__(self, name):
        raise AttributeError(f"mlcore's sagemaker_runtime_client has no operation {name!r}; "
                             "it offers invoke_endpoint")

    def invoke_endpoint(self, EndpointName: str, Body, ContentType: str = "application/octet-stream",
                        Accept: str = "*/*", TargetVariant: str | None = None,
                        TargetModel: str | None = None, InferenceId: str | None = None,
                        CustomAttributes: str | None = None, **_) -> dict:
        from mlcore.sagemaker.predictor import Predictor
        from serving import BytesDeserializer, IdentitySerializer

        p = Predictor(EndpointName, serializer=IdentitySerializer(ContentType),
                      deserializer=BytesDeserializer(Accept))
        body = p.predict(Body, initial_args={"ContentType": ContentType, "Accept": Accept},
                         target_variant=TargetVariant, target_model=TargetModel,
                         inference_id=InferenceId)
        return {"Body": _Body(body), "ContentType": getattr(p, "last_content_type", None) or Accept,
                "InvokedProductionVariant": p.last_variant}
