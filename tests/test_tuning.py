"""Tuning jobs end to end on the session's Ray (2 CPUs): real trials, each a training job,
with MLflow, Optuna's study and the model registry."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlcore import _registry
from mlcore.errors import MLCoreError
from mlcore.records import TrainingJobRecord, TuningJobRecord
from mlcore.sagemaker import Estimator
from mlcore.sagemaker.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    WarmStartConfig,
    WarmStartTypes,
)
from mlcore.services.tuning import _search_space

pytestmark = pytest.mark.integration
SCRIPTS = Path(__file__).parent / "scripts"
XGB = {"num_round": 20, "objective": "binary:logistic", "eval_metric": "auc", "seed": 1}


def _inputs(data_dir) -> dict:
    return {"train": str(data_dir / "train.csv"), "validation": str(data_dir / "validation.csv")}


def _intervals(jobs: list[str]) -> list[tuple[float, float]]:
    """When each training job existed: created .. its last status change."""
    out = []
    for name in jobs:
        rec = TrainingJobRecord.load(name, liveness=False)
        t = rec.SecondaryStatusTransitions
        out.append((t[0]["StartTime"], t[-1]["StartTime"]))
    return out


def _stopped_at(reason: str) -> int:
    """The last round a stopped trial reported to Ray Tune (its job's FailureReason says it)."""
    import re

    found = re.search(r"stopped by the tuner at round (\d+)", reason or "")
    assert found, reason
    return int(found.group(1))


def _wait_cpus_free(ray, want: float, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        free = ray.available_resources().get("CPU", 0)
        if free >= want:
            return free
        time.sleep(0.5)
    return ray.available_resources().get("CPU", 0)


@pytest.fixture(scope="module")
def xgb_tuning(ray_session, data_dir):
    """A Bayesian tuning job of the built-in XGBoost: 4 training jobs, 2 at a time; the
    estimator's own settings (max_run, checkpoint frequency) every trial must carry. (That a
    spot estimator's trials are spot jobs, each a Ray Train run, is checked by the SageMaker
    v2 corpus's xgboost_managed_spot_training.py.)"""
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=XGB,
                    max_run=1800, checkpoint_frequency=5)
    tuner = HyperparameterTuner(
        est, "validation:auc", {"eta": ContinuousParameter(0.05, 0.5, "Logarithmic"),
                                "max_depth": IntegerParameter(2, 6)},
        max_jobs=4, max_parallel_jobs=2, random_seed=5, base_tuning_job_name="xgb")
    tuner.fit(_inputs(data_dir), logs=False)
    return tuner


def test_bayesian_tuning_job_end_to_end(xgb_tuning, ray_session):
    import mlflow
    import optuna

    from mlcore import _session

    desc = xgb_tuning.describe()
    name = desc["HyperParameterTuningJobName"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TrainingJobStatusCounters"] == {"Completed": 4, "InProgress": 0, "RetryableError": 0,
                                                 "NonRetryableError": 0, "Stopped": 0}
    jobs = desc["TrainingJobs"]
    assert len(jobs) == len(set(jobs)) == 4

    df = xgb_tuning.analytics().dataframe()
    assert list(df.columns[:8]) == ["eta", "max_depth", "TrainingJobName", "TrainingJobStatus",  # v2's order
                                    "FinalObjectiveValue", "TrainingStartTime", "TrainingEndTime",
                                    "TrainingElapsedTimeSeconds"]
    assert sorted(df.TrainingJobName) == sorted(jobs) and {"eta", "max_depth"} <= set(df.columns)
    assert df.eta.between(0.05, 0.5).all() and df.max_depth.between(2, 6).all()
    top = df.loc[df.FinalObjectiveValue.idxmax()]
    assert xgb_tuning.best_training_job() == top.TrainingJobName
    assert desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(top.FinalObjectiveValue)
    best = xgb_tuning.best_estimator()
    assert best.training_job_analytics_metrics()["validation:auc"] == pytest.approx(top.FinalObjectiveValue)

    for job in jobs:  # each trial is a training job of the estimator, its settings included
        spec = TrainingJobRecord.load(job).Spec
        assert spec["max_run"] == 1800 and spec["checkpoint_frequency"] == 5, spec
        assert spec["hyperparameters"]["num_round"] == 20

    # MLflow: one parent run, the training jobs as its children, results and plots logged.
    client = mlflow.MlflowClient(_session.tracking_uri())
    parent = desc["MlflowRunId"]
    children = client.search_runs([client.get_run(parent).info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent}'")
    assert sorted(r.info.run_name for r in children) == sorted(jobs)
    logged = {a.path for a in client.list_artifacts(parent, "tuning")}
    assert {"tuning/results.csv", "tuning/optimization_history.png"} <= logged, logged
    for label in ("results", "optimization_history", "param_importances", "parallel_coordinate"):
        assert os.path.getsize(desc["Artifacts"][label]) > 100, label

    # The Optuna study is persisted and holds exactly these 4 evaluations.
    study = optuna.load_study(study_name=name, storage=desc["StudyUri"])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.value for t in done) == pytest.approx(sorted(df.FinalObjectiveValue))

    # The best model is registered (PendingManualApproval, as SageMaker's default).
    reg = desc["RegisteredModel"]
    pkg = _registry.describe(reg["ModelPackageGroupName"], reg["Version"])
    assert pkg.job_name == top.TrainingJobName and pkg.approval_status == "PendingManualApproval"

    peak = _search_space.max_concurrency(_intervals(jobs))
    assert 1 <= peak <= 2, peak
    assert _wait_cpus_free(ray_session, 2) == 2


def test_warm_start_same_space_and_parallel_cap(xgb_tuning, data_dir):
    """The parents' trials are in the new study before its first trial (TPE sees them), and
    max_parallel_jobs=1 holds on a cluster with room for two such jobs."""
    import optuna

    parent = xgb_tuning.latest_tuning_job.name
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=XGB)
    tuner = HyperparameterTuner(
        est, "validation:auc", {"eta": ContinuousParameter(0.05, 0.5, "Logarithmic"),
                                "max_depth": IntegerParameter(2, 6)},
        max_jobs=3, max_parallel_jobs=1, random_seed=7,
        warm_start_config=WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, {parent}))
    tuner.fit(_inputs(data_dir), logs=False)
    desc = tuner.describe()
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["WarmStartNotes"][0].startswith(f"warm start: 4 of 4 parent trial(s) from {parent}")
    study = optuna.load_study(study_name=desc["HyperParameterTuningJobName"], storage=desc["StudyUri"])
    seeded = [t for t in study.trials if "warm_start_parent_job" in t.user_attrs]
    parent_df = xgb_tuning.analytics().dataframe()
    assert sorted(t.value for t in seeded) == pytest.approx(sorted(parent_df.FinalObjectiveValue))
    assert min(t.number for t in study.trials if t not in seeded) > max(t.number for t in seeded)
    assert len(study.trials) == 4 + 3
    assert _search_space.max_concurrency(_intervals(desc["TrainingJobs"])) == 1


