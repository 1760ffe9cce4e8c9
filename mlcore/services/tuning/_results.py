"""What a finished tuning job leaves for people: the results table, the best training job and
its registered model, and Optuna's plots, saved beside the job and logged to MLflow."""

from __future__ import annotations

import csv
import io
import logging
import math
import tempfile
import time
from pathlib import Path

from mlcore import _registry, _storage, _tracking
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord
from mlcore.services import _lifecycle, training
from mlcore.services.tuning import _search_space
from mlcore.services.tuning._compat import distribution_contains
from mlcore.specs import TuningJob

log = logging.getLogger("mlcore")

COLUMNS = ("TrainingJobName", "TrainingJobStatus", "FinalObjectiveValue", "TrainingStartTime",
           "TrainingEndTime", "TrainingElapsedTimeSeconds")


def table(record: TuningJobRecord, spec: TuningJob) -> list[dict]:
    """One row per training job of the tuning job, in trial order (<name>-NNN-...)."""
    rows = []
    for job in sorted(record.TrainingJobs):
        if not TrainingJobRecord.exists(job):
            continue
        rec = TrainingJobRecord.load(job)
        start = rec.TrainingStartTime or rec.CreationTime
        end = rec.TrainingEndTime
        value = rec.FinalMetrics.get(spec.objective_metric_name) if rec.TrainingJobStatus == Status.COMPLETED else None
        row = {"TrainingJobName": job, "TrainingJobStatus": rec.TrainingJobStatus,
               "FinalObjectiveValue": value, "TrainingStartTime": start, "TrainingEndTime": end,
               "TrainingElapsedTimeSeconds": round(end - start, 3) if end and start else None,
               "FailureReason": rec.FailureReason}
        row.update({n: _typed(rec.HyperParameters.get(n)) for n in spec.hyperparameter_ranges})
        rows.append(row)
    return rows


def _typed(raw):
    if raw is None:
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw


def best(rows: list[dict], maximize: bool) -> dict | None:
    done = [r for r in rows if r["FinalObjectiveValue"] is not None and math.isfinite(r["FinalObjectiveValue"])]
    if not done:
        return None
    return (max if maximize else min)(done, key=lambda r: r["FinalObjectiveValue"])


def finish(spec: TuningJob, record: TuningJobRecord) -> TuningJobRecord:
    """Close the tuning job: status, best job, counters, artifacts, registered model."""
    rows = table(record, spec)
    counters = {}
    for r in rows:
        counters[r["TrainingJobStatus"]] = counters.get(r["TrainingJobStatus"], 0) + 1
    top = best(rows, spec.maximize())
    now = time.time()
    if top is None and record.StopRequested:
        return _lifecycle.finish(record, Status.STOPPED, TrainingJobStatusCounters=counters,
                      HyperParameterTuningEndTime=now)
    if top is None:
        failed = [r for r in rows if r["FailureReason"]]
        first = (f"{failed[0]['TrainingJobName']}: {failed[0]['FailureReason']}" if failed
                 else _no_objective(rows, spec.objective_metric_name) or "no training job ran")
        reason = (f"no training job completed with an objective value ({len(rows)} ran); "
                  f"the first cause: {first}")
        log.error("tuning job %s failed: %s", record.name, reason)
        return _lifecycle.finish(record, Status.FAILED, reason, TrainingJobStatusCounters=counters,
                      HyperParameterTuningEndTime=now)
    best_job = {"TrainingJobName": top["TrainingJobName"], "FinalObjectiveValue": top["FinalObjectiveValue"],
                "ObjectiveMetricName": spec.objective_metric_name,
                "TunedHyperParameters": {n: top[n] for n in spec.hyperparameter_ranges}}
    artifacts = _save_artifacts(spec, record, rows)
    registered = _register(spec, record, top["TrainingJobName"])
    _tracking.log_metrics(record.MlflowRunId, [("best_" + _metric_key(spec.objective_metric_name),
                                                top["FinalObjectiveValue"], 0)])
    _tracking.set_tags(record.MlflowRunId, {"mlcore.best_training_job": top["TrainingJobName"]})
    status = Status.STOPPED if record.StopRequested else Status.COMPLETED
    return _lifecycle.finish(record, status, BestTrainingJob=best_job, TrainingJobStatusCounters=counters,
                  RegisteredModel=registered, Artifacts=artifacts, HyperParameterTuningEndTime=now)


