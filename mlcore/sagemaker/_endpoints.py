"""Argument translation shared by the facade's ``deploy`` methods: v2's deploy keywords and
config objects (serverless, data capture, async inference) as Endpoint spec fields, and the
``Predictor`` they return."""

from __future__ import annotations

import difflib
import logging
import re

from mlcore._names import shown
from mlcore.errors import EndpointError, SpecError
from mlcore.sagemaker import _args
from mlcore.services import endpoints
from mlcore.specs import Endpoint, ModelRef, VariantSpec
from mlcore.specs.endpoint import AsyncInferenceSpec

log = logging.getLogger("mlcore")

model_ref = endpoints.model_ref

# mlcore's own Endpoint spec fields, which every deploy() also takes as keywords.
ENDPOINT_FIELDS = ("batching", "auth", "max_payload_mb", "timeout_s", "allow_unapproved",
                   "require_approved_model")
# The keywords v2's Model.deploy and EstimatorBase.deploy take that the facade's deploy
# methods name themselves (for the closest-match hint).
DEPLOY_PARAMS = ("initial_instance_count", "instance_type", "serializer", "deserializer",
                 "endpoint_name", "wait", "data_capture_config", "serverless_inference_config",
                 "async_inference_config", "model_name")


def endpoint_fields(where: str = "deploy", data_capture_config=None, **kwargs) -> dict:
    """The Endpoint spec's fields from a deploy call's other keywords: mlcore's own
    (``batching``, ``auth``, ...), and v2's: ``None`` (or v2's default ``False``) is "not
    given", one that means nothing here is explained once, ``async_inference_config`` is
    refused where it arrives unconverted (``Model.deploy`` and ``Estimator.deploy`` take it;
    a pipeline or a multi-model endpoint cannot be asynchronous), and a misspelt one is a
    TypeError naming the closest."""
    if kwargs.pop("async_inference_config", None) is not None:
        raise EndpointError(f"{where}(async_inference_config=...): an async endpoint serves "
                            "one model; deploy it with Model.deploy(...) or "
                            "Estimator.deploy(...), or leave async_inference_config out")
    fields = {k: kwargs.pop(k) for k in ENDPOINT_FIELDS if k in kwargs}
    given = {k: v for k, v in kwargs.items()
             if not (k in _args.IGNORED and (v is None or v is False))}
    _args.accept(where, given, extra=DEPLOY_PARAMS + ENDPOINT_FIELDS)
    fields = {k: v for k, v in fields.items() if v is not None}
    if data_capture_config is not None:
        fields["data_capture"] = data_capture_config._spec()
    return fields


def variant_spec(model: ModelRef | list[ModelRef], instance_type: str = "local",
                 initial_instance_count: int = 1, variant_name: str = "AllTraffic",
                 initial_weight: float = 1.0, serverless_inference_config=None,
                 autoscaling: dict | None = None) -> VariantSpec:
    serverless = serverless_inference_config._spec() if serverless_inference_config else None
    one, stages = (None, model) if isinstance(model, list) else (model, None)
    return VariantSpec(variant_name=variant_name, model=one, pipeline=stages,
                       initial_weight=initial_weight,
                       instance_type=instance_type, initial_instance_count=initial_instance_count,
                       serverless_config=serverless, autoscaling=autoscaling)


def predictor(name: str, serializer=None, deserializer=None, predictor_cls=None):
    """``predictor_cls(name, None)`` as v2 calls it (the generic Predictor without one), the
    deploy call's serializer and deserializer set on it when given."""
    if predictor_cls is None:
        from mlcore.sagemaker.predictor import Predictor as predictor_cls
    out = predictor_cls(name, None)
    if serializer is not None:
        out.serializer = serializer
    if deserializer is not None:
        out.deserializer = deserializer
    return out


