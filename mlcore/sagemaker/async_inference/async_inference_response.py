"""``sagemaker.async_inference.async_inference_response``: the handle ``predict_async``
returns on one request's result."""

from __future__ import annotations

from botocore.exceptions import ClientError

from mlcore.sagemaker.async_inference.waiter_config import WaiterConfig
from mlcore.sagemaker.exceptions import (
    AsyncInferenceModelError,
    ObjectNotExistedError,
    UnexpectedClientError,
)
from mlcore.sagemaker.s3 import parse_s3_url


class AsyncInferenceResponse:
    """v2's ``AsyncInferenceResponse``: ``output_path`` and ``failure_path`` of one request;
    ``get_result()`` reads the result once it is there (``ObjectNotExistedError`` before,
    ``AsyncInferenceModelError`` with the failure record if the request failed),
    ``get_result(WaiterConfig(...))`` waits for it (``PollingTimeoutError`` after
    ``max_attempts * delay`` seconds). The result is kept after the first success."""

    def __init__(self, predictor_async, output_path, failure_path):
        self.predictor_async = predictor_async
        self.output_path = output_path
        self._result = None
        self.failure_path = failure_path

    def get_result(self, waiter_config=None):
        """The result, deserialized by the predictor's deserializer (bytes with none)."""
        if waiter_config is not None and not isinstance(waiter_config, WaiterConfig):
            raise ValueError("waiter_config should be a WaiterConfig object")
        if self._result is None:
            if waiter_config is None:
                self._result = self._get_result_from_s3(self.output_path, self.failure_path)
            else:
                self._result = self.predictor_async._wait_for_output(
                    self.output_path, self.failure_path, waiter_config)
        return self._result

    def _get_result_from_s3(self, output_path, failure_path):
        if failure_path is not None:
            return self._get_result_from_s3_output_failure_paths(output_path, failure_path)
        return self._get_result_from_s3_output_path(output_path)

    def _get_object(self, path):
        bucket, key = parse_s3_url(path)
        response = self.predictor_async.s3_client.get_object(Bucket=bucket, Key=key)
        return self.predictor_async._handle_response(response)

    def _get_result_from_s3_output_path(self, output_path):
        try:
            return self._get_object(output_path)
        except ClientError as ex:
            if ex.response["Error"]["Code"] == "NoSuchKey":
                raise ObjectNotExistedError(message="Inference could still be running",
                                            output_path=output_path) from None
            raise UnexpectedClientError(message=ex.response["Error"]["Message"]) from None

    def _get_result_from_s3_output_failure_paths(self, output_path, failure_path):
        try:
            return self._get_object(output_path)
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchKey":
                raise UnexpectedClientError(message=e.response["Error"]["Message"]) from None
        try:
            failure_response = self._get_object(failure_path)
        except ClientError as ex:
            if ex.response["Error"]["Code"] == "NoSuchKey":
                raise ObjectNotExistedError(message="Inference could still be running",
                                            output_path=output_path) from None
            raise UnexpectedClientError(message=ex.response["Error"]["Message"]) from None
        raise AsyncInferenceModelError(message=failure_response)


__all__ = ["AsyncInferenceResponse"]
