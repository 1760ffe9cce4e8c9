"""Linear Learner and Factorization Machines through the training service: quality against
scikit-learn on the same data and seed, a planted pairwise interaction recovered, and bad
input refused with a message that names the fix."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from conftest import make_classification, write_csv
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

import algorithms
from mlcore import MLCoreError, _recordio, _storage
from mlcore.records import Status
from mlcore.services import training
from mlcore.specs import TrainingJob

SEED = 7
LL = {"epochs": 8, "mini_batch_size": 100}


def _train(name: str, algorithm: str, hp: dict, inputs: dict, workers: int = 1):
    spec = TrainingJob(algorithm=algorithm, hyperparameters=hp, inputs=inputs,
                       instance_type="local", instance_count=workers)
    record = training.execute(training.prepare(spec, None, name), logs=False)
    assert record.status == Status.COMPLETED, (f"seed {SEED}", record.FailureReason)
    with tempfile.TemporaryDirectory() as tmp:
        model = algorithms.get(algorithm).load_model(
            _storage.fetch_committed(record.ModelArtifacts, tmp))
    return record, model


def _splits(d, X, y, sizes=(3000, 500)):
    """train / validation CSVs (label first) in ``d``; returns the held-out test rows."""
    a, b = sizes
    inputs = {"train": write_csv(d / "train.csv", X[:a], y[:a]),
              "validation": write_csv(d / "validation.csv", X[a:a + b], y[a:a + b])}
    return inputs, (X[:a], y[:a]), (X[a + b:], y[a + b:])


@pytest.mark.integration
def test_linear_learner_binary_matches_logistic_regression(tmp_path, ray_session):
    X, y = make_classification(4500, 8, seed=SEED)
    inputs, (Xt, yt), (Xh, yh) = _splits(tmp_path, X, y)
    record, model = _train("ll-binary", "linear-learner",
                           {"predictor_type": "binary_classifier", "feature_dim": 8, **LL},
                           inputs)
    out = algorithms.get("linear-learner").predict(model, Xh)
    assert out["predicted_label"].dtype == np.int32 and set(np.unique(out["predicted_label"])) <= {0, 1}
    assert ((out["score"] >= 0) & (out["score"] <= 1)).all()
    reference = LogisticRegression(max_iter=1000).fit(Xt, yt)
    ref_acc = accuracy_score(yh, reference.predict(Xh))
    ref_auc = roc_auc_score(yh, reference.predict_proba(Xh)[:, 1])
    acc, auc = accuracy_score(yh, out["predicted_label"]), roc_auc_score(yh, out["score"])
    print(f"seed {SEED}: linear-learner accuracy {acc:.4f} AUC {auc:.4f}; "
          f"LogisticRegression {ref_acc:.4f} / {ref_auc:.4f}")
    assert acc >= ref_acc - 0.02 and auc >= ref_auc - 0.01
    for name in ("validation:objective_loss", "validation:binary_classification_accuracy",
                 "validation:roc_auc_score", "validation:binary_f_beta", "train:objective_loss"):
        assert name in record.FinalMetrics, (name, record.FinalMetrics)
    assert record.FinalMetrics["validation:roc_auc_score"] > 0.9


@pytest.mark.integration
def test_linear_learner_regressor_matches_ridge(tmp_path, ray_session):
    rng = np.random.default_rng(SEED)
    X = rng.normal(2.0, 3.0, size=(4500, 8)).astype(np.float32)  # off-centre: the scaler works
    y = (X @ rng.normal(size=8) + 40 + rng.normal(scale=2.0, size=4500)).astype(np.float32)
    inputs, (Xt, yt), (Xh, yh) = _splits(tmp_path, X, y)
    record, model = _train("ll-regressor", "linear-learner",
                           {"predictor_type": "regressor", **LL}, inputs)
    score = algorithms.get("linear-learner").predict(model, Xh)["score"]
    r2, ref = r2_score(yh, score), r2_score(yh, Ridge(alpha=1.0).fit(Xt, yt).predict(Xh))
    print(f"seed {SEED}: linear-learner R² {r2:.4f}, Ridge {ref:.4f}")
    assert r2 >= ref - 0.01
    assert abs(record.FinalMetrics["validation:rmse"] ** 2 - record.FinalMetrics["validation:mse"]) < 1e-3


@pytest.mark.integration
def test_linear_learner_multiclass_matches_logistic_regression(tmp_path, ray_session):
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(4500, 8)).astype(np.float32)
    y = np.argmax(X @ rng.normal(size=(8, 4)) + rng.gumbel(size=(4500, 4)), axis=1).astype(np.float32)
    inputs, (Xt, yt), (Xh, yh) = _splits(tmp_path, X, y)
    record, model = _train("ll-multiclass", "linear-learner",
                           {"predictor_type": "multiclass_classifier", "num_classes": 4, **LL},
                           inputs)
    out = algorithms.get("linear-learner").predict(model, Xh)
    assert out["score"].shape == (len(Xh), 4) and np.allclose(out["score"].sum(axis=1), 1, atol=1e-4)
    acc = accuracy_score(yh, out["predicted_label"])
    ref = accuracy_score(yh, LogisticRegression(max_iter=1000).fit(Xt, yt).predict(Xh))
    print(f"seed {SEED}: linear-learner multiclass accuracy {acc:.4f}, LogisticRegression {ref:.4f}")
    assert acc >= ref - 0.03
    assert record.FinalMetrics["validation:multiclass_accuracy"] > 0.5


def _interaction_data(n: int = 4000, d: int = 8):
    """``y`` depends on ``x1 * x2`` (weight 2) and weakly on ``x0``: no linear model sees it."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, 0.5 * X[:, 0] + 2.0 * X[:, 1] * X[:, 2], rng