def deploy_variants(name: str, variants: list[VariantSpec], serializer=None, deserializer=None,
                    wait: bool = True, predictor_cls=None, where: str = "deploy",
                    async_inference_config_dict: dict | None = None, **fields):
    """Deploy ``variants`` as endpoint ``name``; return its ``Predictor``.
    ``async_inference_config_dict``: CreateEndpointConfig's AsyncInferenceConfig (v2's
    ``AsyncInferenceConfig._to_request_dict()``) makes it an async endpoint."""
    fields = endpoint_fields(where, **fields)
    if async_inference_config_dict is None:
        endpoints.deploy(Endpoint(endpoint_name=name, variants=variants, **fields), wait=wait)
    else:
        fields["async_inference"], topics = async_spec(async_inference_config_dict, where)
        endpoints.deploy(Endpoint(endpoint_name=name, variants=variants, **fields), wait=wait,
                         topics=topics)
    return predictor(name, serializer, deserializer, predictor_cls)


_TOPICS = {"SuccessTopic": ("success", "success_topic"), "ErrorTopic": ("error", "error_topic")}
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:")
_told_sns: set[tuple[str, str]] = set()


def async_spec(config: dict, where: str = "deploy") -> tuple[AsyncInferenceSpec, dict]:
    """The Endpoint's ``async_inference`` and the notification callables for
    ``endpoints.deploy(topics=...)``, from CreateEndpointConfig's AsyncInferenceConfig.
    A topic is an http(s) URL (kept in the spec) or a Python callable; an SNS topic ARN is
    accepted with one log line (SNS does not exist here: nobody is notified); anything else
    is refused naming the key. ``KmsKeyId`` is accepted and not used."""
    _known(config, ("OutputConfig", "ClientConfig"), "async_inference_config", where)
    out = dict(config.get("OutputConfig") or {})
    _known(out, ("S3OutputPath", "S3FailurePath", "KmsKeyId", "NotificationConfig"),
           "OutputConfig", where)
    client = config.get("ClientConfig") or {}
    _known(client, ("MaxConcurrentInvocationsPerInstance",), "ClientConfig", where)
    if out.get("KmsKeyId"):
        _args.accept(where, {"kms_key_id": out["KmsKeyId"]})
    spec = {"output_path": out.get("S3OutputPath"), "failure_path": out.get("S3FailurePath"),
            "max_concurrent_invocations_per_instance":
                client.get("MaxConcurrentInvocationsPerInstance")}
    topics: dict = {}
    notes = out.get("NotificationConfig")
    if notes:
        _known(notes, (*_TOPICS, "IncludeInferenceResponseIn"), "notification_config", where)
        notification = {"include_inference_response_in":
                        list(notes.get("IncludeInferenceResponseIn") or [])}
        for key, (topic, field) in _TOPICS.items():
            value = notes.get(key)
            if value is None:
                continue
            if callable(value):
                topics[topic] = value
            elif isinstance(value, str) and value.startswith(("http://", "https://")):
                notification[field] = value
            elif isinstance(value, str) and _SNS_ARN.match(value):
                if (where, key) not in _told_sns:
                    _told_sns.add((where, key))
                    log.info("%s: notification_config[%r] %s accepted: SNS topics do not exist "
                             "here, so these notifications go nowhere; give an http(s) URL or "
                             "a Python callable to receive them", where, key, shown(value))
            else:
                raise SpecError(f"notification_config[{key!r}] must be an http(s):// URL, a "
                                f"Python callable or an SNS topic ARN; got {shown(value)}",
                                [(f"notification_config.{key}", "not a topic")])
        spec["notification_config"] = notification
    return AsyncInferenceSpec(**spec), topics


def _known(d, keys: tuple[str, ...], what: str, where: str) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: {what} must be a dict; got {shown(d)}", [(what, "not a dict")])
    for k in d:
        if k not in keys:
            close = difflib.get_close_matches(str(k), keys, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use {', '.join(keys)}"
            raise SpecError(f"{where}: {what} has no key {shown(k)}; {hint}",
                            [(f"{what}.{k}", "unknown key")])


def deploy(ref, name: str, instance_type: str | None = "local",
           initial_instance_count: int | None = 1, serializer=None, deserializer=None,
           wait: bool = True, serverless_inference_config=None, **fields):
    """Deploy one model (or a pipeline: a list of refs) as endpoint ``name``; ``None`` for
    the instance type or count is v2's "not given" (one local replica)."""
    variant = variant_spec(ref, instance_type or "local", initial_instance_count or 1,
                           serverless_inference_config=serverless_inference_config)
    return deploy_variants(name, [variant], serializer, deserializer, wait, **fields)
