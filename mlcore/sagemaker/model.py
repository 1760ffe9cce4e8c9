"""``sagemaker.model``: ``Model`` serves an artifact (bring your own, or a training job's);
``ModelPackage`` a registered model version."""

from __future__ import annotations

import re

from mlcore.errors import SpecError
from mlcore.sagemaker import _args, _endpoints, image_uris
from mlcore.sagemaker.async_inference import AsyncInferenceConfig
from mlcore.sagemaker.predictor_async import AsyncPredictor
from mlcore.sagemaker.s3 import s3_path_join
from mlcore.sagemaker.utils import unique_name_from_base
from mlcore.services import generate_name
from mlcore.specs import ModelRef

# SageMaker's framework serving images, by repository name, as their framework.
_FRAMEWORK_IMAGES = {"pytorch-inference": "pytorch", "pytorch-training": "pytorch",
                     "sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}


def _framework_of(image_uri: str | None) -> str | None:
    m = re.search(r"/([a-z0-9-]+)(:[^/]*)?$", image_uri or "")
    return _FRAMEWORK_IMAGES.get(m.group(1)) if m else None


class Model:
    """v2's ``Model``: ``model_data`` (a model.tar.gz or a folder, local or s3://) served by
    an inference script (``entry_point`` in ``source_dir``, with ``dependencies``: its
    ``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn`` over the framework
    container's defaults), or by a built-in (``image_uri`` from ``image_uris.retrieve``, the
    artifact holding e.g. ``xgboost-model``). ``env`` is set in each replica before the model
    loads. ``deploy`` returns ``predictor_cls(endpoint_name)``, the generic ``Predictor``
    without one (where v2 returns None), wrapped in an ``AsyncPredictor`` for an async
    endpoint."""

    _framework: str | None = None  # the framework models' container defaults

    def __init__(self, image_uri: str | None = None, model_data: str | None = None,
                 role: str | None = None, predictor_cls=None, env: dict | None = None,
                 name: str | None = None, entry_point: str | None = None,
                 source_dir: str | None = None, dependencies: list[str] | None = None,
                 sagemaker_session=None, **kwargs):
        _args.accept(type(self).__name__, kwargs, Model.__init__)
        self.image_uri, self.model_data, self.role = image_uri, model_data, role
        self.predictor_cls, self.env, self.name = predictor_cls, dict(env or {}), name
        self.entry_point, self.source_dir = entry_point, source_dir
        self.dependencies = list(dependencies or [])
        self.sagemaker_session = sagemaker_session
        self.endpoint_name: str | None = None
        self._training_job: str | None = None  # Estimator.create_model: served as the job's model

    @property
    def _ref(self) -> ModelRef:
        """What the endpoint serves (PipelineModel reads it too)."""
        if self._training_job:
            return ModelRef(training_job=self._training_job)
        if not self.model_data:
            raise SpecError(f"{type(self).__name__} needs model_data (a model.tar.gz or a folder, "
                            "local or s3://)", [("model_data", "missing")])
        framework = self._framework or _framework_of(self.image_uri)
        if self.entry_point or framework == "pytorch":  # PyTorch's defaults load TorchScript
            return ModelRef(model_data=self.model_data, entry_point=self.entry_point,
                            source_dir=self.source_dir, dependencies=self.dependencies,
                            framework=framework, env=self.env)
        # Without a script the XGBoost container runs its algorithm mode (the built-in).
        algorithm = (image_uris.algorithm_of(self.image_uri) if self.image_uri
                     else "xgboost" if framework == "xgboost" else None)
        if algorithm is None:
            raise SpecError(f"{type(self).__name__} needs entry_point (an inference script with "
                            "model_fn) or image_uri naming a built-in "
                            "(image_uris.retrieve('xgboost', ...))", [("entry_point", "missing")])
        return ModelRef(model_data=self.model_data, algorithm=algorithm)

    def deploy(self, initial_instance_count: int | None = None, instance_type: str | None = None,
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, data_capture_config=None, serverless_inference_config=None,
               async_inference_config=None, **kwargs):
        """Serve the model on a realtime endpoint, or an asynchronous one with
        ``async_inference_config`` (an ``AsyncInferenceConfig``; its missing output and
        failure paths are filled in on it, and an ``AsyncPredictor`` is returned, as v2
        does); every v2 deploy keyword is accepted (see ``_endpoints.endpoint_fields``),
        with mlcore's endpoint fields (``batching``, ``auth``, ``max_payload_mb``,
        ``timeout_s``)."""
        _check_async(async_inference_config)
        ref = self._ref
        name = _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT) or self.endpoint_name
        self.endpoint_name = name or generate_name(self.name or self._base_name())
        # v2 names the model before it deploys (Estimator.deploy: the endpoint's own name);
        # here a Model without a name is known by its endpoint's.
        model_name = self.name or self.endpoint_name
        async_dict = _async_request(async_inference_config, model_name, self.sagemaker_session)
        predictor = _endpoints.deploy(
            ref, self.endpoint_name, instance_type, initial_instance_count, serializer,
            deserializer, wait, serverless_inference_config, predictor_cls=self.predictor_cls,
            data_capture_config=data_capture_config, async_inference_config_dict=async_dict,
            where=f"{type(self).__name__}.deploy", **kwargs)
        return predictor if async_dict is None else AsyncPredictor(predictor, model_name)

    def transformer(self, instance_count: int, instance_type: str, strategy: str | None = None,
                    assemble_with: str | None = None, output_path: str | None = None,
                    output_kms_key: str | None = None, accept: str | None = None,
                    env: dict | None = None, max_concurrent_transforms: int | None = None,
                    max_payload: int | None = None, tags=None, volume_kms_key: str | None = None):
        """v2's ``transformer``: a ``Transformer`` scoring with this model (named ``name``,
        or a generated name, as v2 names the model it creates)."""
        return _transformer(self, self._ref, self.name or generate_name(self._base_name()),
                            instance_count, instance_type, strategy, assemble_with,
                            output_path, output_kms_key, accept, env,
                            max_concurrent_transforms, max_payload, tags, volume_kms_key)

    def _base_name(self) -> str:
        return (self._framework or _framework_of(self.image_uri)
                or (image_uris.algorithm_of(self.image_uri) if self.image_uri else None) or "model")

    def delete_model(self) -> None:  # v2's; the model goes with its endpoint here
        pass