FM = {"num_factors": 4, "feature_dim": 8, "epochs": 10, "mini_batch_size": 100,
      "linear_lr": 0.02, "factors_lr": 0.02, "factors_init_sigma": 0.1, "factors_wd": 1e-6}


@pytest.mark.integration
def test_fm_regressor_recovers_planted_interaction(tmp_path, ray_session):
    X, signal, rng = _interaction_data()
    y = (signal + rng.normal(scale=0.1, size=len(X))).astype(np.float32)
    inputs = {"train": write_csv(tmp_path / "train.csv", X[:3200], y[:3200]),
              "test": write_csv(tmp_path / "test.csv", X[3200:], y[3200:])}
    record, model = _train("fm-regressor", "factorization-machines",
                           {"predictor_type": "regressor", **FM}, inputs)
    score = algorithms.get("factorization-machines").predict(model, X[3200:])["score"]
    rmse = float(np.sqrt(np.mean((score - y[3200:]) ** 2)))
    linear = LinearRegression().fit(X[:3200], y[:3200]).predict(X[3200:])
    linear_rmse = float(np.sqrt(np.mean((linear - y[3200:]) ** 2)))
    V = model["factors"]
    print(f"seed {SEED}: FM RMSE {rmse:.3f}, linear {linear_rmse:.3f}; <v1,v2> {V[1] @ V[2]:.3f}")
    assert rmse < 0.3 < 1.5 < linear_rmse
    assert abs(V[1] @ V[2] - 2.0) < 0.2 and abs(V[0] @ V[3]) < 0.2
    assert abs(record.FinalMetrics["test:rmse"] - rmse) < 1e-3


@pytest.mark.integration
def test_fm_binary_learns_interaction_a_linear_model_cannot(tmp_path, ray_session):
    X, signal, rng = _interaction_data()
    y = (signal + rng.normal(scale=0.3, size=len(X)) > 0).astype(np.float32)
    inputs = {"train": write_csv(tmp_path / "train.csv", X[:3200], y[:3200]),
              "test": write_csv(tmp_path / "test.csv", X[3200:], y[3200:])}
    record, model = _train("fm-binary", "factorization-machines",
                           {"predictor_type": "binary_classifier", **FM}, inputs)
    out = algorithms.get("factorization-machines").predict(model, X[3200:])
    acc = accuracy_score(y[3200:], out["predicted_label"])
    ref = accuracy_score(y[3200:], LogisticRegression().fit(X[:3200], y[:3200]).predict(X[3200:]))
    V = model["factors"]
    print(f"seed {SEED}: FM accuracy {acc:.3f}, LogisticRegression {ref:.3f}; <v1,v2> {V[1] @ V[2]:.3f}")
    assert acc > 0.85 and acc > ref + 0.15
    assert V[1] @ V[2] > 1.0 and abs(V[0] @ V[3]) < 0.5
    assert record.FinalMetrics["test:binary_classification_accuracy"] == pytest.approx(acc, abs=1e-6)


@pytest.mark.parametrize("algorithm, hp, message", [
    ("linear-learner", {"feature_dim": 8}, "predictor_type is required for linear-learner"),
    ("linear-learner", {"predictor_type": "multiclass_classifier"}, "num_classes .* is required"),
    ("linear-learner", {"predictor_type": "regressor", "loss": "logistic"},
     "loss logistic does not fit predictor_type regressor"),
    ("factorization-machines", {"predictor_type": "regressor", "feature_dim": 8},
     "num_factors is required"),
    ("factorization-machines", {"predictor_type": "regressor", "num_factors": 4},
     "feature_dim is required"),
    ("factorization-machines", {"predictor_type": "regressor", "num_factors": 4, "feature_dim": 8,
                                "linear_init_method": "uniform"}, "needs linear_init_scale"),
])
def test_bad_hyperparameters_refused_before_any_job(tmp_path, algorithm, hp, message):
    X, y = make_classification(20, 8, seed=SEED)
    spec = TrainingJob(algorithm=algorithm, hyperparameters=hp,
                       inputs={"train": write_csv(tmp_path / "train.csv", X, y)})
    with pytest.raises(MLCoreError, match=message):
        training.prepare(spec, None, f"bad-{algorithm}-{len(hp)}")


@pytest.mark.integration
@pytest.mark.parametrize("algorithm, hp", [
    ("linear-learner", {"predictor_type": "binary_classifier"}),
    ("factorization-machines", {"predictor_type": "binary_classifier", "num_factors": 2}),
])
def test_wrong_feature_count_and_unlabelled_records_fail_in_the_data_check(
        tmp_path, ray_session, algorithm, hp):
    X, y = make_classification(50, 8, seed=SEED)
    csv = write_csv(tmp_path / "train.csv", X, y)
    spec = TrainingJob(algorithm=algorithm, hyperparameters={**hp, "feature_dim": 5},
                       inputs={"train": csv})
    record = training.execute(training.prepare(spec, None, f"{algorithm}-dim"), logs=False)
    assert record.status == Status.FAILED
    assert "has 8 features but feature_dim is 5; set feature_dim=8" in record.FailureReason
    with open(tmp_path / "train.pbr", "wb") as f:
        _recordio.write_dense(f, X)  # no labels
    spec = TrainingJob(algorithm=algorithm, hyperparameters={**hp, "feature_dim": 8},
                       inputs={"train": {"uri": str(tmp_path / "train.pbr"),
                                         "content_type": "application/x-recordio-protobuf"}})
    record = training.execute(training.prepare(spec, None, f"{algorithm}-nolabel"), logs=False)
    assert record.status == Status.FAILED
    assert "the records carry no label" in record.FailureReason
    assert record.TrainingStartTime is None  # refused before any worker started
