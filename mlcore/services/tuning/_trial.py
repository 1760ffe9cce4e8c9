"""The trial side of a tuning job: what runs in each Ray Tune trial actor.

A trial runs one training job of the estimator (:func:`mlcore.services.training.execute`) and passes the job's
objective to Tune with its round as the job reports it. Its stop is graceful: the training
job is aborted through Ray Train's controller before the actor goes (see :func:`trainable`).
"""

from __future__ import annotations

import hashlib

from mlcore import _session, _storage, constants
from mlcore.errors import MLCoreError
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord
from mlcore.services import training
from mlcore.specs import TrainingJob

OBJECTIVE, ROUND = "objective", "round"  # the keys trials report to Tune


# --- names ------------------------------------------------------------------------------
class TrialNamer:
    """SageMaker's ``<tuning job>-<NNN>-<id>`` names for trials. Tune keeps a trial's name
    across a resume; the count lives in this process (Tune copies the namer) and starts
    after the trials the record already lists."""

    _counts: dict[str, int] = {}

    def __init__(self, tuning: str, start: int = 0):
        self.tuning = tuning
        TrialNamer._counts[tuning] = max(start, TrialNamer._counts.get(tuning, 0))

    def __call__(self, trial) -> str:
        n = TrialNamer._counts[self.tuning] = TrialNamer._counts.get(self.tuning, 0) + 1
        return f"{self.tuning}-{n:03d}-{hashlib.sha1(trial.trial_id.encode()).hexdigest()[:8]}"


def job_of(trial) -> str:
    """The training job of a Tune trial (its name)."""
    return trial.custom_trial_name or str(trial)


class _Reporter:
    """Passes each new objective value of the training job to Tune, with its round."""

    def __init__(self, objective: str, job_name: str):
        self.objective, self.job_name = objective, job_name
        self.last_round = 0
        self.stopped = False

    def __call__(self, rows: list[tuple[str, float, int]]) -> None:
        from ray import tune

        for key, value, step in rows:
            if self.stopped or key != self.objective or step <= self.last_round:
                continue
            try:
                tune.report({OBJECTIVE: value, ROUND: step, "job_name": self.job_name})
            except SystemExit:  # Tune's way to end a stopped trial; it ends this actor next
                self.stopped = True
                return
            self.last_round = step

    def final(self, record: TrainingJobRecord) -> None:
        from ray import tune

        status = record.TrainingJobStatus
        if status == Status.FAILED:
            raise MLCoreError(f"training job {record.TrainingJobName} failed: {record.FailureReason}")
        value = record.FinalMetrics.get(self.objective)
        if value is None:
            resumed = (record.Progress or {}).get("resumed_from_round")
            raise MLCoreError(
                f"training job {record.TrainingJobName} {status.lower()} without reporting the "
                f"objective metric {self.objective!r} (it reported: "
                f"{', '.join(sorted(record.FinalMetrics)) or 'nothing'})"
                + (f"; it resumed from a checkpoint at round {resumed} in {record.CheckpointUri}"
                   if resumed else ""))
        if not self.stopped:
            try:
                tune.report({OBJECTIVE: value, ROUND: max(self.last_round, 1),
                             "job_name": self.job_name, "job_status": str(status)})
            except SystemExit:
                pass


def trial_job(estimator: TrainingJob, name: str, config: dict) -> TrainingJob:
    """The training job the trial ``name`` runs: the estimator with ``config``'s tuned values,
    and its checkpoints in a folder of its own, ``<checkpoint_s3_uri>/<trial>``, so that it
    starts from scratch as a new training job does. In the estimator's own folder a trial
    would resume from whatever checkpoint is there: another trial's, or the model of a job
    the estimator ran before (xgboost_managed_spot_training: a spot fit, then a tuner on the
    same estimator), whose ``num_round`` rounds are boosted already, so the trial trained
    none, reported no metric and returned that model; parallel trials overwrote each other."""
    spec = estimator.model_copy(deep=True)
    spec.hyperparameters = {**spec.hyperparameters, **config}
    if spec.checkpoint_s3_uri:
        spec.checkpoint_s3_uri = _storage.child(spec.checkpoint_s3_uri, name)
    return spec


def trial(config: dict, context: dict, should_stop=None) -> None:
    """One trial: the estimator's training job with ``config``'s hyperparameters. A job that
    already completed (the driver died after it ended) is reported, not trained again; one
    that was cut off resumes from its own checkpoints."""
    from ray import tune

    _session.adopt(context["session"])
    name = tune.get_context().get_trial_name()
    spec = trial_job(TrainingJob.model_validate(context["estimator"]), name, config)
    spec.tags = {**spec.tags, "mlflow.parentRunId": context["parent_run_id"],
                 "mlcore.tuning_job": context["tuning"]}
    reporter = _Reporter(context["objective"], name)
    previous = TrainingJobRecord.load(name, liveness=False) if TrainingJobRecord.exists(name) else None
    if previous is not None and previous.TrainingJobStatus == Status.COMPLETED:
        reporter.final(previous)
        return
    plan = training.prepare(spec, name, "trial", resume=previous is not None)
    tuning = context["tuning"]

    def stop_reason() -> str | None:  # asked about once a second by the job's watcher
        if should_stop and should_stop():
            return should_stop()
        if TuningJobRecord.load(tuning).StopRequested:  # seen before Tune's own stop arrives
            return f"stopped by the tuner: tuning job {tuning} was asked to stop"
        return None

    record = training.execute(plan, logs=False, on_metrics=reporter, previous=previous,
                              should_stop=stop_reason)
    if record.TrainingJobStatus == Status.STOPPED and stop_reason():
        return  # stopped on purpose: no final objective to report
    reporter.final(record)


def trainable():
    """A Tune function trainable for :func:`trial` whose stop lets the training job end
    cleanly (see :func:`_compat.function_trainable_base` for why this subclasses Tune)."""
    from mlcore.services.tuning._compat import function_trainable_base, stop_training_thread

    FunctionTrainable, get_session, RESULT_DUPLICATE = function_trainable_base()

    class TrialTrainable(FunctionTrainable):
        def setup(self, config, context=None):
            self._context = context
            self._stop_reason: str | None = None
            super().setup(config)

        def _trainable_func(self, config):
            trial(config, self._context, lambda: self._stop_reason)
            if self._stop_reason is None:
                # As Tune's own function wrapper does: tell the controller the function ended.
                get_session().report({RESULT_DUPLICATE: True})

        def cleanup(self):
            session = get_session()
            if session is not None and session.training_started and session.training_thread.is_alive():
                self._stop_reason = ("stopped by the tuner: early stopping (ASHA) ranked it behind "
                                     "the other trials at a rung, or the tuning job ended")
                stop_training_thread(session, constants.get("MLCORE_TRIAL_STOP_TIMEOUT_S"))
            super().cleanup()

    TrialTrainable.__name__ = TrialTrainable.__qualname__ = "trial"
    return TrialTrainable
