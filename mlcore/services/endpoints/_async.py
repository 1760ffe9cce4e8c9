"""An async endpoint's settings from its spec: the queue, the output and failure locations,
the notification targets, and the AsyncInferenceConfig that DescribeEndpoint shows."""

from __future__ import annotations

from pathlib import Path

from mlcore import constants
from mlcore.specs import Endpoint


def async_home(name: str) -> Path:
    """Where an async endpoint's embedded queue and posted inputs live by default."""
    return constants.home() / "async" / name


def _queue_uri(queue: str | None, name: str, home: Path) -> str:
    """The queue of async endpoint ``name``: the embedded SQLite file, a named one, or this
    endpoint's keys on a Redis server."""
    if queue is None:
        return f"sqlite://{home}.db"
    if queue.startswith(("redis://", "rediss://")) and "prefix=" not in queue:
        return f"{queue}{'&' if '?' in queue else '?'}prefix=mlcore:async:{name}"
    return queue


def async_config(spec: Endpoint, model, resources: dict[str, float], topics: dict | None):
    """The serving side's AsyncConfig of an async endpoint; ``topics``: callables (from the
    Python API) in place of the spec's topic URLs."""
    from serving._async import AsyncConfig
    from serving._payload import ACCEPTS

    a, home = spec.async_inference, async_home(spec.endpoint_name)
    n = a.notification_config
    topics = topics or {}
    return AsyncConfig(
        queue=_queue_uri(a.queue, spec.endpoint_name, home),
        output_path=a.output_path or str(home / "outputs"),
        failure_path=a.failure_path or str(home / "failures"),
        inputs=str(home / "inputs"),
        max_concurrent=a.max_concurrent_invocations_per_instance or max(1, int(resources.get("CPU", 1))),
        success_topic=topics.get("success") or (n.success_topic if n else None),
        error_topic=topics.get("error") or (n.error_topic if n else None),
        include_response=bool(n and "SUCCESS_NOTIFICATION_TOPIC" in n.include_inference_response_in),
        ttl_s=float(a.request_ttl_s), invocation_timeout_s=float(a.invocation_timeout_s),
        lease_s=constants.get("MLCORE_ASYNC_LEASE_S"),
        any_content_type=model.handle is not None,
        # SageMaker's XGBoost container reads a request without a content type as LIBSVM
        # (v2's AsyncPredictor sends none)
        default_content_type="text/libsvm" if model.container == "xgboost" else "",
        accepts=() if model.handle is not None else ACCEPTS.get(model.container, ACCEPTS[None]))


def async_shape(config) -> dict | None:
    """DescribeEndpoint's AsyncInferenceConfig (SageMaker's shape; a topic that is a
    callable shows as its name)."""
    if config is None:
        return None
    out = {"S3OutputPath": config.output_path, "S3FailurePath": config.failure_path}
    topics = {k: getattr(t, "__qualname__", t) for k, t in
              (("SuccessTopic", config.success_topic), ("ErrorTopic", config.error_topic)) if t}
    if topics or config.include_response:
        out["NotificationConfig"] = {**topics, **({"IncludeInferenceResponseIn": [
            "SUCCESS_NOTIFICATION_TOPIC"]} if config.include_response else {})}
    return {"ClientConfig": {"MaxConcurrentInvocationsPerInstance": config.max_concurrent},
            "OutputConfig": out}
