"""Parsing request bodies into feature matrices and predictions into responses.

Requests: CSV, LIBSVM and RecordIO-protobuf as the XGBoost container reads them, JSON
(rows, ``{"instances": ...}``, SageMaker's ``{"features": ...}`` instances), JSON Lines and
``.npy``. Responses: as the model's container answers (:func:`render`): the XGBoost
container's CSV / JSON / JSON Lines, or mlcore's ``{"predictions": [...]}``.

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


# Request bodies the endpoints read: the XGBoost container's (CSV, LIBSVM, RecordIO-protobuf),
# plus JSON, JSON Lines and .npy (the framework containers' and SageMaker's common formats).
CONTENT_TYPES = ("text/csv", "text/libsvm", "text/x-libsvm", "application/json",
                 "application/jsonlines", "application/x-npy", "application/x-recordio-protobuf")
# A LIBSVM body is sparse; its dense matrix (what the models take) is bounded on its own.
MAX_DENSE_VALUES = 16 * 1024 * 1024  # 64 MB of float32


def media_type(header: str | None) -> str:
    """``text/csv`` of ``Text/CSV; label_size=1``: the type without its parameters."""
    return (header or "").split(";")[0].strip().lower()


def parse(body: bytes, content_type: str, n_features: int | None,
          limit: int = MAX_PAYLOAD_BYTES) -> np.ndarray:
    """The feature rows ``float32 [n, d]`` of a request body of ``content_type``."""
    if len(body) > limit:
        raise BadRequest(413, f"payload is {len(body)} bytes; the limit is {limit}")
    kind = media_type(content_type)
    if not body.strip():
        raise BadRequest(400, "empty request body; send feature rows as text/csv or application/json")
    if kind == "text/csv":
        X = _csv(body)
    elif kind in ("text/libsvm", "text/x-libsvm"):
        X = _libsvm(body, n_features)
    elif kind == "application/json":
        X = _json(body)
    elif kind == "application/jsonlines":
        X = _jsonlines(body)
    elif kind == "application/x-npy":
        X = _npy(body)
    elif kind == "application/x-recordio-protobuf":
        X = _recordio(body)
    else:
        raise BadRequest(415, f"unsupported Content-Type {content_type!r}; use "
                              f"{', '.join(CONTENT_TYPES[:-1])} or {CONTENT_TYPES[-1]}")
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


_EMPTY_FIELD = re.compile(r"^(?=,)|(?<=,)(?=,|\r?$)", re.MULTILINE)  # "", not a blank line


def _csv(body: bytes) -> np.ndarray:
    """CSV rows of numbers; an empty field is a missing value (NaN), as the XGBoost
    container reads it."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise BadRequest(400, "CSV body is not UTF-8 text") from None
    # One row, the usual request: split and cast, 2-3x faster than loadtxt. ASCII without "_":
    # Python's float() also takes "1_0" and non-ASCII digits, which loadtxt refuses.
    row = text.strip()
    if "\n" not in row and row.isascii() and "_" not in row:
        try:
            with np.errstate(over="ignore"):
                return np.array(row.split(","), dtype=np.float32)[None, :]
        except ValueError:
            pass  # loadtxt below names what is wrong (or reads what this does not: comments)
    if len(body) > _ARROW_CSV_BYTES:
        X = _arrow_csv(body)
        if X is not None:
            return X
    try:
        with np.errstate(over="ignore"):  # out-of-range numbers: refused by _check_finite
            return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=2)
    except ValueError as e:
        error = e
    if _EMPTY_FIELD.search(text):  # rare: only then the second pass
        try:
            with np.errstate(over="ignore"):
                return np.loadtxt(io.StringIO(_EMPTY_FIELD.sub("nan", text)), delimiter=",",
                                  dtype=np.float32, ndmin=2)
        except ValueError as e:
            error = e
    raise BadRequest(400, f"CSV rows must be numbers separated by commas: {error}") from None


_ARROW_CSV_BYTES = 64 * 1024  # above this, pyarrow's reader (about 2x loadtxt's speed)


