"""Hostile requests and unapproved models.

Over real HTTP on 127.0.0.1, through the session's ingress (HAProxy by default), against ONE
endpoint with a 1 MB payload limit: a 200 MB chunked body is refused at the limit without the
replica buffering it; JSON number and nesting bombs, infinities and a lying .npy header get a
400 that names the problem; an exception inside a request is a 500 JSON body and a line in the
replica's log. Then require_approved_model (the spec field, and MLCORE_REQUIRE_APPROVED_MODEL
for every endpoint) serves an Approved registry version and refuses everything else.
"""

from __future__ import annotations

import http.client
import io
import json
import select
import sys
import time
import urllib.parse
import uuid

import numpy as np
import pytest
import requests
from ray import cloudpickle

import serving
from mlcore import EndpointError
from mlcore.records import EndpointRecord
from mlcore.sagemaker import ModelPackage
from mlcore.services import endpoints
from mlcore.specs import Endpoint, ModelRef, VariantSpec

pytestmark = pytest.mark.integration
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # replicas need these functions

NAME = "ep-hostile"
LIMIT = 1 << 20  # the endpoint's max_payload_bytes
MB = 1 << 20
FEATURES = 8
PLANTED = -999.0  # a first feature the model fails on: the path of an unexpected exception
TIMEOUT = (5, 20)  # connect, read: a bomb that hangs the replica fails the test, not CI


def _load(uri):
    return {}


def _features(model):
    return FEATURES


def _predict(model, X):
    if X[0, 0] == PLANTED:
        raise KeyError("planted failure")
    return X.sum(axis=1)


@pytest.fixture(scope="module")
def hostile(ray_session):
    """One endpoint for every HTTP test here; yields its invocations URL."""
    spec = serving.ModelSpec("models:/unused", _load, _predict, _features)
    # No CPU reserved: it stays up through the approval tests, whose training job (the
    # session's `trained`, when this file runs first) needs both of the session's CPUs.
    serving.deploy(NAME, [serving.Variant("AllTraffic", spec, resources={"CPU": 0})],
                   serving.Settings(max_payload_bytes=LIMIT, batch_size=1))
    yield f"{serving.endpoint_url(NAME)}/invocations"
    serving.delete(NAME)


def _replica() -> int:
    """PID of the endpoint's ingress replica (Ray titles it ray::ServeReplica:<app>:<name>)."""
    import psutil

    title = f"ray::ServeReplica:{NAME}:ingress"
    pids = [p.pid for p in psutil.process_iter(["cmdline"])
            if (p.info["cmdline"] or [""])[0].startswith(title)]
    assert len(pids) == 1, f"expected one process titled {title}; found {pids}"
    return pids[0]


def _status_mb(pid: int, field: str) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def _post(url, body, ctype="application/json"):
    start = time.monotonic()
    r = requests.post(url, data=body, headers={"Content-Type": ctype}, timeout=TIMEOUT)
    return r, time.monotonic() - start


