"""Random Cut Forest with SageMaker's names: ``num_trees`` trees, each built from
``num_samples_per_tree`` points sampled uniformly from the whole training set (unlabelled,
``feature_dim`` features); the forests are AWS's own Random Cut Forest library (``krcf``).

Training, on every worker:

1. The shard sizes are gathered; a seeded multivariate hypergeometric draw, the same on every
   rank, says how many rows each shard gives to a pool of ``num_trees × num_samples_per_tree``
   rows (what SageMaker draws, per the SDK), fewer when the data set, memory or build time
   allows fewer (:func:`pool_size`). Each worker samples its count uniformly from its shard, so
   the gathered pool is a uniform sample of the whole data set, identical on every rank.
2. Each worker builds its share of the trees (``num_trees`` split over the workers) by
   streaming the pool through a krcf forest without time decay (``lambda`` 0): every tree's
   sampler is then a uniform reservoir of ``num_samples_per_tree`` pool rows, so a uniform
   sample of the training set. Trees overlap only where their reservoirs share pool rows.
3. The forests (msgpack bytes) are gathered; every worker scores its rows with the whole
   model and the sums meet in one all-reduce. Rank 0 saves one forest per worker (``forest_<i>``
   uint8 arrays, ``trees`` their tree counts): loading is one ``from_msgpack`` each.

Scores are krcf's anomaly score (higher is more anomalous): each forest's average over its
trees, averaged over the forests weighted by their tree counts, which is the average over
every tree. An endpoint answers ``{"scores": [{"score": 1.2}, ...]}``. ``mini_batch_size`` is
taken (the SDK always sends 1000) and changes nothing: a forest is built from its pool.

Metrics. With a ``test`` channel (``text/csv;label_size=1``, the label first, 1 = anomaly)
SageMaker's: a row is called an anomaly when its score is beyond three standard deviations
above the mean score of the test rows (the "three-sigma limit" of SageMaker's tuning guide;
anomalies score high, so only the upper side counts), then ``test:accuracy`` and/or
``test:precision``, ``test:recall``, ``test:f1`` (of the anomaly class) as ``eval_metrics``
asks; ``test:f1`` (maximise) is the default tuning objective, as SageMaker's. SageMaker
reports nothing without a test channel; here every job also reports ``train:mean_score`` and
``train:score_std``, over (up to ``TRAIN_SCORED``) training rows, so that users see the score
scale (SageMaker's example notebooks cut at mean + 3 std of the training scores).
"""

from __future__ import annotations

import numpy as np

from algorithms._amazon import structured
from algorithms._data import CSV, RECORDIO
from algorithms._hyperparameters import HP, json_list

NAME = "randomcutforest"
HYPERPARAMETERS = {
    "feature_dim": HP(int, low=1, high=10000, required=True),
    "num_trees": HP(int, low=50, high=1000),
    "num_samples_per_tree": HP(int, low=1, high=2048),
    "eval_metrics": HP(json_list, choices=("accuracy", "precision_recall_fscore")),
    "mini_batch_size": HP(int, low=1),
    "_tuning_objective_metric": HP(str),
}
CHANNELS, REQUIRED_CHANNELS = ("train", "test"), ("train",)
LABELLED = {"train": False, "test": True}
CONTENT_TYPES = (CSV, RECORDIO)  # what SageMaker's RCF container reads
EXAMPLE = {"feature_dim": 6, "num_trees": 50, "num_samples_per_tree": 64}
DEFAULTS = {"num_trees": 100, "num_samples_per_tree": 256,
            "eval_metrics": ["accuracy", "precision_recall_fscore"]}
SEED = 0  # SageMaker's RCF takes no seed: a fixed one, offset by rank for the shards
# Caps on the pool: its floats (memory, and the gather's message), and the (row, tree) steps
# of the build (~1 µs each in krcf); past them trees share more of their rows.
POOL_FLOATS, BUILD_STEPS = 1 << 25, 1 << 24
TRAIN_SCORED = 1000  # rows scored for train:mean_score (its error ~ std / 30)


def _hp(hp: dict) -> dict:
    return {**DEFAULTS, **hp}


def check(hp: dict) -> list[tuple[str, str]]:
    return []  # every rule is one hyperparameter's range


def metric_names(hp: dict, channels) -> list[str]:
    names = ["train:mean_score", "train:score_std"]
    if "test" in channels:
        wanted = json_list(_hp(hp)["eval_metrics"])  # as given, or converted
        names += ["test:accuracy"] if "accuracy" in wanted else []
        names += [f"test:{m}" for m in ("precision", "recall", "f1")
                  if "precision_recall_fscore" in wanted]
    return names


def default_objective(hp: dict) -> str:
    # SageMaker's: test:f1 (maximise) on a labelled test channel
    return "test:f1"


