"""Benchmark module for the built-in K-Means (a driver calls these; no main).

Data: blobs of ``FEATURES`` dimensions around ``CENTRES`` centres, features only (K-Means reads
no label), a train file and a holdout. Baseline: scikit-learn's ``KMeans`` (Lloyd, one
k-means++ start) on the same train file. Quality: the holdout's inertia (sum of squared
distances to the closest centre), lower is better.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "kmeans"
ROWS = 1_000_000
FEATURES, CENTRES = 10, 10
REFERENCE = "scikit-learn KMeans (k-means++, n_init=1)"
QUALITY = ("holdout_inertia", "lower", 0.05)


def _blobs(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(scale=6.0, size=(CENTRES, FEATURES))  # fixed
    return (centres[rng.integers(CENTRES, size=rows)]
            + rng.normal(scale=1.5, size=(rows, FEATURES))).astype(np.float32)


def make_data(root: Path, rows: int, seed: int) -> dict:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    X, holdout = _blobs(rows, seed), _blobs(max(rows // 20, 1000), seed + 1)
    np.savetxt(root / "train.csv", X, delimiter=",", fmt="%.5f")
    np.savetxt(root / "test.csv", holdout, delimiter=",", fmt="%.5f")
    return {"channels": {"train": str(root / "train.csv"), "test": str(root / "test.csv")},
            "holdout": (holdout, None)}


def hyperparameters(rows: int) -> dict:
    return {"k": CENTRES, "feature_dim": FEATURES, "mini_batch_size": 5000, "epochs": 1,
            "init_method": "kmeans++", "eval_metrics": '["msd","ssd"]'}


def _read(path: str) -> np.ndarray:
    from pyarrow import csv

    table = csv.read_csv(path, read_options=csv.ReadOptions(autogenerate_column_names=True))
    return np.column_stack([c.to_numpy() for c in table.columns]).astype(np.float32)


def _inertia(X: np.ndarray, centres: np.ndarray) -> float:
    X, C = X.astype(np.float64), centres.astype(np.float64)
    d = (X * X).sum(1)[:, None] - 2 * X @ C.T + (C * C).sum(1)[None, :]
    return float(np.maximum(d, 0).min(1).sum())


def bare(data: dict, hp: dict) -> dict:
    from sklearn.cluster import KMeans

    t0 = time.perf_counter()
    X = _read(data["channels"]["train"])
    t1 = time.perf_counter()
    model = KMeans(hp["k"], init="k-means++", n_init=1, random_state=0).fit(X)
    t2 = time.perf_counter()
    return {"read_s": t1 - t0, "fit_s": t2 - t1,
            "quality": _inertia(data["holdout"][0], model.cluster_centers_)}


def quality(predict, data: dict) -> float:
    distance = predict(data["holdout"][0])["distance_to_cluster"].astype(np.float64)
    return float((distance ** 2).sum())