def _post_chunked(url: str, chunks, timeout: float = 60.0):
    """POST ``chunks`` with ``Transfer-Encoding: chunked``, one at a time (this process never
    holds more than one), and stop sending once the server answers, as curl does. Returns
    ``(status, body, bytes sent, seconds)``."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    start, sent = time.monotonic(), 0
    conn.putrequest("POST", u.path)
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for chunk in chunks:
            if select.select([conn.sock], [], [], 0)[0]:  # an answer before the end
                break
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            assert time.monotonic() - start < timeout, f"still sending after {sent} bytes"
        else:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed: the answer is still there to read
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body, sent, time.monotonic() - start


def _rows_mb(n: int):
    """``n`` chunks of 1 MB of CSV, made one at a time."""
    for _ in range(n):
        yield b"1," * (MB // 2)


def _read_mb(pid: int) -> float:
    """Bytes the process has read through read/recv calls (its sockets included), in MB."""
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("rchar:"):
            return int(line.split()[1]) / MB
    raise AssertionError(f"/proc/{pid}/io has no rchar")


def _wait_until_direct(url: str, pid: int, timeout: float = 30.0) -> None:
    """Wait until HAProxy sends requests straight to the replica's own HTTP server. Right
    after a deploy it routes them through Serve's proxy actor (its fallback), which forwards
    bodies over Ray in batches of whatever it has buffered: the replica then holds tens of MB
    whatever mlcore does (Ray's design). A direct request shows
    as bytes the replica itself reads from its socket."""
    deadline = time.monotonic() + timeout
    while True:
        before = _read_mb(pid)
        assert _post_chunked(url, _rows_mb(3))[0] == 413  # this also warms the replica's heap
        if _read_mb(pid) - before >= LIMIT / MB:
            return
        assert time.monotonic() < deadline, f"HAProxy did not route to the replica in {timeout} s"
        time.sleep(0.5)


def test_chunked_body_past_the_limit_is_refused_without_being_buffered(hostile):
    from mlcore import _session

    pid = _replica()
    direct = _session.serve_ingress() == "haproxy"  # the session's default ("auto")
    if direct:
        _wait_until_direct(hostile, pid)
    before = _status_mb(pid, "VmRSS")
    try:  # "5" resets the peak (VmHWM) to the current RSS: VmHWM is then this request's peak
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        peak_field = "VmHWM"
    except OSError:  # not allowed here: the RSS after the request is all there is to read
        peak_field = "VmRSS"
    status, body, sent, seconds = _post_chunked(hostile, _rows_mb(200))
    grown = _status_mb(pid, peak_field) - before
    print(f"200 MB chunked: {status} after {sent / MB:.0f} MB sent, {seconds:.2f} s; replica "
          f"{peak_field} grew {grown:.1f} MB")
    assert status == 413, body
    assert sent < 200 * MB, "the 413 came only after the whole body was sent"
    if direct:  # behind Serve's proxy the replica holds what the proxy forwarded (see above)
        assert grown < 2 * LIMIT / MB, f"the replica grew {grown:.1f} MB for a {LIMIT / MB:.0f} MB limit"
    error = json.loads(body)["error"]
    assert f"the limit is {LIMIT} bytes" in error and "max_payload_mb" in error
    # A client that sends everything before reading (requests' chunked upload) gets it too.
    r = requests.post(hostile, data=_rows_mb(50), headers={"Content-Type": "text/csv"},
                      timeout=TIMEOUT)
    assert r.status_code == 413 and f"the limit is {LIMIT} bytes" in r.json()["error"]
    if direct:
        assert _status_mb(pid, "VmRSS") - before < 2 * LIMIT / MB  # nothing of either kept
    # Under the limit, a chunked body is read whole and served.
    status, body, _, _ = _post_chunked(hostile, [b"1,2,3,4,", b"5,6,7,8"])
    assert status == 200 and json.loads(body) == {"predictions": [36.0]}


BIG_INT = "1" + "0" * 400  # 10**400: beyond any float (an OverflowError in the cast before)
DEEP = "[" * 100_000 + "]" * 100_000  # a RecursionError in json.loads before
ROW = ",".join(["1"] * (FEATURES - 1))
BOMBS = [
    # (id, content type, body, words in the error)
    ("big-int", "application/json", f"[[{BIG_INT}, {ROW}]]", "beyond the range of 32-bit floats"),
    ("big-int-instances", "application/json", f'{{"instances": [[{ROW}, {BIG_INT}]]}}',
     "column 7 is infinite or beyond the range"),
    ("5000-digit-int", "application/json", f"[[{'9' * 5000}, {ROW}]]", "beyond the range"),
    ("float-overflow", "application/json", f"[[1e400, {ROW}]]", "beyond the range"),
    ("float32-overflow", "application/json", f"[[1e39, {ROW}]]", "beyond the range"),
    ("infinity", "application/json", f"[[-Infinity, {ROW}]]", "infinite"),
    ("deep", "application/json", DEEP, "JSON nests 100000 levels deep; the limit is 32"),
    ("deep-instances", "application/json", f'{{"instances": {DEEP}}}',
     "JSON nests 100001 levels deep; the limit is 32"),
    ("csv-inf", "text/csv", f"inf,{ROW}", "text/csv value at row 0, column 0 is infinite"),
    ("csv-big", "text/csv", f"{ROW},1\n{ROW},{BIG_INT}", "row 1, column 7"),
]


@pytest.mark.parametrize("ctype,body,words", [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_number_and_nesting_bombs_get_400_naming_the_problem(hostile, ctype, body, words):
    r, seconds = _post(hostile, body.encode(), ctype)
    assert r.status_code == 400, r.text
    assert words in r.json()["error"] and "Traceback" not in r.text
    print(f"{len(body)} bytes: 400 in {seconds * 1000:.0f} ms")


def test_brackets_inside_strings_and_nan_are_not_refused(hostile):
    """Depth counts brackets outside strings only; NaN is XGBoost's missing value."""
    body = json.dumps({"note": "[" * 1000, "instances": [[float("nan")] + [1.0] * 7, [1.0] * 8]})
    r, _ = _post(hostile, body.encode())
    assert r.status_code == 200, r.text
    first, second = r.json()["predictions"]
    assert np.isnan(first) and second == 8.0


def test_npy_header_that_lies_about_its_shape_gets_400(hostile):
    buf = io.BytesIO()
    np.save(buf, np.ones((2, FEATURES), dtype=np.float32))
    lying = buf.getvalue().replace(b"(2, 8)", b"(10000000000, 8)")  # 320 GB declared
    r, _ = _post(hostile, lying, "application/x-npy")
    assert r.status_code == 400 and "declares shape (10000000000, 8)" in r.json()["error"]


def test_an_exception_inside_a_request_is_a_500_json_body_and_a_replica_log_line(hostile):
    import psutil

    r, _ = _post(hostile, json.dumps([[PLANTED] + [1.0] * 7]).encode())
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"].startswith("prediction failed: KeyError") and "planted" not in r.text
    # Serve's replica log is the file the replica holds open under logs/serve/.
    [log] = [f.path for f in psutil.Process(_replica()).open_files()
             if "/serve/replica_" in f.path and f.path.endswith(".log")]
    text = open(log).read()
    assert f"endpoint {NAME}, variant AllTraffic: request failed with KeyError" in text, text[-2000:]
    assert requests.get(hostile.replace("invocations", "ping"), timeout=TIMEOUT).status_code == 200


# -- require_approved_model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def versions(trained):
    """The trained model as versions 1 (PendingManualApproval), 2 (Rejected, alias
    'champion') and 3 (Approved) of a fresh group."""
    import mlflow

    from mlcore import _session, registry

    group = f"hostile-{uuid.uuid4().hex[:6]}"
    for _ in range(3):
        trained.register(model_package_group_name=group)
    registry.reject(group, 2)
    registry.approve(group, 3)
    mlflow.MlflowClient(_session.tracking_uri()).set_registered_model_alias(group, "champion", "2")
    return group


def _endpoint(model=None, pipeline=None, **fields) -> Endpoint:
    return Endpoint(endpoint_name="ep-approved", variants=[VariantSpec(
        variant_name="Main", model=model, pipeline=pipeline)], **fields)


def test_require_approved_model_refuses_every_source_but_an_approved_version(trained, versions):
    job = trained.latest_training_job.name
    refused = [
        (ModelRef(training_job=job), f"variant 'Main' serves training job {job}, which is not a "
                                     "registered model version"),
        (ModelRef(model_data_prefix="/tmp/models", algorithm="xgboost"), "not a registered"),
        (ModelRef(name=versions, version=1), f"{versions}/1 is PendingManualApproval"),
        (ModelRef(name=versions, version=2), f"{versions}/2 is Rejected"),
        (ModelRef(name=versions, alias="champion"), f"{versions}/2 is Rejected"),
    ]
    for ref, words in refused:
        for allow in (False, True):  # allow_unapproved cannot loosen it
            spec = _endpoint(ref, require_approved_model=True, allow_unapproved=allow)
            with pytest.raises(EndpointError) as e:
                endpoints.deploy(spec)
            msg = str(e.value)
            assert words in msg and "require_approved_model: true" in msg, msg
            assert "mlcore models approve" in msg, msg
    pipeline = [ModelRef(name=versions, version=3), ModelRef(training_job=job)]
    with pytest.raises(EndpointError, match="variant 'Main' serves training job"):
        endpoints.check(_endpoint(pipeline=pipeline, require_approved_model=True))
    assert not EndpointRecord.exists("ep-approved")  # refused before anything started
    endpoints.check(_endpoint(ModelRef(name=versions, version=3), require_approved_model=True))
    endpoints.check(_endpoint(ModelRef(name=versions), require_approved_model=True))  # @approved
    # Without the setting, an unregistered source serves as before.
    endpoints.check(_endpoint(ModelRef(training_job=job)))


def test_rejected_versions_are_refused_by_version_alias_and_models_uri(versions):
    for arn in (f"{versions}/2", f"{versions}@champion", f"models:/{versions}/2",
                f"models:/{versions}@champion"):
        with pytest.raises(EndpointError, match=f"{versions}/2 is Rejected, not Approved"):
            ModelPackage(model_package_arn=arn).deploy(endpoint_name="ep-approved")


def test_global_setting_applies_to_every_facade_deploy_decided_in_the_driver(
        trained, versions, monkeypatch, data_dir):
    # Set after Ray started: only the deploying process reads it.
    monkeypatch.setenv("MLCORE_REQUIRE_APPROVED_MODEL", "true")
    with pytest.raises(EndpointError, match="MLCORE_REQUIRE_APPROVED_MODEL=true allows only"):
        trained.deploy(endpoint_name="ep-approved")
    with pytest.raises(EndpointError, match="PendingManualApproval, not Approved, and "
                                            "MLCORE_REQUIRE_APPROVED_MODEL=true"):
        ModelPackage(model_package_arn=f"{versions}/1").deploy(endpoint_name="ep-approved",
                                                               allow_unapproved=True)
    assert not EndpointRecord.exists("ep-approved")
    from mlcore.sagemaker.deserializers import CSVDeserializer
    from mlcore.sagemaker.serializers import CSVSerializer

    predictor = ModelPackage(model_package_arn=f"models:/{versions}/3").deploy(
        endpoint_name="ep-approved", serializer=CSVSerializer(), deserializer=CSVDeserializer())
    try:
        row = np.loadtxt(data_dir / "features.csv", delimiter=",", dtype=np.float32)[:1]
        assert len(predictor.predict(row)) == 1  # the XGBoost container's CSV: a line per row
        [v] = predictor.describe()["ProductionVariants"]
        assert v["Model"]["ModelPackageArn"] == f"{versions}/3"
    finally:
        predictor.delete_endpoint()