def pool_size(rows: int, trees: int, samples: int, features: int) -> int:
    """How many rows the forest is built from: ``trees × samples`` (SageMaker's draw), at
    most the data set, ``POOL_FLOATS`` floats and ``BUILD_STEPS / trees`` rows, and never
    fewer than one tree's sample (or the data set)."""
    cap = max(samples, min(POOL_FLOATS // features, BUILD_STEPS // trees))
    return int(min(rows, trees * samples, cap))


def _dense(X, rows) -> np.ndarray:
    """``X[rows]`` dense float32 (RecordIO's sparse rows expanded)."""
    part = X[rows]
    return np.asarray(part.toarray() if hasattr(part, "toarray") else part, np.float32)


def _sample_pool(worker, X, sizes: np.ndarray, hp: dict) -> np.ndarray:
    """The pool, ``[P, d]`` float32, the same uniform sample of the whole data set (shards
    of ``sizes`` rows) on every rank, in rank order."""
    P = pool_size(int(sizes.sum()), hp["num_trees"], hp["num_samples_per_tree"], X.shape[1])
    counts = np.random.default_rng(SEED).multivariate_hypergeometric(sizes, P)
    rng = np.random.default_rng([SEED, worker.rank])
    mine = np.sort(rng.choice(X.shape[0], size=counts[worker.rank], replace=False))
    return np.concatenate(worker.gather(_dense(X, mine)))


def _build(pool: np.ndarray, trees: int, samples: int, seed: int) -> bytes:
    import krcf

    forest = krcf.RandomCutForest({
        "dimensions": pool.shape[1], "shingle_size": 1, "num_trees": trees,
        "sample_size": samples, "random_seed": seed, "output_after": 1,
        # no time decay, every point accepted until a sampler is full: uniform reservoirs
        "lambda": 0.0, "initial_accept_fraction": 1.0})
    for row in pool:
        forest.update(row)
    return forest.to_msgpack()


def fit(worker, data: dict, hp: dict):
    hp = _hp(hp)
    X = data["train"].X
    T, s = hp["num_trees"], hp["num_samples_per_tree"]
    sizes = np.array(worker.gather(int(X.shape[0])), np.int64)
    pool = _sample_pool(worker, X, sizes, hp)
    mine = T // worker.world + (worker.rank < T % worker.world)
    worker.say("randomcutforest: %d trees of %d rows from a pool of %d rows; %d trees here",
               T, s, len(pool), mine)
    blob = _build(pool, mine, s, SEED + 1 + worker.rank) if mine else b""
    forests = [(b, t) for b, t in worker.gather((blob, mine)) if t]
    arrays = {"trees": np.array([t for _, t in forests], np.int64)}
    arrays |= {f"forest_{i}": np.frombuffer(b, np.uint8) for i, (b, _) in enumerate(forests)}
    model = load(arrays, {})
    mean, std = _train_scores(worker, model, X, int(sizes.sum()))
    worker.report(1, {"train:mean_score": mean, "train:score_std": std})
    if "test" in data:
        worker.report(1, _test_metrics(worker, model, data["test"], hp["eval_metrics"]))
    return arrays, {"pool_rows": len(pool), "train_mean_score": mean, "train_score_std": std}


def _moments(worker, values: np.ndarray) -> tuple[float, float]:
    """The mean and standard deviation of every rank's ``values`` together."""
    n, total, sq = worker.sum(np.array([values.size]), np.array([values.sum()]),
                              np.array([(values ** 2).sum()]))
    n = max(float(n[0]), 1.0)
    mean = float(total[0]) / n
    return mean, float(np.sqrt(max(float(sq[0]) / n - mean * mean, 0.0)))


def _train_scores(worker, model, X, rows: int) -> tuple[float, float]:
    """The moments of the scores of ``TRAIN_SCORED`` training rows (of ``rows`` in all),
    each shard giving its share."""
    share = int(round(TRAIN_SCORED * X.shape[0] / max(rows, 1)))
    rng = np.random.default_rng([SEED, 1, worker.rank])
    rows = np.sort(rng.choice(X.shape[0], size=min(share, X.shape[0]), replace=False))
    return _moments(worker, scores(model, _dense(X, rows)))


def _test_metrics(worker, model, test, wanted: list[str]) -> dict[str, float]:
    """SageMaker's test metrics at the three-sigma cut of the test scores."""
    y = np.asarray(test.y) > 0.5  # 1 = anomaly
    got = scores(model, _dense(test.X, slice(None)))
    mean, std = _moments(worker, got)
    called = got > mean + 3 * std
    tp, fp, fn, n = worker.sum(*(np.array([v]) for v in (
        np.sum(called & y), np.sum(called & ~y), np.sum(~called & y), y.size)))
    tp, fp, fn, n = float(tp[0]), float(fp[0]), float(fn[0]), float(n[0])
    out = {}
    if "accuracy" in wanted:
        out["test:accuracy"] = (n - fp - fn) / max(n, 1.0)
    if "precision_recall_fscore" in wanted:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        out |= {"test:precision": precision, "test:recall": recall,
                "test:f1": 2 * precision * recall / (precision + recall) if tp else 0.0}
    return out


def load(arrays: dict, meta: dict):
    """``{"forests": [krcf.RandomCutForest], "trees": int array}``."""
    import krcf

    trees = np.asarray(arrays["trees"], np.int64)
    forests = [krcf.RandomCutForest.from_msgpack(arrays[f"forest_{i}"].tobytes())
               for i in range(len(trees))]
    return {"forests": forests, "trees": trees}


def scores(model, X: np.ndarray) -> np.ndarray:
    """``[n]`` float64: the average over every tree (forests weighted by their trees)."""
    X = np.asarray(X, np.float64)
    total = np.zeros(len(X))
    for forest, trees in zip(model["forests"], model["trees"], strict=True):
        total += trees * np.fromiter((forest.score(row) for row in X), np.float64, len(X))
    return total / model["trees"].sum()


def predict(model, X) -> np.ndarray:
    return structured(len(X), score=scores(model, X))


def feature_count(model) -> int:
    return int(model["forests"][0].dimensions())
