"""Linear Learner against scikit-learn's LogisticRegression on the same files: a binary
problem of 20 standard-normal features and a logistic label (fixed coefficients from
``seed``), train and validation CSVs (label first), scored by ROC AUC on a held-out set."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "linear-learner"
ROWS = 1_000_000
FEATURES = 20
REFERENCE = "scikit-learn LogisticRegression (lbfgs)"
QUALITY = ("roc_auc", "higher", 0.01)  # linear-learner's AUC within 0.01 of the reference's


def _rows(rng, n: int, coef: np.ndarray):
    X = rng.standard_normal((n, FEATURES)).astype(np.float32)
    p = 1 / (1 + np.exp(-(X @ coef + 0.3)))
    return X, (rng.random(n) < p).astype(np.float32)


def _write(path: Path, X, y) -> str:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({f"c{i}": col for i, col in enumerate([y, *X.T])})
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))
    return str(path)


def make_data(root: Path, rows: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    coef = rng.normal(scale=0.7, size=FEATURES)
    root.mkdir(parents=True, exist_ok=True)
    held = max(rows // 10, 1000)
    channels = {"train": _write(root / "train.csv", *_rows(rng, rows, coef)),
                "validation": _write(root / "validation.csv", *_rows(rng, held, coef))}
    return {"channels": channels, "holdout": _rows(rng, held, coef)}


def hyperparameters(rows: int) -> dict:
    return {"predictor_type": "binary_classifier", "feature_dim": FEATURES, "num_models": 8,
            "epochs": 3 if rows >= 100_000 else 10, "mini_batch_size": 1000}


def _read(path: str):
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path, pacsv.ReadOptions(autogenerate_column_names=True))
    A = np.column_stack([c.to_numpy() for c in table.columns]).astype(np.float32)
    return A[:, 1:], A[:, 0]


def bare(data: dict, hp: dict) -> dict:
    """scikit-learn's LogisticRegression (lbfgs) on the train CSV, in this process."""
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    X, y = _read(data["channels"]["train"])
    t1 = time.perf_counter()
    model = LogisticRegression(max_iter=200).fit(X, y)
    t2 = time.perf_counter()

    def predict(A):
        return np.rec.fromarrays([model.predict_proba(A)[:, 1]], names="score")

    return {"read_s": t1 - t0, "fit_s": t2 - t1, "quality": quality(predict, data)}


def quality(predict, data: dict) -> float:
    """ROC AUC of ``predict(X)["score"]`` on the held-out rows."""
    from sklearn.metrics import roc_auc_score

    X, y = data["holdout"]
    return float(roc_auc_score(y, np.asarray(predict(X)["score"])))
