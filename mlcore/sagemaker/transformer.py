"""``sagemaker.transformer``: ``Transformer`` runs batch transform jobs (v2's names, defaults
and return values) on :mod:`mlcore.services.transform`.

``model_name`` names a model made by ``estimator.transformer()`` / ``model.transformer()`` or
``sagemaker_client.create_model`` in this process, a training job (its model), or a registered
version (``"<group>/<version>"``, ``"<group>@approved"``). ``data`` may be any URI, not only
``s3://``. ``output_kms_key``, ``volume_kms_key``, ``experiment_config`` and
``batch_data_capture_config`` are accepted and have no effect here."""

from __future__ import annotations

import re
import threading

from mlcore.errors import MLCoreError
from mlcore.records import TransformJobRecord
from mlcore.sagemaker import _args
from mlcore.services import generate_name, transform
from mlcore.services._lifecycle import Handle
from mlcore.specs import ModelRef, TransformJob

_LOCK = threading.Lock()
_NAMED: dict[str, ModelRef] = {}  # model names given by estimator/model.transformer()


def name_model(name: str, ref: ModelRef) -> None:
    """Make ``name`` a model name a Transformer can use (v2's ``_create_sagemaker_model``)."""
    with _LOCK:
        _NAMED[name] = ref


def _model_ref(model_name: str) -> ModelRef:
    from mlcore.sagemaker import _client_hosting
    from mlcore.sagemaker._endpoints import model_ref

    if model_name in _NAMED:
        return _NAMED[model_name]
    entry = _client_hosting._MODELS.get(model_name)
    if entry:
        if len(entry["refs"]) != 1:
            raise ValueError(f"model {model_name} is an inference pipeline; a transform job "
                             "here scores with one model")
        return entry["refs"][0]
    if _training_job_exists(model_name):
        return ModelRef(training_job=model_name)
    if "/" in model_name or "@" in model_name or model_name.startswith("models:/"):
        return model_ref(model_name)
    raise ValueError(f"Failed to fetch model information for {model_name}. Please ensure that "
                     "the model exists: create it with estimator.transformer(...), "
                     "model.transformer(...) or sagemaker_client.create_model, or name a "
                     "training job or a registered version ('<group>/<version>')")


def _training_job_exists(name: str) -> bool:
    from mlcore.records import TrainingJobRecord

    return TrainingJobRecord.exists(name)


