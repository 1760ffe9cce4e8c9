"""SageMaker's RecordIO-protobuf (``application/x-recordio-protobuf``), without protoc.

The format of the SDK's ``sagemaker/amazon/common.py`` (``write_numpy_to_dense_tensor``,
``write_spmatrix_to_sparse_tensor``, ``read_records``) and its ``record.proto``:

* framing, per record: magic ``0xCED7230A`` (uint32 little-endian), the payload length
  (uint32), the payload, zero padding to a multiple of 4 bytes (MXNet's RecordIO);
* payload: ``Record {map<string, Value> features = 1; map<string, Value> label = 2;
  string uid = 3; string metadata = 4; string configuration = 5}``, one row per record, the
  tensor under the key ``"values"``;
* ``Value`` is a oneof: ``Float32Tensor float32_tensor = 2``, ``Float64Tensor float64_tensor
  = 3``, ``Int32Tensor int32_tensor = 7``, ``Bytes bytes = 9``; each tensor is ``{repeated
  values = 1 [packed]; repeated uint64 keys = 2 [packed]; repeated uint64 shape = 3
  [packed]}``: dense rows have values only, sparse rows values at ``keys`` of a row of
  ``shape[0]`` columns.

The protobuf wire format is encoded by hand (about as long as building message classes from
the descriptor, and it keeps this base module on numpy and the standard library).
"""

from __future__ import annotations

import io
import struct

import numpy as np

from mlcore.errors import DataError

MAGIC = 0xCED7230A
CONTENT_TYPE = "application/x-recordio-protobuf"
# Value's oneof field number -> (dtype name, numpy wire dtype; None: varint)
_VALUE_FIELDS = {2: ("float32", "<f4"), 3: ("float64", "<f8"), 7: ("int32", None)}
_FIELD_OF = {name: (num, wire) for num, (name, wire) in _VALUE_FIELDS.items()}
_BYTES_FIELD = 9
_STRINGS = {3: "uid", 4: "metadata", 5: "configuration"}


class RecordIOError(DataError, ValueError):
    """Bytes that are not RecordIO-protobuf (a ValueError too, so request parsers treat it as
    any other malformed body)."""


# ---- writing ----------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # a negative int32 is sent as its 64-bit two's complement (10 bytes)
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _dtype_name(dtype: np.dtype) -> str:
    # The SDK's _resolve_type: int64 -> Int32, float64 -> Float64, float32 -> Float32.
    if dtype == np.dtype(int) or dtype == np.dtype("int32"):
        return "int32"
    if dtype in (np.dtype("float64"), np.dtype("float32")):
        return dtype.name
    raise ValueError(f"unsupported dtype {dtype} (use float32, float64 or int)")


def _value(kind: str, values, keys=None, shape=None) -> bytes:
    """One serialised ``Value`` holding a tensor of ``kind``."""
    field, wire = _FIELD_OF[kind]
    body = b""
    if len(values):
        if wire is None:
            if np.any(np.abs(np.asarray(values, dtype=np.int64)) > 2**31 - 1):
                raise ValueError("int values beyond int32 cannot be written to an Int32Tensor")
            body += _delimited(1, b"".join(_varint(int(v)) for v in values))
        else:
            body += _delimited(1, np.asarray(values, dtype=wire).tobytes())
    if keys is not None and len(keys):
        body += _delimited(2, b"".join(_varint(int(k)) for k in keys))
    if shape:
        body += _delimited(3, b"".join(_varint(int(s)) for s in shape))
    return _delimited(field, body)


def _record(features: bytes, label: bytes | None) -> bytes:
    entry = _delimited(1, b"values")
    out = _delimited(1, entry + _delimited(2, features))
    if label is not None:
        out += _delimited(2, entry + _delimited(2, label))
    return out


def _frame(f, payload: bytes) -> None:
    f.write(struct.pack("<II", MAGIC, len(payload)))
    f.write(payload)
    f.write(b"\0" * (-len(payload) % 4))