def test_warm_start_with_a_changed_search_space(xgb_tuning, data_dir):
    """TransferLearning from a parent that tuned other things: max_depth is no longer tuned,
    eta is re-ranged (some parent values fall outside), subsample is new."""
    import optuna

    parent = xgb_tuning.latest_tuning_job.name
    parent_df = xgb_tuning.analytics().dataframe()
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters={**XGB, "max_depth": 4})
    new_eta = (0.05, float(parent_df.eta.median()))
    tuner = HyperparameterTuner(
        est, "validation:auc", {"eta": ContinuousParameter(*new_eta),
                                "subsample": ContinuousParameter(0.5, 1.0)},
        max_jobs=1, random_seed=3,
        warm_start_config=WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, [parent]))
    tuner.fit(_inputs(data_dir), logs=False)
    desc = tuner.describe()
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    inside = parent_df[parent_df.eta <= new_eta[1]]
    notes = "\n".join(desc["WarmStartNotes"])
    assert f"warm start: {len(inside)} of 4 parent trial(s)" in notes
    assert "no longer tuned, dropped from the parents' trials: max_depth" in notes
    assert f"eta: {4 - len(inside)} parent value(s) outside the new range" in notes
    assert "new hyperparameter(s) the parents never tried: subsample" in notes
    study = optuna.load_study(study_name=desc["HyperParameterTuningJobName"], storage=desc["StudyUri"])
    seeded = [t for t in study.trials if "warm_start_parent_job" in t.user_attrs]
    assert sorted(t.params["eta"] for t in seeded) == pytest.approx(sorted(inside.eta))
    assert all(set(t.params) == {"eta"} for t in seeded)
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == len(inside) + 1


def _curve_estimator(**hp):
    return Estimator(entry_point="curve.py", source_dir=str(SCRIPTS), instance_count=1,
                     hyperparameters={"epochs": 12, "epoch_seconds": 0.3, **hp},
                     metric_definitions=[{"Name": "score", "Regex": r"objective=([-0-9.]+)"}])


