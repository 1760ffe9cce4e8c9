"""Reading channels the way SageMaker's built-ins expect them (the XGBoost container's
``data_utils.py``).

* ``text/csv``: no header, the label in the first column, every column numeric; with
  ``csv_weights`` the second column holds instance weights.
* ``text/libsvm``: ``<label>[:<weight>] <index>:<value> ...``, indices used as given (column
  0 included), as ``xgb.DMatrix("file?format=libsvm")`` reads them; read as sparse rows.
* ``application/x-parquet``: named columns; the label column is named by the
  ``label_column`` hyperparameter (default ``label``).
* ``application/x-recordio-protobuf``: SageMaker's Record protobufs (``mlcore._recordio``),
  dense or sparse, the label in each record's ``label``.

Workers read their own share straight from storage (files split across ranks, or row ranges
of a single file) rather than through Ray Data: building Ray Datasets cost 13 s for 200k rows
on this kind of machine, longer than the training itself.
"""

from __future__ import annotations

import os
import struct

import numpy as np
import pyarrow as pa

from mlcore import _recordio, _storage
from mlcore.errors import DataError, StorageError

CSV = "text/csv"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
RECORDIO = _recordio.CONTENT_TYPE
# Every spelling SageMaker's XGBoost accepts (data_utils.VALID_CONTENT_TYPES), plus
# application/parquet, which mlcore took before.
_ALIASES = {"csv": CSV, "text/csv": CSV, "libsvm": LIBSVM, "text/libsvm": LIBSVM,
            "text/x-libsvm": LIBSVM, "parquet": PARQUET, "application/x-parquet": PARQUET,
            "application/parquet": PARQUET, "recordio-protobuf": RECORDIO, RECORDIO: RECORDIO}
_EXTENSIONS = {".parquet": PARQUET, ".pq": PARQUET, ".libsvm": LIBSVM, ".svm": LIBSVM,
               ".pbr": RECORDIO, ".recordio": RECORDIO}  # the SDK's record sets are .pbr


def canonical(declared: str) -> str:
    """One of CSV, LIBSVM, PARQUET, RECORDIO for any spelling SageMaker accepts, parameters
    included (``text/csv; label_size=1``); DataError naming the accepted spellings."""
    base, *params = [p.strip() for p in declared.lower().split(";")]
    kind = _ALIASES.get(base)
    if kind is None:
        raise DataError(f"content_type {declared!r} is not supported; use one of "
                        f"{', '.join(_ALIASES)}")
    label_size = dict(p.split("=", 1) for p in params if "=" in p).get("label_size", "1")
    if kind == CSV and label_size.strip() != "1":
        raise DataError(f"content_type {declared!r}: label_size must be 1 (one label column, "
                        "the first)")
    return kind


def content_type_problem(declared: str | None, accepted: tuple[str, ...]) -> str | None:
    """Why a channel declared as ``declared`` cannot be read by an algorithm that reads
    ``accepted`` (canonical types); None when it can, or when nothing is declared."""
    if not declared or "*/*" in accepted:
        return None
    try:
        kind = canonical(declared)
    except DataError as e:
        return str(e)
    if kind not in accepted:
        return f"content_type {declared!r} is not read by this algorithm; use one of {', '.join(accepted)}"
    return None


def content_type(declared: str | None, files: list[str]) -> str:
    if declared:
        return canonical(declared)
    ext = os.path.splitext(files[0].removesuffix(".gz"))[1].lower() if files else ""
    return _EXTENSIONS.get(ext, CSV)


def _open(path: str, uri: str):
    """A pyarrow input stream: native (multi-threaded reads) for local files."""
    pafs, _ = _storage.pyarrow_filesystem(uri)
    return pafs.open_input_file(path)


def _read_csv(path: str, uri: str, first_block_only: bool = False) -> pa.Table:
    from pyarrow import csv

    opts = csv.ReadOptions(autogenerate_column_names=True, block_size=1 << 20 if first_block_only else None)
    pafs, _ = _storage.pyarrow_filesystem(uri)
    with pafs.open_input_stream(path, compression="detect") as f:  # .csv.gz decompresses
        try:
            if first_block_only:
                reader = csv.open_csv(f, read_options=opts)
                return pa.Table.from_batches([reader.read_next_batch()])
            return csv.read_csv(f, read_options=opts)
        except (pa.ArrowInvalid, StopIteration) as e:
            msg = str(e)
            if "Empty CSV file" in msg or isinstance(e, StopIteration):
                raise DataError(f"{path} is empty; a CSV channel needs rows of "
                                "'label,feature1,feature2,...'", path=path) from None
            raise DataError(f"{path} is not valid CSV: {msg.splitlines()[0]}", path=path) from None


def _read_parquet(path: str, uri: str, schema_only: bool = False):
    import pyarrow.parquet as pq

    with _open(path, uri) as f:
        try:
            return pq.read_schema(f) if schema_only else pq.read_table(f)
        except pa.ArrowInvalid as e:
            raise DataError(f"{path} is not a readable Parquet file: {e}", path=path) from None


