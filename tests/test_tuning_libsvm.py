"""A tuning job of the built-in XGBoost on libsvm channels reports its objective.

The shape of xgboost_managed_spot_training.py: an estimator with a checkpoint_s3_uri is fit
once, then tuned (train and validation channels in libsvm, ``eval_metric`` set on the
estimator, the objective ``validation:rmse``, tuned names the estimator also sets). The trials
used to share the estimator's checkpoint folder, resume from the fit's final checkpoint with
all ``num_round`` rounds boosted, train none and report no metric. Every completed trial must
report ``validation:rmse`` from rounds of its own, and the best job's FinalObjectiveValue must
be that job's final value.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.records import Status, TrainingJobRecord
from mlcore.sagemaker import Estimator
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

SEED = 11


def _write_libsvm(path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 6))
    y = np.round(3 + 10 * X[:, 0] + 4 * X[:, 1] + rng.normal(0, 0.5, n))
    with open(path, "w") as f:
        for label, row in zip(y, X, strict=True):
            f.write(f"{int(label)} " + " ".join(f"{i + 1}:{v:.4g}" for i, v in enumerate(row)) + "\n")


def test_each_trial_checkpoints_in_a_folder_of_its_own(tmp_path):
    """No Ray: the trial's job and the job the up-front check models share one builder; both
    put checkpoints under <checkpoint_s3_uri>/<trial>, never in the estimator's own folder."""
    import algorithms
    from mlcore.services.tuning import _run, _trial

    est = Estimator(algorithm="xgboost", hyperparameters={"num_round": 10, "eta": 0.2},
                    checkpoint_s3_uri=str(tmp_path / "ckpt"))
    tuner = HyperparameterTuner(est, "validation:rmse", {"eta": ContinuousParameter(0.1, 0.5)},
                                objective_type="Minimize")
    job = _trial.trial_job(est.spec, "t-001-abc", {"eta": 0.3})
    assert job.checkpoint_s3_uri == f"{tmp_path / 'ckpt'}/t-001-abc"
    assert job.hyperparameters["eta"] == 0.3 and est.spec.hyperparameters["eta"] == 0.2
    assert est.spec.checkpoint_s3_uri == str(tmp_path / "ckpt")  # the estimator is not changed
    first = _run.trial_spec(tuner.spec, algorithms.get("xgboost"), {"eta": 0.1})
    assert first.checkpoint_s3_uri.startswith(f"{tmp_path / 'ckpt'}/") and first.hyperparameters["eta"] == 0.1
    assert _trial.trial_job(Estimator(algorithm="xgboost", hyperparameters={"num_round": 1}).spec,
                            "t", {}).checkpoint_s3_uri is None  # default: <output>/<job>/checkpoints


def test_a_tuning_job_without_any_objective_names_the_trial_that_lacked_it():
    """No Ray: a trial whose training job completed without the objective fails, but the
    job's record is Completed with no reason; the tuning job's reason must still name it."""
    import uuid

    from mlcore.services.tuning import _results

    name = f"t-{uuid.uuid4().hex[:8]}-001-abc"
    assert TrainingJobRecord.claim(name)
    TrainingJobRecord.load(name, liveness=False).update(
        TrainingJobStatus=Status.COMPLETED, FinalMetrics={"train_seconds": 0.1, "data_load_seconds": 0.2})
    rows = [{"TrainingJobName": name, "TrainingJobStatus": Status.COMPLETED, "FailureReason": None}]
    assert _results._no_objective(rows, "validation:rmse") == (
        f"{name} completed without reporting 'validation:rmse' (it reported: data_load_seconds, "
        "train_seconds)")
    assert _results._no_objective([], "validation:rmse") is None


@pytest.mark.integration
def test_libsvm_tuning_reports_the_objective(ray_session, tmp_path):
    print("data seed", SEED)
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    _write_libsvm(tmp_path / "train" / "data", 400, SEED)
    _write_libsvm(tmp_path / "validation" / "data", 200, SEED + 1)
    static = {"max_depth": "5", "eta": "0.2", "num_round": "10", "objective": "reg:squarederror",
              "eval_metric": "rmse", "verbosity": "0"}
    checkpoints = str(tmp_path / "checkpoints")
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=static,
                    checkpoint_s3_uri=checkpoints)
    channels = {c: TrainingInput(str(tmp_path / c), content_type="libsvm")
                for c in ("train", "validation")}
    est.fit({"train": channels["train"]}, logs=False)  # leaves its round-10 checkpoint there
    tuner = HyperparameterTuner(
        est, "validation:rmse", {"max_depth": IntegerParameter(2, 6),
                                 "eta": ContinuousParameter(0.1, 0.5)},
        objective_type="Minimize", max_jobs=2, max_parallel_jobs=2, random_seed=SEED,
        base_tuning_job_name="libsvm")
    tuner.fit(channels, logs=False)

    desc = tuner.describe()
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    jobs = tuner.analytics().dataframe().TrainingJobName
    completed = [TrainingJobRecord.load(j, liveness=False) for j in jobs]
    completed = [r for r in completed if r.TrainingJobStatus == Status.COMPLETED]
    assert len(completed) == 2, [(r.TrainingJobName, r.FailureReason) for r in completed]
    for rec in completed:
        assert {"train:rmse", "validation:rmse"} <= set(rec.FinalMetrics), (rec.TrainingJobName, rec.FinalMetrics)
        assert rec.CheckpointUri == f"{checkpoints}/{rec.TrainingJobName}", rec.CheckpointUri
        assert not rec.Progress.get("resumed_from_round"), rec.Progress  # trained from scratch
        assert rec.Progress["round"] == 10, rec.Progress
    best = desc["BestTrainingJob"]
    final = TrainingJobRecord.load(best["TrainingJobName"], liveness=False).FinalMetrics["validation:rmse"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(final)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        min(r.FinalMetrics["validation:rmse"] for r in completed))

