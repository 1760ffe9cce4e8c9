"""sagemaker_xgboost_container/data_utils.py: a channel folder (or file, or list of them) as
one ``xgb.DMatrix``, the way the container's training reads it.

* ``csv``: no header, label in column 0, instance weights in column 1 with ``csv_weights=1``,
  the delimiter sniffed from the first line of the first file;
* ``libsvm``: ``label[:weight] index:value ...``, indices as given (column 0 kept), as
  ``xgb.DMatrix("<folder>?format=libsvm")`` reads them;
* ``parquet``: label in the first column;
* ``recordio-protobuf``: SageMaker's Record protobufs, the label in each record.

Content types are taken in any spelling the container's ``get_content_type`` accepts (``csv``,
``text/csv; label_size=1``, ``text/x-libsvm``, ...). Files are collected as the container
links them: up to 3 folder levels deep, names starting with ``.`` or ``_`` and XGBoost's
``dtrain``/``dval`` cache files skipped. A path that does not exist (or None: a channel the
job was not given) reads as None, so ``dval = get_dmatrix(args.validation, ...)`` works
without a validation channel. Pipe mode is refused, as the current container refuses it:
mlcore streams Pipe channels as Ray Datasets instead (``parallel.context.dataset``).
"""

import csv
import logging
import os

import numpy as np
import xgboost as xgb

from mlcore.errors import DataError

from ._toolkit import _content_types
from .constants import xgb_content_types

CSV = "csv"
LIBSVM = "libsvm"
PARQUET = "parquet"
RECORDIO_PROTOBUF = "recordio-protobuf"
MAX_FOLDER_DEPTH = 3

VALID_CONTENT_TYPES = [CSV, LIBSVM, PARQUET, RECORDIO_PROTOBUF, _content_types.CSV,
                       xgb_content_types.LIBSVM, xgb_content_types.X_LIBSVM,
                       xgb_content_types.X_PARQUET, xgb_content_types.X_RECORDIO_PROTOBUF]
_KINDS = {CSV: CSV, _content_types.CSV: CSV, LIBSVM: LIBSVM, xgb_content_types.LIBSVM: LIBSVM,
          xgb_content_types.X_LIBSVM: LIBSVM, PARQUET: PARQUET, xgb_content_types.X_PARQUET: PARQUET,
          RECORDIO_PROTOBUF: RECORDIO_PROTOBUF,
          xgb_content_types.X_RECORDIO_PROTOBUF: RECORDIO_PROTOBUF}


def get_content_type(content_type_cfg_val):
    """``csv``, ``libsvm``, ``parquet`` or ``recordio-protobuf`` for a channel's declared
    content type (None: libsvm, the container's default)."""
    if content_type_cfg_val is None:
        return LIBSVM
    media, *params = [p.strip() for p in content_type_cfg_val.lower().split(";")]
    kind = _KINDS.get(media)
    if kind is None:
        raise DataError("{} is not an accepted ContentType: {}.".format(
            content_type_cfg_val, ", ".join(VALID_CONTENT_TYPES)))
    label_size = dict(p.split("=", 1) for p in params if "=" in p).get("label_size", "1")
    if kind == CSV and label_size.strip() != "1":
        raise DataError(f"{content_type_cfg_val} is not an accepted csv ContentType. Optional parameter label_size "
                        "must be equal to 1")
    return kind


def _is_data_file(file_path, file_name):
    if not os.path.isfile(os.path.join(file_path, file_name)):
        return False
    if file_name.startswith(".") or file_name.startswith("_"):
        return False
    return not (".cache" in file_name and ("dtrain" in file_name or "dval" in file_name))


def _data_files(path, depth=1):
    """The data files under ``path`` (itself when a file), sorted, to MAX_FOLDER_DEPTH."""
    if os.path.isfile(path):
        return [path]
    if depth > MAX_FOLDER_DEPTH:
        logging.warning("The depth of folder %s exceeds the limit %d. Files in deeper sub dirs "
                        "won't be loaded.", path, MAX_FOLDER_DEPTH)
        return []
    out = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not name.startswith("."):
            out += _data_files(full, depth + 1)
        elif _is_data_file(path, name):
            out.append(full)
    return out


def _files(data_path):
    """The data files of ``data_path`` (a folder, file or list of them); None when none of
    it exists."""
    paths = data_path if isinstance(data_path, (list, tuple)) else [data_path]
    existing = [p for p in paths if p is not None and os.path.exists(p)]
    if not existing:
        logging.info(f"File path {data_path} does not exist!")
        return None
    return [f for p in existing for f in _data_files(p) if os.path.getsize(f) > 0]


def _get_csv_delimiter(sample_csv_line):
    try:
        delimiter = csv.Sniffer().sniff(sample_csv_line).delimiter
    except Exception as e:
        raise DataError(f"Could not determine delimiter on line {sample_csv_line[:50]}:\n{e}") from None
    logging.info(f"Determined delimiter of CSV input is '{delimiter}'")
    return delimiter


