"""PCA with SageMaker's names: ``num_components`` principal components of ``feature_dim``
features, ``algorithm_mode`` regular (the exact covariance) or randomized (a sketch, for many
features), ``subtract_mean``, ``extra_components``.

Every worker streams its shard into sufficient statistics that add up across workers: the row
count, the column sums and ``XᵀX`` (regular), or ``XᵀXΩ`` for a random ``Ω`` of ``num_components
+ extra_components`` columns with power iterations (randomized: never ``d × d``). The sums
meet in one all-reduce per pass; the decomposition is rank 0's small eigenproblem, the same
on every rank. An endpoint answers ``{"projections": [{"projection": [...]}, ...]}``.
"""

from __future__ import annotations

import numpy as np

from algorithms._amazon import structured
from algorithms._hyperparameters import HP

NAME = "pca"
HYPERPARAMETERS = {
    "feature_dim": HP(int, low=1, required=True),
    "num_components": HP(int, low=1, required=True),
    "mini_batch_size": HP(int, low=1, required=True),
    "algorithm_mode": HP(str, choices=("regular", "randomized")),
    "subtract_mean": HP(bool),
    "extra_components": HP(int, low=-1),
    "_tuning_objective_metric": HP(str),
}
CHANNELS, REQUIRED_CHANNELS = ("train", "test"), ("train",)
LABELLED = {"train": False, "test": False}
EXAMPLE = {"feature_dim": 6, "num_components": 3, "mini_batch_size": 100}
POWER_ITERATIONS = 4


def check(hp: dict) -> list[tuple[str, str]]:
    if "num_components" in hp and "feature_dim" in hp and hp["num_components"] > hp["feature_dim"]:
        return [("num_components", f"num_components ({hp['num_components']}) must be at most "
                                   f"feature_dim ({hp['feature_dim']})")]
    return []


def metric_names(hp: dict, channels) -> list[str]:
    """``train:explained_variance_ratio`` (the share of the variance the components keep),
    and ``test:reconstruction_mse`` with a test channel (SageMaker's PCA reports neither;
    they make it tunable and checkable)."""
    return ["train:explained_variance_ratio"] + (["test:reconstruction_mse"] if "test" in channels else [])


def default_objective(hp: dict) -> str:
    return "train:explained_variance_ratio"


def _chunks(X, size: int):
    for lo in range(0, X.shape[0], size):
        yield np.asarray(X[lo:lo + size], np.float64)


def fit(worker, data: dict, hp: dict):
    X = data["train"].X
    d, k = X.shape[1], hp["num_components"]
    batch = max(hp["mini_batch_size"], 4096)  # rows per pass step; any size gives the same sums
    n, total = worker.sum(np.array([X.shape[0]]), X.sum(axis=0, dtype=np.float64))
    n = float(n[0])
    mean = total / n if hp.get("subtract_mean", True) else np.zeros(d)
    if hp.get("algorithm_mode", "regular") == "regular":
        gram = np.zeros((d, d))
        for chunk in _chunks(X, batch):
            gram += chunk.T @ chunk
        (gram,) = worker.sum(gram)
        cov = (gram - n * np.outer(mean, mean)) / max(n - 1, 1)
        values, vectors = np.linalg.eigh(cov)
        total_var = float(np.trace(cov))
    else:
        extra = hp.get("extra_components", -1)
        width = min(d, k + (max(10, k) if extra == -1 else extra))
        rng = np.random.default_rng(0)  # the same Ω on every rank
        Q = rng.standard_normal((d, width))

        def times_cov(M):  # (XᵀX - n μμᵀ) M / (n-1), summed across workers
            out = np.zeros_like(M)
            for chunk in _chunks(X, batch):
                out += chunk.T @ (chunk @ M)
            (out,) = worker.sum(out)
            return (out - n * np.outer(mean, mean @ M)) / max(n - 1, 1)

        for _ in range(POWER_ITERATIONS):
            Q, _ = np.linalg.qr(times_cov(Q))
        small = Q.T @ times_cov(Q)
        values, inner = np.linalg.eigh((small + small.T) / 2)
        vectors = Q @ inner
        sq = np.zeros(1)
        for chunk in _chunks(X, batch):
            sq += ((chunk - mean) ** 2).sum()
        (sq,) = worker.sum(sq)
        total_var = float(sq[0] / max(n - 1, 1))
    order = np.argsort(values)[::-1][:k]
    components, variance = vectors[:, order].T, np.clip(values[order], 0, None)
    # A fixed sign (largest entry positive), so 1 and 2 workers give the same components.
    components *= np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])[:, None]
    ratio = float(variance.sum() / total_var) if total_var > 0 else 1.0
    worker.report(1, {"train:explained_variance_ratio": ratio})
    if "test" in data:
        T = np.asarray(data["test"].X, np.float64)
        err = ((T - mean) - ((T - mean) @ components.T) @ components) ** 2
        s, m = worker.sum(np.array([err.sum()]), np.array([err.size]))
        worker.report(1, {"test:reconstruction_mse": float(s[0] / max(m[0], 1))})
    return ({"components": components.astype(np.float32), "mean": mean.astype(np.float32),
             "explained_variance": variance.astype(np.float32)},
            {"explained_variance_ratio": ratio, "rows": n})


def load(arrays: dict, meta: dict):
    return arrays


def predict(model, X) -> np.ndarray:
    projection = (np.asarray(X, np.float32) - model["mean"]) @ model["components"].T
    return structured(len(projection), projection=projection)


def feature_count(model) -> int:
    return int(model["components"].shape[1])
