"""The SDK's RecordIO-protobuf (``sagemaker.amazon.common``, on the protobuf classes of
``record_pb2``) against mlcore's hand-written encoder (``mlcore._recordio``, what the servers
and the training readers use), each reading the other's bytes, and both against a fixture
assembled byte by byte from the documented wire format. No Ray."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import scipy.sparse

from mlcore import _recordio
from mlcore.sagemaker.amazon import common, record_pb2

SEED = 7


def _written(writer, array, labels=None) -> bytes:
    buf = io.BytesIO()
    writer(buf, array, labels)
    return buf.getvalue()


def _tensor(value):
    return getattr(value, value.WhichOneof("value"))


# ---- a fixture independent of both writers ------------------------------------------------

def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2); every length here is < 128."""
    assert len(payload) < 128
    return bytes([field << 3 | 2, len(payload)]) + payload


def _frame(payload: bytes) -> bytes:
    return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4)


# Record 1: features {"values": Float32Tensor{values [1.0, -2.5]}},
#           label {"values": Float64Tensor{values [3.0]}}
# Record 2: features {"values": Float32Tensor{values [4.0], keys [2], shape [3]}} (sparse),
#           label {"values": Int32Tensor{values [7]}} (a varint, packed)
_ENTRY = _ld(1, b"values")
FIXTURE = (
    _frame(_ld(1, _ENTRY + _ld(2, _ld(2, _ld(1, struct.pack("<2f", 1.0, -2.5)))))
           + _ld(2, _ENTRY + _ld(2, _ld(3, _ld(1, struct.pack("<d", 3.0))))))
    + _frame(_ld(1, _ENTRY + _ld(2, _ld(2, _ld(1, struct.pack("<f", 4.0)) + _ld(2, b"\x02")
                                       + _ld(3, b"\x03"))))
             + _ld(2, _ENTRY + _ld(2, _ld(7, _ld(1, b"\x07")))))
)


def test_fixture_read_by_the_protobuf_reader():
    first, second = common.read_records(io.BytesIO(FIXTURE))
    assert list(first.features["values"].float32_tensor.values) == [1.0, -2.5]
    assert first.label["values"].WhichOneof("value") == "float64_tensor"
    assert list(first.label["values"].float64_tensor.values) == [3.0]
    sparse = second.features["values"].float32_tensor
    assert (list(sparse.values), list(sparse.keys), list(sparse.shape)) == ([4.0], [2], [3])
    assert list(second.label["values"].int32_tensor.values) == [7]


def test_fixture_read_by_mlcore_reader():
    records = _recordio.read_records(FIXTURE)
    assert records[0]["label"]["values"]["dtype"] == "float64"
    assert records[1]["features"]["values"]["shape"] == [3]
    with pytest.raises(_recordio.RecordIOError, match="different feature counts"):
        _recordio.to_arrays(FIXTURE)  # 2 dense columns, then a sparse row of 3


def test_protobuf_serialisation_matches_the_fixture_bytes():
    """The classes built from the descriptor encode exactly the documented bytes."""
    record = record_pb2.Record()
    record.features["values"].float32_tensor.values.extend([1.0, -2.5])
    record.label["values"].float64_tensor.values.append(3.0)
    buf = io.BytesIO()
    common._write_recordio(buf, record.SerializeToString())
    assert FIXTURE.startswith(buf.getvalue())


def test_record_pb2_has_record_proto_fields():
    record = record_pb2.Record.DESCRIPTOR
    assert record.full_name == "aialgs.data.Record"
    assert {f.name: f.number for f in record.fields} == {
        "features": 1, "label": 2, "uid": 3, "metadata": 4, "configuration": 5}
    assert record.fields_by_name["features"].message_type.GetOptions().map_entry
    value = record_pb2.Value.DESCRIPTOR
    assert [(f.name, f.number) for f in value.oneofs_by_name["value"].fields] == [
        ("float32_tensor", 2), ("float64_tensor", 3), ("int32_tensor", 7), ("bytes", 9)]
    for tensor in (record_pb2.Float32Tensor, record_pb2.Float64Tensor, record_pb2.Int32Tensor):
        assert all(f.is_packed for f in tensor.DESCRIPTOR.fields)
    data = record_pb2.Bytes(value=[b"ab"], content_type="text/plain")
    assert record_pb2.Bytes.FromString(data.SerializeToString()).content_type == "text/plain"


# ---- the SDK's writer, read by both readers ------------------------------------------------

@pytest.mark.parametrize("label_dtype", [None, np.float32, np.float64, int])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_written_by_sdk(dtype, label_dtype):
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(5, 3)).astype(dtype)
    y = None if label_dtype is None else rng.integers(0, 4, size=5).astype(label_dtype)
    data = _written(common.write_numpy_to_dense_tensor, X, y)

    records = common.read_records(io.BytesIO(data))
    assert len(records) == 5
    field = {np.float32: "float32_tensor", np.float64: "float64_tensor"}[dtype]
    assert records[0].features["values"].WhichOneof("value") == field
    np.testing.assert_array_equal([list(_tensor(r.features["values"]).values) for r in records], X)

    X2, y2 = _recordio.to_arrays(data)
    np.testing.assert_allclose(X2, X.astype(np.float32), rtol=1e-6)
    if y is None:
        assert y2 is None and not records[0].label
    else:
        kind = {np.float32: "float32_tensor", np.float64: "float64_tensor", int: "int32_tensor"}
        assert records[0].label["values"].WhichOneof("value") == kind[label_dtype]
        np.testing.assert_array_equal(y2, y.astype(np.float32))


