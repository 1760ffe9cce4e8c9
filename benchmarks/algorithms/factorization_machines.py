"""Factorization Machines against a bare torch FM loop (the same model, Adam and learning
rates, one process) on the same files: a regression target with planted pairwise
interactions over 20 standard-normal features, train and test CSVs (label first), scored by
RMSE on a held-out set. (SageMaker's FM reads RecordIO; this one reads the CSVs too.)"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "factorization-machines"
ROWS = 1_000_000
FEATURES, FACTORS = 20, 8
REFERENCE = "the same FM as a bare torch loop (torch.optim.Adam)"
QUALITY = ("rmse", "lower", 0.05)  # FM's RMSE at most 0.05 above the bare loop's


def _rows(rng, n: int, pairs: list):
    X = rng.standard_normal((n, FEATURES)).astype(np.float32)
    y = 0.5 * X[:, 0] - 0.3 * X[:, 5] + 0.1 * rng.standard_normal(n)
    for i, j, w in pairs:
        y += w * X[:, i] * X[:, j]
    return X, y.astype(np.float32)


def _write(path: Path, X, y) -> str:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({f"c{i}": col for i, col in enumerate([y, *X.T])})
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))
    return str(path)


def make_data(root: Path, rows: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pairs = [(1, 2, 2.0), (3, 4, -1.5), (6, 7, 1.0)]
    root.mkdir(parents=True, exist_ok=True)
    held = max(rows // 10, 1000)
    channels = {"train": _write(root / "train.csv", *_rows(rng, rows, pairs)),
                "test": _write(root / "test.csv", *_rows(rng, held, pairs))}
    return {"channels": channels, "holdout": _rows(rng, held, pairs)}


def hyperparameters(rows: int) -> dict:
    return {"predictor_type": "regressor", "num_factors": FACTORS, "feature_dim": FEATURES,
            "epochs": 2 if rows >= 100_000 else 10, "mini_batch_size": 1000,
            "linear_lr": 0.02, "factors_lr": 0.02, "factors_init_sigma": 0.1,
            "factors_wd": 1e-6}


def _read(path: str):
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path, pacsv.ReadOptions(autogenerate_column_names=True))
    A = np.column_stack([c.to_numpy() for c in table.columns]).astype(np.float32)
    return A[:, 1:], A[:, 0]


def bare(data: dict, hp: dict) -> dict:
    """The same FM in plain torch: Adam with SageMaker's per-term learning rates and weight
    decays (where ``hp`` leaves them), shuffled mini-batches, in this process."""
    import torch

    t0 = time.perf_counter()
    X, y = (torch.from_numpy(a) for a in _read(data["channels"]["train"]))
    t1 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    d, k = X.shape[1], hp["num_factors"]
    w0 = (torch.randn(1, generator=gen) * hp.get("bias_init_sigma", 0.01)).requires_grad_()
    w = (torch.randn(d, generator=gen) * hp.get("linear_init_sigma", 0.01)).requires_grad_()
    V = (torch.randn(d, k, generator=gen) * hp.get("factors_init_sigma", 0.001)).requires_grad_()
    opt = torch.optim.Adam([
        {"params": [w0], "lr": hp.get("bias_lr", 0.1), "weight_decay": hp.get("bias_wd", 0.01)},
        {"params": [w], "lr": hp.get("linear_lr", 0.001), "weight_decay": hp.get("linear_wd", 0.001)},
        {"params": [V], "lr": hp.get("factors_lr", 1e-4), "weight_decay": hp.get("factors_wd", 1e-5)}])
    batch = hp.get("mini_batch_size", 1000)

    def forward(A):
        AV = A @ V
        return w0 + A @ w + 0.5 * (AV ** 2 - (A ** 2) @ (V ** 2)).sum(dim=1)

    for _ in range(hp.get("epochs", 1)):
        order = torch.randperm(len(X), generator=gen)
        for lo in range(0, len(X), batch):
            idx = order[lo:lo + batch]
            loss = ((forward(X[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    t2 = time.perf_counter()

    def predict(A):
        with torch.no_grad():
            score = forward(torch.from_numpy(np.asarray(A, np.float32))).numpy()
        return np.rec.fromarrays([score], names="score")

    return {"read_s": t1 - t0, "fit_s": t2 - t1, "quality": quality(predict, data)}


def quality(predict, data: dict) -> float:
    """RMSE of ``predict(X)["score"]`` on the held-out rows."""
    X, y = data["holdout"]
    return float(np.sqrt(np.mean((np.asarray(predict(X)["score"], np.float64) - y) ** 2)))
