"""The built-in Random Cut Forest: trained by the training service on two workers from its
shipped config (configs/algorithms/randomcutforest.yaml, planted anomalies), it ranks the
anomalies of the labelled test channel as well as scikit-learn's IsolationForest does, and
reports SageMaker's test metrics at the three-sigma cut; bad input is refused before any
worker starts, each with a message naming the fix."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

import algorithms
from mlcore import AlgorithmError, _storage
from mlcore.errors import DataError
from mlcore.records import Status
from mlcore.services import training
from mlcore.specs import TrainingJob, load_file

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "configs/algorithms/randomcutforest.yaml"
DATA = ROOT / "configs/data/rcf"
SEED = 7
# RCF's AUC may trail IsolationForest's by this much (they differ in cuts: RCF picks a
# dimension by its range, IsolationForest uniformly); both must clear the floor.
TOLERANCE, FLOOR = 0.03, 0.85


def _test_rows() -> tuple[np.ndarray, np.ndarray]:
    rows = np.loadtxt(DATA / "test.csv", delimiter=",", dtype=np.float32)
    return rows[:, 1:], rows[:, 0]


def _job(**hyperparameters) -> TrainingJob:
    return TrainingJob(algorithm="randomcutforest", hyperparameters=hyperparameters,
                       inputs={"train": str(DATA / "train.csv")}, instance_type="local")


@pytest.mark.integration
def test_rcf_finds_planted_anomalies_as_well_as_isolation_forest(ray_session):
    # The config's own two-worker run is tests/test_first_party.py's; one worker here.
    spec = load_file(CONFIG).model_copy(update={"instance_count": 1})
    record = training.execute(training.prepare(spec, None, "rcf-auc"), logs=False)
    assert record.status == Status.COMPLETED, record.FailureReason
    algo = algorithms.get("randomcutforest")
    with tempfile.TemporaryDirectory() as tmp:
        model = algo.load_model(_storage.fetch_committed(record.ModelArtifacts, tmp))
    X, y = _test_rows()
    scores = algo.predict(model, X)["score"]
    assert algo.feature_count(model) == X.shape[1]

    train = np.loadtxt(DATA / "train.csv", delimiter=",", dtype=np.float32)
    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=SEED).fit(train)
    rcf_auc = roc_auc_score(y, scores)
    iso_auc = roc_auc_score(y, -forest.score_samples(X))
    why = f"RCF AUC {rcf_auc:.4f}, IsolationForest AUC {iso_auc:.4f} (seed {SEED})"
    assert iso_auc >= FLOOR and rcf_auc >= FLOOR, why
    assert rcf_auc >= iso_auc - TOLERANCE, why

    # SageMaker's test metrics: anomalous beyond mean + 3 std of the test scores, 1 = anomaly
    called, truth = scores > scores.mean() + 3 * scores.std(), y == 1
    tp = float(np.sum(called & truth))
    precision, recall = tp / called.sum(), tp / truth.sum()
    expected = {"test:precision": precision, "test:recall": recall,
                "test:f1": 2 * precision * recall / (precision + recall),
                "test:accuracy": float(np.mean(called == truth))}
    got = {k: record.FinalMetrics.get(k) for k in expected}
    assert got == pytest.approx(expected, rel=1e-6), (got, expected)
    assert expected["test:f1"] > 0.2, expected  # the cut finds some of the 25 anomalies
    mean = record.FinalMetrics["train:mean_score"]
    assert 0 < mean < np.median(scores[truth]), (mean, why)


def test_missing_feature_dim_is_refused_before_any_job():
    with pytest.raises(AlgorithmError, match="feature_dim is required for randomcutforest"):
        training.prepare(_job(), None, "rcf-no-dim")


@pytest.mark.parametrize("trees, message", [
    (20, r"num_trees must be >= 50 \(range \[50, 1000\]\); got 20"),
    (1001, r"num_trees must be <= 1000 \(range \[50, 1000\]\); got 1001")])
def test_num_trees_out_of_range_names_the_range(trees, message):
    with pytest.raises(AlgorithmError, match=message) as info:
        training.prepare(_job(feature_dim=6, num_trees=trees), None, "rcf-trees")
    assert "num_trees" in dict(info.value.fields["problems"])


def test_wrong_feature_count_is_refused_with_the_count_to_set():
    spec = _job(feature_dim=5)
    with pytest.raises(DataError, match=r"channel 'train' has 6 features but feature_dim is 5; "
                                        r"set feature_dim=6") as info:
        training.check(spec)
    assert "features only, no label" in str(info.value)


def test_eval_metrics_outside_sagemakers_choices_is_refused():
    with pytest.raises(AlgorithmError, match="eval_metrics must be one of accuracy, "
                                             "precision_recall_fscore"):
        training.prepare(_job(feature_dim=6, eval_metrics='["f1"]'), None, "rcf-metrics")
