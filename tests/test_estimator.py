"""Estimator checks that run before any cluster exists: they raise in the caller, even with
wait=False, and job names are claimed atomically."""

import pytest

from mlcore import AlgorithmError, SpecError
from mlcore.jobs import describe
from mlcore.sagemaker import Estimator


def test_bad_hyperparameters_raise_in_caller_without_waiting():
    est = Estimator(algorithm="xgboost", hyperparameters={"num_round": 0})
    with pytest.raises(AlgorithmError, match="num_round must be >= 1"):
        est.fit("train.csv", wait=False)
    assert est.latest_training_job is None


def test_duplicate_job_name_is_refused_before_anything_runs(tmp_path):
    from mlcore.records import TrainingJobRecord

    assert TrainingJobRecord.claim("taken-name")
    est = Estimator(algorithm="xgboost", hyperparameters={"num_round": 1})
    with pytest.raises(SpecError, match="'taken-name' already exists"):
        est.fit("train.csv", job_name="taken-name", wait=False)
    assert describe("taken-name").TrainingJobName == "taken-name"


def test_generated_names_never_collide():
    from mlcore.services import training

    spec = Estimator(algorithm="xgboost", hyperparameters={"num_round": 1}).spec.model_copy()
    spec.inputs = {"train": {"uri": "x.csv"}}
    names = {training.prepare(spec, None, "burst").name for _ in range(50)}
    assert len(names) == 50


def test_unimplemented_algorithm_and_missing_train_channel():
    with pytest.raises(AlgorithmError, match="'deepar' is not implemented in this version"):
        Estimator(algorithm="deepar").fit("x.csv")
    with pytest.raises(SpecError, match="needs the channel"):
        Estimator(algorithm="xgboost", hyperparameters={"num_round": 1}).fit({"validation": "v.csv"})
