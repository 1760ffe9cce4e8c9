"""A realtime endpoint over real HTTP on 127.0.0.1: predictions equal the model's own, and
bad requests get a 4xx with a JSON error while the endpoint stays healthy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
import xgboost as xgb

from mlcore import EndpointError
from mlcore.sagemaker import Predictor
from mlcore.sagemaker.deserializers import CSVDeserializer, JSONDeserializer
from mlcore.sagemaker.serializers import CSVSerializer, JSONSerializer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def predictor(trained):
    p = trained.deploy(initial_instance_count=1, instance_type="local", endpoint_name="ep-test",
                       serializer=CSVSerializer(), deserializer=JSONDeserializer())
    yield p
    p.delete_endpoint()


def _local(trained, X):
    import tarfile

    with tarfile.open(trained.model_data) as tar:  # SageMaker's model.tar.gz, files at the top
        booster = xgb.Booster(model_file=bytearray(tar.extractfile("xgboost-model").read()))
    return booster.predict(xgb.DMatrix(X))


def test_csv_and_json_predictions_equal_local(trained, predictor, data_dir):
    X = np.loadtxt(data_dir / "features.csv", delimiter=",", dtype=np.float32)
    expected = _local(trained, X)
    # The built-in XGBoost answers as its container: {"predictions": [{"score": ...}, ...]}
    got_csv = np.asarray([p["score"] for p in predictor.predict(X)["predictions"]])
    np.testing.assert_allclose(got_csv, expected, rtol=1e-5)
    as_json = Predictor("ep-test", serializer=JSONSerializer(), deserializer=CSVDeserializer())
    got_json = np.asarray(as_json.predict({"instances": X.tolist()}), dtype=float).ravel()
    np.testing.assert_allclose(got_json, expected, rtol=1e-5)
    single = predictor.predict(X[0])["predictions"]
    assert single == [{"score": pytest.approx(float(expected[0]), rel=1e-5)}]
    as_bytes = Predictor("ep-test")  # v2's defaults: the body as it is, the answer as bytes
    csv_text = "\n".join(",".join(map(str, row)) for row in X[:2])
    answer = as_bytes.predict(csv_text, initial_args={"ContentType": "text/csv"})
    np.testing.assert_allclose(np.array(answer.decode().splitlines(), dtype=float), expected[:2],
                               rtol=1e-5)


CASES = [
    # (content type, body, status, words in the error)
    ("text/plain", b"1,2,3", 415, "unsupported Content-Type"),
    ("text/csv", b"", 400, "empty request body"),
    ("text/csv", b"1,2,abc,4,5,6,7,8", 400, "numbers separated by commas"),
    ("text/csv", b"1,2,3", 422, "needs 8 features; got 3"),
    ("application/json", b"{not json", 400, "not valid JSON"),
    ("application/json", b'{"rows": [[1]]}', 400, '"instances"'),
    ("application/json", b'[[1, 2], [3]]', 400, "equal length"),
    ("application/json", b'[["a", "b", "c", "d", "e", "f", "g", "h"]]', 400, "lists of numbers"),
    ("text/csv", b"1," * (4 * 1024 * 1024), 413, "limit is 6291456"),
]


@pytest.mark.parametrize("ctype,body,status,words", CASES,
                         ids=[f"{c[2]}-{c[3][:18]}" for c in CASES])
def test_bad_requests_get_4xx_json(predictor, ctype, body, status, words):
    r = requests.post(f"{predictor.url}/invocations", data=body, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == status
    err = r.json()["error"]
    assert words in err and "Traceback" not in err
    assert requests.get(f"{predictor.url}/ping", timeout=10).json() == {"status": "Healthy"}


def test_accept_header_and_routes(predictor, data_dir):
    X = np.loadtxt(data_dir / "features.csv", delimiter=",", dtype=np.float32)[:3]
    body = "\n".join(",".join(map(str, r)) for r in X)
    r = requests.post(f"{predictor.url}/invocations", data=body,
                      headers={"Content-Type": "text/csv", "Accept": "text/csv"}, timeout=30)
    assert r.headers["content-type"].startswith("text/csv") and len(r.text.splitlines()) == 3
    r = requests.post(f"{predictor.url}/invocations", data=body,
                      headers={"Content-Type": "text/csv", "Accept": "image/png"}, timeout=30)
    assert r.status_code == 406 and "Accept" in r.json()["error"]
    r = requests.get(f"{predictor.url}/nothing", timeout=10)
    assert r.status_code == 404 and json.loads(r.text)["error"]


def test_client_error_and_deleted_endpoint(trained):
    p = trained.deploy(endpoint_name="ep-short", serializer=CSVSerializer())
    with pytest.raises(EndpointError, match="answered 422: each row needs 8 features"):
        p.predict([[1.0, 2.0]])
    p.delete_endpoint()
    with pytest.raises(EndpointError, match="ep-short"):
        p.predict([[0.0] * 8])
