"""``sagemaker.async_inference.async_inference_config``: what ``deploy`` needs to make the
endpoint asynchronous."""

from __future__ import annotations


class AsyncInferenceConfig:
    """v2's ``AsyncInferenceConfig``, passed as ``deploy(async_inference_config=...)``.

    ``output_path`` / ``failure_path``: where each result (``<id>.out``) and failure record
    (``<id>-error.out``) is written; ``deploy`` fills in
    ``s3://<default bucket>/[<prefix>/]async-endpoint-{outputs,failures}/<unique name>`` for
    a missing one, on this object, as v2 does. ``max_concurrent_invocations_per_instance``:
    requests one replica works on at once (1-1000; None: one per vCPU).
    ``notification_config``: ``{"SuccessTopic": ..., "ErrorTopic": ...,
    "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"]}``, each topic an http(s)
    URL (POSTed SageMaker's notification JSON) or a Python callable (called with that dict in
    the replica's process, so it must pickle with cloudpickle); an SNS topic ARN is accepted
    and notifies nobody (SNS does not exist here; the log says so once). ``kms_key_id`` is
    accepted and not used (storage encryption is the store's)."""

    def __init__(self, output_path=None, max_concurrent_invocations_per_instance=None,
                 kms_key_id=None, notification_config=None, failure_path=None):
        self.output_path = output_path
        self.max_concurrent_invocations_per_instance = max_concurrent_invocations_per_instance
        self.kms_key_id = kms_key_id
        self.notification_config = notification_config
        self.failure_path = failure_path

    def _to_request_dict(self):
        """CreateEndpointConfig's ``AsyncInferenceConfig``, as v2 builds it."""
        request_dict = {"OutputConfig": {"S3OutputPath": self.output_path,
                                         "S3FailurePath": self.failure_path}}
        if self.max_concurrent_invocations_per_instance:
            request_dict["ClientConfig"] = {
                "MaxConcurrentInvocationsPerInstance": self.max_concurrent_invocations_per_instance}
        if self.kms_key_id:
            request_dict["OutputConfig"]["KmsKeyId"] = self.kms_key_id
        if self.notification_config:
            request_dict["OutputConfig"]["NotificationConfig"] = self.notification_config
        return request_dict


__all__ = ["AsyncInferenceConfig"]
