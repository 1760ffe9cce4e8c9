"""Argument translation shared by the facade's ``deploy`` methods: v2's deploy keywords and
config objects as Endpoint spec fields, and the ``Predictor`` they return."""

from __future__ import annotations

from mlcore.errors import EndpointError
from mlcore.sagemaker import _args
from mlcore.services import endpoints
from mlcore.specs import Endpoint, ModelRef, VariantSpec

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
    refused until async endpoints exist, and a misspelt one is a TypeError naming the
    closest."""
    if kwargs.pop("async_inference_config", None) is not None:
        raise EndpointError(f"{where}(async_inference_config=...): async endpoints are not "
                            "available yet; deploy a realtime endpoint (leave "
                            "async_inference_config out) and call predict()")
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
                    wait: bool = True, predictor_cls=None, where: str = "deploy", **fields):
    """Deploy ``variants`` as endpoint ``name``; return its ``Predictor``."""
    spec = Endpoint(endpoint_name=name, variants=variants, **endpoint_fields(where, **fields))
    endpoints.deploy(spec, wait=wait)
    return predictor(name, serializer, deserializer, predictor_cls)


def deploy(ref, name: str, instance_type: str | None = "local",
           initial_instance_count: int | None = 1, serializer=None, deserializer=None,
           wait: bool = True, serverless_inference_config=None, **fields):
    """Deploy one model (or a pipeline: a list of refs) as endpoint ``name``; ``None`` for
    the instance type or count is v2's "not given" (one local replica)."""
    variant = variant_spec(ref, instance_type or "local", initial_instance_count or 1,
                           serverless_inference_config=serverless_inference_config)
    return deploy_variants(name, [variant], serializer, deserializer, wait, **fields)
