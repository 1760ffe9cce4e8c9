"""Running one training job end to end, from its plan.

plan -> record (InProgress) -> MLflow run -> capacity and data checks -> Ray Train run ->
model committed at ``<output_path>/<job>/model`` and packed as SageMaker's
``<output_path>/<job>/output/model.tar.gz`` -> MLflow model -> record (Completed).
Any failure ends in a Failed record whose FailureReason says what to fix.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time

import parallel
from mlcore import _session, _storage, _tracking
from mlcore.errors import DataError, MLCoreError, StorageError, innermost, root_cause
from mlcore.records import Status, TrainingJobRecord
from mlcore.services._lifecycle import driver, finish
from mlcore.services.training import _mlflow_model, _outputs, _plan
from mlcore.services.training._plan import TrainingPlan

log = logging.getLogger("mlcore")


def _reason(plan: TrainingPlan, exc: BaseException) -> str:
    """A failure's FailureReason: its root cause on one line, led by the spec field whose
    location it names (mlcore's errors other than data and storage ones are about something
    else than a location)."""
    err = parallel.worker_error(exc)
    cause = root_cause(err)
    root = innermost(err)
    if isinstance(root, MLCoreError) and not isinstance(root, (DataError, StorageError)):
        return cause
    field = _outputs.field_of(plan, cause)
    return f"{field}: {cause}" if field else cause


class _Progress:
    """Driver-side sink of worker metrics: ``on_metrics`` at once, MLflow in batches of about
    a second, a progress line, the record."""

    def __init__(self, record: TrainingJobRecord, logs: bool, on_metrics=None):
        self.record, self.logs, self.on_metrics = record, logs, on_metrics
        self.final: dict[str, float] = {}
        self._last_step: dict[str, int] = {}
        self._last_save = 0.0
        self._pending: list = []
        self._last_flush = time.monotonic()

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            _tracking.log_metrics(self.record.MlflowRunId, rows)
        self._last_flush = time.monotonic()

    def __call__(self, rows, progress) -> None:
        # Steps recomputed after a restart from an earlier checkpoint were logged already.
        rows = [r for r in sorted(rows, key=lambda r: r[2]) if r[2] > self._last_step.get(r[0], 0)]
        if rows:
            self._pending.extend(rows)
            if time.monotonic() - self._last_flush >= 1.0:
                self.flush()
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


def _stop_requested(name: str, should_stop):
    """Ask about once a second (the job's watcher): the caller's reason, or a stop requested
    through the record (``mlcore jobs stop``, ``Handle.stop()``, from any process)."""
    def reason() -> str | None:
        if should_stop is not None and (why := should_stop()):
            return why
        if TrainingJobRecord.load(name, liveness=False).status == Status.STOPPING:
            return "stopped by the user (StopTrainingJob)"
        return None
    return reason


def execute(plan: TrainingPlan, logs: bool = True, on_metrics=None,
            previous: TrainingJobRecord | None = None, should_stop=None,
            log_model: bool = True) -> TrainingJobRecord:
    """Run ``plan`` (its name claimed by :func:`prepare`); return the final record.

    ``on_metrics(rows)`` sees each batch of new ``(key, value, step)`` rows. ``previous``: the
    record of this job cut off earlier (its driver died); the job resumes from its own
    checkpoints (Ray Train restores the run folder) in the same MLflow run. When
    ``should_stop()`` returns a reason, training is aborted and the job ends Stopped with it.
    ``log_model=False``: the model is committed but not logged to MLflow yet (a tuning trial;
    :func:`_mlflow_model.ensure` logs it when it is needed).
    """
    spec, algo = plan.spec, plan.algorithm
    record = TrainingJobRecord.load(plan.name, liveness=False)
    fields = dict(
        TrainingJobStatus=Status.IN_PROGRESS, AlgorithmName=algo.name,
        InstanceType=spec.instance_type, InstanceCount=spec.instance_count,
        OutputPath=plan.output, CheckpointUri=plan.checkpoint_uri,
        InputDataConfig={k: c.model_dump() for k, c in spec.inputs.items()},
        HyperParameters={k: str(v) for k, v in spec.hyperparameters.items()},
        Spec=spec.model_dump(mode="json"), **driver())
    if previous is not None:
        fields.update(Restarts=previous.Restarts + 1, FailureReason=None)
    record.transition("Starting", "creating the MLflow run" if previous is None else
                      "resuming from the job's checkpoints (its driver process ended)", **fields)
    try:
        if previous is not None and record.MlflowRunId:
            _tracking.reopen_run(record.MlflowRunId)
        if record.MlflowRunId is None:
            record.update(MlflowRunId=_tracking.start_run(
                plan.name, spec.hyperparameters,
                {"mlcore.algorithm": algo.name, "mlcore.instance_type": spec.instance_type,
                 "mlcore.instance_count": spec.instance_count, "mlcore.output_path": plan.output,
                 **{f"mlcore.input.{k}": c.uri for k, c in spec.inputs.items()}, **spec.tags}))
        record.transition("Preparing", "connecting to Ray; checking capacity and data")
        _preflight(plan)
        record.transition("Training", "workers starting, reading data, training",
                          TrainingStartTime=time.time())
        progress = _Progress(record, logs, on_metrics)
        _session.show_train_output(logs and bool(spec.entry_point))  # a script's own output
        config = {**plan.job.train_config(plan), "deadline": _deadline(spec, record)}
        result = parallel.run(
            algo.train_fn, config, trainer=algo.trainer,
            scaling_config=plan.placement.scaling_config(),
            checkpoint_uri=plan.checkpoint_uri, max_failures=spec.max_retry_attempts,
            max_preemption_failures=-1 if spec.use_spot_instances else spec.max_retry_attempts,
            keep_checkpoints=spec.keep_checkpoints, on_progress=progress,
            environment=plan.job.environment(plan), backend=plan.job.backend,
            datasets=plan.job.datasets(plan), should_stop=_stop_requested(plan.name, should_stop))
        progress.flush()
        return _complete(plan, record, result, progress.final, log_model)
    except BaseException as exc:
        if _ray_gone_under_actor(exc):
            # A tuning trial whose Ray died with its driver: the record stays InProgress,
            # so the tuning job's resume continues this job from its checkpoints.
            log.warning("training job %s: this process's Ray is gone (%s); the job is left "
                        "InProgress for a resume", plan.name, exc)
            raise
        _fail(plan, record, exc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return record


def _ray_gone_under_actor(exc: BaseException) -> bool:
    """``exc`` says this process's own Ray node died, and this process is one of its actors
    (a Tune trial), which dies with it: nothing can record an outcome honestly."""
    import ray
    from ray.exceptions import LocalRayletDiedError, NodeDiedError, RaySystemError

    try:
        ctx = ray.get_runtime_context()
        if ctx.get_actor_id() is None:
            return False
        node = ctx.get_node_id()
    except Exception:
        return False
    for e in (exc, getattr(exc, "cause", None), exc.__cause__, exc.__context__):
        if isinstance(e, (LocalRayletDiedError, RaySystemError)):
            return True
        if isinstance(e, NodeDiedError) and node in str(e):
            return True
    return False


def _deadline(spec, record: TrainingJobRecord) -> tuple[float, str]:
    """When workers stop training, and which limit that is: max_run after training starts,
    and for spot jobs max_wait after the job was created (waiting counts), as in SageMaker."""
    deadline = (record.TrainingStartTime + spec.max_run, "max_run")
    if spec.use_spot_instances and spec.max_wait:
        deadline = min(deadline, (record.CreationTime + spec.max_wait, "max_wait"))
    return deadline


def _preflight(plan: TrainingPlan) -> None:
    """Fail before any worker starts: output folders that take no writes, a cluster that can
    never hold the job, unusable data."""
    _outputs.check_plan(plan)
    _session.ensure_ray()
    nodes = _session.cluster_nodes()
    _plan.fit(plan, nodes)  # capacity: scaled to this machine on mlcore's local Ray, else strict
    if len(nodes) > 1 and not _storage.is_remote(plan.checkpoint_uri):
        log.warning("output/checkpoint path %s is local but the cluster has %d nodes: unless it "
                    "is a shared mount, set output_path to shared storage (s3://...)",
                    plan.checkpoint_uri, len(nodes))
    plan.job.preflight(plan)


def _complete(plan: TrainingPlan, record: TrainingJobRecord, result, metrics: dict,
              log_model: bool) -> TrainingJobRecord:
    """Publish the model, close the MLflow run and the record."""
    end = time.time()
    record.transition("Uploading", "committing the model and logging it to MLflow",
                      TrainingEndTime=end, Restarts=record.Restarts + result.restarts)
    run_id, timings = record.MlflowRunId, dict(result.metrics)
    stop = next((e for e in result.events if e["kind"] == "stopped"), None)
    if stop:
        return _stopped(record, result, stop)
    plan.job.check_result(plan, timings)
    model_uri = plan.job.commit(plan, result.checkpoint)
    tarball = _tarball(plan, model_uri)
    committed = time.time()
    if "worker_start_time" in timings:  # where the Training phase's time went
        busy = timings.get("data_load_seconds", 0) + timings.get("train_seconds", 0)
        timings["worker_startup_seconds"] = timings["worker_start_time"] - record.TrainingStartTime
        timings["worker_shutdown_seconds"] = end - timings["worker_start_time"] - busy
    final = {**metrics, **{k: timings[k] for k in ("data_load_seconds", "train_seconds") if k in timings}}
    # Billed: the training time less the time no worker ran between an interruption and
    # the restart (SageMaker does not bill a spot job while it waits for capacity).
    dead = sum(i["DeadSeconds"] for i in result.interruptions)
    _tracking.log_metrics(run_id, [(k, v, 0) for k, v in final.items() if k not in metrics])
    _tracking.set_tags(run_id, {"mlcore.model_data": model_uri})
    seconds = int(round(end - record.TrainingStartTime))
    record.update(ModelArtifacts=model_uri, S3ModelArtifacts=tarball)
    mlflow_uri = _mlflow_model.log(record) if log_model else None
    phases = _phases(record, timings, end, committed)
    return finish(record, Status.COMPLETED, MlflowModelUri=mlflow_uri, FinalMetrics=final,
                  PhaseTimings=phases,
                  TrainingTimeInSeconds=seconds,
                  BillableTimeInSeconds=max(0, int(round(end - record.TrainingStartTime - dead))),
                  Interruptions=result.interruptions, Progress={**record.Progress, **timings})


def _phases(record: TrainingJobRecord, timings: dict, end: float, committed: float) -> dict:
    """Where a completed job's seconds went, in order: ``Setup`` (MLflow run, checks of
    capacity and data), ``WorkerStartup`` (until the training function ran), ``DataLoad``,
    ``Train``, ``WorkerShutdown`` (until the driver had the result), ``Commit`` (model folder
    and tarball), ``MlflowModel`` (logging it; 0 when deferred), ``Total``."""
    now = time.time()
    out = {"Setup": record.TrainingStartTime - record.CreationTime,
           "WorkerStartup": timings.get("worker_startup_seconds"),
           "DataLoad": timings.get("data_load_seconds"), "Train": timings.get("train_seconds"),
           "WorkerShutdown": timings.get("worker_shutdown_seconds"),
           "Commit": committed - end, "MlflowModel": now - committed, "Total": now - record.CreationTime}
    return {k: round(v, 3) for k, v in out.items() if v is not None}


def _tarball(plan: TrainingPlan, model_uri: str) -> str:
    """SageMaker's artifact beside mlcore's committed folder: ``<output>/<job>/output/
    model.tar.gz`` with the model's files at its top level (for built-in XGBoost,
    ``xgboost-model``), which examples download, untar and load with the bare library."""
    with tempfile.TemporaryDirectory(prefix="mlcore-model-") as tmp:
        local = _storage.fetch_committed(model_uri, tmp)
        return _storage.write_tarball(local, plan.job_uri("output", "model.tar.gz"))


def _stopped(record: TrainingJobRecord, result, stop: dict) -> TrainingJobRecord:
    """The workers stopped at the deadline (max_run / max_wait): SageMaker's Stopped job."""
    limit = stop["limit"]
    which = "MaxWaitTimeExceeded" if limit == "max_wait" else "MaxRuntimeExceeded"
    reason = (f"{which}: training stopped at step {stop['step']} when the job's {limit} "
              f"({record.Spec.get(limit)} s) ran out; checkpoints stay at {record.CheckpointUri}. "
              f"Raise {limit} or train for fewer steps")
    log.warning("training job %s: %s", record.TrainingJobName, reason)
    end = time.time()
    return finish(record, Status.STOPPED, reason, secondary=which, TrainingEndTime=end,
                  Restarts=record.Restarts + result.restarts, Interruptions=result.interruptions,
                  TrainingTimeInSeconds=int(round(end - record.TrainingStartTime)))


def _fail(plan: TrainingPlan, record: TrainingJobRecord, exc: BaseException) -> None:
    stopped = isinstance(exc, (KeyboardInterrupt, parallel.Aborted))
    status = Status.STOPPED if stopped else Status.FAILED
    reason = (str(exc) if isinstance(exc, parallel.Aborted) else "stopped by the user") if stopped else _reason(plan, exc)
    # The terminal gets the one-line reason; the traceback is for -v (DEBUG) and log files.
    log.debug("training job %s %s", record.TrainingJobName, str(status).lower(), exc_info=exc)
    log.error("training job %s %s: %s", record.TrainingJobName, str(status).lower(), reason)
    finish(record, status, reason, TrainingEndTime=time.time())
