"""``sagemaker.model``: deploy a registered model version (``ModelPackage``)."""

from __future__ import annotations

from mlcore.errors import SpecError
from mlcore.sagemaker import _args, _endpoints


class ModelPackage:
    """A registered model version, ``model_package_arn="<group>/<version>"`` (or
    ``"<group>@<alias>"``, or a ``models:/`` URI of either). ``deploy`` refuses versions that
    are not Approved unless ``allow_unapproved=True``; ``require_approved_model=True`` (or
    ``MLCORE_REQUIRE_APPROVED_MODEL=true``, for every deploy) refuses them whatever
    ``allow_unapproved`` says."""

    def __init__(self, role=None, model_package_arn: str | None = None, sagemaker_session=None,
                 **kwargs):
        _args.accept("ModelPackage", kwargs, ModelPackage.__init__)
        if not model_package_arn:
            raise SpecError("ModelPackage needs model_package_arn='<group>/<version>' "
                            "(or '<group>@approved')", [("model_package_arn", "missing")])
        self.model_package_arn = model_package_arn
        self._ref = _endpoints.model_ref(model_package_arn)
        if self._ref.training_job:
            raise SpecError(f"model_package_arn {model_package_arn!r} is not '<group>/<version>' "
                            "or '<group>@<alias>'", [("model_package_arn", "not a version")])

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local",
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, serverless_inference_config=None,
               allow_unapproved: bool = False, **endpoint_fields):
        name = _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT) or self._ref.name
        return _endpoints.deploy(self._ref, name, instance_type, initial_instance_count, serializer,
                                 deserializer, wait, serverless_inference_config,
                                 allow_unapproved=allow_unapproved, **endpoint_fields)


__all__ = ["ModelPackage"]
