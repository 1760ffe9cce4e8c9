"""``sagemaker.amazon.common``: RecordIO-protobuf as the SDK writes and reads it, on the
protobuf classes of :mod:`record_pb2` (v2's ``serializer_utils``), and the predictors'
``RecordSerializer`` / ``RecordDeserializer``.

Framing (MXNet's RecordIO), per record: the magic ``0xCED7230A`` and the payload's length
(uint32 little-endian each), the serialised ``Record``, zero padding to a multiple of 4 bytes.
One row per record, its tensor under ``features["values"]``, its label under
``label["values"]``. This is a second implementation beside :mod:`mlcore._recordio` (which
the servers use and which encodes the wire format by hand); the tests read each one's bytes
with the other.
"""

from __future__ import annotations

import io
import struct

import numpy as np

from mlcore.sagemaker.amazon.record_pb2 import Record
from serving import SimpleBaseDeserializer, SimpleBaseSerializer

_MAGIC = 0xCED7230A
_HEADER = struct.Struct("<II")  # magic, payload length
CONTENT_TYPE = "application/x-recordio-protobuf"


def _resolve_type(dtype) -> str:
    """v2's rule: Python ints (int64) go as Int32, Python floats as Float64, float32 as is."""
    if dtype == np.dtype(int):
        return "int32_tensor"
    if dtype == np.dtype(float):
        return "float64_tensor"
    if dtype == np.dtype("float32"):
        return "float32_tensor"
    raise ValueError(f"Unsupported dtype {dtype} on array; use float32, float64 or int64 "
                     "(array.astype('float32'))")


def _check(array, labels) -> str | None:
    if len(array.shape) != 2:
        raise ValueError("Array must be a Matrix")
    if labels is None:
        return None
    if len(labels.shape) != 1:
        raise ValueError("Labels must be a Vector")
    if labels.shape[0] not in array.shape:
        raise ValueError(f"Label shape {labels.shape} not compatible with array shape "
                         f"{array.shape}")
    return _resolve_type(labels.dtype)


def write_numpy_to_dense_tensor(file, array, labels=None) -> None:
    """One record per row of the 2-D ``array`` (and ``labels[i]`` as its label)."""
    label_field = _check(array, labels)
    field = _resolve_type(array.dtype)
    record = Record()
    for index, vector in enumerate(array):
        record.Clear()
        getattr(record.features["values"], field).values.extend(vector)
        if label_field:
            getattr(record.label["values"], label_field).values.extend([labels[index]])
        _write_recordio(file, record.SerializeToString())


def write_spmatrix_to_sparse_tensor(file, array, labels=None) -> None:
    """One record per row of a scipy sparse matrix: its values, their column ``keys`` and the
    row's ``shape`` ``[n_cols]``."""
    import scipy.sparse

    if not scipy.sparse.issparse(array):
        raise TypeError("Array must be sparse")
    label_field = _check(array, labels)
    field = _resolve_type(array.dtype)
    csr = array.tocsr()
    record = Record()
    for row in range(csr.shape[0]):
        record.Clear()
        lo, hi = csr.indptr[row], csr.indptr[row + 1]
        tensor = getattr(record.features["values"], field)
        tensor.values.extend(csr.data[lo:hi])
        tensor.keys.extend(csr.indices[lo:hi].astype(np.uint64))
        tensor.shape.extend([csr.shape[1]])
        if label_field:
            getattr(record.label["values"], label_field).values.extend([labels[row]])
        _write_recordio(file, record.SerializeToString())


def _write_recordio(f, data: bytes) -> None:
    """One RecordIO frame holding ``data``."""
    f.write(_HEADER.pack(_MAGIC, len(data)))
    f.write(data)
    f.write(b"\0" * (-len(data) % 4))


def read_recordio(f):
    """The payloads of the RecordIO frames in the file ``f``, in order."""
    while True:
        header = f.read(_HEADER.size)
        if not header:
            return
        if len(header) < _HEADER.size:
            raise ValueError(f"truncated RecordIO header ({len(header)} of {_HEADER.size} bytes)")
        magic, length = _HEADER.unpack(header)
        if magic != _MAGIC:
            raise ValueError(f"not RecordIO-protobuf: magic 0x{magic:08X}, expected "
                             f"0x{_MAGIC:08X}")
        data = f.read(length)
        if len(data) < length:
            raise ValueError(f"truncated record: {length} bytes declared, {len(data)} read")
        f.read(-length % 4)
        yield data


def read_records(file) -> list:
    """Every ``Record`` in the file ``file``."""
    records = []
    for data in read_recordio(file):
        record = Record()
        record.ParseFromString(data)
        records.append(record)
    return records


class RecordSerializer(SimpleBaseSerializer):
    """A numpy vector or matrix as RecordIO-protobuf records, one per row (no labels)."""

    def __init__(self, content_type: str = CONTENT_TYPE):
        super().__init__(content_type=content_type)

    def serialize(self, data):
        data = np.asarray(data)
        if len(data.shape) == 1:
            data = data.reshape(1, data.shape[0])
        if len(data.shape) != 2:
            raise ValueError(f"Expected a 1D or 2D array, but got a {len(data.shape)}D array "
                             "instead.")
        buffer = io.BytesIO()
        write_numpy_to_dense_tensor(buffer, data)
        buffer.seek(0)
        return buffer


class RecordDeserializer(SimpleBaseDeserializer):
    """An endpoint's RecordIO-protobuf answer as a list of ``Record``."""

    def __init__(self, accept: str = CONTENT_TYPE):
        super().__init__(accept=accept)

    def deserialize(self, data, content_type):
        try:
            return read_records(data)
        finally:
            data.close()


__all__ = ["RecordDeserializer", "RecordSerializer", "read_recordio", "read_records",
           "write_numpy_to_dense_tensor", "write_spmatrix_to_sparse_tensor"]
