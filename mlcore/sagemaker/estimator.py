"""``sagemaker.estimator``: ``Estimator`` runs training jobs on Ray with SageMaker v2's names."""

from __future__ import annotations

import logging

from mlcore import _session
from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Status, TrainingJobRecord
from mlcore.sagemaker import _args, image_uris
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.services import Handle, training
from mlcore.specs import Channel, TrainingJob

log = logging.getLogger("mlcore")


class Estimator:
    """A training job definition; ``fit`` runs it. Built-ins come from ``image_uri``
    (``image_uris.retrieve("xgboost", ...)``) or ``algorithm="xgboost"``."""

    def __init__(self, image_uri: str | None = None, role: str | None = None,
                 instance_count: int = 1, instance_type: str = "local",
                 hyperparameters: dict | None = None, output_path: str | None = None,
                 base_job_name: str | None = None, use_spot_instances: bool = False,
                 max_run: int = 86400, max_wait: int | None = None,
                 checkpoint_s3_uri: str | None = None, checkpoint_local_path: str | None = None,
                 max_retry_attempts: int | None = None, environment: dict | None = None,
                 tags: list | dict | None = None, entry_point: str | None = None,
                 source_dir: str | None = None, algorithm: str | None = None,
                 checkpoint_frequency: int = 10, checkpoint_min_interval_s: float = 30.0,
                 distribution: dict | None = None, metric_definitions: list | None = None,
                 keep_checkpoints: int = 3, framework: str | None = None,
                 framework_version: str | None = None, py_version: str | None = None,
                 dependencies: list[str] | None = None, **kwargs):
        _args.accept(type(self).__name__, {**kwargs, **({"role": role} if role else {})},
                     Estimator.__init__)
        self.sagemaker_session = kwargs.get("sagemaker_session")
        _args.name(base_job_name, "base_job_name")
        if image_uri and not algorithm:
            algorithm = image_uris.algorithm_of(image_uri)
            if algorithm is None and not entry_point:
                raise SpecError(f"image_uri {image_uri!r} names no built-in algorithm; use "
                                "image_uris.retrieve('xgboost', ...) or algorithm='xgboost'",
                                [("image_uri", "not a built-in")])
            log.info("image_uri %s runs the built-in %s (no containers are used)", image_uri, algorithm)
        self.image_uri = image_uri
        self.role = role
        self.base_job_name = base_job_name
        self.checkpoint_local_path = checkpoint_local_path
        self._spec = TrainingJob(
            algorithm=algorithm, entry_point=entry_point, source_dir=source_dir,
            hyperparameters=dict(hyperparameters or {}), output_path=output_path,
            instance_type=instance_type, instance_count=instance_count,
            use_spot_instances=use_spot_instances, max_run=max_run, max_wait=max_wait,
            checkpoint_s3_uri=checkpoint_s3_uri, max_retry_attempts=max_retry_attempts or 0,
            checkpoint_frequency=checkpoint_frequency,
            checkpoint_min_interval_s=checkpoint_min_interval_s, environment=dict(environment or {}),
            tags=tags or {}, distribution=distribution, metric_definitions=metric_definitions or [],
            checkpoint_local_path=checkpoint_local_path, keep_checkpoints=keep_checkpoints,
            framework=framework, framework_version=framework_version, py_version=py_version,
            dependencies=list(dependencies or []))
        self.latest_training_job: Handle | None = None

    # --- construction from specs -------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: TrainingJob) -> Estimator:
        est = cls.__new__(cls)
        est.image_uri = est.role = est.checkpoint_local_path = est.sagemaker_session = None
        est.base_job_name = None
        est._spec = spec.model_copy(deep=True)
        est.latest_training_job = None
        return est

    @classmethod
    def attach(cls, training_job_name: str, sagemaker_session=None) -> Estimator:
        """An Estimator bound to an existing job (its spec and its results)."""
        _args.name(training_job_name, "training_job_name")
        record = TrainingJobRecord.load(training_job_name)
        est = cls.from_spec(TrainingJob.model_validate(record.Spec))
        est.latest_training_job = _handle(training_job_name)
        return est

    # --- SageMaker v2 surface ---------------------------------------------------------
    def hyperparameters(self) -> dict:
        return {k: str(v) for k, v in self._spec.hyperparameters.items()}

    def set_hyperparameters(self, **kwargs) -> None:
        self._spec.hyperparameters = {**self._spec.hyperparameters, **kwargs}

    @property
    def spec(self) -> TrainingJob:
        return self._spec

    # v2's attributes, read from the job definition
    output_path = property(lambda self: self._spec.output_path or _session.default_output_path())
    instance_type = property(lambda self: self._spec.instance_type)
    instance_count = property(lambda self: self._spec.instance_count)
    entry_point = property(lambda self: self._spec.entry_point)
    source_dir = property(lambda self: self._spec.source_dir)
    dependencies = property(lambda self: list(self._spec.dependencies))
    framework_version = property(lambda self: self._spec.framework_version)
    py_version = property(lambda self: self._spec.py_version)
    environment = property(lambda self: dict(self._spec.environment))
    metric_definitions = property(lambda self: [m.model_dump() for m in self._spec.metric_definitions])

    @property
    def _current_job_name(self) -> str | None:
        return self.latest_training_job.name if self.latest_training_job else None

    def fit(self, inputs=None, wait: bool = True, logs: bool = True, job_name: str | None = None,
            experiment_config=None):
        """Train. ``inputs``: a URI, a ``TrainingInput``, or ``{channel: URI | TrainingInput}``."""
        _args.name(job_name, "job_name")
        spec = self._spec.model_copy(deep=True)
        if inputs is not None:
            spec.inputs = _channels(inputs)
        plan = training.prepare(spec, job_name or spec.name,
                                self.base_job_name or spec.algorithm or "training")
        handle = self.latest_training_job = _handle(plan.name)
        if not wait:
            handle.start(lambda: training.execute(plan, logs=logs))
            return None
        record = training.execute(plan, logs=logs)
        if record.status != Status.COMPLETED:
            raise MLCoreError(f"training job {plan.name} {str(record.status).lower()}: "
                              f"{record.FailureReason}", job_name=plan.name)
        return None

    def _name(self) -> str:
        if self.latest_training_job is None:
            raise MLCoreError("this Estimator has not run a training job; call fit() first "
                              "(or Estimator.attach(job_name))")
        return self.latest_training_job.name

    def _completed(self) -> TrainingJobRecord:
        return training.completed(self._name())

    @property
    def model_data(self) -> str:
        """SageMaker's artifact, ``<output_path>/<job>/output/model.tar.gz`` (the committed
        model folder for jobs that predate it)."""
        record = self._completed()
        return getattr(record, "S3ModelArtifacts", None) or record.ModelArtifacts

    @property
    def training_job_analytics(self):
        """v2's ``TrainingJobAnalytics`` of the latest job (its metrics as a DataFrame)."""
        from mlcore.sagemaker.analytics import TrainingJobAnalytics

        if self._current_job_name is None:
            raise ValueError("Estimator is not associated with a TrainingJob; call fit() first")
        return TrainingJobAnalytics(self._current_job_name, sagemaker_session=self.sagemaker_session)

    def training_job_analytics_metrics(self) -> dict:
        return dict(self._completed().FinalMetrics)

    def register(self, content_types=None, response_types=None, inference_instances=None,
                 transform_instances=None, model_package_group_name: str | None = None,
                 approval_status: str | None = None, description: str | None = None, **kwargs):
        """Register the trained model as a new version of ``model_package_group_name``."""
        _args.accept("Estimator.register", kwargs, Estimator.register)
        _args.name(model_package_group_name, "model_package_group_name", _args.GROUP)
        return training.register(self._name(), model_package_group_name, approval_status,
                                 description)

    def create_model(self, role: str | None = None, image_uri: str | None = None,
                     predictor_cls=None, **kwargs):
        """v2's ``create_model``: a ``Model`` of the trained model (the generic Predictor
        unless ``predictor_cls``); ``kwargs`` go to Model."""
        from mlcore.sagemaker.model import Model
        from mlcore.sagemaker.predictor import Predictor

        kwargs.pop("vpc_config_override", None)
        code = {k: kwargs.pop(k, None) for k in ("entry_point", "source_dir", "dependencies")}
        model = Model(image_uri=image_uri or self._image(), model_data=self.model_data,
                      role=role or self.role, predictor_cls=predictor_cls or Predictor,
                      entry_point=code["entry_point"] or self.entry_point,
                      source_dir=code["source_dir"] or self.source_dir,
                      dependencies=code["dependencies"] or self.dependencies, **kwargs)
        return self._linked(model, any(code.values()) or image_uri or kwargs.get("env"))

    def _image(self) -> str | None:
        algorithm = self._spec.algorithm
        return self.image_uri or (image_uris.retrieve(algorithm) if algorithm else None)

    def _linked(self, model, changed):
        """``model`` serves the job's own model (its record, its MLflow model) unless the
        caller gave it new code, a new image or an environment."""
        if not changed:
            model._training_job = self._name()
        return model

    def deploy(self, initial_instance_count: int | None = None, instance_type: str | None = None,
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, model_name: str | None = None, data_capture_config=None,
               serverless_inference_config=None, async_inference_config=None, **kwargs):
        """v2's ``deploy``: ``self.create_model(...).deploy(...)``, the endpoint named after
        the job unless ``endpoint_name`` (an ``AsyncPredictor`` with
        ``async_inference_config``). ``kwargs``: the Model's keywords (``entry_point``,
        ``source_dir``, ``env``, ...) for ``create_model``; every other v2 deploy keyword;
        mlcore's endpoint fields (``batching``, ``auth``, ``max_payload_mb``, ``timeout_s``)."""
        _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT)
        job = self._completed().TrainingJobName
        model_keys = _model_keywords(type(self).create_model)
        model = self.create_model(**{k: kwargs.pop(k) for k in list(kwargs) if k in model_keys})
        model.name = model_name or model.name
        return model.deploy(initial_instance_count, instance_type, serializer, deserializer,
                            endpoint_name or job, wait, data_capture_config,
                            serverless_inference_config,
                            async_inference_config=async_inference_config, **kwargs)

    def transformer(self, instance_count: int, instance_type: str, strategy: str | None = None,
                    assemble_with: str | None = None, output_path: str | None = None,
                    output_kms_key: str | None = None, accept: str | None = None,
                    env: dict | None = None, max_concurrent_transforms: int | None = None,
                    max_payload: int | None = None, tags=None, role: str | None = None,
                    volume_kms_key: str | None = None, vpc_config_override=None,
                    enable_network_isolation=None, model_name: str | None = None):
        """v2's ``transformer``: a ``Transformer`` scoring with the trained model, its model
        named ``model_name`` (default: the training job's name)."""
        from mlcore.sagemaker.transformer import Transformer, name_model

        model = self.create_model(role=role)
        name = model_name or self._completed().TrainingJobName
        name_model(name, model._ref)
        return Transformer(name, instance_count, instance_type, strategy=strategy,
                           assemble_with=assemble_with, output_path=output_path,
                           output_kms_key=output_kms_key, accept=accept,
                           max_concurrent_transforms=max_concurrent_transforms,
                           max_payload=max_payload, env=env, tags=tags,
                           base_transform_job_name=self.base_job_name,
                           volume_kms_key=volume_kms_key, sagemaker_session=self.sagemaker_session)

    def logs(self) -> None:
        self._handle_or_raise().logs()

    def _handle_or_raise(self) -> Handle:
        self._name()
        return self.latest_training_job