def _read_csv(path, delimiter):
    import pyarrow as pa
    from pyarrow import csv as pacsv

    try:
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(autogenerate_column_names=True),
                               parse_options=pacsv.ParseOptions(delimiter=delimiter))
    except pa.ArrowInvalid as e:
        raise DataError(f"Failed to load csv data with exception:\n{e}", path=path) from None
    try:
        return np.column_stack([c.to_numpy(zero_copy_only=False).astype(np.float32)
                                for c in table.columns])
    except (TypeError, ValueError) as e:
        raise DataError(f"Failed to load csv data with exception:\n{path}: {e}",
                        path=path) from None


def get_csv_dmatrix(files, csv_weights, is_pipe=False):
    if is_pipe:
        raise DataError("Pipe mode for CSV is no longer supported. Please use Fast File mode "
                        "(default) instead. Set input_mode='File' in your Estimator or TrainingInput.")
    with open(files[0], errors="ignore") as f:
        delimiter = _get_csv_delimiter(f.readline())
    data = np.concatenate([_read_csv(f, delimiter) for f in files])
    weights = data[:, 1] if csv_weights == 1 else None
    return xgb.DMatrix(data[:, 2 if csv_weights == 1 else 1:], label=data[:, 0], weight=weights)


def get_libsvm_dmatrix(files, is_pipe=False):
    from algorithms._data import _read_libsvm, _stack

    if is_pipe:
        raise DataError("Pipe mode not supported for LibSVM.")
    X, y, w = _stack([_read_libsvm(f, f) for f in files])
    dmatrix = xgb.DMatrix(X, label=y)
    if (w != 1.0).any():
        dmatrix.set_weight(w)
    return dmatrix


def get_parquet_dmatrix(files, is_pipe=False):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if is_pipe:
        raise DataError("Pipe mode for Parquet is no longer supported. Please use Fast File mode "
                        "(default) instead. Set input_mode='File' in your Estimator or TrainingInput.")
    try:
        data = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas().to_numpy()
    except Exception as e:
        raise DataError(f"Failed to load parquet data with exception:\n{e}") from None
    return xgb.DMatrix(data[:, 1:], label=data[:, 0])


def get_recordio_protobuf_dmatrix(files, is_pipe=False):
    from mlcore._recordio import to_arrays

    if is_pipe:
        raise DataError("Pipe mode for RecordIO-Protobuf is no longer supported. Please use Fast "
                        "File mode (default) instead. Set input_mode='File' in your Estimator or "
                        "TrainingInput.")
    parts = []
    for f in files:
        with open(f, "rb") as stream:
            parts.append(stream.read())
    buf = b"".join(parts)
    try:
        features, labels = to_arrays(buf)
    except DataError as e:
        raise DataError(f"Failed to load recordio-protobuf data with exception:\n{e}") from None
    return xgb.DMatrix(features, label=labels)


def get_dmatrix(data_path, content_type, csv_weights=0, is_pipe=False):
    """``data_path`` (a folder, a file, or a list of them) as one DMatrix; None when the path
    does not exist or holds no data files.

    :param content_type: csv, libsvm, parquet or recordio-protobuf (any spelling)
    :param csv_weights: 1 if instance weights are in the second column of csv data; else 0
    :param is_pipe: read a SageMaker pipe (refused: use File mode)
    """
    kind = get_content_type(content_type)
    files = _files(data_path)
    logging.info(f"files path: {data_path}")
    if not files:
        if files is not None:
            logging.info(f"No data files in {data_path}")
        return None
    reader = {CSV: lambda: get_csv_dmatrix(files, csv_weights, is_pipe),
              LIBSVM: lambda: get_libsvm_dmatrix(files, is_pipe),
              PARQUET: lambda: get_parquet_dmatrix(files, is_pipe),
              RECORDIO_PROTOBUF: lambda: get_recordio_protobuf_dmatrix(files, is_pipe)}[kind]
    dmatrix = reader()
    if dmatrix is not None and dmatrix.get_label().size == 0:
        raise DataError("Got input data without labels. Please check the input data set. If "
                        "training job is running on multiple instances, please switch to using "
                        "single instance if number of records in the data set is less than number "
                        "of workers in the cluster.")
    return dmatrix


def get_size(data_path, is_pipe=False):
    """The bytes of the data files at ``data_path`` (0 when it does not exist)."""
    if not data_path or not os.path.exists(data_path):
        logging.info(f"Path {data_path} does not exist!")
        return 0
    if os.path.isfile(data_path):
        return os.path.getsize(data_path)
    total = 0
    for root, _, files in os.walk(data_path):
        for name in files:
            if name.startswith("."):
                raise DataError("Hidden file found in the data path! Remove that before training.")
            total += os.path.getsize(os.path.join(root, name))
    return total
