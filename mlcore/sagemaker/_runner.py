"""Running one training job end to end: the wiring of specs, Ray, algorithms and MLflow.

spec -> record (InProgress) -> MLflow run -> capacity and data checks -> Ray Train run ->
model committed at ``<output_path>/<job>/model`` -> MLflow model -> record (Completed).
Any failure ends in a Failed record whose FailureReason says what to fix.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from datetime import datetime

import algorithms
import parallel
from mlcore import _instances, _jobs, _session, _storage, _tracking, constants
from mlcore._specs import TrainingJob
from mlcore.errors import MLCoreError, SpecError
from mlcore.sagemaker import _script_mode

log = logging.getLogger("mlcore")


def default_job_name(base: str) -> str:
    return f"{base}-{datetime.now().strftime('%Y-%m-%d-%H-%M-%S-%f')[:-3]}"


def prepare(spec: TrainingJob, job_name: str | None, base: str, resume: bool = False):
    """Checks that need no cluster, then the job name claimed atomically (``resume``: the
    named job exists and is run again). Raises on a user error before any job exists;
    returns ``(algorithm, job_name)``."""
    if spec.entry_point:
        algo = _script_mode.prepare(spec)
    else:
        algo = algorithms.get(spec.algorithm)
        algo.module.validate_hyperparameters(spec.hyperparameters)  # invalid: no job at all
        missing = [c for c in algo.required_channels if c not in spec.inputs]
        if missing:
            raise SpecError(f"inputs: {algo.name} needs the channel(s) {', '.join(missing)}; pass "
                            f"fit({{'train': uri}}) or inputs: {{train: uri}}", [("inputs", "missing train")])
    if job_name:
        if not resume and not _jobs.claim(job_name):
            raise SpecError(f"name: a training job named {job_name!r} already exists; choose another "
                            "name or leave it unset", [("name", "duplicate")])
        return algo, job_name
    while True:  # generated names are unique to the millisecond; retry on a collision
        name = default_job_name(base)
        if _jobs.claim(name):
            return algo, name
        time.sleep(0.001)


def _reason(exc: BaseException) -> str:
    err = parallel.worker_error(exc)
    if isinstance(err, MLCoreError):
        return str(err)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[-1] if text else ''}"[:1000]


class _Progress:
    """Driver-side sink of worker metrics: MLflow batches, a progress line, the record."""

    def __init__(self, record: _jobs.JobRecord, run_id: str, logs: bool, on_metrics=None):
        self.record, self.run_id, self.logs = record, run_id, logs
        self.on_metrics = on_metrics
        self.final: dict[str, float] = {}
        self._last_step: dict[str, int] = {}
        self._last_save = 0.0

    def __call__(self, rows, progress) -> None:
        # Steps recomputed after a restart from an earlier checkpoint were logged already.
        rows = [r for r in sorted(rows, key=lambda r: r[2]) if r[2] > self._last_step.get(r[0], 0)]
        if rows:
            _tracking.log_metrics(self.run_id, rows)
            for key, value, step in rows:
                self.final[key], self._last_step[key] = value, step
            if self.on_metrics is not None:
                self.on_metrics(rows)
        if not progress:
            return
        if self.logs and rows:
            shown = " ".join(f"{k}={v:.5g}" for k, v in sorted(self.final.items()))
            where = (f"round {progress.get('round')}/{progress.get('num_round')}" if "round" in progress
                     else f"step {max(s for _, _, s in rows)}")
            print(f"[{self.record.TrainingJobName}] {where} {shown}", file=sys.stderr, flush=True)
        if time.monotonic() - self._last_save > 2:
            self.record.update(Progress=progress)
            self._last_save = time.monotonic()


def run(spec: TrainingJob, algo, job_name: str, logs: bool = True, on_metrics=None,
        previous: _jobs.JobRecord | None = None, should_stop=None) -> _jobs.JobRecord:
    """Run ``spec`` as ``job_name`` (claimed by :func:`prepare`); return its final record.

    ``on_metrics(rows)`` sees each batch of new ``(key, value, step)`` rows. ``previous``: the
    record of this job cut off earlier (its driver died); the job resumes from its own
    checkpoints (Ray Train restores the run folder) in the same MLflow run. When
    ``should_stop()`` returns a reason, training is aborted and the job ends Stopped with it.
    """
    output = spec.output_path or _session.default_output_path()
    ckpt_uri = spec.checkpoint_s3_uri or _storage.join(output, job_name, "checkpoints")
    record = _jobs.JobRecord(
        TrainingJobName=job_name, AlgorithmName=algo.name, InstanceType=spec.instance_type,
        InstanceCount=spec.instance_count, OutputPath=output, CheckpointUri=ckpt_uri,
        InputDataConfig={k: c.model_dump() for k, c in spec.inputs.items()},
        HyperParameters={k: str(v) for k, v in spec.hyperparameters.items()},
        Spec=spec.model_dump(mode="json"))
    if previous is not None:
        record.CreationTime = previous.CreationTime
        record.SecondaryStatusTransitions = previous.SecondaryStatusTransitions
        record.MlflowRunId = previous.MlflowRunId
        record.Restarts = previous.Restarts + 1
    record.transition("Starting", "creating the MLflow run" if previous is None else
                      "resuming from the job's checkpoints (its driver process ended)")
    try:
        record.MlflowRunId = record.MlflowRunId or _tracking.start_run(
            job_name, spec.hyperparameters,
            {"mlcore.algorithm": algo.name, "mlcore.instance_type": spec.instance_type,
             "mlcore.instance_count": spec.instance_count, "mlcore.output_path": output,
             **{f"mlcore.input.{k}": c.uri for k, c in spec.inputs.items()}, **spec.tags})
        record.transition("Preparing", "connecting to Ray; checking capacity and data")
        _preflight(spec, algo, ckpt_uri)
        record.transition("Training", "workers starting, reading data, training",
                          TrainingStartTime=time.time())
        progress = _Progress(record, record.MlflowRunId, logs, on_metrics)
        fn, config = _train_fn_and_config(spec, algo, job_name, output)
        config["deadline"] = _deadline(spec, record)
        result = parallel.run(
            fn, config, trainer=algo.trainer,
            scaling_config=_instances.scaling_config(spec.instance_type, spec.instance_count),
            checkpoint_uri=ckpt_uri, max_failures=spec.max_retry_attempts,
            max_preemption_failures=-1 if spec.use_spot_instances else spec.max_retry_attempts,
            keep_checkpoints=spec.keep_checkpoints, on_progress=progress,
            environment=(_script_mode.worker_environment(spec, algo)
                         if isinstance(algo, _script_mode.ScriptJob) else spec.environment),
            backend=getattr(getattr(algo, "plan", None), "backend", None),
            datasets=_script_mode.datasets(spec) if isinstance(algo, _script_mode.ScriptJob) else None,
            should_stop=should_stop)
        return _complete(record, algo, result, progress.final)
    except BaseException as exc:
        _fail(record, exc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return record


def _deadline(spec: TrainingJob, record: _jobs.JobRecord) -> tuple[float, str]:
    """When workers stop training, and which limit that is: max_run after training starts,
    and for spot jobs max_wait after the job was created (waiting counts), as in SageMaker."""
    deadline = (record.TrainingStartTime + spec.max_run, "max_run")
    if spec.use_spot_instances and spec.max_wait:
        deadline = min(deadline, (record.CreationTime + spec.max_wait, "max_wait"))
    return deadline


def _train_fn_and_config(spec: TrainingJob, algo, job_name: str, output: str) -> tuple:
    if isinstance(algo, _script_mode.ScriptJob):
        from parallel import script_train_fn

        source = _script_mode.ship_source(algo, _storage.join(output, job_name, "source"))
        return script_train_fn, _script_mode.train_config(spec, algo, job_name, source, output)
    return algo.module.train_fn, {
        "hyperparameters": spec.hyperparameters, "checkpoint_frequency": spec.checkpoint_frequency,
        "checkpoint_min_interval_s": spec.checkpoint_min_interval_s,
        "channels": {k: c.model_dump() for k, c in spec.inputs.items()}}


def _preflight(spec: TrainingJob, algo, ckpt_uri: str) -> None:
    """Fail before any worker starts: a cluster that can never hold the job, unusable data."""
    _session.ensure_ray()
    nodes = _session.cluster_nodes()
    if not constants.get("MLCORE_SKIP_CAPACITY_CHECK"):
        _instances.check_capacity(spec.instance_type, spec.instance_count, nodes)
    if len(nodes) > 1 and not _storage.is_remote(ckpt_uri):
        log.warning("output/checkpoint path %s is local but the cluster has %d nodes: unless it "
                    "is a shared mount, set output_path to shared storage (s3://...)",
                    ckpt_uri, len(nodes))
    if isinstance(algo, _script_mode.ScriptJob):
        missing = [n for n, c in spec.inputs.items() if not _storage.list_files(c.uri)]
        if missing:
            raise MLCoreError(f"input channel(s) {', '.join(missing)} have no files at "
                              f"{', '.join(spec.inputs[n].uri for n in missing)}; fix the URIs")
        return
    label = spec.hyperparameters.get("label_column")
    features = {n: _check(n, c, label) for n, c in spec.inputs.items() if n in algo.channels}
    if len(set(features.values())) > 1:
        raise MLCoreError(f"channels have different feature counts ({features}); every "
                          "channel needs the same features in the same order")


def _complete(record: _jobs.JobRecord, algo, result, metrics: dict) -> _jobs.JobRecord:
    """Publish the model, close the MLflow run and the record."""
    end = time.time()
    record.transition("Uploading", "committing the model and logging it to MLflow",
                      TrainingEndTime=end, Restarts=record.Restarts + result.restarts)
    run_id, timings = record.MlflowRunId, dict(result.metrics)
    stop = next((e for e in result.events if e["kind"] == "stopped"), None)
    if stop:
        return _stopped(record, result, stop)
    if isinstance(algo, _script_mode.ScriptJob) and not timings.get("model_files"):
        raise MLCoreError(f"{algo.entry_point} finished but wrote nothing to its model folder "
                          "(SM_MODEL_DIR / context.model_dir()); save the model there")
    model_uri, mlflow_uri = _publish_model(algo, result.checkpoint, record.OutputPath,
                                           record.TrainingJobName, run_id)
    if "worker_start_time" in timings:  # where the Training phase's time went
        busy = timings.get("data_load_seconds", 0) + timings.get("train_seconds", 0)
        timings["worker_startup_seconds"] = timings["worker_start_time"] - record.TrainingStartTime
        timings["worker_shutdown_seconds"] = end - timings["worker_start_time"] - busy
    final = {**metrics, **{k: timings[k] for k in ("data_load_seconds", "train_seconds") if k in timings}}
    # Billed: the training time less the time no worker ran between an interruption and
    # the restart (SageMaker does not bill a spot job while it waits for capacity).
    dead = sum(i["DeadSeconds"] for i in result.interruptions)
    _tracking.log_metrics(run_id, [(k, v, 0) for k, v in final.items() if k not in metrics])
    _tracking.set_tags(run_id, {"mlcore.model_data": model_uri, "mlcore.status": "Completed"})
    _tracking.end_run(run_id, "Completed")
    seconds = int(round(end - record.TrainingStartTime))
    return record.transition("Completed", "", TrainingJobStatus="Completed",
                             ModelArtifacts=model_uri, MlflowModelUri=mlflow_uri,
                             FinalMetrics=final, TrainingTimeInSeconds=seconds,
                             BillableTimeInSeconds=max(0, int(round(end - record.TrainingStartTime - dead))),
                             Interruptions=result.interruptions, Progress={**record.Progress, **timings})


def _stopped(record: _jobs.JobRecord, result, stop: dict) -> _jobs.JobRecord:
    """The workers stopped at the deadline (max_run / max_wait): SageMaker's Stopped job."""
    limit = stop["limit"]
    which = "MaxWaitTimeExceeded" if limit == "max_wait" else "MaxRuntimeExceeded"
    reason = (f"{which}: training stopped at step {stop['step']} when the job's {limit} "
              f"({record.Spec.get(limit)} s) ran out; checkpoints stay at {record.CheckpointUri}. "
              f"Raise {limit} or train for fewer steps")
    log.warning("training job %s: %s", record.TrainingJobName, reason)
    _tracking.set_tags(record.MlflowRunId, {"mlcore.status": "Stopped", "mlcore.failure_reason": reason})
    _tracking.end_run(record.MlflowRunId, "Stopped")
    end = time.time()
    return record.transition(which, reason, TrainingJobStatus="Stopped", FailureReason=reason,
                             TrainingEndTime=end, Restarts=record.Restarts + result.restarts,
                             Interruptions=result.interruptions,
                             TrainingTimeInSeconds=int(round(end - record.TrainingStartTime)))


