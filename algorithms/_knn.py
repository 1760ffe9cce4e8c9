"""k-NN with SageMaker's names: an index (faiss) over ``sample_size`` rows sampled from the
train channel, answering each query with its ``k`` nearest neighbours' majority label
(``predictor_type`` classifier; ties go to the smallest label, as scikit-learn's
``KNeighborsClassifier``) or their mean label (regressor).

Each worker draws its share of the sample (shares proportional to the shards' rows, worked out
from the gathered row counts, so they add up to ``sample_size``); the shares and their labels
are gathered and rank 0 builds the index (``index_type`` faiss.Flat / faiss.IVFFlat /
faiss.IVFPQ, ``index_metric`` L2 / INNER_PRODUCT / COSINE), after the optional dimension
reduction (``sign``: a random ±1 projection; ``fjlt``: the fast Johnson-Lindenstrauss
transform, kept as the dense matrix it amounts to). The model holds the serialised index, the
labels and the reduction matrix. An endpoint answers ``{"predicted_label": 0.0}`` per row.
"""

from __future__ import annotations

import math

import numpy as np

from algorithms._amazon import structured
from algorithms._hyperparameters import HP, auto_or_int

NAME = "knn"



HYPERPARAMETERS = {
    "k": HP(int, low=1, required=True),
    "sample_size": HP(int, low=1, required=True),
    "predictor_type": HP(str, choices=("classifier", "regressor"), required=True),
    "feature_dim": HP(int, low=1, required=True),
    "dimension_reduction_type": HP(str, choices=("sign", "fjlt")),
    "dimension_reduction_target": HP(int, low=1),
    "index_type": HP(str, choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")),
    "index_metric": HP(str, choices=("L2", "INNER_PRODUCT", "COSINE")),
    "faiss_index_ivf_nlists": HP(auto_or_int, low=1),
    "faiss_index_pq_m": HP(int, choices=(1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)),
    "mini_batch_size": HP(int, low=1),
    "_tuning_objective_metric": HP(str),
}
CHANNELS, REQUIRED_CHANNELS = ("train", "test"), ("train",)
LABELLED = {"train": True, "test": True}
EXAMPLE = {"k": 5, "sample_size": 240, "predictor_type": "classifier", "feature_dim": 6}
SEED = 0  # SageMaker's k-NN takes no seed: sampling and projections use a fixed one
TRAIN_ESTIMATE_ROWS = 1000  # rows of the sample scored leave-one-out for train:accuracy / mse


def check(hp: dict) -> list[tuple[str, str]]:
    problems = []
    kind, target, d = (hp.get("dimension_reduction_type"), hp.get("dimension_reduction_target"),
                       hp.get("feature_dim"))
    if kind and target is None:
        problems.append(("dimension_reduction_target", "dimension_reduction_target is required "
                         f"with dimension_reduction_type={kind}; set it below feature_dim"))
    if target is not None and not kind:
        problems.append(("dimension_reduction_target", "dimension_reduction_target needs "
                         "dimension_reduction_type (sign or fjlt); set one or drop the target"))
    if kind and target is not None and d is not None and target >= d:
        problems.append(("dimension_reduction_target", f"dimension_reduction_target ({target}) "
                         f"must be less than feature_dim ({d})"))
    if "k" in hp and "sample_size" in hp and hp["k"] > hp["sample_size"]:
        problems.append(("k", f"k ({hp['k']}) must be at most sample_size ({hp['sample_size']})"))
    if hp.get("index_type") == "faiss.IVFPQ" and hp.get("index_metric", "L2") != "L2":
        problems.append(("index_metric", f"index_metric {hp['index_metric']} is not supported "
                         "with index_type faiss.IVFPQ; use L2 or faiss.IVFFlat"))
    return problems


def _metric(hp: dict) -> str:
    return "accuracy" if hp.get("predictor_type") == "classifier" else "mse"


def metric_names(hp: dict, channels) -> list[str]:
    """SageMaker's ``test:accuracy`` / ``test:mse`` with a test channel; ``train:accuracy`` /
    ``train:mse`` always (leave-one-out on up to 1,000 rows of the sample)."""
    m = _metric(hp)
    return [f"train:{m}"] + ([f"test:{m}"] if "test" in channels else [])


def default_objective(hp: dict) -> str:
    # SageMaker's: test:accuracy / test:mse (a test channel is needed)
    return f"test:{_metric(hp)}"


# -- sampling -------------------------------------------------------------------------------
def _shares(rows: list[int], size: int) -> list[int]:
    """Rows each worker samples: proportional to its rows, adding up to ``min(size, total)``
    (largest remainders first, ties to the lower rank)."""
    total = sum(rows)
    if not total:
        return [0] * len(rows)
    want = min(size, total)
    exact = [want * r / total for r in rows]
    out = [min(int(e), r) for e, r in zip(exact, rows, strict=True)]
    for i in sorted(range(len(rows)), key=lambda i: (out[i] - exact[i], i)):
        if sum(out) >= want:
            break
        if out[i] < rows[i]:
            out[i] += 1
    return out


# -- dimension reduction --------------------------------------------------------------------
def _reduction(kind: str | None, d: int, target: int, n: int) -> np.ndarray:
    """The ``[d, target]`` matrix rows are multiplied by (``[d, d]`` identity: none)."""
    rng = np.random.default_rng(SEED)
    if not kind:
        return np.eye(d, dtype=np.float32)
    if kind == "sign":
        return (rng.choice([-1.0, 1.0], size=(d, target)) / math.sqrt(target)).astype(np.float32)
    from scipy.linalg import hadamard

    # FJLT (Ailon & Chazelle): P·H·D, D random signs, H the normalised Walsh-Hadamard of the
    # next power of two (zero padding), P sparse Gaussian with density q.
    width = 1 << max(0, (d - 1).bit_length())
    signs = rng.choice([-1.0, 1.0], size=width)
    H = hadamard(width) / math.sqrt(width)
    q = min(1.0, math.log(max(n, 2)) ** 2 / width)
    P = rng.normal(0, 1 / math.sqrt(q), size=(target, width)) * (rng.random((target, width)) < q)
    return ((P @ (H * signs)) / math.sqrt(target))[:, :d].T.astype(np.float32)


def _prepare(X, reduction: np.ndarray, metric: str, pad: int) -> np.ndarray:
    """Queries and sample alike: reduced, unit length for COSINE, zero-padded for IVFPQ."""
    Z = np.asarray(X, np.float32) @ reduction
    if metric == "COSINE":
        Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    if pad:
        Z = np.hstack([Z, np.zeros((len(Z), pad), np.float32)])
    return np.ascontiguousarray(Z, np.float32)


# -- the index ------------------------------------------------------------------------------
def _build(Z: np.ndarray, hp: dict):
    """``(index, nprobe)`` over the prepared sample ``Z``."""
    import faiss

    n, dim = Z.shape
    metric = faiss.METRIC_L2 if hp.get("index_metric", "L2") == "L2" else faiss.METRIC_INNER_PRODUCT
    kind = hp.get("index_type", "faiss.Flat")
    if kind == "faiss.Flat":
        index = faiss.IndexFlat(dim, metric)
        index.add(Z)
        return index, 0
    nlist = hp.get("faiss_index_ivf_nlists", "auto")
    nlist = max(1, min(n, round(math.sqrt(n)) if nlist == "auto" else nlist))
    quantizer = faiss.IndexFlat(dim, metric)
    if kind == "faiss.IVFFlat":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, metric)
    else:  # PQ codes of up to 8 bits; fewer when the sample is too small to train 2⁸
        nbits = max(1, min(8, int(math.log2(max(n // 39, 2)))))  # (faiss asks 39 rows each)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, hp.get("faiss_index_pq_m", dim), nbits)
    index.train(Z)
    index.add(Z)
    # SageMaker does not expose nprobe; √nlist lists keep the recall close to the flat index's.
    return index, max(1, min(nlist, round(math.sqrt(nlist))))


def _vote(neighbours: np.ndarray, labels: np.ndarray, classifier: bool) -> np.ndarray:
    """The answer per query from the neighbour ids ``[n, k]`` (-1: fewer than k found)."""
    found = neighbours >= 0
    values = labels[np.where(found, neighbours, 0)]
    if not classifier:
        return (values * found).sum(1) / np.maximum(found.sum(1), 1)
    classes, codes = np.unique(values, return_inverse=True)
    codes = codes.reshape(values.shape)
    votes = np.zeros((len(values), len(classes)))
    np.add.at(votes, (np.repeat(np.arange(len(values)), values.shape[1]), codes.ravel()),
              found.ravel())
    return classes[votes.argmax(1)]  # the first maximum: ties go to the smallest label


def _score(pred: np.ndarray, y: np.ndarray, classifier: bool) -> tuple[float, float]:
    """(sum, count) of the per-row score: correct answers, or squared errors."""
    per_row = (pred == y) if classifier else (pred - y) ** 2
    return float(per_row.sum()), float(len(y))


def fit(worker, data: dict, hp: dict):
    import faiss

    faiss.omp_set_num_threads(worker.cpus)
    train = data["train"]
    X, y, d = train.X, train.y, train.X.shape[1]
    classifier = hp["predictor_type"] == "classifier"
    counts = worker.gather(int(X.shape[0]))
    if sum(counts) < hp["sample_size"]:
        worker.warn("knn: sample_size=%d but the train channel has %d rows; sampling them all",
                    hp["sample_size"], sum(counts))
    share = _shares(counts, hp["sample_size"])[worker.rank]
    rng = np.random.default_rng(SEED + worker.rank)
    rows = np.sort(rng.choice(X.shape[0], share, replace=False))
    parts = worker.gather((np.asarray(X[rows], np.float32), np.asarray(y[rows], np.float32)))
    sample = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if len(sample) < hp["k"]:
        from mlcore.errors import DataError

        raise DataError(f"k={hp['k']} neighbours need at least {hp['k']} training rows; the "
                        f"train channel has {len(sample)}: lower k or add rows")
    kind, metric = hp.get("dimension_reduction_type"), hp.get("index_metric", "L2")
    target = hp.get("dimension_reduction_target", d) if kind else d
    pad, m = 0, hp.get("faiss_index_pq_m")
    if hp.get("index_type") == "faiss.IVFPQ":
        m = m or 1
        if kind:  # as SageMaker: the target grows to a multiple of faiss_index_pq_m
            target = -(-target // m) * m
        else:  # ... or the features are zero-padded to one
            pad = -d % m
    hp = {**hp, "faiss_index_pq_m": m}
    reduction = _reduction(kind, d, target, len(sample))
    meta = {"k": hp["k"], "predictor_type": hp["predictor_type"], "index_metric": metric,
            "pad": pad, "feature_dim": d, "sample_rows": len(sample)}
    blob = None
    if worker.rank == 0:
        index, meta["nprobe"] = _build(_prepare(sample, reduction, metric, pad), hp)
        blob = (faiss.serialize_index(index), meta["nprobe"])
    blob, meta["nprobe"] = worker.agreed(blob)  # the very index rank 0 saves scores the test
    worker.say("knn: %s over %d sampled rows (%d dimensions)", hp.get("index_type", "faiss.Flat"),
               len(sample), reduction.shape[1] + pad)
    arrays = {"index": np.asarray(blob, np.uint8), "labels": labels, "reduction": reduction}
    model = load(arrays, meta)
    name = _metric(hp)
    # train:<metric>, leave-one-out: each chosen sample row's k nearest others
    pick = np.random.default_rng(SEED).choice(len(sample), min(TRAIN_ESTIMATE_ROWS, len(sample)),
                                              replace=False)
    ids = _search(model, sample[pick], hp["k"] + 1)
    own = ids == pick[:, None]
    # drop the row itself (or, when the index missed it, the farthest of the k + 1)
    drop = np.where(own.any(1), own.argmax(1), ids.shape[1] - 1)
    keep = np.ones_like(ids, bool)
    keep[np.arange(len(ids)), drop] = False
    loo = _vote(ids[keep].reshape(len(ids), hp["k"]), labels, classifier)
    s, c = _score(loo, labels[pick], classifier)
    worker.report(1, {f"train:{name}": s / c})
    if "test" in data:
        test = data["test"]
        s, c = _score(predict(model, test.X)["predicted_label"], test.y, classifier) \
            if len(test) else (0.0, 0.0)
        s, c = worker.sum(np.array([s]), np.array([c]))
        worker.report(1, {f"test:{name}": float(s[0] / max(c[0], 1))})
    return arrays, meta


def load(arrays: dict, meta: dict):
    import faiss

    index = faiss.deserialize_index(np.asarray(arrays["index"], np.uint8))
    if meta.get("nprobe"):
        faiss.extract_index_ivf(index).nprobe = int(meta["nprobe"])
    return {"index": index, "labels": arrays["labels"], "reduction": arrays["reduction"], **meta}


def _search(model, X, k: int) -> np.ndarray:
    Z = _prepare(X, model["reduction"], model["index_metric"], model["pad"])
    return model["index"].search(Z, k)[1]


def predict(model, X) -> np.ndarray:
    ids = _search(model, X, model["k"])
    answer = _vote(ids, model["labels"], model["predictor_type"] == "classifier")
    # SageMaker answers the label as a float ({"predicted_label": 0.0})
    return structured(len(answer), predicted_label=answer.astype(np.float32))


def feature_count(model) -> int:
    return int(model["feature_dim"])