def _arrow_csv(body: bytes) -> np.ndarray | None:
    """Many CSV rows of numbers through pyarrow's reader, as float32 columns (the first row's
    width; an empty field or ``nan`` is NaN); None when it cannot read them so, and loadtxt's
    pass names the problem."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    start = len(body) - len(body.lstrip())
    end = body.find(b"\n", start)
    names = [f"f{i}" for i in range(body[start:end if end >= 0 else None].count(b",") + 1)]
    try:
        table = pcsv.read_csv(io.BytesIO(body), read_options=pcsv.ReadOptions(
            column_names=names, use_threads=False), convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.float32())))
    except (pa.ArrowInvalid, ValueError):
        return None
    if table.num_rows == 0:
        return None
    return np.column_stack([c.to_numpy() for c in table.columns])


def _libsvm(body: bytes, n_features: int | None) -> np.ndarray:
    """LIBSVM rows (``<label> <index>:<value> ...``; the label, if any, ignored) as a dense
    matrix whose absent entries are missing values (NaN), as XGBoost reads a sparse row.
    Indices are 1-based when none is 0 (the XGBoost container's rule, per request)."""
    try:
        lines = body.decode().strip().split("\n")
    except UnicodeDecodeError:
        raise BadRequest(400, "LIBSVM body is not UTF-8 text") from None
    rows, cols, vals = [], [], []
    for i, line in enumerate(lines):
        for token in line.split():
            if ":" in token:
                index, _, value = token.partition(":")
                rows.append(i)
                cols.append(index)
                vals.append(value)
    if not cols:
        raise BadRequest(400, "LIBSVM rows hold no <index>:<value> pairs")
    try:
        cols = np.array(cols, dtype=np.int64)
        with np.errstate(over="ignore"):
            vals = np.array(vals, dtype=np.float32)
    except (ValueError, OverflowError) as e:
        raise BadRequest(400, f"LIBSVM rows must be '<label> <index>:<value> ...' with integer "
                              f"indices and numeric values: {e}") from None
    if cols.min() >= 1:
        cols -= 1
    if cols.min() < 0:
        raise BadRequest(400, f"LIBSVM index {int(cols.min())} is negative")
    width = n_features if n_features is not None else int(cols.max()) + 1
    if cols.max() >= width:
        raise BadRequest(422, f"LIBSVM index {int(cols.max())} (0-based) is beyond the model's "
                              f"{width} features")
    if len(lines) * width > MAX_DENSE_VALUES:
        raise BadRequest(413, f"{len(lines)} LIBSVM rows of {width} features make "
                              f"{len(lines) * width} values; the limit is {MAX_DENSE_VALUES}: "
                              "send fewer rows per request")
    X = np.full((len(lines), width), np.nan, dtype=np.float32)
    X[rows, cols] = vals
    return X


def _recordio(body: bytes) -> np.ndarray:
    """RecordIO-protobuf records (SageMaker's ``RecordSerializer``); labels ignored."""
    from mlcore import _recordio

    try:
        X, _ = _recordio.to_arrays(body)
    except ValueError as e:  # RecordIOError is one
        raise BadRequest(400, f"body is not RecordIO-protobuf of numeric records: {e}") from None
    return _rows(np.asarray(X, dtype=np.float32), "send records of one row each")


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
    """``[[...], ...]``, one row ``[...]``, ``{"instances": rows}`` or SageMaker's
    ``{"instances": [{"features": [...]}, ...]}``, or ``{"features": row or rows}``."""
    _check_json_depth(body)
    data = _json_value(body)
    if isinstance(data, dict):
        data = data.get("instances", data.get("features"))
        if data is None:
            raise BadRequest(400, 'JSON object must hold "instances": [[...], ...]')
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        data = [_features(row) for row in data]
    return _rows(_floats(data, "JSON"), "send a list of rows, each a list of numbers")


def _jsonlines(body: bytes) -> np.ndarray:
    """One row per line: ``[...]`` or ``{"features": [...]}``."""
    _check_json_depth(body)
    rows = [_json_value(line) for line in body.splitlines() if line.strip()]
    rows = [_features(row) if isinstance(row, dict) else row for row in rows]
    return _rows(_floats(rows, "JSON Lines"), 'send one row per line: [...] or {"features": [...]}')


def _json_value(text: bytes):
    try:
        # Integers parsed as floats: 10**400 becomes inf (refused by _check_finite) instead of
        # an OverflowError in the cast, and a 5,000-digit one does not hit Python's int limit.
        return json.loads(text, parse_int=float)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise BadRequest(400, f"body is not valid JSON: {e}") from None


def _features(row: dict):
    if "features" not in row:
        raise BadRequest(400, 'each JSON instance must hold "features": [...]')
    return row["features"]


def _floats(data, what: str) -> np.ndarray:
    try:
        with np.errstate(over="ignore"):  # float64 beyond float32: inf, refused after
            return np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadRequest(400, f"{what} rows must be lists of numbers of equal length") from None


def _rows(X: np.ndarray, fix: str) -> np.ndarray:
    """``X`` as rows: one row from a 1-D array; anything but a non-empty 2-D array refused."""
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BadRequest(400, fix)
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
    return _rows(X, "send a 2-D array of rows (or one row)")


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


# -- responses ----------------------------------------------------------------------------------

# What each container answers (``ModelSpec.container``): the types it encodes, the one for
# ``Accept: */*`` or none. mlcore's own (None): {"predictions": [...]} by default.
ACCEPTS = {None: ("application/json", "text/csv", "application/x-npy"),
           # algorithm_mode/serve.py: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT defaults to text/csv.
           # Its SUPPORTED_ACCEPTS also name application/x-recordio-protobuf, which it encodes
           # only for selectable inference output (not offered here).
           "xgboost": ("text/csv", "application/json", "application/jsonlines"),
           # A multi-model endpoint's models are served by its MMS handler
           # (algorithm_mode/handler_service.py default_output_fn): JSON (a plain list; the
           # inference toolkit's default Accept) and CSV.
           "xgboost-mms": ("application/json", "text/csv")}
# SageMaker's first-party algorithms (algorithms._amazon): JSON by default, JSON Lines,
# RecordIO-protobuf (Record.label per row) and CSV (the fields of a row, in order).
AMAZON = ("application/json", "application/jsonlines", "application/x-recordio-protobuf",
          "text/csv")
# The JSON answer's top-level key: PCA answers {"projections": ...}, RCF {"scores": ...}.
AMAZON_KEYS = {"linear-learner": "predictions", "kmeans": "predictions", "pca": "projections",
               "randomcutforest": "scores", "factorization-machines": "predictions",
               "knn": "predictions"}
ACCEPTS.update({name: AMAZON for name in AMAZON_KEYS})


def render(predictions: np.ndarray, accept: str, container: str | None = None) -> tuple[bytes, str]:
    """The response body and media type of ``predictions`` for the ``Accept`` header, as
    ``container`` (:data:`ACCEPTS`) answers it."""
    media = _accepted(accept, ACCEPTS.get(container, ACCEPTS[None]))
    if container in AMAZON_KEYS:
        return _amazon(predictions, media, AMAZON_KEYS[container]), media
    if container == "xgboost":
        return _xgboost(np.asarray(predictions), media), media
    if container == "xgboost-mms":  # ",".join for CSV ("retained for backwards compatibility")
        values = np.asarray(predictions).tolist()
        return (",".join(map(str, values)) if media == "text/csv" else json.dumps(values)).encode(), media
    if media == "text/csv":
        rows = predictions.reshape(len(predictions), -1)
        return "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows).encode(), media
    if media == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(predictions))
        return buffer.getvalue(), media
    return json.dumps({"predictions": predictions.tolist()}).encode(), media


