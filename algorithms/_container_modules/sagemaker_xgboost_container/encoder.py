"""sagemaker_xgboost_container/encoder.py: request bodies as ``xgb.DMatrix``.

As in the container: CSV (delimiter sniffed from the first line, empty fields missing),
LIBSVM and RecordIO-protobuf; ``decode`` picks by content type and raises
``UnsupportedFormatError`` for any other. LIBSVM indices are used as given (column 0 kept),
as the 1.7 container's ``xgb.DMatrix(<temp file>)`` read them, so a body lines up with the
columns of a model trained by ``data_utils.get_dmatrix`` on libsvm files.
"""


import csv
import io
import json
import logging

import numpy as np
import xgboost as xgb

from ._toolkit import _content_types, _errors
from .constants import xgb_content_types


def _clean_csv_string(csv_string, delimiter):
    return ["nan" if x == "" else x for x in csv_string.split(delimiter)]


def csv_to_dmatrix(input: str | bytes, dtype=None) -> xgb.DMatrix:
    """A CSV body (no label column; no leading or trailing newline) as a DMatrix."""
    csv_string = input.decode() if isinstance(input, bytes) else input
    sniff_delimiter = csv.Sniffer().sniff(csv_string.split("\n")[0][:512]).delimiter
    delimiter = "," if sniff_delimiter.isalnum() else sniff_delimiter
    logging.info(f"Determined delimiter of CSV input is '{delimiter}'")
    np_payload = np.array([_clean_csv_string(x, delimiter) for x in csv_string.split("\n")]).astype(dtype)
    return xgb.DMatrix(np_payload)


def libsvm_to_dmatrix(string_like) -> xgb.DMatrix:
    """A LIBSVM body (``label[:weight] index:value ...`` lines) as a DMatrix: sparse, indices as
    given, with the lines' labels (and weights, where any line has one)."""
    from algorithms._data import _read_libsvm

    text = string_like.encode() if isinstance(string_like, str) else bytes(string_like)
    X, y, w = _read_libsvm("the libsvm body", None, text)
    dmatrix = xgb.DMatrix(X, label=y)
    if (w != 1.0).any():
        dmatrix.set_weight(w)
    return dmatrix


def recordio_protobuf_to_dmatrix(string_like) -> xgb.DMatrix:
    """RecordIO-protobuf bytes (dense or sparse records) as a DMatrix, with their labels where
    the records carry them."""
    from mlcore._recordio import to_arrays

    features, labels = to_arrays(bytes(string_like))
    return xgb.DMatrix(features, label=labels)


def npy_to_dmatrix(string_like) -> xgb.DMatrix:
    """A ``.npy`` body (``application/x-npy``, no pickles) as a DMatrix. Not in the container's
    ``decode`` table (its default input_fn refuses NPY); offered for scripts' own input_fn."""
    array = np.load(io.BytesIO(bytes(string_like)), allow_pickle=False)
    return xgb.DMatrix(np.atleast_2d(array))


_dmatrix_decoders_map = {
    _content_types.CSV: csv_to_dmatrix,
    xgb_content_types.LIBSVM: libsvm_to_dmatrix,
    xgb_content_types.X_LIBSVM: libsvm_to_dmatrix,
    xgb_content_types.X_RECORDIO_PROTOBUF: recordio_protobuf_to_dmatrix,
}


def json_to_jsonlines(json_data):
    """A one-key JSON response (dict or string) as JSON Lines bytes, one line per entry."""
    resp_dict = json_data if isinstance(json_data, dict) else json.loads(json_data)
    if len(resp_dict.keys()) != 1:
        raise ValueError("JSON response is not compatible for conversion to jsonlines.")
    bio = io.BytesIO()
    for value in resp_dict.values():
        for entry in value:
            bio.write(bytes(json.dumps(entry) + "\n", "UTF-8"))
    return bio.getvalue()


def _media_type(content_type):
    """``cgi.parse_header``'s media type (the cgi module is gone in Python 3.13)."""
    return (content_type or "").split(";")[0].strip().lower()


def decode(obj, content_type) -> xgb.DMatrix:
    """A body of one of the default content types as a DMatrix; UnsupportedFormatError else."""
    media_content_type = _media_type(content_type)
    decoder = _dmatrix_decoders_map.get(media_content_type)
    if decoder is None:
        raise _errors.UnsupportedFormatError(media_content_type)
    return decoder(obj)
