"""Reading channels the way SageMaker's built-ins expect them.

* ``text/csv``: no header, the label in the first column, every column numeric.
* ``application/x-parquet``: named columns; the label column is named by the
  ``label_column`` hyperparameter (default ``label``).

Workers read their own share straight from storage with pyarrow (files split across ranks,
or row ranges of a single file) rather than through Ray Data: building Ray Datasets cost
13 s for 200k rows on this kind of machine, longer than the training itself.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from mlcore import _storage
from mlcore.errors import DataError, StorageError

CSV = "text/csv"
PARQUET = "application/x-parquet"
_ALIASES = {"csv": CSV, "text/csv": CSV, "parquet": PARQUET, "application/x-parquet": PARQUET,
            "application/parquet": PARQUET}


def content_type(declared: str | None, files: list[str]) -> str:
    if declared:
        base = declared.split(";")[0].strip().lower()
        if base not in _ALIASES:
            raise DataError(f"content_type {declared!r} is not supported; use text/csv "
                            "(label first, no header) or application/x-parquet")
        return _ALIASES[base]
    ext = os.path.splitext(files[0].removesuffix(".gz"))[1].lower() if files else ""
    return PARQUET if ext in (".parquet", ".pq") else CSV


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


def _to_xy(table: pa.Table, kind: str, label_column: str | None, path: str):
    if table.num_rows == 0:
        raise DataError(f"{path} has no rows", path=path)
    label = _label_name(table.schema, kind, label_column, path)
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
    y = table.column(label).to_numpy(zero_copy_only=False).astype(np.float32)
    X = np.empty((table.num_rows, len(cols) - 1), dtype=np.float32)
    j = 0
    for name, column in cols:
        if name != label:
            X[:, j] = column.to_numpy(zero_copy_only=False)
            j += 1
    return X, y


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
                    label_column: str | None) -> dict:
    """Check a channel on the driver and resolve it once for the workers: ``{uri,
    content_type, files (the non-empty data files, in order), features}``; DataError naming
    the channel and the fix when it is missing, empty or not numeric."""
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
        _label_name(schema, kind, label_column, files[0])
        for field in schema:
            if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
                    or pa.types.is_boolean(field.type)):
                raise DataError(f"channel {name!r}: {files[0]}: column {field.name!r} is "
                                f"{field.type}, not numeric; encode it as numbers", channel=name)
        features = len(schema.names) - 1
    else:
        first = next(f for f in files if fs.size(f) > 0)
        X, _ = _to_xy(_read_csv(first, uri, first_block_only=True), kind, label_column, first)
        features = X.shape[1]
    return {"uri": uri, "content_type": kind, "files": [f for f in files if fs.size(f) > 0],
            "features": features}


def read_shard(uri: str, declared_type: str | None, rank: int, world: int,
               label_column: str | None = None,
               files: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """This worker's rows of a channel as ``(X float32 [n, f], y float32 [n])``. ``files``:
    the channel as :func:`resolve_channel` found it (then nothing is listed again)."""
    if files is None:
        files = _storage.list_files(uri)
        fs, _ = _storage.filesystem(uri)
        files = [f for f in files if fs.size(f) > 0]
    kind = content_type(declared_type, files)
    split_rows = len(files) < world
    mine = files if split_rows else files[rank::world]
    parts = []
    for path in mine:
        table = _read_parquet(path, uri) if kind == PARQUET else _read_csv(path, uri)
        parts.append(_to_xy(table, kind, label_column, path))
    X = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    y = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    if split_rows:
        lo, hi = len(y) * rank // world, len(y) * (rank + 1) // world
        X, y = X[lo:hi], y[lo:hi]
    return X, y
