"""Argument translation shared by the facade's ``deploy`` methods: v2's deploy keywords and
config objects as Endpoint spec fields, and the ``Predictor`` they return."""

from __future__ import annotations

from mlcore.services import endpoints
from mlcore.specs import Endpoint, ModelRef, VariantSpec

model_ref = endpoints.model_ref


def endpoint_fields(data_capture_config=None, **fields) -> dict:
    """SageMaker deploy() keywords as Endpoint spec fields."""
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


def predictor(name: str, serializer=None, deserializer=None):
    from mlcore.sagemaker.predictor import Predictor

    return Predictor(name, serializer=serializer, deserializer=deserializer)


def deploy_variants(name: str, variants: list[VariantSpec], serializer=None, deserializer=None,
                    wait: bool = True, **fields):
    """Deploy ``variants`` as endpoint ``name``; return its ``Predictor``."""
    endpoints.deploy(Endpoint(endpoint_name=name, variants=variants, **endpoint_fields(**fields)),
                     wait=wait)
    return predictor(name, serializer, deserializer)


def deploy(ref, name: str, instance_type: str = "local", initial_instance_count: int = 1,
           serializer=None, deserializer=None, wait: bool = True,
           serverless_inference_config=None, **fields):
    """Deploy one model (or a pipeline: a list of refs) as endpoint ``name``."""
    variant = variant_spec(ref, instance_type, initial_instance_count,
                           serverless_inference_config=serverless_inference_config)
    return deploy_variants(name, [variant], serializer, deserializer, wait, **fields)
