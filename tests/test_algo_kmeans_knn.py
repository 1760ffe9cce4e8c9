"""K-Means and k-NN through the training service: quality against scikit-learn
on the same data, and bad input refused with a message that names the fix."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from conftest import write_csv
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.neighbors import KNeighborsClassifier

import algorithms
from mlcore import AlgorithmError, _recordio, _storage
from mlcore.records import Status
from mlcore.services import training
from mlcore.specs import TrainingJob

SEED = 5


def _train(name: str, algorithm: str, hp: dict, inputs: dict, workers: int = 1, **spec):
    spec = TrainingJob(algorithm=algorithm, hyperparameters=hp, inputs=inputs,
                       instance_type="local", instance_count=workers, **spec)
    return training.execute(training.prepare(spec, None, name), logs=False)


def _model(algorithm: str, record):
    with tempfile.TemporaryDirectory() as tmp:
        return algorithms.get(algorithm).load_model(_storage.fetch_committed(record.ModelArtifacts, tmp))


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    """3,000 rows of 8 features around 6 centres (features only), and a 600-row test set."""
    d = tmp_path_factory.mktemp("blobs")
    X, _ = make_blobs(3600, 8, centers=6, cluster_std=1.5, random_state=SEED)
    X = X.astype(np.float32)
    np.savetxt(d / "train.csv", X[:3000], delimiter=",", fmt="%.6f")
    np.savetxt(d / "test.csv", X[3000:], delimiter=",", fmt="%.6f")
    return d, X[:3000], X[3000:]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """scikit-learn's digits (10 classes, 64 features), 1,400 train rows, 397 test rows."""
    d = tmp_path_factory.mktemp("digits")
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(SEED).permutation(len(y))
    X, y = X[order].astype(np.float32), y[order].astype(np.float32)
    write_csv(d / "train.csv", X[:1400], y[:1400])
    write_csv(d / "test.csv", X[1400:], y[1400:])
    return d, (X[:1400], y[:1400]), (X[1400:], y[1400:])


@pytest.mark.integration
def test_kmeans_matches_sklearn_inertia(blobs, ray_session):
    d, X, T = blobs
    # two epochs, a checkpoint after each: the checkpoint gathers every rank's local centres
    rec = _train("kmeans-blobs", "kmeans", {"k": 6, "feature_dim": 8, "mini_batch_size": 500,
                                            "epochs": 2, "eval_metrics": '["msd","ssd"]'},
                 {"train": str(d / "train.csv"), "test": str(d / "test.csv")},
                 checkpoint_frequency=1)
    assert rec.status == Status.COMPLETED, rec.FailureReason
    model = _model("kmeans", rec)
    out = algorithms.get("kmeans").predict(model, X)
    ours = float((out["distance_to_cluster"].astype(np.float64) ** 2).sum())
    reference = KMeans(6, n_init=10, random_state=SEED).fit(X).inertia_
    assert ours <= reference * 1.02, (ours, reference, f"seed {SEED}")  # within 2% of sklearn
    assert set(np.unique(out["closest_cluster"])) == set(range(6))
    # test:msd / test:ssd are the test rows' squared distances to their closest centre
    test_sq = algorithms.get("kmeans").predict(model, T)["distance_to_cluster"].astype(np.float64) ** 2
    assert rec.FinalMetrics["test:ssd"] == pytest.approx(test_sq.sum(), rel=1e-3)
    assert rec.FinalMetrics["test:msd"] == pytest.approx(test_sq.mean(), rel=1e-3)
    assert rec.FinalMetrics["train:msd"] == pytest.approx(ours / len(X), rel=1e-3)


