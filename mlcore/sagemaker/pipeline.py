"""``sagemaker.pipeline``: ``PipelineModel``, several models as one endpoint."""

from __future__ import annotations

from mlcore.errors import SpecError
from mlcore.sagemaker import _args, _endpoints


def _ref(model):
    """A stage: ``"<group>/<version>"``, ``"<group>@<alias>"``, a training job name, an
    ``Estimator`` (its latest job) or a ``ModelPackage``."""
    if isinstance(model, str):
        return _endpoints.model_ref(model)
    if hasattr(model, "_ref"):  # ModelPackage
        return model._ref
    if hasattr(model, "latest_training_job"):  # Estimator
        return _endpoints.model_ref(model.latest_training_job.name)
    raise SpecError(f"a PipelineModel stage is a model name, Estimator or ModelPackage; got "
                    f"{type(model).__name__}", [("models", "wrong type")])


class PipelineModel:
    """``models`` in order (e.g. preprocess -> model -> postprocess): each stage is its own
    Ray Serve deployment; a request's features go through every stage, the last one's output
    is the response. The stages share each instance's resources, as SageMaker's containers do."""

    def __init__(self, models: list, role=None, name: str | None = None, sagemaker_session=None,
                 **kwargs):
        _args.accept("PipelineModel", kwargs, PipelineModel.__init__)
        _args.name(name, "name", _args.ENDPOINT)  # the endpoint's name by default
        if len(models) < 2:
            raise SpecError("a PipelineModel needs at least 2 models; deploy a single model "
                            "directly", [("models", "fewer than 2")])
        self.models, self.name = list(models), name
        self._stages = [_ref(m) for m in models]

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local",
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, **endpoint_fields):
        name = _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT) or self.name
        if not name:
            raise SpecError("PipelineModel.deploy needs endpoint_name (or PipelineModel(name=...))",
                            [("endpoint_name", "missing")])
        return _endpoints.deploy(self._stages, name, instance_type, initial_instance_count,
                                 serializer, deserializer, wait, **endpoint_fields)


__all__ = ["PipelineModel"]