def _check_labels(shape: tuple, labels) -> str | None:
    if labels is None:
        return None
    if labels.ndim != 1:
        raise ValueError("labels must be a vector")
    if labels.shape[0] not in shape:
        raise ValueError(f"label shape {labels.shape} not compatible with array shape {shape}")
    return _dtype_name(labels.dtype)


def write_dense(file, array: np.ndarray, labels: np.ndarray | None = None) -> None:
    """One record per row of ``array`` [n, d] (and its label), as the SDK's
    ``write_numpy_to_dense_tensor`` writes them."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError("array must be a matrix")
    label_kind, kind = _check_labels(array.shape, labels), _dtype_name(array.dtype)
    for i, row in enumerate(array):
        label = _value(label_kind, [labels[i]]) if label_kind else None
        _frame(file, _record(_value(kind, row), label))


def write_sparse(file, spmatrix, labels: np.ndarray | None = None) -> None:
    """One record per row of a scipy sparse matrix: values, their column keys and the row's
    shape ``[d]``, as the SDK's ``write_spmatrix_to_sparse_tensor`` writes them."""
    if not hasattr(spmatrix, "tocsr"):
        raise TypeError("array must be sparse")
    csr = spmatrix.tocsr()
    label_kind, kind = _check_labels(csr.shape, labels), _dtype_name(csr.dtype)
    for i in range(csr.shape[0]):
        lo, hi = csr.indptr[i], csr.indptr[i + 1]
        label = _value(label_kind, [labels[i]]) if label_kind else None
        features = _value(kind, csr.data[lo:hi], csr.indices[lo:hi], [csr.shape[1]])
        _frame(file, _record(features, label))