def test_early_stopping_and_a_failing_trial(ray_session, tmp_path):
    """Grid over seven curve levels with the median rule (early_stopping_type Auto): the curves
    better than the median finish, the poor ones stop before their last epoch (counted from
    their reports to Tune), the failing one is recorded Failed, and the job goes on."""
    # In start order: the failing trial ends at its first epoch, so 0.7 is ahead of 0.2 and
    # three jobs have reached each round before 0.2 does.
    qualities = [0.5, 0.6, -1.0, 0.7, 0.2, 0.9, 0.1]
    tuner = HyperparameterTuner(_curve_estimator(), "score", {"quality": CategoricalParameter(qualities)},
                                strategy="Grid", max_jobs=7, max_parallel_jobs=2,
                                early_stopping_type="Auto")
    tuner.fit({"train": str(SCRIPTS / "curve.py")}, logs=False)
    desc = tuner.describe()
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    df = tuner.analytics().dataframe().set_index("quality")
    assert sorted(df.index) == sorted(qualities)
    shown = df[["TrainingJobStatus", "FinalObjectiveValue", "FailureReason"]]
    assert df.loc[-1.0, "TrainingJobStatus"] == "Failed"
    assert "curve.py was told to fail" in df.loc[-1.0, "FailureReason"]
    # The first three set the medians (fewer than 3 others before them: never stopped); 0.9
    # is better than all of them; 0.2 and 0.1 are worse than the median at every round.
    assert (df.loc[[0.5, 0.6, 0.7, 0.9], "TrainingJobStatus"] == "Completed").all(), shown
    for q in (0.2, 0.1):
        assert df.loc[q, "TrainingJobStatus"] == "Stopped", shown
        assert _stopped_at(df.loc[q, "FailureReason"]) < 12, shown  # before its last epoch
        assert "early stopping" in df.loc[q, "FailureReason"]
    assert tuner.best_training_job() == df.loc[0.9, "TrainingJobName"]
    assert _wait_cpus_free(ray_session, 2) == 2  # stopped jobs released their workers


def test_all_trials_failing_fails_the_job_with_the_first_cause(ray_session):
    tuner = HyperparameterTuner(_curve_estimator(), "score", {"quality": CategoricalParameter([-1.0, -2.0])},
                                strategy="Grid", max_jobs=2, max_parallel_jobs=2)
    with pytest.raises(MLCoreError) as err:
        tuner.fit({"train": str(SCRIPTS / "curve.py")}, logs=False)
    text = str(err.value)
    assert "no training job completed with an objective value (2 ran)" in text
    assert "curve.py was told to fail (quality=-" in text
    assert tuner.describe()["HyperParameterTuningJobStatus"] == "Failed"


def test_cli_tune_refuses_a_bad_spec(tmp_path):
    import sys

    from conftest import run_together

    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: TuningJob\nestimator: {algorithm: xgboost, inputs: {train: x.csv}}\n"
                   "objective_metric_name: validation:auc\nhyperparameter_ranges:\n"
                   "  eta: {type: Continuous, min_value: 0.9, max_value: 0.1}\n")
    out, ok = run_together([sys.executable, "-m", "mlcore.cli", "tune", str(bad)],
                           [sys.executable, "-m", "mlcore.cli", "validate", "configs/tuning.yaml"],
                           cwd=Path(__file__).parent.parent)
    assert out.returncode == 2, out.stderr
    assert "hyperparameter_ranges.eta: min_value (0.9) is greater than max_value (0.1)" in out.stderr
    assert "Traceback" not in out.stderr
    assert ok.returncode == 0 and "valid TuningJob" in ok.stdout, ok.stderr


def test_stop_ends_the_tuning_job_and_its_running_trials(ray_session):
    tuner = HyperparameterTuner(_curve_estimator(epochs=60), "score", {"quality": ContinuousParameter(0.1, 0.9)},
                                strategy="Random", max_jobs=6, max_parallel_jobs=2, random_seed=1)
    tuner.fit({"train": str(SCRIPTS / "curve.py")}, wait=False, logs=False)
    name = tuner.latest_tuning_job.name

    def training():  # a trial whose script has printed a metric: its workers are running
        import mlflow

        from mlcore import _session

        client = mlflow.MlflowClient(_session.tracking_uri())
        jobs = TuningJobRecord.load(name).TrainingJobs if TuningJobRecord.exists(name) else []
        recs = [TrainingJobRecord.load(j) for j in jobs if TrainingJobRecord.exists(j)]
        return [r for r in recs if r.MlflowRunId and client.get_metric_history(r.MlflowRunId, "score")]

    deadline = time.monotonic() + 120
    while not training() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert training(), "no trial started training"
    HyperparameterTuner.attach(name).stop()  # from another handle, as another process would
    desc = tuner.wait()
    assert desc["HyperParameterTuningJobStatus"] == "Stopped"
    jobs = desc["TrainingJobs"]
    assert 1 <= len(jobs) < 6
    for job in jobs:
        rec = TrainingJobRecord.load(job)
        assert rec.TrainingJobStatus == "Stopped", (job, rec.TrainingJobStatus, rec.FailureReason)
        assert "stopped by the tuner" in rec.FailureReason
    assert _wait_cpus_free(ray_session, 2) == 2
