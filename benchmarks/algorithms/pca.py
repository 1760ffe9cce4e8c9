"""PCA: 1M rows of 30 features near a 5-dimensional subspace; scikit-learn's PCA (full SVD)
against mlcore's (regular mode: the covariance from summed statistics). Quality: the share of
the held-out rows' variance the 5 components keep."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "pca"
ROWS = 1_000_000
FEATURES, COMPONENTS = 30, 5
REFERENCE = "scikit-learn PCA (svd_solver=full)"
QUALITY = ("held-out explained variance", "higher", 0.01)


def _write(path: Path, X: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({f"f{i}": X[:, i] for i in range(X.shape[1])})
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))


def make_data(root: Path, rows: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((FEATURES, COMPONENTS)))[0].T
    scales = np.linspace(6, 2, COMPONENTS)

    def draw(n):
        X = (rng.standard_normal((n, COMPONENTS)) * scales) @ basis
        return (X + 0.5 * rng.standard_normal((n, FEATURES)) + 3).astype(np.float32)

    _write(root / "train.csv", draw(rows))
    return {"channels": {"train": str(root / "train.csv")}, "holdout": (draw(20_000), None)}


def hyperparameters(rows: int) -> dict:
    return {"feature_dim": FEATURES, "num_components": COMPONENTS, "mini_batch_size": 10_000,
            "algorithm_mode": "regular"}


def _read(path: str) -> np.ndarray:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path, pacsv.ReadOptions(autogenerate_column_names=True))
    return np.column_stack([c.to_numpy() for c in table.columns]).astype(np.float32)


def bare(data: dict, hp: dict) -> dict:
    from sklearn.decomposition import PCA

    t = time.perf_counter()
    X = _read(data["channels"]["train"])
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    model = PCA(hp["num_components"], svd_solver="full").fit(X)
    fit_s = time.perf_counter() - t
    projection = lambda H: (H - model.mean_) @ model.components_.T  # noqa: E731
    return {"read_s": read_s, "fit_s": fit_s,
            "quality": _kept(projection(data["holdout"][0]), data["holdout"][0])}


def _kept(projection: np.ndarray, H: np.ndarray) -> float:
    """Variance of the projections over the held-out rows' total variance."""
    return float(projection.var(axis=0).sum() / H.var(axis=0).sum())


def quality(predict, data: dict) -> float:
    H = data["holdout"][0]
    return _kept(predict(H)["projection"], H)