class Transformer:
    """v2's ``Transformer``."""

    JOB_CLASS_NAME = "transform-job"

    def __init__(self, model_name: str, instance_count: int, instance_type: str,
                 strategy: str | None = None, assemble_with: str | None = None,
                 output_path: str | None = None, output_kms_key: str | None = None,
                 accept: str | None = None, max_concurrent_transforms: int | None = None,
                 max_payload: int | None = None, tags=None, env: dict | None = None,
                 base_transform_job_name: str | None = None, sagemaker_session=None,
                 volume_kms_key: str | None = None, **kwargs):
        _args.accept("Transformer", {**kwargs, **({"output_kms_key": output_kms_key}
                                                  if output_kms_key else {}),
                                     **({"volume_kms_key": volume_kms_key} if volume_kms_key
                                        else {})}, Transformer.__init__)
        self.model_name, self.instance_count, self.instance_type = model_name, instance_count, instance_type
        self.strategy, self.assemble_with, self.output_path = strategy, assemble_with, output_path
        self.output_kms_key, self.volume_kms_key = output_kms_key, volume_kms_key
        self.accept, self.max_concurrent_transforms = accept, max_concurrent_transforms
        self.max_payload, self.tags, self.env = max_payload, tags, dict(env or {})
        self.base_transform_job_name = base_transform_job_name
        self.sagemaker_session = sagemaker_session
        self._current_job_name: str | None = None
        self.latest_transform_job: Handle | None = None
        self._reset_output_path = False

    def transform(self, data: str, data_type: str = "S3Prefix", content_type: str | None = None,
                  compression_type: str | None = None, split_type: str | None = None,
                  job_name: str | None = None, input_filter: str | None = None,
                  output_filter: str | None = None, join_source: str | None = None,
                  experiment_config=None, model_client_config: dict | None = None,
                  batch_data_capture_config=None, wait: bool = True, logs: bool = True):
        """Start a transform job over ``data``; with ``wait`` (the default) block until it
        ends and raise when it did not complete. Returns None, as v2 does."""
        ignored = {k: v for k, v in (("experiment_config", experiment_config),
                                     ("batch_data_capture_config", batch_data_capture_config))
                   if v is not None}
        if ignored:
            _args.accept("Transformer.transform", ignored, Transformer.transform)
        _args.name(job_name, "job_name")
        self._current_job_name = job_name or generate_name(self._base_name())
        if self.output_path is None or self._reset_output_path:
            self.output_path = f"s3://{self._session().default_bucket()}/{self._current_job_name}"
            self._reset_output_path = True
        timeout = (model_client_config or {}).get("InvocationsTimeoutInSeconds")
        spec = TransformJob(
            name=self._current_job_name, model=_model_ref(self.model_name), data=data,
            data_type=data_type, content_type=content_type, compression_type=compression_type,
            split_type=split_type, output_path=self.output_path, accept=self.accept,
            assemble_with=self.assemble_with, strategy=self.strategy,
            max_payload=6 if self.max_payload is None else self.max_payload,
            max_concurrent_transforms=self.max_concurrent_transforms,
            instance_type=self.instance_type, instance_count=self.instance_count,
            input_filter=input_filter, output_filter=output_filter, join_source=join_source,
            env=self.env, tags=self.tags or {}, **({"invocation_timeout_s": timeout} if timeout else {}))
        plan = transform.prepare(spec)
        self._current_job_name = plan.name
        self.latest_transform_job = _handle(plan.name)
        if not wait:
            self.latest_transform_job.start(lambda: transform.execute(plan, logs=logs))
            return None
        record = transform.execute(plan, logs=logs)
        _raise_unless_completed(record)
        return None

    def _session(self):
        from mlcore.sagemaker.session import Session

        if self.sagemaker_session is None:
            self.sagemaker_session = Session()
        return self.sagemaker_session

    def _base_name(self) -> str:
        return self.base_transform_job_name or _base_of(self.model_name)

    def wait(self, logs: bool = True) -> None:
        self._ensure_last_transform_job()
        self.latest_transform_job.wait(logs=logs)
        _raise_unless_completed(self.latest_transform_job.record())

    def stop_transform_job(self, wait: bool = True) -> None:
        self._ensure_last_transform_job()
        self.latest_transform_job.stop()
        if wait:
            self.latest_transform_job.wait()

    def describe(self) -> dict:
        """DescribeTransformJob of the latest job."""
        self._ensure_last_transform_job()
        return self.latest_transform_job.describe()

    def _ensure_last_transform_job(self) -> None:
        if self.latest_transform_job is None:
            raise ValueError("No transform job available")

    def delete_model(self) -> None:
        with _LOCK:
            _NAMED.pop(self.model_name, None)

    @classmethod
    def attach(cls, transform_job_name: str, sagemaker_session=None) -> Transformer:
        """A Transformer for an existing job (v2: from its DescribeTransformJob)."""
        d = transform.describe(transform_job_name)
        spec = TransformJobRecord.load(transform_job_name).Spec or {}
        t = cls(model_name=d["ModelName"], instance_count=d["TransformResources"]["InstanceCount"],
                instance_type=d["TransformResources"]["InstanceType"],
                strategy=d.get("BatchStrategy"),
                assemble_with=d["TransformOutput"].get("AssembleWith"),
                output_path=d["TransformOutput"]["S3OutputPath"],
                accept=d["TransformOutput"].get("Accept"),
                max_concurrent_transforms=d.get("MaxConcurrentTransforms"),
                max_payload=d.get("MaxPayloadInMB"), env=d.get("Environment"),
                base_transform_job_name=d["TransformJobName"],
                sagemaker_session=sagemaker_session)
        if spec.get("model"):
            name_model(t.model_name, ModelRef(**spec["model"]))
        t._current_job_name = transform_job_name
        t.latest_transform_job = _handle(transform_job_name)
        return t


_STAMP = re.compile(r"-\d{4}(-\d{2}){5}-\d{3}$")  # generate_name's timestamp


def _base_of(model_name: str) -> str:
    from mlcore.records import TrainingJobRecord

    if _training_job_exists(model_name):
        algorithm = TrainingJobRecord.load(model_name, liveness=False).AlgorithmName or ""
        if algorithm and not algorithm.startswith("script:"):
            return algorithm  # v2 names jobs after the model's image (base_name_from_image)
    return _STAMP.sub("", model_name.replace("/", "-").replace("@", "-")) or "transform-job"


def _handle(name: str) -> Handle:
    return Handle(TransformJobRecord, name, stop=transform.stop, describe=transform.describe)


def _raise_unless_completed(record) -> None:
    from mlcore.records import Status

    if record.status != Status.COMPLETED:
        raise MLCoreError(f"transform job {record.TransformJobName} "
                          f"{str(record.status).lower()}: {record.FailureReason}",
                          job_name=record.TransformJobName)


__all__ = ["Transformer"]
