"""``sagemaker.estimator``: ``Estimator`` runs training jobs on Ray with SageMaker v2's names."""

from __future__ import annotations

import logging

from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Status, TrainingJobRecord
from mlcore.sagemaker import _args, _endpoints, image_uris
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
                 **kwargs):
        _args.accept(type(self).__name__, {**kwargs, **({"role": role} if role else {})},
                     Estimator.__init__)
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
            framework=framework, framework_version=framework_version, py_version=py_version)
        self.latest_training_job: Handle | None = None

    # --- construction from specs -------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: TrainingJob) -> Estimator:
        est = cls.__new__(cls)
        est.image_uri = est.role = est.checkpoint_local_path = None
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
        return self._completed().ModelArtifacts

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

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local",
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, serverless_inference_config=None, **endpoint_fields):
        """Serve the trained model on a realtime endpoint; return its ``Predictor``.
        ``endpoint_fields``: ``data_capture_config`` and the Endpoint spec's own fields
        (``batching``, ``auth``, ``max_payload_mb``, ``timeout_s``)."""
        _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT)
        record = self._completed()
        return _endpoints.deploy(_endpoints.model_ref(record.TrainingJobName),
                                 endpoint_name or record.TrainingJobName, instance_type,
                                 initial_instance_count, serializer, deserializer, wait,
                                 serverless_inference_config, **endpoint_fields)

    def logs(self) -> None:
        self._handle_or_raise().logs()

    def _handle_or_raise(self) -> Handle:
        self._name()
        return self.latest_training_job


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


__all__ = ["Estimator"]
