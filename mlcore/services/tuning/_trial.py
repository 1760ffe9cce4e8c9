"""The trial side of a tuning job: what runs in each Ray Tune trial actor.

A trial runs one training job of the estimator (:func:`mlcore.services.training.execute`) and passes the job's
objective to Tune with its round as the job reports it. Its stop is graceful: the training
job is aborted through Ray Train's controller before the actor goes (see :func:`trainable`).
"""

from __future__ import annotations

import hashlib
import time

from mlcore import _session, _storage, constants
from mlcore.errors import MLCoreError
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord
from mlcore.services import training
from mlcore.specs import TrainingJob

# the keys trials report to Tune
OBJECTIVE, ROUND, RUNNING_MEAN = "objective", "round", "running_mean"


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
    """Passes the training job's objective to Tune at the decision rounds (the only rounds at
    which early stopping can stop it; none when it is off) and once at the end. Each report
    carries the value at that round and its running average over every round the job
    reported (what the median rule compares); it blocks until Tune's controller takes it."""

    def __init__(self, objective: str, job_name: str, decision_rounds=()):
        self.objective, self.job_name = objective, job_name
        self.pending = sorted(decision_rounds)
        self.last_step = 0  # the job's last round seen
        self.last_round = 0  # the last round reported to Tune
        self.total, self.count = 0.0, 0
        self.stopped = False

    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def __call__(self, rows: list[tuple[str, float, int]]) -> None:
        for key, value, step in sorted(rows, key=lambda r: r[2]):
            if self.stopped or key != self.objective or step <= self.last_step:
                continue
            self.last_step, self.total, self.count = step, self.total + value, self.count + 1
            while self.pending and step >= self.pending[0]:  # a skipped round reports here
                if not self._report({OBJECTIVE: value, ROUND: self.pending.pop(0), RUNNING_MEAN: self.mean()}):
                    return

    def _report(self, result: dict) -> bool:
        from ray import tune

        self.last_round = result[ROUND]
        try:
            tune.report({**result, "job_name": self.job_name})
        except SystemExit:  # Tune's way to end a stopped trial's thread
            self.stopped = True
            return False
        return True

    def final(self, record: TrainingJobRecord) -> None:
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
            self._report({OBJECTIVE: value, ROUND: max(self.last_step, 1), "job_status": str(status)})


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


def trial(config: dict, context: dict, reporter: _Reporter, should_stop=None) -> None:
    """One trial: the estimator's training job with ``config``'s hyperparameters. A job that
    already completed (the driver died after it ended) is reported, not trained again; one
    that was cut off resumes from its own checkpoints."""
    _session.adopt(context["session"])
    name = reporter.job_name
    spec = trial_job(TrainingJob.model_validate(context["estimator"]), name, config)
    spec.tags = {**spec.tags, "mlflow.parentRunId": context["parent_run_id"],
                 "mlcore.tuning_job": context["tuning"]}
    previous = TrainingJobRecord.load(name, liveness=False) if TrainingJobRecord.exists(name) else None
    if previous is not None and previous.TrainingJobStatus == Status.COMPLETED:
        reporter.final(previous)
        return
    plan = training.prepare(spec, name, "trial", resume=previous is not None)
    tuning = context["tuning"]

    asked = [0.0]

    def stop_reason(fresh: bool = False) -> str | None:  # the job's watcher asks often
        if should_stop and should_stop():
            return should_stop()
        if fresh or time.monotonic() - asked[0] >= 1.0:  # the tuning record: once a second
            asked[0] = time.monotonic()
            if TuningJobRecord.load(tuning).StopRequested:  # before Tune's own stop arrives
                return f"stopped by the tuner: tuning job {tuning} was asked to stop"
        return None

    # log_model=False: only the best job's MLflow model is ever used; _results logs it.
    record = training.execute(plan, logs=False, on_metrics=reporter, previous=previous,
                              should_stop=stop_reason, log_model=False)
    if record.TrainingJobStatus == Status.STOPPED and stop_reason(fresh=True):
        return  # stopped on purpose: no final objective to report
    reporter.final(record)


def trainable():
    """A Tune function trainable for :func:`trial` whose stop lets the training job end
    cleanly (see :func:`_compat.function_trainable_base` for why this subclasses Tune). Its
    actor is reused for the next trial (``reuse_actors``): :meth:`reset_config` first ends
    the previous trial's job, as a stop does."""
    from mlcore.services.tuning._compat import function_trainable_base, stop_training_thread

    FunctionTrainable, get_session, RESULT_DUPLICATE = function_trainable_base()

    class TrialTrainable(FunctionTrainable):
        def setup(self, config, context=None):
            self._context = context
            self._stop_reason: str | None = None
            self._reporter: _Reporter | None = None
            super().setup(config)

        def _trainable_func(self, config):
            ctx = self._context
            self._stop_reason = None
            reporter = self._reporter = _Reporter(ctx["objective"], self.trial_name, ctx["decision_rounds"])
            stop = lambda: self._stop_reason if self._reporter is reporter else "trial ended"  # noqa: E731
            trial(config, ctx, reporter, stop)
            if stop() is None:
                # As Tune's own function wrapper does: tell the controller the function ended.
                get_session().report({RESULT_DUPLICATE: True})

        def _end_job(self, reason: str) -> None:
            """Stop the running trial's training job, if any, and wait until it ended."""
            session = get_session()
            if session is not None and session.training_started and session.training_thread.is_alive():
                self._stop_reason = reason
                stop_training_thread(session, constants.get("MLCORE_TRIAL_STOP_TIMEOUT_S"))

        def end_job(self, reason: str) -> None:
            """Called by the driver (``_callbacks.Recorder``) when the scheduler stops this
            trial: its job ends now, before Tune hands this actor the next trial."""
            self._end_job(reason)

        def _stopped(self, why: str) -> str:
            last = self._reporter.last_round if self._reporter else 0
            return f"stopped by the tuner{f' at round {last}' if last else ''}: {why}"

        def reset_config(self, new_config):
            # Tune gives a still-running thread 2 s, then refuses the reuse (the next trial
            # would fail): end a job still running first (end_job normally did already).
            self._end_job(self._stopped(f"early stopping ({self._context['early_stopping']}) "
                                        "found it behind the other trials"))
            return super().reset_config(new_config)

        def cleanup(self):
            self._end_job(self._stopped("the tuning job ended before this training job did"))
            super().cleanup()

    TrialTrainable.__name__ = TrialTrainable.__qualname__ = "trial"
    return TrialTrainable
