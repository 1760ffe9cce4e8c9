"""The tuning service: a TuningJob spec run on Ray Tune (Optuna's GP or TPE sampler for
Bayesian search, SageMaker's median rule for early stopping, ASHA for Hyperband), each trial
a training job of the estimator; the best job, the results table, plots and the registered
best model at the end."""

from __future__ import annotations

import json
import time

from mlcore import _session
from mlcore.errors import MLCoreError
from mlcore.records import Status, TuningJobRecord
from mlcore.services import _shapes
from mlcore.services.tuning._results import COLUMNS, table
from mlcore.services.tuning._run import check, check_resumable, concurrency, prepare
from mlcore.services.tuning._run import run as execute
from mlcore.services.tuning._static import trial_static
from mlcore.specs import TuningJob

RECORD = TuningJobRecord


def run(spec: TuningJob, name: str | None = None, logs: bool = True, say=print,
        resume: str | None = None) -> TuningJobRecord:
    """Run ``spec`` as ``name`` (or a generated one), or resume the unfinished job ``resume``.
    A named job whose driver died is resumed. ``say`` prints what a user reads."""
    name = resume or name or spec.name
    if not resume and name and TuningJobRecord.exists(name):
        rec = TuningJobRecord.load(name, liveness=False)
        if rec.status == Status.IN_PROGRESS and not rec.driver_alive():
            say(f"tuning job {name} exists and its driver (pid {rec.DriverPid}) is gone: resuming it")
            resume = name
    t0 = time.time()
    name = prepare(spec, name, None, resume=bool(resume))
    say(f"tuning job {name}: {spec.strategy} search, {spec.max_jobs} training jobs, "
        f"{spec.max_parallel_jobs} at a time, {spec.objective_type} {spec.objective_metric_name}")
    rec = execute(spec, name, resume=bool(resume), logs=logs)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(rec.TrainingJobStatusCounters.items()))
    say(f"\ntuning job {name}: {rec.status} in {time.time() - t0:.1f}s ({counts})")
    if rec.FailureReason:
        say(f"  FailureReason: {rec.FailureReason}")
    if rec.CompletionReason:
        say(f"  ended early: {rec.CompletionReason}")
    if rec.BestTrainingJob:
        b = rec.BestTrainingJob
        say(f"  best: {b['TrainingJobName']} {spec.objective_metric_name}="
            f"{b['FinalObjectiveValue']:.6g} with {json.dumps(b['TunedHyperParameters'])}")
    if rec.RegisteredModel:
        m = rec.RegisteredModel
        say(f"  registered {m['ModelPackageGroupName']} version {m['Version']} ({m['ApprovalStatus']})")
    for label, uri in sorted(rec.Artifacts.items()):
        say(f"  {label}: {uri}")
    say("\nnext:")
    say(f"  mlcore tuning-jobs results {name}")
    say(f"  mlflow ui --backend-store-uri {_session.redact(_session.tracking_uri())}")
    return rec


def resume_spec(name: str) -> TuningJob:
    """The spec an unfinished tuning job ran with (to resume it)."""
    return TuningJob.model_validate(TuningJobRecord.load(name).Spec)


def succeeded(record: TuningJobRecord) -> bool:
    return record.status != Status.FAILED


def describe(name: str) -> dict:
    """SageMaker's DescribeHyperParameterTuningJob response (boto3's field names and types)."""
    rec = TuningJobRecord.load(name)
    return _shapes.tuning_job(rec, trial_static(rec.Spec))


def describe_for_people(name: str) -> dict:
    return _shapes.for_people(describe(name))


def training_job_summaries(name: str) -> list[dict]:
    """ListTrainingJobsForHyperParameterTuningJob's summaries, in trial order."""
    return _shapes.trial_summaries(TuningJobRecord.load(name))


def stop(name: str) -> str:
    """SageMaker's StopHyperParameterTuningJob: no new trials; running ones are stopped."""
    record = TuningJobRecord.load(name)
    if record.status.is_terminal:
        raise MLCoreError(f"tuning job {name} is {record.status} already; nothing to stop")
    TuningJobRecord.request_stop(name)
    return f"asked tuning job {name} to stop"


def results(name: str):
    """The results table (SageMaker's columns), as a pandas DataFrame."""
    import pandas as pd

    rec = TuningJobRecord.load(name)
    spec = TuningJob.model_validate(rec.Spec)
    df = pd.DataFrame(table(rec, spec), columns=[*COLUMNS, *spec.hyperparameter_ranges, "FailureReason"])
    for col in ("TrainingStartTime", "TrainingEndTime"):
        df[col] = pd.to_datetime(df[col], unit="s")
    return df


def rows() -> list[str]:
    """``mlcore tuning-jobs list``."""
    recs = TuningJobRecord.list()
    if not recs:
        return ["no tuning jobs yet"]
    out = []
    for r in recs:
        best = (r.BestTrainingJob or {}).get("FinalObjectiveValue")
        out.append(f"{r.name:34} {r.status:11} {len(r.TrainingJobs):>4} jobs  "
                   f"best {best if best is not None else '-'}")
    return out


__all__ = ["RECORD", "check", "check_resumable", "concurrency", "describe", "describe_for_people",
           "execute", "prepare", "results", "resume_spec", "rows", "run", "stop", "succeeded",
           "training_job_summaries"]
