"""Benchmark module for the built-in k-NN (a driver calls these; no main).

Data: scikit-learn's ``make_classification`` (``FEATURES`` features, ``CLASSES`` classes), the
label first in each CSV row, a train file and a labelled holdout. mlcore samples every train
row (``sample_size`` = rows) into a faiss IVFFlat index; the baseline is bare faiss's exact
``IndexFlatL2`` over the same rows with the same majority vote. Quality: holdout accuracy,
higher is better.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "knn"
ROWS = 1_000_000
FEATURES, CLASSES, K = 16, 4, 10
HOLDOUT = 2000
REFERENCE = "faiss IndexFlatL2 (exact search)"
QUALITY = ("holdout_accuracy", "higher", 0.02)


def make_data(root: Path, rows: int, seed: int) -> dict:
    from sklearn.datasets import make_classification

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(rows + HOLDOUT, n_features=FEATURES, n_informative=10,
                               n_classes=CLASSES, random_state=seed)
    X, y = X.astype(np.float32), y.astype(np.float32)
    np.savetxt(root / "train.csv", np.column_stack([y[:rows], X[:rows]]), delimiter=",",
               fmt="%.5g")
    np.savetxt(root / "test.csv", np.column_stack([y[rows:], X[rows:]]), delimiter=",",
               fmt="%.5g")
    return {"channels": {"train": str(root / "train.csv"), "test": str(root / "test.csv")},
            "holdout": (X[rows:], y[rows:])}


def hyperparameters(rows: int) -> dict:
    return {"k": K, "sample_size": rows, "predictor_type": "classifier",
            "feature_dim": FEATURES, "index_type": "faiss.IVFFlat", "index_metric": "L2"}


def _read(path: str) -> tuple[np.ndarray, np.ndarray]:
    from pyarrow import csv

    table = csv.read_csv(path, read_options=csv.ReadOptions(autogenerate_column_names=True))
    cols = [c.to_numpy() for c in table.columns]
    return np.column_stack(cols[1:]).astype(np.float32), cols[0].astype(np.float32)


def bare(data: dict, hp: dict) -> dict:
    import faiss
    from scipy.stats import mode

    t0 = time.perf_counter()
    X, y = _read(data["channels"]["train"])
    t1 = time.perf_counter()
    index = faiss.IndexFlatL2(X.shape[1])
    index.add(np.ascontiguousarray(X))
    t2 = time.perf_counter()
    T, t = data["holdout"]
    ids = index.search(np.ascontiguousarray(T, np.float32), hp["k"])[1]
    predicted = mode(y[ids], axis=1, keepdims=False).mode  # ties: the smallest label
    return {"read_s": t1 - t0, "fit_s": t2 - t1, "quality": float((predicted == t).mean())}


def quality(predict, data: dict) -> float:
    T, t = data["holdout"]
    return float((predict(T)["predicted_label"] == t).mean())
