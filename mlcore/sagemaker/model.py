"""``sagemaker.model``: deploy a registered model version (``ModelPackage``)."""

from __future__ import annotations

from mlcore.sagemaker import _deploy


class ModelPackage:
    """A registered model version, ``model_package_arn="<group>/<version>"`` (or
    ``"<group>@<alias>"``). ``deploy`` refuses versions that are not Approved unless
    ``allow_unapproved=True``."""

    def __init__(self, role=None, model_package_arn: str | None = None, sagemaker_session=None,
                 **_ignored):
        if not model_package_arn:
            raise ValueError("ModelPackage needs model_package_arn='<group>/<version>' "
                             "(or '<group>@approved')")
        self.model_package_arn = model_package_arn
        self._ref = _deploy.model_ref(model_package_arn)
        if self._ref.training_job:
            raise ValueError(f"model_package_arn {model_package_arn!r} is not '<group>/<version>' "
                             "or '<group>@<alias>'")

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local",
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, serverless_inference_config=None,
               allow_unapproved: bool = False, **endpoint_fields):
        name = endpoint_name or self._ref.name
        variant = _deploy.variant_spec(self._ref, instance_type, initial_instance_count,
                                       serverless_inference_config=serverless_inference_config)
        return _deploy.deploy_variants(name, [variant], serializer, deserializer, wait,
                                       allow_unapproved=allow_unapproved, **endpoint_fields)


__all__ = ["ModelPackage"]
