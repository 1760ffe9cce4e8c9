"""Every registered algorithm, and script mode, honours the algorithm contract: it trains on
tiny data through the training service, its saved model loads back and predicts one output
per row, it reports only the metrics it declares, and it names each bad hyperparameter."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import make_classification, write_csv

import algorithms
from mlcore import AlgorithmError, _storage
from mlcore.records import Status
from mlcore.services import training
from mlcore.specs import TrainingJob

ROOT = Path(__file__).parents[1]
SCRIPT = {"entry_point": "train.py", "source_dir": str(ROOT / "configs/scripts/sagemaker_style"),
          "hyperparameters": {"epochs": 3, "lr": 0.05},
          "metric_definitions": [{"Name": "train:loss", "Regex": "train_loss=([0-9.]+)"}]}
CASES = [*algorithms.available(), "script-mode"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    X, y = make_classification(300, 6, seed=11)
    write_csv(d / "train.csv", X[:240], y[:240])
    write_csv(d / "validation.csv", X[240:], y[240:])
    # Features only, for the channels of unsupervised algorithms (K-Means, PCA, RCF's train)
    np.savetxt(d / "train-features.csv", X[:240], delimiter=",", fmt="%.6f")
    np.savetxt(d / "validation-features.csv", X[240:], delimiter=",", fmt="%.6f")
    return d, X[240:]


def _spec(case: str, data: Path) -> TrainingJob:
    if case == "script-mode":
        return TrainingJob(**SCRIPT, inputs={"train": str(data / "train.csv")})
    algo = algorithms.get(case)
    second = "validation" if "validation" in algo.channels else "test"
    inputs = {name: str(data / (f"{split}-features.csv" if name in algo.unlabelled
                                else f"{split}.csv"))
              for name, split in (("train", "train"), (second, "validation"))
              if name in algo.channels}
    return TrainingJob(algorithm=case, hyperparameters=dict(algo.example_hyperparameters),
                       inputs=inputs)


def _finite(out: np.ndarray) -> bool:
    """Every value finite: a plain array, or each field of a structured one (a first-party
    algorithm's answer: score, predicted_label, projection, ...)."""
    if out.dtype.names:
        return all(np.isfinite(out[name]).all() for name in out.dtype.names)
    return bool(np.isfinite(out).all())


def test_registry_refuses_duplicates_and_unknown_names():
    with pytest.raises(AlgorithmError, match="registered already"):
        algorithms.register("xgboost", lambda: algorithms.get("xgboost"))
    with pytest.raises(AlgorithmError, match="not one of SageMaker's built-in algorithm names"):
        algorithms.register("my-forest", lambda: None)


@pytest.mark.parametrize("case", algorithms.available())
def test_bad_hyperparameters_are_name_message_pairs(case):
    algo = algorithms.get(case)
    assert algo.example_hyperparameters, f"{case} declares no example_hyperparameters"
    with pytest.raises(AlgorithmError) as info:
        algo.validate({**algo.example_hyperparameters, "no_such_hyperparameter": 1})
    problems = info.value.fields["problems"]
    assert problems and all(isinstance(p, tuple) and len(p) == 2 for p in problems)
    assert ("no_such_hyperparameter" in dict(problems))
    hp = dict(algo.example_hyperparameters)
    assert algo.default_objective(hp) in algo.metric_names(hp, list(algo.channels))


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES)
def test_fit_save_load_predict_and_declared_metrics(case, tiny, ray_session):
    data, features = tiny
    spec = _spec(case, data)
    plan = training.prepare(spec, None, f"conformance-{case}")
    record = training.execute(plan, logs=False)
    assert record.status == Status.COMPLETED, record.FailureReason
    algo = plan.algorithm
    declared = set(algo.metric_names(spec.hyperparameters, list(spec.inputs)))
    reported = set(record.FinalMetrics) - {"data_load_seconds", "train_seconds"}
    assert reported and reported <= declared, (reported, declared)
    with tempfile.TemporaryDirectory() as tmp:
        model = algo.load_model(_storage.fetch_committed(record.ModelArtifacts, tmp))
        out = np.asarray(algo.predict(model, features.astype(np.float32)))
    assert out.shape[0] == len(features) and _finite(out)
    if algo.feature_count(model) is not None:
        assert algo.feature_count(model) == features.shape[1]
