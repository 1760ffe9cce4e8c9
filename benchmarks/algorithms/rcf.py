"""Random Cut Forest: 1M unlabelled rows of 8 features from three elongated Gaussian clusters,
1% of them planted anomalies on a shell 4-5 Mahalanobis units around a cluster (normal rows
lie 2.7 out on average); krcf (AWS's Random Cut Forest library) building the same forest bare
(100 trees, each a uniform reservoir of 256 rows from a uniform pool of 100 × 256) against
mlcore's. Quality: the anomaly AUC on 10,000 held-out labelled rows (5% anomalies), which
are also the job's test channel; bare also gives scikit-learn's IsolationForest's AUC on
them for comparison (``isolation_forest_quality``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "randomcutforest"
ROWS = 1_000_000  # training reads and samples the rows; the forest itself is 25,600 rows
FEATURES, CLUSTERS, GAP, HOLDOUT = 8, 3, 4.0, 10_000
REFERENCE = "krcf RandomCutForest (lambda 0, same pool size)"
QUALITY = ("auc", "higher", 0.02)


def _draw(rng: np.random.Generator, rows: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``(X float32 [rows, 8], y [rows])``, ``share`` of the rows anomalies, shuffled."""
    setup = np.random.default_rng(1234)  # the same clusters for every split and seed
    centres = setup.uniform(-4, 4, (CLUSTERS, FEATURES))
    shapes = np.stack([np.linalg.qr(setup.standard_normal((FEATURES, FEATURES)))[0]
                       * setup.uniform(0.3, 1.5, FEATURES) for _ in range(CLUSTERS)])
    inverses = np.linalg.inv(shapes)
    anomalies = int(round(rows * share))
    which = rng.integers(0, CLUSTERS, rows - anomalies)
    X = centres[which] + np.einsum("nj,nkj->nk", rng.standard_normal((len(which), FEATURES)),
                                   shapes[which])
    planted = np.empty((0, FEATURES))
    while len(planted) < anomalies:  # candidates on the shell, kept where no cluster is nearer
        z = rng.standard_normal((2 * anomalies, FEATURES))
        z *= (rng.uniform(GAP, GAP + 1, len(z)) / np.linalg.norm(z, axis=1))[:, None]
        k = rng.integers(0, CLUSTERS, len(z))
        p = centres[k] + np.einsum("nj,nkj->nk", z, shapes[k])
        gaps = np.linalg.norm(np.einsum("ckj,ncj->nck", inverses, p[:, None] - centres), axis=2)
        planted = np.vstack([planted, p[gaps.min(1) >= GAP]])
    X = np.vstack([X, planted[:anomalies]]).astype(np.float32)
    y = np.r_[np.zeros(rows - anomalies), np.ones(anomalies)].astype(np.float32)
    order = rng.permutation(rows)
    return X[order], y[order]


def _write(path: Path, X: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({f"f{i}": X[:, i] for i in range(X.shape[1])})
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))


def make_data(root: Path, rows: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    X, _ = _draw(rng, rows, 0.01)
    H, y = _draw(rng, HOLDOUT, 0.05)
    _write(root / "train.csv", X)
    _write(root / "test.csv", np.column_stack([y, H]))  # label first: text/csv;label_size=1
    return {"channels": {"train": str(root / "train.csv"), "test": str(root / "test.csv")},
            "holdout": (H, y)}


def hyperparameters(rows: int) -> dict:
    return {"feature_dim": FEATURES, "num_trees": 100, "num_samples_per_tree": 256}


def _read(path: str) -> np.ndarray:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path, pacsv.ReadOptions(autogenerate_column_names=True))
    return np.column_stack([c.to_numpy() for c in table.columns]).astype(np.float32)


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def bare(data: dict, hp: dict) -> dict:
    import krcf
    from sklearn.ensemble import IsolationForest

    t = time.perf_counter()
    X = _read(data["channels"]["train"])
    read_s = time.perf_counter() - t
    trees, samples = hp["num_trees"], hp["num_samples_per_tree"]
    t = time.perf_counter()
    pool = X[np.random.default_rng(0).choice(len(X), min(len(X), trees * samples), replace=False)]
    forest = krcf.RandomCutForest({
        "dimensions": X.shape[1], "shingle_size": 1, "num_trees": trees, "sample_size": samples,
        "random_seed": 1, "output_after": 1, "lambda": 0.0, "initial_accept_fraction": 1.0})
    for row in pool:
        forest.update(row)
    fit_s = time.perf_counter() - t
    H, y = data["holdout"]
    scores = np.fromiter((forest.score(row) for row in H), np.float64, len(H))
    iso = IsolationForest(n_estimators=trees, max_samples=samples, random_state=0).fit(X)
    return {"read_s": read_s, "fit_s": fit_s, "quality": _auc(y, scores),
            "isolation_forest_quality": _auc(y, -iso.score_samples(H))}


def quality(predict, data: dict) -> float:
    H, y = data["holdout"]
    return _auc(y, predict(H)["score"])
