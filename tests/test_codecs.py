"""The codecs against SDK v2's own unit tests (tests/unit/sagemaker/serializers/ and
deserializers/test_*.py in v2.257, transcribed), the Predictor's request arguments and
defaults as v2's ``_create_request_args``, and the endpoints' formats in and out: the XGBoost
container's (algorithm_mode/serve.py, serve_utils.py, encoder.py) and mlcore's. No Ray."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

import serving
from mlcore import _recordio
from mlcore.sagemaker._predictors import PyTorchPredictor, SKLearnPredictor, XGBoostPredictor
from mlcore.sagemaker.deserializers import (
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    NumpyDeserializer,
    PandasDeserializer,
    SimpleBaseDeserializer,
    StreamDeserializer,
    StringDeserializer,
    TorchTensorDeserializer,
)
from mlcore.sagemaker.predictor import Predictor
from mlcore.sagemaker.serializers import (
    CSVSerializer,
    DataSerializer,
    IdentitySerializer,
    JSONLinesSerializer,
    JSONSerializer,
    LibSVMSerializer,
    NumpySerializer,
    SimpleBaseSerializer,
    SparseMatrixSerializer,
    StringSerializer,
    TorchTensorSerializer,
)
from serving import BadRequest, parse_payload, render_payload

# -- serializers --------------------------------------------------------------------------------


@pytest.mark.parametrize("data,expected", [
    ("1,2,3", "1,2,3"),
    ([1, 2, 3], "1,2,3"),
    (np.array([1, 2, 3]), "1,2,3"),
    (np.array([[1, 2, 3], [3, 4, 5]]), "1,2,3\n3,4,5"),
    (["1,2,3", "4,5,6"], "1,2,3\n4,5,6"),
    ([[1, 2, 3], [3, 4, 5]], "1,2,3\n3,4,5"),
    (np.array([[0.1, 2.5]], dtype=np.float32), "0.1,2.5"),
    (pd.DataFrame([[1, 2], [3, 4]], columns=["a", "b"]), "1,2\n3,4\n"),
])
def test_csv_serializer(data, expected):
    assert CSVSerializer().serialize(data) == expected


@pytest.mark.parametrize("empty", [np.array([[], []]), np.array([]), []])
def test_csv_serializer_refuses_empty_arrays(empty):
    with pytest.raises(ValueError, match="empty array"):
        CSVSerializer().serialize(empty)


def test_csv_and_json_serializers_read_files(tmp_path):
    path = tmp_path / "with_integers.csv"
    path.write_text("1,2,3\n4,5,6\n")
    for serializer in (CSVSerializer(), JSONSerializer()):
        with open(path) as f:
            assert serializer.serialize(f) == "1,2,3\n4,5,6\n"


def test_numpy_serializer():
    s = NumpySerializer()
    assert np.array_equal(np.load(io.BytesIO(s.serialize([1, 2, 3]))), [1, 2, 3])
    half = np.load(io.BytesIO(NumpySerializer(dtype="float16").serialize([1, 2, 3])))
    assert half.dtype == "float16" and np.array_equal(half, [1, 2, 3])
    for array in (np.array([[1, 2, 3], [3, 4, 5]]), np.ones((10, 10, 10, 10)),
                  np.array(["one", "two", "three"])):
        assert np.array_equal(np.load(io.BytesIO(s.serialize(array))), array)
    stream = io.BytesIO()
    np.save(stream, np.ones((2, 3)))
    stream.seek(0)
    assert np.array_equal(np.load(io.BytesIO(s.serialize(stream))), np.ones((2, 3)))
    obj = {1, 2, 3}
    assert np.array_equal(np.load(io.BytesIO(s.serialize(obj)), allow_pickle=True), np.array(obj))
    for empty in (np.array([[], []]), np.array([]), []):
        with pytest.raises(ValueError, match="empty array"):
            s.serialize(empty)
    assert s.CONTENT_TYPE == "application/x-npy"


def test_json_serializer():
    s = JSONSerializer()
    assert s.serialize(np.array([1, 2, 3])) == "[1, 2, 3]"
    assert s.serialize(np.array([[1, 2, 3], [3, 4, 5]])) == "[[1, 2, 3], [3, 4, 5]]"
    assert s.serialize(np.array([])) == "[]" and s.serialize([]) == "[]" and s.serialize({}) == "{}"
    assert s.serialize([1, 2, 3]) == "[1, 2, 3]"
    d = {"gender": "m", "age": 22, "city": "Paris"}
    assert json.loads(s.serialize(d)) == d
    assert json.loads(s.serialize({"instances": np.array([[1, 2]])})) == {"instances": [[1, 2]]}
    assert s.CONTENT_TYPE == "application/json"


def test_identity_string_data_and_libsvm_serializers(tmp_path):
    assert IdentitySerializer().serialize(b"{}") == b"{}"
    assert IdentitySerializer().CONTENT_TYPE == "application/octet-stream"
    csv_identity = IdentitySerializer(content_type="text/csv")
    assert csv_identity.serialize(b"a,b\n1,2") == b"a,b\n1,2" and csv_identity.CONTENT_TYPE == "text/csv"
    assert StringSerializer().serialize("héllo") == "héllo".encode() and \
        StringSerializer().CONTENT_TYPE == "text/plain"
    with pytest.raises(ValueError, match="not String serializable"):
        StringSerializer().serialize(b"x")
    image = tmp_path / "cat.jpg"
    image.write_bytes(b"\xff\xd8raw")
    data = DataSerializer()
    assert data.CONTENT_TYPE == "file-path/raw-bytes"
    assert data.serialize(str(image)) == data.serialize(b"\xff\xd8raw") == b"\xff\xd8raw"
    assert data.serialize({"data": str(image)}) == b"\xff\xd8raw"
    with pytest.raises(ValueError, match="Could not open/read file"):
        data.serialize(str(tmp_path / "missing"))
    libsvm = LibSVMSerializer()
    assert libsvm.CONTENT_TYPE == "text/libsvm" and libsvm.serialize("0 0:1 5:1") == "0 0:1 5:1"
    assert libsvm.serialize(io.StringIO("1 1:0.5\n")) == "1 1:0.5\n"
    with pytest.raises(ValueError, match="Unable to handle input format"):
        libsvm.serialize([1, 2])


@pytest.mark.parametrize("data,expected", [
    ('["Name", "Score"]\n["Gilbert", 24]', '["Name", "Score"]\n["Gilbert", 24]'),
    ([["Name", "Score"], ["Gilbert", 24]], '["Name", "Score"]\n["Gilbert", 24]'),
    ([{"Name": "Gilbert", "Score": 24}, {"Name": "Alexa", "Score": 29}],
     '{"Name": "Gilbert", "Score": 24}\n{"Name": "Alexa", "Score": 29}'),
    (io.StringIO('{"Name": "Gilbert", "Score": 24}'), '{"Name": "Gilbert", "Score": 24}'),
])
def test_json_lines_serializer(data, expected):
    assert JSONLinesSerializer().serialize(data) == expected
    assert JSONLinesSerializer().CONTENT_TYPE == "application/jsonlines"


def test_sparse_matrix_and_torch_tensor_serializers():
    import torch

    data = scipy.sparse.csc_matrix(np.array([[0, 0, 3], [4, 0, 0]]))
    out = SparseMatrixSerializer().serialize(data)
    assert np.array_equal(scipy.sparse.load_npz(io.BytesIO(out)).toarray(), data.toarray())
    assert SparseMatrixSerializer().CONTENT_TYPE == "application/x-npz"
    t = TorchTensorSerializer()
    assert t.CONTENT_TYPE == "tensor/pt"
    assert np.array_equal(np.load(io.BytesIO(t.serialize(torch.ones(2, 3)))), np.ones((2, 3)))
    with pytest.raises(ValueError, match="is not a torch.Tensor"):
        t.serialize([1])


def test_simple_base_classes_are_abstract_and_check_the_content_type():
    with pytest.raises(TypeError):
        SimpleBaseSerializer()
    with pytest.raises(TypeError):
        SimpleBaseDeserializer()
    with pytest.raises(ValueError, match="content_type must be a string"):
        CSVSerializer(content_type=["text/csv"])


# -- deserializers ------------------------------------------------------------------------------


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def test_string_bytes_and_stream_deserializers():
    assert StringDeserializer().deserialize(_stream(b"[1, 2, 3]"), "application/json") == "[1, 2, 3]"
    assert StringDeserializer().ACCEPT == ("application/json",)
    assert BytesDeserializer().deserialize(_stream(b"[1, 2, 3]"), "application/json") == b"[1, 2, 3]"
    assert BytesDeserializer().ACCEPT == ("*/*",)
    stream, content_type = StreamDeserializer().deserialize(_stream(b"[1, 2, 3]"), "application/json")
    assert stream.read() == b"[1, 2, 3]" and content_type == "application/json"


@pytest.mark.parametrize("body,expected", [
    (b"1", [["1"]]),
    (b"1,2,3", [["1", "2", "3"]]),
    (b"1,2,3\n3,4,5", [["1", "2", "3"], ["3", "4", "5"]]),
    (b"1,2,3\n3,4,5\n", [["1", "2", "3"], ["3", "4", "5"]]),
])
def test_csv_deserializer(body, expected):
    assert CSVDeserializer().deserialize(_stream(body), "text/csv") == expected
    assert CSVDeserializer().ACCEPT == ("text/csv",)


def test_numpy_deserializer_by_content_type():
    d = NumpyDeserializer()
    assert d.ACCEPT == ("application/x-npy",)
    assert np.array_equal(d.deserialize(_stream(b"1,2,3\n4,5,6"), "text/csv"), [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="errors were detected"):
        d.deserialize(_stream(b"1,2,3\n4,5,6,7"), "text/csv")
    alpha = NumpyDeserializer(dtype="U5").deserialize(_stream(b"hello,2,3\n4,5,6"), "text/csv")
    assert np.array_equal(alpha, np.array([["hello", 2, 3], [4, 5, 6]]))
    assert np.array_equal(d.deserialize(_stream(b"[[1,2,3],\n[4,5,6]]"), "application/json"),
                          [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="inhomogeneous shape"):
        d.deserialize(_stream(b"[[1,2,3],\n[4,5,6,7]]"), "application/json")
    npy = io.BytesIO()
    np.save(npy, np.ones((2, 3)))
    assert np.array_equal(d.deserialize(_stream(npy.getvalue()), "application/x-npy"), np.ones((2, 3)))
    with pytest.raises(ValueError, match="cannot read content type text/plain"):
        d.deserialize(_stream(b"1"), "text/plain")


def test_numpy_deserializer_pickles_only_when_allowed_and_reads_npz():
    objects = io.BytesIO()
    np.save(objects, np.array([{"a": ""}, {"c": ""}]))
    result = NumpyDeserializer(allow_pickle=True).deserialize(_stream(objects.getvalue()),
                                                              "application/x-npy")
    assert list(result) == [{"a": ""}, {"c": ""}]
    with pytest.raises(ValueError, match="allow_pickle=True"):
        NumpyDeserializer().deserialize(_stream(objects.getvalue()), "application/x-npy")
    npz = io.BytesIO()
    np.savez_compressed(npz, alpha=np.ones((2, 3)), beta=np.zeros((3, 2)))
    result = NumpyDeserializer().deserialize(_stream(npz.getvalue()), "application/x-npz")
    assert set(result.keys()) == {"alpha", "beta"} and np.array_equal(result["beta"], np.zeros((3, 2)))


def test_json_pandas_jsonlines_and_torch_deserializers():
    import torch

    d = JSONDeserializer()
    assert d.deserialize(_stream(b"[[1, 2, 3], [3, 4, 5]]"), "application/json") == [[1, 2, 3], [3, 4, 5]]
    with pytest.raises(ValueError, match="column"):
        d.deserialize(_stream(b"[[1]"), "application/json")
    p = PandasDeserializer()
    assert p.ACCEPT == ("text/csv", "application/json")
    data = {"col 1": {"row 1": "a", "row 2": "c"}, "col 2": {"row 1": "b", "row 2": "d"}}
    expected = pd.DataFrame([["a", "b"], ["c", "d"]], index=["row 1", "row 2"],
                            columns=["col 1", "col 2"])
    assert p.deserialize(_stream(json.dumps(data).encode()), "application/json").equals(expected)
    expected = pd.DataFrame([["a", "b"], ["c", "d"]], columns=["col 1", "col 2"])
    assert p.deserialize(_stream(b"col 1,col 2\na,b\nc,d"), "text/csv").equals(expected)
    lines = JSONLinesDeserializer()
    assert lines.ACCEPT == ("application/jsonlines",)
    for body in (b'["Name", "Score"]\n["Gilbert", 24]', b'["Name", "Score"]\n["Gilbert", 24]\n'):
        assert lines.deserialize(_stream(body), "application/jsonlines") == [["Name", "Score"],
                                                                              ["Gilbert", 24]]
    npy = io.BytesIO()
    np.save(npy, np.ones((2, 3), dtype=np.float32))
    tensor = TorchTensorDeserializer().deserialize(_stream(npy.getvalue()))
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (2, 3)


# -- the Predictor: defaults and request arguments ----------------------------------------------


class _Answer:
    def __init__(self, content: bytes, content_type: str):
        self.status_code, self.content = 200, content
        self.headers = {"content-type": content_type, "X-Amzn-Invoked-Production-Variant": "A"}


class _Sent(list):
    answer: list


@pytest.fixture
def sent(monkeypatch):
    """What each Predictor's ``predict`` posted: ``[(url, body, headers)]``; every request is
    answered with ``answer[0]``."""
    monkeypatch.setattr("serving._client.endpoint_url", lambda name: f"http://ep/{name}")
    posts, answer = _Sent(), [_Answer(b"0.5\n", "text/csv; charset=utf-8")]

    def post(self, url, data, headers, timeout):
        posts.append((url, data, headers))
        return answer[0]

    monkeypatch.setattr("requests.Session.post", post)
    posts.answer = answer
    return posts


def test_predictor_defaults_send_the_body_as_is_and_return_bytes(sent):
    p = Predictor("ep-codecs")
    assert isinstance(p.serializer, IdentitySerializer) and isinstance(p.deserializer, BytesDeserializer)
    assert p.content_type == "application/octet-stream" and p.accept == ("*/*",)
    assert p.predict("1,2,3") == b"0.5\n"
    url, body, headers = sent[-1]
    assert url == "http://ep/ep-codecs/invocations" and body == b"1,2,3"
    assert headers == {"Content-Type": "application/octet-stream", "Accept": "*/*"}
    assert p.last_variant == "A"
    with pytest.raises(serving.ServingError, match="IdentitySerializer made a ndarray"):
        p.predict(np.ones(3))


def test_initial_args_and_explicit_arguments_become_sagemakers_headers(sent):
    p = Predictor("ep-codecs", serializer=CSVSerializer(), deserializer=PandasDeserializer())
    args = p._create_request_args([1, 2], {"ContentType": "text/plain", "TargetVariant": "B"},
                                  target_model="m/1.tar.gz", inference_id="id-1",
                                  custom_attributes="trace=7")
    assert args == {"EndpointName": "ep-codecs", "ContentType": "text/plain",
                    "Accept": "text/csv, application/json", "TargetVariant": "B",
                    "TargetModel": "m/1.tar.gz", "InferenceId": "id-1",
                    "CustomAttributes": "trace=7", "Body": "1,2"}
    sent.answer[0] = _Answer(b"a\n1\n", "text/csv")
    p.predict([1, 2], initial_args={"Accept": "text/csv", "TargetVariant": "B"},
              target_variant="A")  # the argument wins over initial_args, as v2's
    _, _, headers = sent[-1]
    assert headers == {"Content-Type": "text/csv", "Accept": "text/csv",
                       "X-Amzn-SageMaker-Target-Variant": "A"}
    p.content_type, p.accept = "text/x-csv", ("a/b", "c/d")  # v2's setters
    assert p._create_request_args([1])["ContentType"] == "text/x-csv"
    assert p._create_request_args([1])["Accept"] == "a/b, c/d"


def test_framework_predictors_default_to_their_sdk_codecs(sent):
    x = XGBoostPredictor("ep-codecs")
    assert (x.content_type, x.accept) == ("text/libsvm", ("text/csv",))
    assert x.predict("1:0.5 2:1.5") == [["0.5"]]
    for cls in (SKLearnPredictor, PyTorchPredictor):
        p = cls("ep-codecs", None, deserializer=None)
        assert (p.content_type, p.accept) == ("application/x-npy", ("application/x-npy",))
        body, media = render_payload(np.array([1.5, 2.5], dtype=np.float32), p.accept[0])
        sent.answer[0] = _Answer(body, media)
        assert np.array_equal(p.predict(np.ones((2, 3))), [1.5, 2.5])
        assert np.array_equal(np.load(io.BytesIO(sent[-1][1])), np.ones((2, 3)))


# -- what the endpoints read --------------------------------------------------------------------


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


ROWS = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
SAME_ROWS = [
    ("text/csv", b"1,2,3\n4,5,6"),
    ("text/csv; label_size=1", b"1,2,3\n4,5,6\n"),
    ("text/libsvm", b"0 1:1 2:2 3:3\n1 1:4 2:5 3:6"),  # 1-based: shifted, as the container does
    ("text/x-libsvm", b"0:1 1:2 2:3\n0:4 1:5 2:6"),  # 0-based, no labels
    ("application/json", b"[[1, 2, 3], [4, 5, 6]]"),
    ("application/json", b'{"instances": [[1, 2, 3], [4, 5, 6]]}'),
    ("application/json", b'{"instances": [{"features": [1, 2, 3]}, {"features": [4, 5, 6]}]}'),
    ("application/json", b'{"features": [[1, 2, 3], [4, 5, 6]]}'),
    ("application/jsonlines", b'[1, 2, 3]\n{"features": [4, 5, 6]}\n'),
    ("application/x-npy", _npy(ROWS.astype(np.float64))),
    ("application/x-recordio-protobuf", _recordio.dense_bytes(ROWS, np.array([0.0, 1.0]))),
]


@pytest.mark.parametrize("ctype,body", SAME_ROWS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(SAME_ROWS)])
def test_every_request_format_reads_the_same_rows(ctype, body):
    np.testing.assert_array_equal(parse_payload(body, ctype, 3), ROWS)


def test_missing_values_are_nan_in_csv_and_libsvm():
    X = parse_payload(b"1,,3\n\n,5,\r\n", "text/csv", 3)  # a blank line is no row
    np.testing.assert_array_equal(np.isnan(X), [[False, True, False], [True, False, True]])
    X = parse_payload(b"1 1:0.5 4:2", "text/libsvm", 5)  # absent entries: XGBoost's missing
    assert X.shape == (1, 5) and X[0, 0] == 0.5 and X[0, 3] == 2 and np.isnan(X[0, [1, 2, 4]]).all()
    assert parse_payload(b"1:0.5 3:2", "text/libsvm", None).shape == (1, 3)  # width from the data


@pytest.mark.parametrize("ctype,body,status,words", [
    ("text/libsvm", b"1 a:1", 400, "integer indices"),
    ("text/libsvm", b"1 2 3", 400, "no <index>:<value> pairs"),
    ("text/libsvm", b"1 9:1", 422, "beyond the model's 3 features"),
    ("text/libsvm", b"1 0:1e39", 400, "beyond the range of 32-bit floats"),
    ("text/libsvm", b"1 0:1 5000000:1\n" * 10, 413, "send fewer rows"),
    ("application/x-recordio-protobuf", b"not records", 400, "not RecordIO-protobuf"),
    ("application/json", b'{"instances": [{"values": [1, 2, 3]}]}', 400, '"features"'),
    ("application/jsonlines", b"[1, 2, 3]\n[4, 5]", 400, "equal length"),
    ("text/csv", b"1,2,x", 400, "numbers separated by commas"),
    ("image/png", b"1", 415, "application/x-recordio-protobuf"),
])
def test_bad_bodies_are_refused_naming_the_problem(ctype, body, status, words):
    n = None if status == 413 else 3
    with pytest.raises(BadRequest) as e:
        parse_payload(body, ctype, n)
    assert e.value.status == status and words in e.value.message, e.value.message


# -- what the endpoints answer ------------------------------------------------------------------

BINARY = np.array([0.43861908, 0.45339721, 0.06351257], dtype=np.float32)  # serve_utils' example
SOFTPROB = np.array([[0.1, 0.9], [0.5, 0.5]], dtype=np.float32)


@pytest.mark.parametrize("accept", [None, "", "*/*", "text/csv", "text/csv; charset=utf-8"])
def test_xgboost_answers_csv_one_prediction_per_line_by_default(accept):
    body, media = render_payload(BINARY, accept, "xgboost")
    assert media == "text/csv"
    assert body == b"0.43861907720565796\n0.4533972144126892\n0.06351257115602493\n"
    body, _ = render_payload(SOFTPROB, accept, "xgboost")  # multi:softprob: a row per line
    assert body == b"0.10000000149011612,0.8999999761581421\n0.5,0.5\n"


def test_xgboost_answers_json_and_jsonlines_as_the_container():
    body, media = render_payload(BINARY, "application/json", "xgboost")
    # serve_utils.encode_predictions_as_json's own example
    assert media == "application/json" and body == (
        b'{"predictions": [{"score": 0.43861907720565796}, {"score": 0.4533972144126892}, '
        b'{"score": 0.06351257115602493}]}')
    assert json.loads(render_payload(SOFTPROB, "application/json", "xgboost")[0]) == {
        "predictions": [{"score": [0.10000000149011612, 0.8999999761581421]},
                        {"score": [0.5, 0.5]}]}
    body, media = render_payload(BINARY[:2], "application/jsonlines", "xgboost")
    assert media == "application/jsonlines"
    assert body == b'{"score": 0.43861907720565796}\n{"score": 0.4533972144126892}\n'
    # A list of types: the first the container answers.
    assert render_payload(BINARY, "application/x-npy, application/json", "xgboost")[1] == "application/json"
    for accept in ("application/x-npy", "application/x-recordio-protobuf", "image/png"):
        with pytest.raises(BadRequest) as e:
            render_payload(BINARY, accept, "xgboost")
        assert e.value.status == 406 and "text/csv, application/json" in e.value.message


def test_other_models_answer_mlcores_predictions():
    assert render_payload(BINARY[:1], None) == (b'{"predictions": [0.43861907720565796]}',
                                                "application/json")
    assert render_payload(BINARY[:1], "*/*")[1] == "application/json"
    assert render_payload(SOFTPROB, "text/csv") == (b"0.100000001,0.899999976\n0.5,0.5", "text/csv")
    body, media = render_payload(SOFTPROB, "application/x-npy")
    assert media == "application/x-npy" and np.array_equal(np.load(io.BytesIO(body)), SOFTPROB)
    with pytest.raises(BadRequest, match="unsupported Accept 'image/png'"):
        render_payload(BINARY, "image/png")


def test_xgboost_predictor_reads_the_containers_csv_answer():
    body, media = render_payload(BINARY, "text/csv", "xgboost")
    rows = CSVDeserializer().deserialize(io.BytesIO(body), media)
    np.testing.assert_allclose(np.asarray(rows, dtype=float).ravel(), BINARY, rtol=1e-7)
