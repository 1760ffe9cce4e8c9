"""The tuning driver's hooks into Ray Tune: the record of trials, early stopping, and when
to stop.

Both are pickled with Tune's experiment state and come back on a resume, so they hold names
and counters only and read the records again when they need them.
"""

from __future__ import annotations

import logging
import time

from ray import tune
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search.optuna import OptunaSearch as _OptunaSearch

from mlcore.errors import root_cause
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord
from mlcore.services._lifecycle import finish
from mlcore.services.tuning import _search_space
from mlcore.services.tuning._compat import trial_actor
from mlcore.services.tuning._run import say
from mlcore.services.tuning._trial import OBJECTIVE, ROUND, RUNNING_MEAN, job_of

log = logging.getLogger("mlcore")


class Recorder(tune.Callback):
    """Keeps the tuning record's list of training jobs, closes the jobs Tune stopped early
    or whose trial died, and prints one line per finished trial."""

    def __init__(self, tuning: str, objective: str, max_jobs: int, logs: bool,
                 early_stopping: str | None = None):
        self.tuning, self.objective, self.max_jobs, self.logs = tuning, objective, max_jobs, logs
        self.early_stopping = early_stopping

    def _job(self, trial) -> str:
        return job_of(trial)

    def on_trial_start(self, iteration, trials, trial, **info):
        rec = TuningJobRecord.load(self.tuning)
        job = self._job(trial)
        if job not in rec.TrainingJobs:
            rec.update(TrainingJobs=[*rec.TrainingJobs, job])

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("done") and not result.get("job_status"):  # the scheduler stopped it
            # Now, not when Tune reuses or ends the actor: the job would train on until then.
            # The trial's job ends Stopped with this reason (and its own end time).
            actor = trial_actor(trial)
            if actor is not None:
                actor.end_job.remote(
                    f"stopped by the tuner at round {result.get(ROUND)} ({self.objective}="
                    f"{result.get(OBJECTIVE)}): early stopping ({self.early_stopping}) found "
                    "it behind the other trials")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._line(trial, self._job(trial))

    def on_trial_error(self, iteration, trials, trial, **info):
        job = self._job(trial)
        close(job, Status.FAILED, _error_text(trial))
        self._line(trial, job)

    def _line(self, trial, job: str) -> None:
        if not TrainingJobRecord.exists(job):
            say(f"[{self.tuning}] {job}: {_error_text(trial)}", self.logs)
            return
        rec = TrainingJobRecord.load(job, liveness=False)
        value = rec.FinalMetrics.get(self.objective)
        shown = f"{self.objective}={value:.6g}" if value is not None and rec.TrainingJobStatus == Status.COMPLETED \
            else (rec.FailureReason or "")[:160]
        jobs = TuningJobRecord.load(self.tuning).TrainingJobs
        done = sum(TrainingJobRecord.exists(j) and TrainingJobRecord.load(j, liveness=False).TrainingJobStatus != Status.IN_PROGRESS
                   for j in jobs)
        say(f"[{self.tuning}] {done}/{self.max_jobs} done; {job} {rec.TrainingJobStatus}: {shown}", self.logs)


def _error_text(trial) -> str:
    err = getattr(trial, "error_file", None)
    text = ""
    try:
        if err:
            with open(err) as f:
                text = f.read()
    except OSError:
        pass
    return root_cause(text) if text.strip() else "the trial ended with an error"


def close(job: str, status: Status, reason: str) -> None:
    """Mark a training job that its trial left unfinished (its process was ended)."""
    if not TrainingJobRecord.exists(job):
        return
    rec = TrainingJobRecord.load(job, liveness=False)
    if rec.status.is_terminal:
        return
    now = time.time()
    finish(rec, status, reason, TrainingEndTime=now,
           TrainingTimeInSeconds=int(round(now - (rec.TrainingStartTime or now))))


class OptunaSearch(_OptunaSearch):
    """Ray Tune's OptunaSearch, except that a trial the tuner stopped is PRUNED.

    Tune hands the searcher a stopped trial's last result, and OptunaSearch would record its
    objective at that early round as the configuration's final value (COMPLETE): TPE would
    then compare a round-15 value with other trials' round-150 values. A pruned trial keeps
    its intermediate values and ranks below the completed ones, as Optuna's own pruners do.
    """

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if result is not None and not error and not result.get("job_status"):
            result = None  # no final value: PRUNED
        super().on_trial_complete(trial_id, result, error)


class Stopper(tune.Stopper):
    """Ends the whole tuning job early: completion criteria met, or a stop requested (from
    this process or another, through the tuning record)."""

    def __init__(self, tuning: str, criteria, maximize: bool):
        self.tuning = tuning
        self.policy = _search_space.CompletionPolicy(criteria, maximize)
        self.reason: str | None = None
        self._seen: set[str] = set()
        self._checked = 0.0

    def __call__(self, trial_id: str, result: dict) -> bool:
        if result.get("job_status") == Status.COMPLETED and trial_id not in self._seen:
            self._seen.add(trial_id)
            why = self.policy.decide(result[OBJECTIVE])
            if why and not self.reason:
                self.reason = why
                log.info("tuning job %s: ending early, %s", self.tuning, why)
                TuningJobRecord.load(self.tuning).update(CompletionReason=why)
        return False

    def stop_all(self) -> bool:
        if self.reason:
            return True
        if time.monotonic() - self._checked >= 1.0:  # the record is a file: read it sparingly
            self._checked = time.monotonic()
            if TuningJobRecord.load(self.tuning).StopRequested:
                self.reason = "stop requested"
        return bool(self.reason)


class MedianStopping(FIFOScheduler):
    """``early_stopping_type: Auto``: SageMaker's median rule (:class:`_search_space.MedianRule`)
    at each round a trial reports before its last.

    Not Ray's ``MedianStoppingRule``: it compares a trial's *best* value so far (SageMaker:
    the current one), averages only the results Tune was sent (a trial here reports at a
    few rounds, not all), and *pauses* a trial while it lacks samples and others wait, which
    would checkpoint and restart a training job that cannot be paused.
    """

    def __init__(self, maximize: bool, min_samples: int):
        super().__init__()
        self.rule = _search_space.MedianRule(maximize, min_samples)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if result.get("job_status") or RUNNING_MEAN not in result:  # a final report: nothing to stop
            return TrialScheduler.CONTINUE
        rnd, value = result[ROUND], result[OBJECTIVE]
        stop, median, n = self.rule.decide(trial.trial_id, rnd, value, result[RUNNING_MEAN])
        if median is not None:
            log.info("early stopping: %s at round %s: objective %.6g vs the median %.6g of %d "
                     "other jobs' running averages -> %s", job_of(trial), rnd, value, median, n,
                     "stop" if stop else "continue")
        return TrialScheduler.STOP if stop else TrialScheduler.CONTINUE