def _no_objective(rows: list[dict], objective: str) -> str | None:
    """The first job that completed without reporting the objective, and what it reported
    (its trial failed on that, but the job's own record is Completed, with no reason)."""
    for r in rows:
        if r["TrainingJobStatus"] == Status.COMPLETED:
            reported = TrainingJobRecord.load(r["TrainingJobName"], liveness=False).FinalMetrics
            return (f"{r['TrainingJobName']} completed without reporting {objective!r} (it "
                    f"reported: {', '.join(sorted(reported)) or 'nothing'})")
    return None


def _metric_key(name: str) -> str:
    return name.replace(":", "_")


def _register(spec: TuningJob, record, job: str) -> dict | None:
    reg = spec.registration
    group = (reg.model_package_group_name if reg and reg.model_package_group_name else record.name)
    uri = training.ensure_mlflow_model(job)  # trials do not log theirs (only this one is used)
    if not uri:
        return None
    rec = TrainingJobRecord.load(job)
    pkg = _registry.register(uri, group, reg.approval_status if reg else "PendingManualApproval",
                             f"best training job of tuning job {record.name}",
                             tags={"job_name": job, "run_id": rec.MlflowRunId, "model_data": rec.ModelArtifacts,
                                   "tuning_job": record.name})
    log.info("tuning job %s: registered %s as %s version %d (%s)", record.name, job, group,
             pkg.version, pkg.approval_status)
    return {"ModelPackageGroupName": group, "Version": pkg.version,
            "ApprovalStatus": pkg.approval_status, "ModelUri": pkg.model_uri}


def results_csv(rows: list[dict], spec: TuningJob) -> str:
    out = io.StringIO()
    fields = ["Trial", *COLUMNS, *spec.hyperparameter_ranges, "FailureReason"]
    w = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for i, r in enumerate(rows, 1):
        w.writerow({"Trial": i, **r})
    return out.getvalue()


def study_of(rows: list[dict], spec: TuningJob):
    """An in-memory Optuna study of the completed trials (for Optuna's plots, any strategy)."""
    import optuna

    dists = _search_space.optuna_distributions(spec.hyperparameter_ranges)
    study = optuna.create_study(direction="maximize" if spec.maximize() else "minimize")
    for r in rows:
        if r["FinalObjectiveValue"] is None:
            continue
        params = {n: r[n] for n in dists if _fits(dists[n], r.get(n))}
        study.add_trial(optuna.trial.create_trial(params=params, distributions={n: dists[n] for n in params},
                                                  value=r["FinalObjectiveValue"]))
    return study


def _fits(dist, value) -> bool:
    return distribution_contains(dist, value)


def _save_artifacts(spec: TuningJob, record, rows: list[dict]) -> dict[str, str]:
    """results.csv and the plots under <output>/<tuning job>/, also on the MLflow run."""
    with tempfile.TemporaryDirectory(prefix="mlcore-tuning-") as tmp:
        (Path(tmp) / "results.csv").write_text(results_csv(rows, spec))
        _plots(rows, spec, Path(tmp))
        uris = {}
        for f in sorted(Path(tmp).iterdir()):
            dest = _storage.join(record.OutputPath, f.name)
            fs, path = _storage.filesystem(dest)
            fs.put_file(str(f), path)
            uris[f.stem] = dest
        try:
            _tracking.client().log_artifacts(record.MlflowRunId, tmp, "tuning")
        except Exception:
            log.exception("could not log the tuning results to MLflow run %s", record.MlflowRunId)
    return uris


def _plots(rows: list[dict], spec: TuningJob, folder: Path) -> None:
    """Optuna's matplotlib plots; a plot that needs more trials than ran is skipped."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    study = study_of(rows, spec)
    if len(study.trials) < 1:
        return
    plots = {"optimization_history": ovm.plot_optimization_history,
             "param_importances": ovm.plot_param_importances,
             "parallel_coordinate": ovm.plot_parallel_coordinate}
    for name, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                ax = plot(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.set_size_inches(9, 5.5)
            fig.tight_layout()
            fig.savefig(folder / f"{name}.png", dpi=90)
            plt.close(fig)
        except Exception as e:  # too few trials, or one parameter only, for this plot
            log.info("tuning plot %s skipped: %s", name, e)