@pytest.mark.integration
def test_knn_flat_index_matches_sklearn_and_ivf_stays_close(digits, ray_session):
    d, (X, y), (T, t) = digits
    inputs = {"train": str(d / "train.csv"), "test": str(d / "test.csv")}
    base = {"k": 5, "sample_size": 1400, "predictor_type": "classifier", "feature_dim": 64}
    reference = KNeighborsClassifier(5).fit(X, y).predict(T)
    ref_acc = float((reference == t).mean())

    flat = _train("knn-flat", "knn", base, inputs)
    assert flat.status == Status.COMPLETED, flat.FailureReason
    pred = algorithms.get("knn").predict(_model("knn", flat), T)["predicted_label"]
    assert (pred == reference).mean() >= 0.99  # exact search: only distance ties may differ
    assert flat.FinalMetrics["test:accuracy"] == pytest.approx(float((pred == t).mean()))
    assert flat.FinalMetrics["test:accuracy"] >= ref_acc - 0.005

    ivf = _train("knn-ivf", "knn", {**base, "index_type": "faiss.IVFFlat"}, inputs)
    assert ivf.status == Status.COMPLETED, ivf.FailureReason
    assert ivf.FinalMetrics["test:accuracy"] >= ref_acc - 0.03, (ivf.FinalMetrics, ref_acc)


@pytest.mark.parametrize("algorithm, hp, missing", [
    ("kmeans", {"feature_dim": 8}, "k"),
    ("kmeans", {"k": 6}, "feature_dim"),
    ("knn", {"k": 5, "sample_size": 100, "feature_dim": 8}, "predictor_type"),
    ("knn", {"k": 5, "predictor_type": "classifier", "feature_dim": 8}, "sample_size"),
])
def test_missing_required_hyperparameter_is_refused_at_prepare(algorithm, hp, missing, tmp_path):
    spec = TrainingJob(algorithm=algorithm, hyperparameters=hp, inputs={"train": str(tmp_path)})
    with pytest.raises(AlgorithmError, match=f"{missing} is required for {algorithm}"):
        training.prepare(spec, None, f"missing-{algorithm}-{missing}")


def test_knn_rules_across_hyperparameters_name_the_fix(tmp_path):
    base = {"k": 5, "sample_size": 100, "predictor_type": "classifier", "feature_dim": 8}
    cases = [({"dimension_reduction_type": "sign"}, "dimension_reduction_target is required"),
             ({"dimension_reduction_type": "fjlt", "dimension_reduction_target": 8},
              r"dimension_reduction_target \(8\) must be less than feature_dim \(8\)"),
             ({"k": 200}, r"k \(200\) must be at most sample_size \(100\)"),
             ({"index_type": "faiss.IVFPQ", "index_metric": "COSINE"}, "not supported with index_type faiss.IVFPQ")]
    for extra, message in cases:
        with pytest.raises(AlgorithmError, match=message):
            algorithms.get("knn").validate({**base, **extra})
    with pytest.raises(AlgorithmError, match="extra_center_factor must be a positive integer or 'auto'"):
        algorithms.get("kmeans").validate({"k": 2, "feature_dim": 2, "extra_center_factor": "lots"})


@pytest.mark.integration
def test_wrong_feature_count_and_unlabelled_recordio_fail_before_training(blobs, tmp_path, ray_session):
    d, X, _ = blobs
    rec = _train("kmeans-feature-dim", "kmeans", {"k": 6, "feature_dim": 7},
                 {"train": str(d / "train.csv")}, workers=1)
    assert rec.status == Status.FAILED
    assert "channel 'train' has 8 features but feature_dim is 7; set feature_dim=8" in rec.FailureReason
    assert rec.TrainingStartTime is None  # refused in the preflight: no worker started

    path = tmp_path / "unlabelled.pbr"
    with open(path, "wb") as f:
        _recordio.write_dense(f, X[:50])
    rec = _train("knn-no-labels", "knn", {"k": 3, "sample_size": 50, "predictor_type": "classifier",
                                          "feature_dim": 8}, {"train": str(path)}, workers=1)
    assert rec.status == Status.FAILED
    assert "the records carry no label" in rec.FailureReason