class Framework(Estimator):
    """v2's ``Framework``: script mode with the framework fixed (its container's serving
    defaults follow the model); ``create_model`` returns the framework's Model class.
    ``framework_version`` and ``py_version`` are recorded; the cluster's installed framework
    and Python run the script (no containers are pulled)."""

    _framework_name: str | None = None

    def __init__(self, entry_point: str, source_dir: str | None = None,
                 hyperparameters: dict | None = None, image_uri: str | None = None,
                 dependencies: list[str] | None = None, framework_version: str | None = None,
                 py_version: str | None = None, **kwargs):
        super().__init__(entry_point=entry_point, source_dir=source_dir,
                         framework=self._framework_name, framework_version=framework_version,
                         py_version=py_version, hyperparameters=hyperparameters,
                         dependencies=dependencies, **kwargs)
        self.image_uri = image_uri

    def _model_class(self):
        raise NotImplementedError

    def create_model(self, model_server_workers: int | None = None, role: str | None = None,
                     vpc_config_override=None, entry_point: str | None = None,
                     source_dir: str | None = None, dependencies: list[str] | None = None,
                     **kwargs):
        """The framework's Model (``XGBoostModel``, ``SKLearnModel``, ``PyTorchModel``) of the
        trained model, with the training code unless new ``entry_point`` / ``source_dir`` /
        ``dependencies`` (an inference script) are given; ``kwargs`` go to the Model."""
        model = self._model_class()(
            model_data=self.model_data, role=role or self.role,
            entry_point=entry_point or self.entry_point, framework_version=self.framework_version,
            py_version=self.py_version, source_dir=source_dir or self.source_dir,
            dependencies=dependencies or self.dependencies,
            model_server_workers=model_server_workers, **kwargs)
        return self._linked(model, entry_point or source_dir or dependencies
                            or kwargs.get("image_uri") or kwargs.get("env"))


def _model_keywords(create_model) -> set[str]:
    """The keywords ``deploy`` hands to ``create_model``: its own and the Model's."""
    import inspect

    from mlcore.sagemaker.model import FrameworkModel, Model

    names = set()
    for fn in (create_model, Model.__init__, FrameworkModel.__init__):
        names |= {n for n, p in inspect.signature(fn).parameters.items()
                  if p.kind is not p.VAR_KEYWORD and n != "self"}
    return names


def _handle(name: str) -> Handle:
    return Handle(TrainingJobRecord, name, stop=training.stop)


def _channels(inputs) -> dict[str, Channel]:
    if isinstance(inputs, (str, TrainingInput)):
        inputs = {"train": inputs}
    if not isinstance(inputs, dict):
        raise SpecError(f"inputs must be a URI, a TrainingInput or a dict of them; got "
                        f"{type(inputs).__name__}", [("inputs", "wrong type")])
    out = {}
    for name, value in inputs.items():
        if isinstance(value, TrainingInput):
            out[name] = Channel(uri=value.s3_data, content_type=value.content_type,
                                input_mode=value.input_mode)
        else:
            out[name] = Channel(uri=str(value))
    return out


__all__ = ["Estimator", "Framework"]
