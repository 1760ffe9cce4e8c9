"""``Session().sagemaker_client`` and ``.sagemaker_runtime_client``: the boto3 SageMaker
calls AWS's examples make directly (register and approve a model package, create a model, an
endpoint configuration and an endpoint, describe a job, invoke an endpoint, synchronously or
asynchronously), answered by
mlcore's services with boto3's request and response shapes and its errors
(``botocore.exceptions.ClientError``; see ``_client_calls``).

Only the operations below exist; any other is an AttributeError that lists them, rather than
a call that silently does nothing. The registry's operations are in ``_client_packages``, the
hosting ones in ``_client_hosting``, the transform jobs' in ``_client_transform``.
"""

from __future__ import annotations

import functools
import io
import logging
import uuid

from mlcore.records import TrainingJobRecord
from mlcore.sagemaker._client_calls import _constraints, _noted, arn, client_error, operation
from mlcore.sagemaker._client_calls import package as _package
from mlcore.sagemaker._client_hosting import HostingOperations
from mlcore.sagemaker._client_packages import PackageOperations
from mlcore.sagemaker._client_transform import TransformOperations
from mlcore.services._shapes import when

__all__ = ["SageMakerClient", "SageMakerRuntimeClient", "_package"]
log = logging.getLogger("mlcore")


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
    """``boto3.client("sagemaker-runtime")``'s ``invoke_endpoint`` and
    ``invoke_endpoint_async`` over the endpoint's HTTP API."""

    def __getattr__(self, name):
        raise AttributeError(f"mlcore's sagemaker_runtime_client has no operation {name!r}; "
                             "it offers invoke_endpoint, invoke_endpoint_async")

    def invoke_endpoint_async(self, *args, EndpointName: str | None = None,
                              InputLocation: str | None = None, ContentType: str | None = None,
                              Accept: str | None = None, CustomAttributes: str | None = None,
                              InferenceId: str | None = None,
                              RequestTTLSeconds: int | None = None,
                              InvocationTimeoutSeconds: int | None = None, Body=None,
                              S3OutputPathExtension: str | None = None,
                              Filename: str | None = None, **unknown) -> dict:
        """InvokeEndpointAsync: queue one request on an async endpoint (its input at
        ``InputLocation``, an s3:// URI, or, as newer botocore has it, inline as ``Body``);
        returns at once with ``InferenceId``, ``OutputLocation`` and ``FailureLocation``.
        Parameters are checked as botocore and the service check them
        (``ParamValidationError``, ``ClientError`` ValidationError); the endpoint's refusals
        (4xx) are ``ClientError`` ValidationError with its message. ``S3OutputPathExtension``
        and ``Filename`` are accepted and not used (the answer's OutputLocation says where
        the result goes); ``InvocationTimeoutSeconds`` is sent, and the endpoint applies its
        own ``invocation_timeout_s``. A parameter given as None is not given."""
        if args:
            raise TypeError("invoke_endpoint_async() only accepts keyword arguments.")
        op = "InvokeEndpointAsync"
        given = {k: v for k, v in locals().items() if k in _ASYNC_PARAMS and v is not None}
        params = {**given, **unknown}  # an unknown one: botocore's ParamValidationError
        _check_runtime_params(op, params)
        for k in ("S3OutputPathExtension", "Filename"):
            if k in params and (op, k) not in _noted:
                _noted.add((op, k))
                log.info("mlcore: invoke_endpoint_async accepts %s, which is not used here; "
                         "the result goes to the OutputLocation it answers", k)
        return _invoke_async(op, params)

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


_ASYNC_PARAMS = ("EndpointName", "InputLocation", "ContentType", "Accept", "CustomAttributes",
                 "InferenceId", "RequestTTLSeconds", "InvocationTimeoutSeconds", "Body",
                 "S3OutputPathExtension", "Filename")
# InvokeEndpointAsync's parameters as the endpoint's headers (SageMaker's REST names).
_ASYNC_HEADERS = {"InputLocation": "X-Amzn-SageMaker-InputLocation",
                  "ContentType": "X-Amzn-SageMaker-Content-Type",
                  "Accept": "X-Amzn-SageMaker-Accept",
                  "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes",
                  "InferenceId": "X-Amzn-SageMaker-Inference-Id",
                  "RequestTTLSeconds": "X-Amzn-SageMaker-RequestTTLSeconds",
                  "InvocationTimeoutSeconds": "X-Amzn-SageMaker-InvocationTimeoutSeconds"}


@functools.cache
def _runtime_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker-runtime")


def _check_runtime_params(op: str, params: dict) -> None:
    """botocore's client-side check (``ParamValidationError``), then the service's own
    (lengths, ranges, patterns: ``ClientError`` ValidationError, as the runtime words it)."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import ParamValidator

    shape = _runtime_model().operation_model(op).input_shape
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())
    problems = _constraints(params, shape, "")
    if "Body" in params and "InputLocation" in params:
        problems.append("Provide either Body or InputLocation, not both")
    elif "Body" not in params and "InputLocation" not in params:
        problems.append("Provide InputLocation (an s3:// URI of the input) or Body")
    if problems:
        n = len(problems)
        raise client_error(op, f"{n} validation error{'s' if n > 1 else ''} detected: "
                           + "; ".join(problems), "ValidationError")


def _invoke_async(op: str, params: dict) -> dict:
    import requests

    from mlcore.records import EndpointRecord
    from serving import endpoint_url

    name = params["EndpointName"]
    if not EndpointRecord.exists(name):  # as SageMaker's runtime answers
        raise client_error(op, f"Endpoint {name} of account 000000000000 not found.",
                           "ValidationError")
    headers = {h: str(params[k]) for k, h in _ASYNC_HEADERS.items() if params.get(k) is not None}
    body = params.get("Body")
    url = endpoint_url(name)
    try:
        res = requests.post(f"{url}/async-invocations", headers=headers, timeout=60,
                            data=body.encode("utf-8") if isinstance(body, str) else body)
    except requests.RequestException as e:
        raise client_error(op, f"endpoint {name} is not reachable at {url} ({type(e).__name__}); "
                           "is it deployed and is Ray running?", "ServiceUnavailable", 503) from None
    if res.status_code != 202:
        try:
            message = res.json().get("error") or res.text[:300]
        except ValueError:
            message = res.text[:300]
        code = "ValidationError" if res.status_code < 500 else "InternalFailure"
        raise client_error(op, message, code, res.status_code)
    out = res.json()
    return {"InferenceId": out["InferenceId"], "OutputLocation": out["OutputLocation"],
            "FailureLocation": out["FailureLocation"],
            "ResponseMetadata": {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 202,
                                 "HTTPHeaders": {k.lower(): v for k, v in res.headers.items()},
                                 "RetryAttempts": 0}}
