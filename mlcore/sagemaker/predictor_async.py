"""``sagemaker.predictor_async``: ``AsyncPredictor``, what ``deploy(async_inference_config=...)``
returns: requests go through the runtime client's ``invoke_endpoint_async`` and their results
are read from storage, as v2 reads them from S3."""

from __future__ import annotations

import io
import time
import uuid

from botocore.exceptions import ClientError, WaiterError

from mlcore import _storage
from mlcore.errors import EndpointError
from mlcore.sagemaker import s3
from mlcore.sagemaker.async_inference import AsyncInferenceResponse, WaiterConfig
from mlcore.sagemaker.exceptions import AsyncInferenceModelError, PollingTimeoutError
from mlcore.sagemaker.s3 import parse_s3_url
from mlcore.sagemaker.utils import name_from_base, sagemaker_timestamp

# What a failure record is written as (serving._async: SageMaker's notification says so too).
FAILURE_CONTENT_TYPE = "application/json"


class AsyncPredictor:
    """v2's ``AsyncPredictor`` around ``predictor`` (the endpoint's ``Predictor``): ``data``
    is serialized by ``self.serializer`` and uploaded to
    ``s3://<default bucket>/[<prefix>/]async-endpoint-inputs/<name>-<yymmdd-HHMM>/<timestamp>-<uuid>``
    (or to ``input_path``), the request names it as its ``InputLocation``, and the result is
    deserialized by the wrapped predictor's deserializer. ``name``: the uploads' folder
    (``deploy`` passes the model's name); None: the endpoint's name."""

    def __init__(self, predictor, name=None):
        from mlcore.sagemaker.session import Session

        self.predictor = predictor
        self.endpoint_name = predictor.endpoint_name
        self.sagemaker_session = predictor.sagemaker_session or Session()
        # v2 uses the session's boto3 S3 client; mlcore's session stages s3:// URIs on the
        # configured object store or the local one, so the same three calls go there.
        self.s3_client = _ObjectClient()
        self.serializer = predictor.serializer
        self.deserializer = predictor.deserializer
        self.name = name
        self._endpoint_config_name = None
        self._model_names = None
        self._context = None
        self._input_path = None

    def predict(self, data=None, input_path=None, initial_args=None, inference_id=None,
                waiter_config=WaiterConfig()):
        """Send one request and wait for its result (``PollingTimeoutError`` after
        ``waiter_config.max_attempts * delay`` seconds; ``AsyncInferenceModelError`` with the
        failure record if the model failed on it)."""
        response = self._submit(data, input_path, initial_args, inference_id)
        return self._wait_for_output(output_path=response["OutputLocation"],
                                     failure_path=response.get("FailureLocation"),
                                     waiter_config=waiter_config)

    def predict_async(self, data=None, input_path=None, initial_args=None, inference_id=None):
        """Send one request; returns its :class:`AsyncInferenceResponse` at once."""
        response = self._submit(data, input_path, initial_args, inference_id)
        return AsyncInferenceResponse(predictor_async=self,
                                      output_path=response["OutputLocation"],
                                      failure_path=response.get("FailureLocation"))


    def _submit(self, data, input_path, initial_args, inference_id) -> dict:
        """Upload ``data`` (unless only ``input_path`` is given) and invoke; v2's shared steps."""
        if data is None and input_path is None:
            raise ValueError(
                "Please provide input data or input Amazon S3 location to use async prediction")
        if data is not None:
            input_path = self._upload_data_to_s3(data, input_path)
        self._input_path = input_path
        return self._submit_async_request(input_path, initial_args, inference_id)
    def _upload_data_to_s3(self, data, input_path=None):
        if input_path:
            bucket, key = parse_s3_url(input_path)
        else:
            # v2 passes self.name as it is, a TypeError when the AsyncPredictor was made
            # without one (aws/sagemaker-python-sdk#3210); the endpoint's name stands in.
            bucket = self.sagemaker_session.default_bucket()
            key = s3.s3_path_join(self.sagemaker_session.default_bucket_prefix,
                                  "async-endpoint-inputs",
                                  name_from_base(self.name or self.endpoint_name, short=True),
                                  f"{sagemaker_timestamp()}-{uuid.uuid4()}")
        data = self.serializer.serialize(data)
        self.s3_client.put_object(Body=data, Bucket=bucket, Key=key,
                                  ContentType=self.serializer.CONTENT_TYPE)
        return input_path or f"s3://{bucket}/{key}"

    def _create_request_args(self, input_path, initial_args=None, inference_id=None):
        """``invoke_endpoint_async``'s arguments, as v2 builds them; plus, for an input this
        predictor uploaded, its serializer's ``ContentType``: v2 leaves it out and sets it on
        the uploaded object instead, a type not every store here keeps with an object."""
        args = dict(initial_args) if initial_args else {}
        args["InputLocation"] = input_path
        if "EndpointName" not in args:
            args["EndpointName"] = self.predictor.endpoint_name
        if "Accept" not in args:
            accept = self.predictor.accept
            args["Accept"] = accept if isinstance(accept, str) else ", ".join(accept)
        if inference_id:
            args["InferenceId"] = inference_id
        uploaded = self.s3_client.content_type_of(input_path)
        if uploaded and "ContentType" not in args:
            args["ContentType"] = uploaded
        return args

    def _submit_async_request(self, input_path, initial_args, inference_id):
        request_args = self._create_request_args(input_path, initial_args, inference_id)
        response = self.sagemaker_session.sagemaker_runtime_client.invoke_endpoint_async(
            **request_args)
        # The content types S3 would hold for the outcome's objects once they are written.
        self.s3_client.expect(response["OutputLocation"], _answer_type(request_args["Accept"]))
        if response.get("FailureLocation"):
            self.s3_client.expect(response["FailureLocation"], FAILURE_CONTENT_TYPE)
        return response

    def _handle_response(self, response):
        """The wrapped predictor's ``_handle_response`` (v2's), or its deserializer's reading
        of the object's body and content type."""
        handle = getattr(self.predictor, "_handle_response", None)
        if handle is not None:
            return handle(response)
        return self.predictor.deserializer.deserialize(
            response["Body"], response.get("ContentType", "application/octet-stream"))

    def _wait_for_output(self, output_path, failure_path, waiter_config):
        if failure_path is not None:
            return self._check_output_and_failure_paths(output_path, failure_path, waiter_config)
        return self._check_output_path(output_path, waiter_config)

    def _check_output_path(self, output_path, waiter_config):
        bucket, key = parse_s3_url(output_path)
        try:
            self.s3_client.get_waiter("object_exists").wait(
                Bucket=bucket, Key=key, WaiterConfig=waiter_config._to_request_dict())
        except WaiterError:
            raise PollingTimeoutError(message="Inference could still be running",
                                      output_path=output_path,
                                      seconds=waiter_config.delay * waiter_config.max_attempts) from None
        return self._handle_response(self.s3_client.get_object(Bucket=bucket, Key=key))

    def _check_output_and_failure_paths(self, output_path, failure_path, waiter_config):
        """The result, or ``AsyncInferenceModelError`` with the failure record, whichever
        object appears first. v2 runs one S3 waiter per object in two threads and a third
        loop watching them (1 s apart); the thread still waiting outlives the call (up to
        ``delay * max_attempts``, and keeps the interpreter from exiting). One loop looking
        at both, ``delay`` apart, ``max_attempts`` times, answers the same."""
        output_bucket, output_key = parse_s3_url(output_path)
        failure_bucket, failure_key = parse_s3_url(failure_path)
        for attempt in range(waiter_config.max_attempts):
            if attempt:
                time.sleep(waiter_config.delay)
            if self.s3_client.exists(output_bucket, output_key):
                return self._handle_response(
                    self.s3_client.get_object(Bucket=output_bucket, Key=output_key))
            if self.s3_client.exists(failure_bucket, failure_key):
                failure = self.s3_client.get_object(Bucket=failure_bucket, Key=failure_key)
                raise AsyncInferenceModelError(message=self._handle_response(failure))
        raise PollingTimeoutError(message="Inference could still be running",
                                  output_path=output_path,
                                  seconds=waiter_config.delay * waiter_config.max_attempts)

    def update_endpoint(self, initial_instance_count=None, instance_type=None,
                        accelerator_type=None, model_name=None, tags=None, kms_key=None,
                        data_capture_config_dict=None, wait=True):
        """The wrapped predictor's ``update_endpoint``, as v2 delegates it."""
        update = getattr(self.predictor, "update_endpoint", None)
        if update is None:
            raise EndpointError(f"{type(self.predictor).__name__} has no update_endpoint here; "
                                f"deploy again with endpoint_name={self.endpoint_name!r} to "
                                "update the endpoint in place")
        update(initial_instance_count=initial_instance_count, instance_type=instance_type,
               accelerator_type=accelerator_type, model_name=model_name, tags=tags,
               kms_key=kms_key, data_capture_config_dict=data_capture_config_dict, wait=wait)

    def delete_endpoint(self, delete_endpoint_config=True):
        """Delete the endpoint (and its record), through the wrapped predictor."""
        self.predictor.delete_endpoint(delete_endpoint_config)

    def delete_model(self):
        self.predictor.delete_model()


