"""Parsing request bodies into feature matrices and predictions into responses.

Every problem becomes a :class:`BadRequest` carrying the HTTP status and a message that names
what was wrong and what the endpoint expects.
"""

from __future__ import annotations

import io
import json

import numpy as np

# BadRequest is also imported from here (mlcore.sagemaker._deploy, a script's handlers).
from serving._errors import BadRequest

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's realtime limit


def parse(body: bytes, content_type: str, n_features: int | None,
          limit: int = MAX_PAYLOAD_BYTES) -> np.ndarray:
    if len(body) > limit:
        raise BadRequest(413, f"payload is {len(body)} bytes; the limit is {limit}")
    kind = (content_type or "").split(";")[0].strip().lower()
    if not body.strip():
        raise BadRequest(400, "empty request body; send feature rows as text/csv or application/json")
    if kind == "text/csv":
        X = _csv(body)
    elif kind == "application/json":
        X = _json(body)
    elif kind == "application/x-npy":
        X = _npy(body)
    else:
        raise BadRequest(415, f"unsupported Content-Type {content_type!r}; use text/csv, "
                              "application/json or application/x-npy")
    if n_features is not None and X.shape[1] != n_features:
        raise BadRequest(422, f"each row needs {n_features} features; got {X.shape[1]} "
                              "(send features only, without the label)")
    return X


def _csv(body: bytes) -> np.ndarray:
    try:
        X = np.loadtxt(io.StringIO(body.decode()), delimiter=",", dtype=np.float32, ndmin=2)
    except UnicodeDecodeError:
        raise BadRequest(400, "CSV body is not UTF-8 text") from None
    except ValueError as e:
        raise BadRequest(400, f"CSV rows must be numbers separated by commas: {e}") from None
    return X


def _json(body: bytes) -> np.ndarray:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(400, f"body is not valid JSON: {e}") from None
    if isinstance(data, dict):
        data = data.get("instances", data.get("features"))
        if data is None:
            raise BadRequest(400, 'JSON object must hold "instances": [[...], ...]')
    try:
        X = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadRequest(400, "JSON rows must be lists of numbers of equal length") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BadRequest(400, "send a list of rows, each a list of numbers")
    return X


def _npy(body: bytes) -> np.ndarray:
    try:
        X = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as e:  # a truncated or non-.npy body, or an object array
        raise BadRequest(400, f"body is not a numeric .npy array: {e}") from None
    if X.dtype.kind not in "biuf":
        raise BadRequest(400, f"the .npy array must be numeric; got dtype {X.dtype}")
    X = X.astype(np.float32, copy=False)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BadRequest(400, "send a 2-D array of rows (or one row)")
    return X


def render(predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
    kind = (accept or "application/json").split(",")[0].split(";")[0].strip().lower()
    if kind == "text/csv":
        rows = predictions.reshape(len(predictions), -1)
        return "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows).encode(), "text/csv"
    if kind in ("application/json", "*/*", ""):
        return json.dumps({"predictions": predictions.tolist()}).encode(), "application/json"
    raise BadRequest(406, f"unsupported Accept {accept!r}; use application/json or text/csv")
