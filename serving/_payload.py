"""Parsing request bodies into feature matrices and predictions into responses.

Every problem becomes a :class:`BadRequest` carrying the HTTP status and a message that names
what was wrong and what the endpoint expects. A hostile body costs at most its own size: the
body is read up to the endpoint's limit and no further (:func:`read_body`), JSON nesting is
measured before the parser recurses, and numbers outside float32's range are refused rather
than passed to the model as ``inf`` (XGBoost, for one, fails on ``inf``: "Input data contains
`inf` or a value too large"). ``NaN`` stays accepted: it is the missing-value marker.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator

import numpy as np

# BadRequest is also imported from here (mlcore.sagemaker._deploy, a script's handlers).
from serving._errors import BadRequest

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's realtime limit
# Rows of numbers nest 2 deep, 3 inside {"instances": ...}, 4 as SageMaker's
# {"instances": [{"features": [...]}]}; far below json's own recursion (~1,000 levels, where it
# raises RecursionError) and cheap to check.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


async def read_body(chunks: AsyncIterator[bytes], limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The request body from its stream of chunks, refused with 413 as soon as it passes
    ``limit`` bytes: whatever the framing (a chunked body declares no length), a refused body
    costs at most ``limit`` plus one chunk. The chunks are joined once at the end (a growing
    buffer would be copied on each reallocation, twice the memory at its peak)."""
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"payload is over the limit: {size} bytes read and more sent; "
                                  f"the limit is {limit} bytes (the endpoint's max_payload_mb): "
                                  "send fewer rows per request")
        parts.append(chunk)
    return b"".join(parts)


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
    _check_finite(X, kind)
    if n_features is not None and X.shape[1] != n_features:
        raise BadRequest(422, f"each row needs {n_features} features; got {X.shape[1]} "
                              "(send features only, without the label)")
    return X


def _check_finite(X: np.ndarray, kind: str) -> None:
    """Refuse infinities: a literal ``inf`` / ``Infinity``, or a number beyond float32's range
    (``1e39``, ``10**400``) that the cast made infinite."""
    bad = np.isinf(X)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise BadRequest(400, f"{kind} value at row {row}, column {col} is infinite or beyond the "
                              f"range of 32-bit floats (±{float(np.finfo(np.float32).max):.4g}); "
                              "send finite numbers (NaN marks a missing value)")


def _csv(body: bytes) -> np.ndarray:
    try:
        with np.errstate(over="ignore"):  # out-of-range numbers: refused by _check_finite
            X = np.loadtxt(io.StringIO(body.decode()), delimiter=",", dtype=np.float32, ndmin=2)
    except UnicodeDecodeError:
        raise BadRequest(400, "CSV body is not UTF-8 text") from None
    except ValueError as e:
        raise BadRequest(400, f"CSV rows must be numbers separated by commas: {e}") from None
    return X


def _check_json_depth(body: bytes) -> None:
    """Refuse JSON nested beyond MAX_JSON_DEPTH, measured in one linear pass over the bytes
    (brackets inside strings do not count) before the parser recurses into it."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:  # too few brackets to nest deeper
        return
    text = _JSON_STRING.sub(b'""', body) if b'"' in body else body
    a = np.frombuffer(text, dtype=np.uint8)
    opens = (a == ord("[")) | (a == ord("{"))
    brackets = np.flatnonzero(opens | (a == ord("]")) | (a == ord("}")))
    depth = int(np.cumsum(np.where(opens[brackets], 1, -1)).max())
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(400, f"JSON nests {depth} levels deep; the limit is {MAX_JSON_DEPTH} (rows "
                              'of numbers need 2, or 3 inside {"instances": ...})')


def _json(body: bytes) -> np.ndarray:
    _check_json_depth(body)
    try:
        # Integers parsed as floats: 10**400 becomes inf (refused by _check_finite) instead of
        # an OverflowError in the cast, and a 5,000-digit one does not hit Python's int limit.
        data = json.loads(body, parse_int=float)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise BadRequest(400, f"body is not valid JSON: {e}") from None
    if isinstance(data, dict):
        data = data.get("instances", data.get("features"))
        if data is None:
            raise BadRequest(400, 'JSON object must hold "instances": [[...], ...]')
    try:
        with np.errstate(over="ignore"):  # float64 beyond float32: inf, refused after
            X = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadRequest(400, "JSON rows must be lists of numbers of equal length") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BadRequest(400, "send a list of rows, each a list of numbers")
    return X


def _npy(body: bytes) -> np.ndarray:
    _check_npy_size(body)
    try:
        X = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as e:  # a truncated or non-.npy body, or an object array
        raise BadRequest(400, f"body is not a numeric .npy array: {e}") from None
    if X.dtype.kind not in "biuf":
        raise BadRequest(400, f"the .npy array must be numeric; got dtype {X.dtype}")
    with np.errstate(over="ignore"):  # float64 beyond float32: inf, refused after
        X = X.astype(np.float32, copy=False)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BadRequest(400, "send a 2-D array of rows (or one row)")
    return X


def _check_npy_size(body: bytes) -> None:
    """The header's shape must match the bytes sent: np.load allocates the declared shape
    before reading, so a 100-byte body declaring (10**10, 8) would ask for 640 GB."""
    f = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(f))
    except Exception as e:  # not an .npy header
        raise BadRequest(400, f"body is not a numeric .npy array: {e}") from None
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared != len(body) - f.tell():
        raise BadRequest(400, f".npy header declares shape {shape} of {dtype} ({declared} bytes) "
                              f"but {len(body) - f.tell()} bytes of data follow")


def render(predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
    kind = (accept or "application/json").split(",")[0].split(";")[0].strip().lower()
    if kind == "text/csv":
        rows = predictions.reshape(len(predictions), -1)
        return "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows).encode(), "text/csv"
    if kind in ("application/json", "*/*", ""):
        return json.dumps({"predictions": predictions.tolist()}).encode(), "application/json"
    raise BadRequest(406, f"unsupported Accept {accept!r}; use application/json or text/csv")