def _read_bytes(path: str, uri: str) -> bytes:
    pafs, _ = _storage.pyarrow_filesystem(uri)
    with pafs.open_input_stream(path, compression="detect") as f:  # .gz decompresses
        return f.read()


def _read_libsvm(path: str, uri: str, text: bytes | None = None):
    """``(X scipy CSR float32, y, w)``: ``label[:weight] index:value ...`` per line, ``qid:``
    and ``# comments`` skipped."""
    import scipy.sparse as sp

    y, w, indices, values, indptr = [], [], [], [], [0]
    lines = (text if text is not None else _read_bytes(path, uri)).decode(errors="replace")
    for number, line in enumerate(lines.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, *pairs = line.split()
        try:
            label, _, weight = head.partition(":")
            y.append(float(label))
            w.append(float(weight) if weight else 1.0)
            for pair in pairs:
                index, sep, value = pair.partition(":")
                if index != "qid":
                    if not sep:
                        raise ValueError
                    indices.append(int(index))
                    values.append(float(value))
        except ValueError:
            raise DataError(f"{path}: line {number} is not libsvm ('<label>[:<weight>] "
                            f"<index>:<value> ...'): {line[:50]!r}", path=path) from None
        indptr.append(len(indices))
    if not y:
        raise DataError(f"{path} has no rows", path=path)
    if indices and min(indices) < 0:
        raise DataError(f"{path}: feature indices must be >= 0; found {min(indices)}", path=path)
    X = sp.csr_matrix((np.array(values, np.float32), np.array(indices, np.int64), indptr),
                      shape=(len(y), max(indices, default=-1) + 1))
    return X, np.array(y, np.float32), np.array(w, np.float32)


def _read_recordio(path: str, uri: str, data: bytes | None = None, labelled: bool = True):
    try:
        X, y = _recordio.to_arrays(data if data is not None else _read_bytes(path, uri))
    except DataError as e:
        raise DataError(f"{path}: {e}", path=path) from None
    if y is None and labelled:
        raise DataError(f"{path}: the records carry no label; training data needs one per "
                        "record (the SDK's write_numpy_to_dense_tensor(file, X, labels))",
                        path=path)
    return X, y, None


def _first_recordio(path: str, uri: str) -> bytes:
    """The first record of a RecordIO file, framed, read without the rest."""
    pafs, _ = _storage.pyarrow_filesystem(uri)
    with pafs.open_input_stream(path, compression="detect") as f:
        head = f.read(8)
        length = struct.unpack("<II", head)[1] if len(head) == 8 else 0
        return head + f.read(length)


def _to_xy(table: pa.Table, kind: str, label_column: str | None, path: str,
           csv_weights: bool = False, labelled: bool = True):
    """``(X, y, w)``; ``w`` (the second CSV column) only with ``csv_weights``; ``y`` None
    when the rows are not ``labelled`` (every column a feature)."""
    if table.num_rows == 0:
        raise DataError(f"{path} has no rows", path=path)
    label = _label_name(table.schema, kind, label_column, path) if labelled else None
    cols = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        t = column.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                or pa.types.is_null(t)):
            row, bad = _first_non_number(column.to_pylist())
            where = (f"column {table.column_names.index(name) + 1}" if kind == CSV else f"column {name!r}")
            raise DataError(f"{path}: {where} is not numeric (found {bad!r} in row {row}); "
                            "built-in algorithms take numeric features only: encode categories "
                            "as numbers", path=path)
        cols.append((name, column))
    y = None if label is None else table.column(label).to_numpy(zero_copy_only=False).astype(np.float32)
    weight = cols[1][0] if csv_weights and kind == CSV and len(cols) > 1 else None
    w = None if weight is None else table.column(weight).to_numpy(zero_copy_only=False).astype(np.float32)
    features = [column for name, column in cols if name not in (label, weight)]
    X = np.empty((table.num_rows, len(features)), dtype=np.float32)
    for j, column in enumerate(features):
        X[:, j] = column.to_numpy(zero_copy_only=False)
    return X, y, w


def _first_non_number(values: list) -> tuple[int, object]:
    for i, v in enumerate(values):
        try:
            float(v)
        except (TypeError, ValueError):
            if v is not None:
                return i + 1, v
    return 0, None


def _label_name(schema: pa.Schema, kind: str, label_column: str | None, path: str) -> str:
    if kind == CSV:
        return schema.names[0]
    label = label_column or "label"
    if label not in schema.names:
        raise DataError(f"{path} has no label column {label!r} (columns: {', '.join(schema.names[:20])}); "
                        "set the hyperparameter label_column to the name of the label column",
                        path=path)
    return label


def check_channel(name: str, uri: str, declared_type: str | None, label_column: str | None) -> int:
    """Cheap driver-side check before any worker starts; returns the feature count."""
    return resolve_channel(name, uri, declared_type, label_column)["features"]


