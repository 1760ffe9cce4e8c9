"""K-Means with SageMaker's names and its two stages.

1. Each worker streams its shard in mini-batches (``mini_batch_size``, ``epochs`` passes) into
   ``k × extra_center_factor`` centres: the web-scale mini-batch update, each centre moving by
   ``1 / its weight``, weights decaying by half every ``half_life_time_size`` rows (0: never).
   A last pass assigns every row, so each local centre ends as the mean of its rows and its
   weight is their count.
2. The local centres and weights of every worker are gathered; rank 0 reduces them to ``k``
   with a weighted Lloyd (``local_lloyd_*``; scikit-learn's ``KMeans`` on the weighted
   centres) and every rank takes its answer.

Metrics: ``train:msd`` (the mean squared distance of the train rows to their closest final
centre), ``test:msd`` / ``test:ssd`` on the test channel as ``eval_metrics`` asks. An endpoint
answers ``{"closest_cluster": 1.0, "distance_to_cluster": 3.4}`` per row (Euclidean distance).
"""

from __future__ import annotations

import numpy as np

from algorithms._amazon import structured
from algorithms._hyperparameters import HP, auto_or_int, json_list
from mlcore.errors import DataError

NAME = "kmeans"



HYPERPARAMETERS = {
    "k": HP(int, low=1, required=True),
    "feature_dim": HP(int, low=1, required=True),
    "mini_batch_size": HP(int, low=1),
    "epochs": HP(int, low=1),
    "init_method": HP(str, choices=("random", "kmeans++")),
    "extra_center_factor": HP(auto_or_int, low=1),
    "center_factor": HP(auto_or_int, alias_of="extra_center_factor"),  # the SDK's name
    "half_life_time_size": HP(int, low=0),
    "local_lloyd_max_iter": HP(int, low=1),
    "local_lloyd_tol": HP(float, low=0, high=1),
    "local_lloyd_init_method": HP(str, choices=("random", "kmeans++")),
    "local_lloyd_num_trials": HP(auto_or_int, low=1),
    "eval_metrics": HP(json_list, choices=("msd", "ssd")),
    "force_dense": HP(bool),  # the SDK always sends it; the data is read dense here anyway
    "_tuning_objective_metric": HP(str),
}
CHANNELS, REQUIRED_CHANNELS = ("train", "test"), ("train",)
LABELLED = {"train": False, "test": False}
EXAMPLE = {"k": 3, "feature_dim": 6, "mini_batch_size": 100}
# What SageMaker's "auto" resolves to is not documented: 10 extra centres per cluster (the top
# of the tuning guide's 4-10 range) and 10 Lloyd trials, both cheap on k × 10 × workers points.
AUTO_CENTER_FACTOR, AUTO_TRIALS = 10, 10
SEED = 0  # SageMaker's K-Means takes no seed: a fixed one, offset by rank for the shards


def check(hp: dict) -> list[tuple[str, str]]:
    return []


def _eval_metrics(hp: dict) -> list[str]:
    """``eval_metrics`` as given (the SDK's string, when a tuner asks) or converted."""
    return list(dict.fromkeys(json_list(hp.get("eval_metrics") or ["msd"])))


def metric_names(hp: dict, channels) -> list[str]:
    return ["train:msd"] + ([f"test:{m}" for m in _eval_metrics(hp)] if "test" in channels else [])


def default_objective(hp: dict) -> str:
    # SageMaker's: its tuning objectives are test:msd / test:ssd (a test channel is needed)
    return "test:msd"


def _squared_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``[n, m]`` squared Euclidean distances, clipped at 0 (rounding)."""
    d = (X * X).sum(1)[:, None] - 2 * X @ C.T + (C * C).sum(1)[None, :]
    return np.maximum(d, 0)


def _batches(X, size: int):
    for lo in range(0, X.shape[0], size):
        yield np.asarray(X[lo:lo + size], np.float64)


def _initial(X, m: int, method: str, rng) -> np.ndarray:
    """``m`` starting centres from the shard's first rows (at most 10 × m of them)."""
    head = np.asarray(X[:max(10 * m, m)], np.float64)
    if method == "kmeans++":
        from sklearn.cluster import kmeans_plusplus

        return kmeans_plusplus(head, m, random_state=int(rng.integers(2**31)))[0]
    return head[rng.choice(len(head), m, replace=False)].copy()


def _stream(X, centres, weights, hp: dict) -> None:
    """One pass of mini-batch updates over ``X``, in place."""
    size, half_life = hp.get("mini_batch_size", 5000), hp.get("half_life_time_size", 0)
    for batch in _batches(X, size):
        if half_life:
            weights *= 0.5 ** (len(batch) / half_life)
        nearest = _squared_distances(batch, centres).argmin(1)
        counts = np.bincount(nearest, minlength=len(centres)).astype(np.float64)
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, batch)
        hit = counts > 0
        weights[hit] += counts[hit]
        centres[hit] += (sums[hit] - counts[hit, None] * centres[hit]) / weights[hit, None]