def _fail(record: _jobs.JobRecord, exc: BaseException) -> None:
    stopped = isinstance(exc, (KeyboardInterrupt, parallel.Aborted))
    status = "Stopped" if stopped else "Failed"
    reason = (str(exc) if isinstance(exc, parallel.Aborted) else "stopped by the user") if stopped else _reason(exc)
    log.error("training job %s %s: %s", record.TrainingJobName, status.lower(), reason)
    record.transition(status, reason, TrainingJobStatus=status, FailureReason=reason,
                      TrainingEndTime=time.time())
    if record.MlflowRunId:
        try:
            _tracking.set_tags(record.MlflowRunId, {"mlcore.status": status, "mlcore.failure_reason": reason})
            _tracking.end_run(record.MlflowRunId, status)
        except Exception:  # tracking must not hide the real failure
            log.exception("could not mark MLflow run %s as %s", record.MlflowRunId, status)


def _check(name, channel, label):
    from algorithms._data import check_channel

    return check_channel(name, channel.uri, channel.content_type, label)


def _publish_model(algo, checkpoint, output: str, job_name: str, run_id: str) -> tuple[str, str]:
    """Commit the final checkpoint as the model artifact and log it as an MLflow model."""
    if isinstance(algo, _script_mode.ScriptJob):
        return _script_mode.publish(algo, checkpoint, output, job_name, run_id)
    with tempfile.TemporaryDirectory(prefix="mlcore-model-") as tmp:
        local = checkpoint.to_directory(tmp)
        model = algo.module.load_model(local)
        model_uri = _storage.commit_dir(local, _storage.join(output, job_name, "model"),
                                        {"job": job_name, "algorithm": algo.name})
    mlflow_uri = _tracking.log_model(run_id, algo.mlflow_flavor, model)
    return model_uri, mlflow_uri