def resolve_channel(name: str, uri: str, declared_type: str | None,
                    label_column: str | None, labelled: bool = True) -> dict:
    """Check a channel on the driver and resolve it once for the workers: ``{uri,
    content_type, files (the non-empty data files, in order), features}``; DataError naming
    the channel and the fix when it is missing, empty or not numeric. ``labelled``: its rows
    carry a label (CSV's first column, Parquet's ``label_column``, RecordIO's ``label``)."""
    try:
        files = _storage.list_files(uri)
    except StorageError as e:
        raise DataError(f"channel {name!r}: {e}", channel=name) from None
    if not files:
        raise DataError(f"channel {name!r}: {uri} holds no data files", channel=name)
    kind = content_type(declared_type, files)
    fs, _ = _storage.filesystem(uri)
    if all(fs.size(f) == 0 for f in files):
        raise DataError(f"channel {name!r}: {uri} is empty (0 bytes)", channel=name)
    if kind == PARQUET:
        schema = _read_parquet(files[0], uri, schema_only=True)
        if labelled:
            _label_name(schema, kind, label_column, files[0])
        for field in schema:
            if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
                    or pa.types.is_boolean(field.type)):
                raise DataError(f"channel {name!r}: {files[0]}: column {field.name!r} is "
                                f"{field.type}, not numeric; encode it as numbers", channel=name)
        features = len(schema.names) - (1 if labelled else 0)
    else:
        first = next(f for f in files if fs.size(f) > 0)
        features = _first_features(kind, first, uri, label_column, labelled)
    return {"uri": uri, "content_type": kind, "files": [f for f in files if fs.size(f) > 0],
            "features": features}


def _first_features(kind: str, path: str, uri: str, label_column: str | None,
                    labelled: bool = True) -> int | None:
    """The feature count from the start of ``path`` (None for libsvm: rows are sparse and
    the widest decides), reading no more than a block or a record."""
    if kind == LIBSVM:
        pafs, _ = _storage.pyarrow_filesystem(uri)
        with pafs.open_input_stream(path, compression="detect") as f:
            block = f.read(1 << 16)
        _read_libsvm(path, uri, block.rsplit(b"\n", 1)[0] if len(block) == 1 << 16 else block)
        return None
    if kind == RECORDIO:
        return _read_recordio(path, uri, _first_recordio(path, uri), labelled)[0].shape[1]
    return _to_xy(_read_csv(path, uri, first_block_only=True), kind, label_column, path,
                  labelled=labelled)[0].shape[1]


def _read_file(kind: str, path: str, uri: str, label_column: str | None, csv_weights: bool,
               labelled: bool = True):
    if kind == LIBSVM:
        return _read_libsvm(path, uri)
    if kind == RECORDIO:
        return _read_recordio(path, uri, labelled=labelled)
    table = _read_parquet(path, uri) if kind == PARQUET else _read_csv(path, uri)
    return _to_xy(table, kind, label_column, path, csv_weights, labelled)


def _stack(parts: list):
    """Parts of one shard as one ``(X, y, w)``; sparse parts widened to the widest."""
    if len(parts) == 1:
        return parts[0]
    Xs = [p[0] for p in parts]
    if hasattr(Xs[0], "tocsr"):
        import scipy.sparse as sp

        width = max(X.shape[1] for X in Xs)
        X = sp.vstack([sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], width))
                       for X in Xs], format="csr")
    else:
        X = np.concatenate(Xs)
    y = None if any(p[1] is None for p in parts) else np.concatenate([p[1] for p in parts])
    w = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    return X, y, w


def read_shard_weighted(uri: str, declared_type: str | None, rank: int, world: int,
                        label_column: str | None = None, files: list[str] | None = None,
                        csv_weights: bool = False, labelled: bool = True):
    """This worker's rows of a channel as ``(X [n, f], y float32 [n], w float32 [n] or
    None)``: X is float32, dense, or scipy CSR for libsvm; w from libsvm's ``label:weight``
    or, with ``csv_weights``, the second CSV column. ``files``: the channel as
    :func:`resolve_channel` found it (then nothing is listed again)."""
    if files is None:
        files = _storage.list_files(uri)
        fs, _ = _storage.filesystem(uri)
        files = [f for f in files if fs.size(f) > 0]
    kind = content_type(declared_type, files)
    split_rows = len(files) < world
    mine = files if split_rows else files[rank::world]
    X, y, w = _stack([_read_file(kind, path, uri, label_column, csv_weights, labelled)
                      for path in mine])
    if split_rows:
        lo, hi = X.shape[0] * rank // world, X.shape[0] * (rank + 1) // world
        X, y, w = X[lo:hi], None if y is None else y[lo:hi], None if w is None else w[lo:hi]
    return X, y, w


def read_shard(uri: str, declared_type: str | None, rank: int, world: int,
               label_column: str | None = None, files: list[str] | None = None,
               labelled: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_shard_weighted` without the weights: ``(X, y)``; ``y`` None for rows
    that are not ``labelled``."""
    return read_shard_weighted(uri, declared_type, rank, world, label_column, files,
                               labelled=labelled)[:2]
