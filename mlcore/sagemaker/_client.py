"""``Session().sagemaker_client`` and ``.sagemaker_runtime_client``: the boto3 SageMaker
calls AWS's examples make directly (register and approve a model package, create a model, an
endpoint configuration and an endpoint, describe a job, invoke an endpoint), answered by
mlcore's services with boto3's request and response shapes and its errors
(``botocore.exceptions.ClientError``; see ``_client_calls``).

Only the operations below exist; any other is an AttributeError that lists them, rather than
a call that silently does nothing. The registry's operations are in ``_client_packages``, the
hosting ones in ``_client_hosting``, the transform jobs' in ``_client_transform``.
"""

from __future__ import annotations

import io

from mlcore.records import TrainingJobRecord
from mlcore.sagemaker._client_calls import arn, client_error, operation
from mlcore.sagemaker._client_calls import package as _package
from mlcore.sagemaker._client_hosting import HostingOperations
from mlcore.sagemaker._client_packages import PackageOperations
from mlcore.sagemaker._client_transform import TransformOperations
from mlcore.services._shapes import when

__all__ = ["SageMakerClient", "SageMakerRuntimeClient", "_package"]


class SageMakerClient(PackageOperations, HostingOperations, TransformOperations):
    """The subset of ``boto3.client("sagemaker")`` that examples call, on mlcore."""

    def __getattr__(self, name):
        raise AttributeError(f"mlcore's sagemaker_client has no operation {name!r}; it offers "
                             f"{', '.join(operations())}")

    @operation("DescribeTrainingJob")
    def describe_training_job(self, TrainingJobName: str) -> dict:
        from mlcore.services import training

        if not TrainingJobRecord.exists(TrainingJobName):
            raise client_error("DescribeTrainingJob", "Requested resource not found.")
        return training.describe(TrainingJobName)

    @operation("DescribeHyperParameterTuningJob")
    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict:
        from mlcore.services import tuning

        return tuning.describe(HyperParameterTuningJobName)

    @operation("StopTrainingJob")
    def stop_training_job(self, TrainingJobName: str) -> dict:
        from mlcore.services import training

        training.stop(TrainingJobName)
        return {}

    @operation("StopHyperParameterTuningJob")
    def stop_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict:
        from mlcore.services import tuning

        tuning.stop(HyperParameterTuningJobName)
        return {}

    @operation("ListTrainingJobs")
    def list_training_jobs(self, MaxResults: int = 10, NameContains: str | None = None,
                           StatusEquals: str | None = None) -> dict:
        recs = sorted(TrainingJobRecord.list(), key=lambda r: r.CreationTime, reverse=True)
        return {"TrainingJobSummaries": [{
            "TrainingJobName": r.TrainingJobName,
            "TrainingJobArn": arn("training-job", r.TrainingJobName),
            "CreationTime": when(r.CreationTime), "TrainingJobStatus": str(r.TrainingJobStatus)}
            for r in recs
            if (not NameContains or NameContains.lower() in r.TrainingJobName.lower())
            and (not StatusEquals or str(r.TrainingJobStatus) == StatusEquals)][:MaxResults]}

    def get_waiter(self, waiter_name: str):
        return _Waiter(self, waiter_name)


def operations() -> list[str]:
    """The operations sagemaker_client answers, by boto3's method names."""
    return sorted([n for n in dir(SageMakerClient)
                   if hasattr(getattr(SageMakerClient, n), "operation_name")] + ["get_waiter"])


class _Waiter:
    """``client.get_waiter("endpoint_in_service" | "training_job_completed_or_stopped" |
    "transform_job_completed_or_stopped")``."""

    _WAITS = {"endpoint_in_service": ("describe_endpoint", "EndpointName", "EndpointStatus"),
              "training_job_completed_or_stopped": ("describe_training_job", "TrainingJobName",
                                                    "TrainingJobStatus"),
              "transform_job_completed_or_stopped": ("describe_transform_job",
                                                     "TransformJobName", "TransformJobStatus")}

    def __init__(self, client: SageMakerClient, name: str):
        if name not in self._WAITS:
            raise ValueError(f"no waiter {name!r}; mlcore has {', '.join(self._WAITS)}")
        self.client, self.name = client, name

    def wait(self, WaiterConfig: dict | None = None, **kwargs) -> None:
        import time

        op, key, status = self._WAITS[self.name]
        delay = (WaiterConfig or {}).get("Delay", 1)
        for _ in range((WaiterConfig or {}).get("MaxAttempts", 600)):
            value = str(getattr(self.client, op)(**{key: kwargs[key]}).get(status))
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
        from mlcore.records import EndpointRecord
        from mlcore.sagemaker.predictor import Predictor
        from serving import BytesDeserializer, IdentitySerializer, ServingError

        if not EndpointRecord.exists(EndpointName):  # as SageMaker's runtime answers
            raise client_error("InvokeEndpoint", f"Endpoint {EndpointName} of account "
                               "000000000000 not found.")
        p = Predictor(EndpointName, serializer=IdentitySerializer(ContentType),
                      deserializer=BytesDeserializer(Accept))
        try:
            body = p.predict(Body, initial_args={"ContentType": ContentType, "Accept": Accept},
                             target_variant=TargetVariant, target_model=TargetModel,
                             inference_id=InferenceId)
        except ServingError as e:  # the model's (or the endpoint's) refusal: SageMaker's
            raise client_error("InvokeEndpoint", str(e), "ModelError", 424) from None
        return {"Body": _Body(body), "ContentType": getattr(p, "last_content_type", None) or Accept,
                "InvokedProductionVariant": p.last_variant}