@pytest.mark.parametrize("labelled", [False, True])
def test_sparse_written_by_sdk(labelled):
    rng = np.random.default_rng(SEED)
    dense = scipy.sparse.random(6, 8, density=0.3, random_state=SEED, dtype=np.float32).toarray()
    dense[3] = 0  # an empty row: no values, no keys, only the shape
    X = scipy.sparse.csr_matrix(dense)
    y = rng.integers(0, 2, size=6).astype(np.float32) if labelled else None
    data = _written(common.write_spmatrix_to_sparse_tensor, X, y)

    records = common.read_records(io.BytesIO(data))
    row = records[0].features["values"].float32_tensor
    assert list(row.shape) == [8]
    assert list(row.keys) == list(X[0].indices)
    assert len(records[3].features["values"].float32_tensor.values) == 0

    X2, y2 = _recordio.to_arrays(data)
    np.testing.assert_array_equal(X2, X.toarray())
    assert (y2 is None) == (not labelled)
    if labelled:
        np.testing.assert_array_equal(y2, y)


def test_sdk_writer_refuses_what_v2_refuses():
    with pytest.raises(ValueError, match="Matrix"):
        common.write_numpy_to_dense_tensor(io.BytesIO(), np.zeros(3))
    with pytest.raises(ValueError, match="Vector"):
        common.write_numpy_to_dense_tensor(io.BytesIO(), np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="not compatible"):
        common.write_numpy_to_dense_tensor(io.BytesIO(), np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="Unsupported dtype int32"):
        common.write_numpy_to_dense_tensor(io.BytesIO(), np.zeros((3, 2), np.int32))
    with pytest.raises(TypeError, match="sparse"):
        common.write_spmatrix_to_sparse_tensor(io.BytesIO(), np.zeros((3, 2)))


def test_reader_names_bad_bytes():
    with pytest.raises(ValueError, match="magic"):
        common.read_records(io.BytesIO(b"\x00" * 8))
    with pytest.raises(ValueError, match="truncated record"):
        common.read_records(io.BytesIO(FIXTURE[:20]))


# ---- mlcore's writer, read by the SDK's reader ----------------------------------------------

@pytest.mark.parametrize("labels", [None, np.array([0.0, 1.0, 1.0, 0.0])])
def test_dense_written_by_mlcore(labels):
    X = np.random.default_rng(SEED).normal(size=(4, 3)).astype(np.float32)
    records = common.read_records(io.BytesIO(_recordio.dense_bytes(X, labels)))
    np.testing.assert_array_equal(
        [list(r.features["values"].float32_tensor.values) for r in records], X)
    if labels is not None:
        assert [r.label["values"].float64_tensor.values[0] for r in records] == list(labels)


def test_sparse_written_by_mlcore():
    X = scipy.sparse.csr_matrix(np.array([[0, 2.5, 0, 1], [0, 0, 0, 0]], np.float32))
    buf = io.BytesIO()
    _recordio.write_sparse(buf, X, np.array([1, 0]))
    first, second = common.read_records(io.BytesIO(buf.getvalue()))
    tensor = first.features["values"].float32_tensor
    assert (list(tensor.values), list(tensor.keys), list(tensor.shape)) == ([2.5, 1.0], [1, 3], [4])
    assert list(second.features["values"].float32_tensor.shape) == [4]
    assert list(first.label["values"].int32_tensor.values) == [1]


# ---- the predictors' serializer and deserializer --------------------------------------------

def test_record_serializer_body_is_read_by_the_servers_parser():
    serializer = common.RecordSerializer()
    assert serializer.CONTENT_TYPE == "application/x-recordio-protobuf"
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    X2, y = _recordio.to_arrays(serializer.serialize(X).read())
    np.testing.assert_array_equal(X2, X)
    assert y is None
    one, _ = _recordio.to_arrays(serializer.serialize(X[0]).read())  # a vector is one row
    assert one.shape == (1, 3)
    with pytest.raises(ValueError, match="1D or 2D"):
        serializer.serialize(np.zeros((2, 2, 2)))


def test_record_deserializer_reads_an_algorithm_answer():
    """The bytes an endpoint of these algorithms answers with (``label_records``)."""
    body = _recordio.label_records([("score", np.array([0.75, 0.25], np.float32)),
                                    ("predicted_label", np.array([1.0, 0.0], np.float32)),
                                    ("projection", np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))])
    deserializer = common.RecordDeserializer()
    assert "application/x-recordio-protobuf" in deserializer.ACCEPT
    stream = io.BytesIO(body)
    records = deserializer.deserialize(stream, "application/x-recordio-protobuf")
    assert stream.closed
    assert [r.label["score"].float32_tensor.values[0] for r in records] == [0.75, 0.25]
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == [1.0, 0.0]
    assert list(records[1].label["projection"].float32_tensor.values) == [3.0, 4.0]
    assert not records[0].features