def label_records(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """The records an algorithm's endpoint answers with: one per row, no features, each
    column a ``label`` entry (``score``, ``predicted_label``, ``projection``, ...) holding that
    row's values as a Float32Tensor, as SageMaker's first-party containers encode them."""
    out = io.BytesIO()
    n = len(columns[0][1]) if columns else 0
    for i in range(n):
        labels = b"".join(
            _delimited(2, _delimited(1, key.encode()) + _delimited(
                2, _value("float32", np.atleast_1d(np.asarray(values[i], np.float32)))))
            for key, values in columns)
        _frame(out, labels)
    return out.getvalue()


# ---- reading ----------------------------------------------------------------------------

def _read_varint(buf, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise RecordIOError("truncated protobuf varint")
        b = buf[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise RecordIOError("malformed protobuf varint")


def _fields(buf):
    """``(field number, wire type, value)`` of one message; length-delimited values as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            value, pos = bytes(buf[pos:pos + size]), pos + size
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire} (field {field})")
        if pos > len(buf):
            raise RecordIOError("truncated protobuf message")
        yield field, wire, value


def _varints(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        v, pos = _read_varint(data, pos)
        out.append(v)
    return out


def _tensor(kind: str, wire_dtype: str | None, buf: bytes) -> dict:
    values, keys, shape = [], [], []
    for field, wire, raw in _fields(buf):
        if field == 1:  # packed (wire 2) or, as parsers must also accept, one element
            if wire_dtype is None:
                ints = _varints(raw) if wire == 2 else [raw]
                values.append(np.array([v - (1 << 64) if v >= 1 << 63 else v for v in ints],
                                       dtype=np.int32))
            else:
                values.append(np.frombuffer(raw, dtype=wire_dtype))
        elif field in (2, 3):
            (keys if field == 2 else shape).extend(_varints(raw) if wire == 2 else [raw])
    dtype = np.int32 if wire_dtype is None else np.dtype(wire_dtype).newbyteorder("=")
    return {"dtype": kind,
            "values": np.concatenate(values).astype(dtype) if values else np.empty(0, dtype),
            "keys": np.array(keys, dtype=np.uint64) if keys else None,
            "shape": shape or None}


def _value_of(buf: bytes) -> dict:
    for field, _, raw in _fields(buf):
        if field in _VALUE_FIELDS:
            return _tensor(*_VALUE_FIELDS[field], raw)
        if field == _BYTES_FIELD:
            parts = list(_fields(raw))
            return {"dtype": "bytes", "values": [v for f, _, v in parts if f == 1],
                    "content_type": next((v.decode() for f, _, v in parts if f == 2), None)}
    return {"dtype": None, "values": np.empty(0, np.float32), "keys": None, "shape": None}


def _map_entry(buf: bytes) -> tuple[str, dict]:
    key, value = "", _value_of(b"")
    for field, _, raw in _fields(buf):
        if field == 1:
            key = raw.decode()
        elif field == 2:
            value = _value_of(raw)
    return key, value


def _parse_record(payload: bytes) -> dict:
    record: dict = {"features": {}, "label": {}}
    for field, _, raw in _fields(payload):
        if field in (1, 2):
            key, value = _map_entry(raw)
            record["features" if field == 1 else "label"][key] = value
        elif field in _STRINGS:
            record[_STRINGS[field]] = raw.decode()
    return record


def frames(buf: bytes):
    """The payloads of a RecordIO byte string, in order."""
    view, pos = memoryview(buf), 0
    while pos < len(view):
        if pos + 8 > len(view):
            raise RecordIOError(f"truncated RecordIO header at byte {pos}")
        magic, length = struct.unpack_from("<II", view, pos)
        if magic != MAGIC:
            raise RecordIOError(f"not RecordIO-protobuf: bad magic number at byte {pos} "
                                f"(0x{magic:08X}, expected 0x{MAGIC:08X})")
        pos += 8
        if pos + length > len(view):
            raise RecordIOError(f"truncated record at byte {pos}: {length} bytes declared, "
                                f"{len(view) - pos} left")
        yield view[pos:pos + length]
        pos += length + (-length % 4)


def read_records(file_or_bytes) -> list[dict]:
    """Every record as ``{"features": {key: tensor}, "label": {key: tensor}}`` (plus
    ``uid`` / ``metadata`` / ``configuration`` when set); a tensor is ``{"dtype": "float32" |
    "float64" | "int32", "values": ndarray, "keys": uint64 ndarray | None, "shape": list |
    None}``."""
    buf = file_or_bytes if isinstance(file_or_bytes, (bytes, bytearray, memoryview)) \
        else file_or_bytes.read()
    return [_parse_record(p) for p in frames(bytes(buf))]


def _row(tensor: dict | None, index: int) -> np.ndarray:
    if tensor is None or tensor["dtype"] in (None, "bytes"):
        raise RecordIOError(f"record {index} has no numeric 'values' features tensor")
    values, keys, shape = tensor["values"].astype(np.float32), tensor["keys"], tensor["shape"]
    if keys is None and shape is None:
        return values  # dense
    keys = np.empty(0, np.int64) if keys is None else keys.astype(np.int64)  # an empty sparse row
    if len(keys) != len(values):
        raise RecordIOError(f"record {index}: {len(keys)} keys for {len(values)} values")
    width = shape[0] if shape else int(keys.max()) + 1
    if len(keys) and int(keys.max()) >= width:
        raise RecordIOError(f"record {index}: key {int(keys.max())} is outside its shape [{width}]")
    row = np.zeros(width, dtype=np.float32)
    row[keys] = values
    return row


def to_arrays(buf: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """``(features float32 [n, d], labels float32 [n] or None)``: dense and sparse records
    (sparse rows expanded to ``shape[0]`` columns); RecordIOError when the bytes are not
    RecordIO-protobuf, rows differ in width, or only some records carry a label."""
    rows, labels = [], []
    for i, record in enumerate(read_records(buf)):
        rows.append(_row(record["features"].get("values"), i))
        label = record["label"].get("values")
        if label is not None and len(label["values"]):
            labels.append(float(label["values"][0]))
    if not rows:
        raise RecordIOError("no records found")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise RecordIOError(f"records have different feature counts: {sorted(widths)[:5]}")
    if labels and len(labels) != len(rows):
        raise RecordIOError(f"{len(labels)} of {len(rows)} records carry a label; label all "
                            "of them or none")
    return np.vstack(rows), (np.array(labels, dtype=np.float32) if labels else None)


def dense_bytes(array: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """``write_dense`` into bytes (a request body, a test fixture)."""
    out = io.BytesIO()
    write_dense(out, array, labels)
    return out.getvalue()