def _answer_type(accept: str) -> str:
    """The content type an answer to ``accept`` is in, as far as the client can tell: its
    first type unless that is ``*/*`` (the container's default, unknown here)."""
    first = (accept or "").split(",")[0].split(";")[0].strip()
    return first if first and first != "*/*" else "application/octet-stream"


class _ObjectClient:
    """The S3 calls v2's AsyncPredictor makes (``put_object``, ``get_object``,
    ``get_waiter("object_exists")``) on mlcore's storage (:mod:`mlcore._storage`: the object
    store configured, or the local one), with boto3's errors (``ClientError`` NoSuchKey,
    ``WaiterError``). An object's content type is what S3 would keep: the one it was put
    with, or what ``expect`` was told it will be written as."""

    def __init__(self):
        self._types: dict[str, str] = {}

    def content_type_of(self, uri: str) -> str | None:
        """The content type this client put ``uri`` with (None: not put here)."""
        return self._types.get(uri)

    def expect(self, uri: str, content_type: str) -> None:
        self._types[uri] = content_type

    def put_object(self, Body, Bucket, Key, ContentType=None, **_):  # noqa: N803 (boto3's names)
        uri = f"s3://{Bucket}/{Key}"
        fs, path = _storage.filesystem(uri)
        fs.makedirs(path.rpartition("/")[0], exist_ok=True)
        body = Body.encode("utf-8") if isinstance(Body, str) else \
            Body.read() if hasattr(Body, "read") else bytes(Body)
        extra = {"ContentType": ContentType} if ContentType and _storage.is_remote(uri) else {}
        fs.pipe_file(path, body, **extra)
        if ContentType:
            self._types[uri] = ContentType
        return {}

    def exists(self, bucket: str, key: str) -> bool:
        fs, path = _storage.filesystem(f"s3://{bucket}/{key}")
        fs.invalidate_cache(path)  # s3fs keeps listings: a result written since must show
        return fs.isfile(path)

    def get_object(self, Bucket, Key, **_):  # noqa: N803 (boto3's names)
        uri = f"s3://{Bucket}/{Key}"
        fs, path = _storage.filesystem(uri)
        fs.invalidate_cache(path)
        try:
            body = fs.cat_file(path)
        except (FileNotFoundError, IsADirectoryError):
            raise ClientError({"Error": {"Code": "NoSuchKey",
                                         "Message": "The specified key does not exist.",
                                         "Key": Key},
                               "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject") from None
        except PermissionError as e:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": str(e)},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject") from None
        return {"Body": io.BytesIO(body), "ContentLength": len(body),
                "ContentType": self._types.get(uri, "application/octet-stream")}

    def get_waiter(self, waiter_name: str):
        if waiter_name != "object_exists":
            raise ValueError(f"no waiter {waiter_name!r}; the async predictor's S3 client has "
                             "object_exists")
        return _ObjectExists(self)


class _ObjectExists:
    """botocore's S3 ``object_exists`` waiter: look, then sleep ``Delay`` s between looks,
    ``MaxAttempts`` looks in all (botocore's defaults 5 s and 20), then ``WaiterError``."""

    def __init__(self, client: _ObjectClient):
        self.client = client

    def wait(self, Bucket, Key, WaiterConfig=None, **_):  # noqa: N803 (boto3's names)
        config = WaiterConfig or {}
        delay, attempts = config.get("Delay", 5), config.get("MaxAttempts", 20)
        for attempt in range(attempts):
            if attempt:
                time.sleep(delay)
            if self.client.exists(Bucket, Key):
                return
        raise WaiterError(name="ObjectExists", reason="Max attempts exceeded",
                          last_response={"Error": {"Code": "404", "Message": "Not Found"}})


__all__ = ["AsyncPredictor"]