def _accepted(accept: str | None, supported: tuple[str, ...]) -> str:
    """The first type of ``accept`` (a comma-separated list) in ``supported``; ``*/*`` or no
    header: the first supported one."""
    for media in (media_type(a) for a in (accept or "*/*").split(",")):
        if media in ("*/*", ""):
            return supported[0]
        if media in supported:
            return media
    raise BadRequest(406, f"unsupported Accept {accept!r}; use {', '.join(supported[:-1])} or "
                          f"{supported[-1]}")


def _xgboost(predictions: np.ndarray, media: str) -> bytes:
    """The XGBoost container's answer (algorithm_mode/serve.py ``invocations``): CSV as its
    encoder writes it (one line per prediction, a multi:softprob row comma-joined, each line
    ending in a newline), JSON as ``{"predictions": [{"score": ...}, ...]}``, JSON Lines as
    one ``{"score": ...}`` per line. Values are the float32 predictions as Python floats."""
    values = predictions.tolist()
    if media == "text/csv":  # what csv.writer writes for numbers (str of each), faster
        lines = (",".join(map(str, row)) for row in values) if predictions.ndim > 1 else map(str, values)
        return ("\n".join(lines) + "\n").encode() if values else b""
    scores = [{"score": v} for v in values]
    if media == "application/jsonlines":
        return "".join(json.dumps(s) + "\n" for s in scores).encode()
    return json.dumps({"predictions": scores}).encode()


def features_of(predictions: np.ndarray) -> np.ndarray:
    """What the next model of an inference pipeline reads: a first-party algorithm's answer
    (PCA's ``projection``, K-Means' ``closest_cluster`` and ``distance_to_cluster``) as the
    rows of its fields' values side by side; any other array as it is."""
    if predictions.dtype.names is None:
        return predictions
    return np.column_stack([predictions[k].reshape(len(predictions), -1).astype(np.float32)
                            for k in predictions.dtype.names])


def _amazon(predictions: np.ndarray, media: str, key: str) -> bytes:
    """A first-party algorithm's answer from its structured predictions (one field per key
    of SageMaker's answer: ``score``, ``predicted_label``, ``closest_cluster``, ...): JSON
    ``{key: [{field: value, ...}, ...]}``, JSON Lines of those objects, RecordIO-protobuf
    records with the fields as ``label`` entries, or CSV rows of the values in field order.
    Integer fields (a classifier's ``predicted_label``) stay integers; a vector field
    (``projection``, a multiclass ``score``) is a list."""
    columns = [(name, predictions[name]) for name in predictions.dtype.names]
    if media == "application/x-recordio-protobuf":
        from mlcore import _recordio

        return _recordio.label_records(columns)
    if media == "text/csv":
        rows = np.column_stack([c.reshape(len(c), -1).astype(np.float64) for _, c in columns])
        return "".join(",".join(f"{v:.9g}" for v in r) + "\n" for r in rows).encode()
    lists = [(name, c.tolist()) for name, c in columns]
    objects = [{name: values[i] for name, values in lists} for i in range(len(predictions))]
    if media == "application/jsonlines":
        return "".join(json.dumps(o) + "\n" for o in objects).encode()
    return json.dumps({key: objects}).encode()