class FrameworkModel(Model):
    """v2's ``FrameworkModel``: a Model whose ``entry_point`` runs on a framework's defaults."""

    def __init__(self, model_data: str, image_uri: str | None = None, role: str | None = None,
                 entry_point: str | None = None, framework_version: str | None = None,
                 py_version: str | None = None, model_server_workers: int | None = None,
                 **kwargs):
        if model_server_workers is not None:
            _args.accept(type(self).__name__, {"model_server_workers": model_server_workers})
        super().__init__(image_uri=image_uri, model_data=model_data, role=role,
                         entry_point=entry_point, **kwargs)
        self.framework_version, self.py_version = framework_version, py_version


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

    def deploy(self, initial_instance_count: int | None = None, instance_type: str | None = None,
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, serverless_inference_config=None,
               allow_unapproved: bool = False, async_inference_config=None, **kwargs):
        """Model.deploy's, for the registered version (an ``AsyncPredictor`` with
        ``async_inference_config``)."""
        _check_async(async_inference_config)
        name = _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT) or self._ref.name
        async_dict = _async_request(async_inference_config, name, None)
        predictor = _endpoints.deploy(
            self._ref, name, instance_type, initial_instance_count, serializer, deserializer,
            wait, serverless_inference_config, allow_unapproved=allow_unapproved,
            async_inference_config_dict=async_dict, where="ModelPackage.deploy", **kwargs)
        return predictor if async_dict is None else AsyncPredictor(predictor, name)


    def transformer(self, instance_count: int, instance_type: str, **kwargs):
        """v2's ``transformer`` (Model's): a ``Transformer`` scoring with this version."""
        return _transformer(self, self._ref, self.model_package_arn, instance_count,
                            instance_type, **kwargs)


def _check_async(config) -> None:
    if config is not None and not isinstance(config, AsyncInferenceConfig):
        raise ValueError("async_inference_config needs to be a AsyncInferenceConfig object")


def _async_request(config, model_name: str, sagemaker_session) -> dict | None:
    """CreateEndpointConfig's AsyncInferenceConfig of ``config`` (None: realtime), its
    missing paths first filled in on ``config`` as v2's
    ``_build_default_async_inference_config`` does: one unique folder per deploy under
    ``s3://<default bucket>/[<prefix>/]async-endpoint-{outputs,failures}/``."""
    if config is None:
        return None
    if config.output_path is None or config.failure_path is None:
        from mlcore.sagemaker.session import Session

        session = sagemaker_session or Session()
        unique_folder = unique_name_from_base(model_name)
        for attr, folder in (("output_path", "async-endpoint-outputs"),
                             ("failure_path", "async-endpoint-failures")):
            if getattr(config, attr) is None:
                setattr(config, attr, s3_path_join("s3://", session.default_bucket(),
                                                   session.default_bucket_prefix, folder,
                                                   unique_folder))
    return config._to_request_dict()


def _transformer(model, ref: ModelRef, name: str, instance_count: int, instance_type: str,
                 strategy=None, assemble_with=None, output_path=None, output_kms_key=None,
                 accept=None, env=None, max_concurrent_transforms=None, max_payload=None,
                 tags=None, volume_kms_key=None):
    from mlcore.sagemaker.transformer import Transformer, name_model

    model.name = name
    name_model(name, ref)
    return Transformer(name, instance_count, instance_type, strategy=strategy,
                       assemble_with=assemble_with, output_path=output_path,
                       output_kms_key=output_kms_key, accept=accept,
                       max_concurrent_transforms=max_concurrent_transforms,
                       max_payload=max_payload, env=env, tags=tags,
                       volume_kms_key=volume_kms_key,
                       sagemaker_session=getattr(model, "sagemaker_session", None))


__all__ = ["FrameworkModel", "Model", "ModelPackage"]
