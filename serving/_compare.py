"""A/B comparison of production variants on ground truth.

Ground truth arrives after the fact, keyed by inference id (what clients send as
``X-Amzn-SageMaker-Inference-Id``, or what the endpoint returned). It is joined with the
endpoint's captured requests (data capture), which say which variant answered and what it
predicted. Per variant: the metric; between two variants: a significance test (a
two-proportion z-test for accuracy, Welch's t-test on squared errors for mse)."""

from __future__ import annotations

import json
import math

import numpy as np

from mlcore import _storage
from serving._errors import ServingError

METRICS = ("accuracy", "mse")


def _captured(destination: str, endpoint: str):
    fs, root = _storage.filesystem(_storage.join(destination, endpoint))
    for path in sorted(fs.glob(f"{root}/**/*.jsonl")):
        with fs.open(path) as f:
            for line in f:
                yield json.loads(line)


def _predictions(out: dict) -> list:
    """The predictions of a captured answer: CSV (the XGBoost container's, a line per row),
    its JSON ``{"predictions": [{"score": ...}]}`` or mlcore's ``{"predictions": [...]}``."""
    if out.get("encoding") == "CSV":
        return [v for line in out["data"].splitlines() for v in line.split(",") if v]
    if out.get("encoding") != "JSON":
        return []
    answer = json.loads(out["data"])
    preds = answer.get("predictions", []) if isinstance(answer, dict) else []
    return list(np.ravel([p["score"] if isinstance(p, dict) else p for p in preds]))


def compare_variants(destination: str, endpoint: str, ground_truth: dict[str, float],
                     metric: str = "accuracy", threshold: float = 0.5, alpha: float = 0.05) -> dict:
    """Per-variant ``metric`` over the captured requests that have ground truth, and (with
    two variants) whether their difference is significant at ``alpha``."""
    from scipy import stats

    if metric not in METRICS:
        raise ServingError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    pairs: dict[str, list[tuple[float, float]]] = {}
    for row in _captured(destination, endpoint):
        iid = row["eventMetadata"]["eventId"]
        if iid not in ground_truth:
            continue
        pred = _predictions(row["captureData"]["endpointOutput"])
        if len(pred) != 1:  # one row per request: a multi-row request has no single label
            continue
        pairs.setdefault(row["eventMetadata"]["variant"], []).append((float(pred[0]), float(ground_truth[iid])))
    if not pairs:
        raise ServingError(f"no captured request of endpoint {endpoint!r} under {destination} "
                            "matches the ground truth's inference ids; enable data capture and "
                            "send X-Amzn-SageMaker-Inference-Id with each request")
    per_variant, samples = {}, {}
    for variant, rows in sorted(pairs.items()):
        pred, label = np.array(rows).T
        if metric == "accuracy":
            sample = ((pred >= threshold) == (label >= threshold)).astype(float)
        else:
            sample = (pred - label) ** 2
        samples[variant] = sample
        per_variant[variant] = {"N": len(sample), metric: round(float(sample.mean()), 6)}
    result = {"Metric": metric, "Variants": per_variant, "Test": None, "PValue": None,
              "Significant": None, "Better": None}
    if len(samples) == 2:
        (a, xa), (b, xb) = samples.items()
        if metric == "accuracy":
            na, nb = len(xa), len(xb)
            pooled = (xa.sum() + xb.sum()) / (na + nb)
            se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb)) or float("inf")
            p = float(2 * stats.norm.sf(abs(xa.mean() - xb.mean()) / se))
            result["Test"] = "two-proportion z-test"
        else:
            p = float(stats.ttest_ind(xa, xb, equal_var=False).pvalue)
            result["Test"] = "Welch's t-test on squared errors"
        higher_is_better = metric == "accuracy"
        best = max((a, b), key=lambda v: samples[v].mean() * (1 if higher_is_better else -1))
        result.update(PValue=p, Significant=p < alpha, Better=best if p < alpha else None)
    return result