def _assign(X, centres, size: int):
    """Per centre: the count and sum of the rows closest to it, and the rows' squared distance."""
    counts, sums, ssd = np.zeros(len(centres)), np.zeros_like(centres), 0.0
    for batch in _batches(X, size):
        d = _squared_distances(batch, centres)
        nearest = d.argmin(1)
        counts += np.bincount(nearest, minlength=len(centres))
        np.add.at(sums, nearest, batch)
        ssd += float(d[np.arange(len(batch)), nearest].sum())
    return counts, sums, ssd


def _reduce(centres: np.ndarray, weights: np.ndarray, hp: dict) -> np.ndarray:
    """The weighted local Lloyd: ``k`` centres from the gathered ones."""
    from sklearn.cluster import KMeans

    trials = hp.get("local_lloyd_num_trials", "auto")
    init = "k-means++" if hp.get("local_lloyd_init_method", "kmeans++") == "kmeans++" else "random"
    model = KMeans(hp["k"], init=init, n_init=AUTO_TRIALS if trials == "auto" else trials,
                   max_iter=hp.get("local_lloyd_max_iter", 300),
                   tol=hp.get("local_lloyd_tol", 1e-4), random_state=SEED)
    return model.fit(centres, sample_weight=weights).cluster_centers_


def fit(worker, data: dict, hp: dict):
    X, k = data["train"].X, hp["k"]
    size = hp.get("mini_batch_size", 5000)
    rows = worker.gather(int(X.shape[0]))
    if sum(rows) < k:
        raise DataError(f"k={k} clusters need at least {k} training rows; the train channel "
                        f"has {sum(rows)}: lower k or add rows")
    factor = hp.get("extra_center_factor", "auto")
    # The same number of local centres on every rank (a checkpoint stacks them), at most the
    # smallest shard's rows.
    m = max(1, min(k * (AUTO_CENTER_FACTOR if factor == "auto" else factor), min(rows)))
    rng = np.random.default_rng(SEED + worker.rank)
    epochs, start = hp.get("epochs", 1), 0
    restored = worker.restored()
    if restored and restored["meta"].get("world") == worker.world:
        start = restored["meta"]["epoch"]
        centres = restored["arrays"]["local_centres"][worker.rank].astype(np.float64)
        weights = restored["arrays"]["local_weights"][worker.rank].astype(np.float64)
        worker.say("kmeans: resuming after epoch %d of %d", start, epochs)
    else:
        centres = _initial(X, m, hp.get("init_method", "random"), rng)
        weights = np.zeros(m)

    def state():  # collective: every rank's local centres, stacked by rank
        parts = worker.gather((centres, weights))
        return ({"local_centres": np.stack([c for c, _ in parts]),
                 "local_weights": np.stack([w for _, w in parts])}, {"world": worker.world})

    for epoch in range(start + 1, epochs + 1):
        _stream(X, centres, weights, hp)
        worker.epoch_done(epoch, epochs, state)
    counts, sums, _ = _assign(X, centres, size)
    kept = counts > 0  # a local centre no row is closest to carries no weight
    local = (sums[kept] / counts[kept, None], counts[kept])
    gathered = worker.gather(local)
    pooled = np.concatenate([c for c, _ in gathered])
    pooled_weights = np.concatenate([w for _, w in gathered])
    final = worker.agreed(_reduce(pooled, pooled_weights, hp) if worker.rank == 0 else None)
    worker.say("kmeans: %d local centres from %d workers reduced to k=%d", len(pooled),
               worker.world, k)
    n, ssd = worker.sum(np.array([X.shape[0]]), np.array([_assign(X, final, size)[2]]))
    msd = float(ssd[0] / max(n[0], 1))
    worker.report(epochs, {"train:msd": msd})
    if "test" in data:
        _, _, test_ssd = _assign(data["test"].X, final, size)
        tn, ts = worker.sum(np.array([len(data["test"])]), np.array([test_ssd]))
        scores = {"msd": float(ts[0] / max(tn[0], 1)), "ssd": float(ts[0])}
        worker.report(epochs, {f"test:{m}": scores[m] for m in _eval_metrics(hp)})
    return {"centers": final.astype(np.float32)}, {"train_msd": msd, "rows": int(n[0])}


def load(arrays: dict, meta: dict):
    return arrays


def predict(model, X) -> np.ndarray:
    d = _squared_distances(np.asarray(X, np.float64), model["centers"].astype(np.float64))
    nearest = d.argmin(1)
    # SageMaker answers the cluster as a float ({"closest_cluster": 1.0, ...})
    return structured(len(nearest), closest_cluster=nearest.astype(np.float32),
                      distance_to_cluster=np.sqrt(d[np.arange(len(nearest)), nearest]))


def feature_count(model) -> int:
    return int(model["centers"].shape[1])
