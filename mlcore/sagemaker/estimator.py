"""``sagemaker.estimator``: ``Estimator`` runs training jobs on Ray with SageMaker v2's names."""

from __future__ import annotations

import logging
import threading

from mlcore import _jobs, _registry
from mlcore._specs import Channel, TrainingJob
from mlcore.errors import MLCoreError, SpecError
from mlcore.sagemaker import _runner, image_uris
from mlcore.sagemaker.inputs import TrainingInput

log = logging.getLogger("mlcore")

# SageMaker v2 arguments with no meaning on a Ray cluster: accepted, explained once.
_IGNORED = {
    "role": "IAM roles do not apply; workers run with the Ray cluster's identity",
    "volume_size": "workers use the node's disk", "volume_kms_key": "storage encryption is the store's",
    "output_kms_key": "storage encryption is the store's", "subnets": "networking is the cluster's",
    "security_group_ids": "networking is the cluster's", "input_mode": "set it per channel: TrainingInput(uri, input_mode='Pipe')",
    "enable_network_isolation": "networking is the cluster's", "keep_alive_period_in_seconds":
    "Ray keeps its workers warm", "encrypt_inter_container_traffic": "networking is the cluster's",
    "container_log_level":
    "use Python logging", "disable_profiler": "no profiler is attached", "debugger_hook_config":
    "no debugger is attached", "rules": "no debugger is attached", "profiler_config":
    "no profiler is attached", "enable_sagemaker_metrics": "metrics always go to MLflow",
    "code_location": "code is shipped by Ray", "sagemaker_session": "mlcore's defaults are used",
}
_explained: set[str] = set()


def _explain(name: str) -> None:
    if name not in _explained:
        _explained.add(name)
        log.info("Estimator(%s=...) accepted and not used: %s", name, _IGNORED[name])


class TrainingJobHandle:
    """``estimator.latest_training_job``: a name plus ``describe()`` and ``wait()``."""

    def __init__(self, name: str, thread: threading.Thread | None = None):
        self.name = self.job_name = name
        self._thread = thread
        self.error: BaseException | None = None

    def describe(self) -> dict:
        from dataclasses import asdict

        return asdict(_jobs.load(self.name))

    def wait(self, logs: bool = True) -> dict:
        if self._thread is not None:
            self._thread.join()
            if self.error is not None:
                raise self.error
        return self.describe()


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
        unknown = [k for k in kwargs if k not in _IGNORED]
        if unknown:
            raise TypeError(f"Estimator() got unexpected keyword argument(s) {', '.join(unknown)}")
        for name in [*kwargs, *(["role"] if role else [])]:
            _explain(name)
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
        self.latest_training_job: TrainingJobHandle | None = None

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
        record = _jobs.load(training_job_name)
        est = cls.from_spec(TrainingJob.model_validate(record.Spec))
        est.latest_training_job = TrainingJobHandle(training_job_name)
        return est

    # --- SageMaker v2 surface ---------------------------------------------------------
    def hyperparameters(self) -> dict:
        return {k: str(v) for k, v in self._spec.hyperparameters.items()}

    def set_hyperparameters(self, **kwargs) -> None:
        self._spec.hyperparameters = {**self._spec.hyperparameters, **kwargs}

    @property
    def spec(self) -> TrainingJob:
        return self._spec

    def fit(self, inputs=None, wait: bool = True, logs: bool = True, job_name: str | None = None):
        """Train. ``inputs``: a URI, a ``TrainingInput``, or ``{channel: URI | TrainingInput}``."""
        spec = self._spec.model_copy(deep=True)
        if inputs is not None:
            spec.inputs = _channels(inputs)
        algo, name = _runner.prepare(spec, job_name or spec.name,
                                     self.base_job_name or spec.algorithm or "training")
        if not wait:
            handle = TrainingJobHandle(name)

            def background():
                try:
                    _runner.run(spec, algo, name, logs)
                except BaseException as e:  # re-raised by wait()
                    handle.error = e

            handle._thread = threading.Thread(target=background, name=f"mlcore-{name}", daemon=True)
            self.latest_training_job = handle
            handle._thread.start()
            return None
        self.latest_training_job = TrainingJobHandle(name)
        record = _runner.run(spec, algo, name, logs)
        if record.TrainingJobStatus != "Completed":
            raise MLCoreError(f"training job {name} {record.TrainingJobStatus.lower()}: "
                              f"{record.FailureReason}", job_name=name)
        return None

    def _record(self) -> _jobs.JobRecord:
        if self.latest_training_job is None:
            raise MLCoreError("this Estimator has not run a training job; call fit() first "
                              "(or Estimator.attach(job_name))")
        return _jobs.load(self.latest_training_job.name)

    def _completed(self) -> _jobs.JobRecord:
        record = self._record()
        if record.TrainingJobStatus != "Completed":
            raise MLCoreError(f"training job {record.TrainingJobName} is {record.TrainingJobStatus}"
                              f"{': ' + record.FailureReason if record.FailureReason else ''}; "
                              "it has no model")
        return record

    @property
    def model_data(self) -> str:
        return self._completed().ModelArtifacts

    def training_job_analytics_metrics(self) -> dict:
        return dict(self._completed().FinalMetrics)

    def register(self, content_types=None, response_types=None, inference_instances=None,
                 transform_instances=None, model_package_group_name: str | None = None,
                 approval_status: str | None = None, description: str | None = None, **_ignored):
        """Register the trained model as a new version of ``model_package_group_name``."""
        record = self._completed()
        group = model_package_group_name or record.TrainingJobName
        return _registry.register(
            record.MlflowModelUri, group, approval_status or "PendingManualApproval", description,
            tags={"job_name": record.TrainingJobName, "run_id": record.MlflowRunId,
                  "model_data": record.ModelArtifacts})

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local",
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, serverless_inference_config=None, **endpoint_fields):
        """Serve the trained model on a realtime endpoint; return its ``Predictor``.
        ``endpoint_fields``: ``data_capture_config`` and the Endpoint spec's own fields
        (``batching``, ``auth``, ``max_payload_mb``, ``timeout_s``)."""
        from mlcore.sagemaker import _deploy

        record = self._completed()
        variant = _deploy.variant_spec(_deploy.model_ref(record.TrainingJobName), instance_type,
                                       initial_instance_count,
                                       serverless_inference_config=serverless_inference_config)
        return _deploy.deploy_variants(endpoint_name or record.TrainingJobName, [variant],
                                       serializer, deserializer, wait, **endpoint_fields)

    def logs(self) -> None:
        record = self._record()
        from mlcore import _session

        print(f"{record.TrainingJobName}: {record.TrainingJobStatus}; MLflow run "
              f"{record.MlflowRunId} at {_session.redact(_session.tracking_uri())}")


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


__all__ = ["Estimator", "TrainingJobHandle"]
