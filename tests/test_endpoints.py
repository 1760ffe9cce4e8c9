"""Realtime endpoints over real HTTP on 127.0.0.1: registry versions and approval, production
variants and weights, scale from zero, batching, auth, timeouts and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from ray import cloudpickle

import serving
from mlcore import EndpointError
from mlcore.sagemaker import ModelPackage, ServerlessInferenceConfig, Session, production_variant
from mlcore.sagemaker.serializers import CSVSerializer

pytestmark = pytest.mark.integration
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # replicas need these functions

ROW = "1,2,3,4,5,6,7,8"


def _no_artifact(uri):
    return {"uri": uri}


def _rows_in_call(model, X):
    """Each prediction is the number of rows in the model call that made it: > 1 only if
    requests were batched together."""
    time.sleep(0.02)
    return np.full(len(X), float(len(X)))


def _slow(model, X):
    time.sleep(3)
    return np.zeros(len(X))


def _spec(predict):
    return serving.ModelSpec("models:/unused", _no_artifact, predict)


def _post(name, body=ROW, headers=None, timeout=60):
    return requests.post(f"{serving.endpoint_url(name)}/invocations", data=body,
                         headers={"Content-Type": "text/csv", **(headers or {})}, timeout=timeout)


@pytest.fixture
def registered(trained):
    """The trained model as version N of a fresh group, PendingManualApproval."""
    import uuid

    return trained.register(model_package_group_name=f"ep-{uuid.uuid4().hex[:6]}")


def test_registry_version_needs_approval_then_serves_the_models_predictions(
        registered, trained, data_dir):
    from mlcore import registry

    X = np.loadtxt(data_dir / "features.csv", delimiter=",", dtype=np.float32)
    with pytest.raises(EndpointError, match="PendingManualApproval, not Approved: approve it"):
        ModelPackage(model_package_arn=registered.model_package_arn).deploy(endpoint_name="ep-reg")
    with pytest.raises(EndpointError, match="no version with alias 'approved'"):
        ModelPackage(model_package_arn=f"{registered.model_package_group_name}@approved").deploy()
    registry.approve(registered.model_package_group_name, registered.version)
    pkg = ModelPackage(model_package_arn=f"{registered.model_package_group_name}@approved")
    predictor = pkg.deploy(endpoint_name="ep-reg")
    try:
        got = np.asarray(predictor.predict(X)["predictions"])
        import xgboost as xgb

        booster = xgb.Booster(model_file=bytearray(
            open(f"{trained.model_data}/xgboost-model", "rb").read()))
        np.testing.assert_allclose(got, booster.predict(xgb.DMatrix(X)), rtol=1e-5)
        npy = __import__("io").BytesIO()
        np.save(npy, X)
        resp = _post("ep-reg", npy.getvalue(), {"Content-Type": "application/x-npy"})
        assert resp.status_code == 200
        np.testing.assert_allclose(resp.json()["predictions"], got, rtol=1e-6)
        d = predictor.describe()
        assert d["EndpointStatus"] == "InService"
        [v] = d["ProductionVariants"]
        assert v["Model"]["ModelPackageArn"] == registered.model_package_arn
        assert v["CurrentInstanceCount"] == 1
    finally:
        predictor.delete_endpoint()
    with pytest.raises(EndpointError, match="no endpoint 'ep-reg'"):
        predictor.describe()


def test_variants_split_traffic_pin_and_reweigh_without_dropping_requests(trained):
    job = trained.latest_training_job.name
    sess = Session()
    predictor = sess.endpoint_from_production_variants("ep-ab", [
        production_variant(job, variant_name="A", initial_weight=0.8),
        production_variant(job, variant_name="B", initial_weight=0.2)])
    predictor.serializer = CSVSerializer()
    try:
        n = 300
        seen = []
        for _ in range(n):
            predictor.predict(ROW)
            seen.append(predictor.last_variant)
        share_a = seen.count("A") / n
        # Binomial(300, 0.8): sd 0.023; 4 sd either side.
        assert abs(share_a - 0.8) < 0.093, share_a
        assert set(seen) == {"A", "B"}
        for _ in range(20):
            predictor.predict(ROW, target_variant="B")
            assert predictor.last_variant == "B"
        with pytest.raises(EndpointError, match="no variant 'C'"):
            predictor.predict(ROW, target_variant="C")

        # Move all traffic to B while a client keeps sending: every request succeeds.
        failures, answered, stop = [], [], threading.Event()

        def load():
            while not stop.is_set():
                try:
                    r = _post("ep-ab")
                    answered.append(r.headers.get("X-Amzn-Invoked-Production-Variant"))
                    if r.status_code != 200:
                        failures.append(r.status_code)
                except requests.RequestException as e:
                    failures.append(repr(e))

        t = threading.Thread(target=load)
        t.start()
        time.sleep(1)
        sess.update_endpoint_weights_and_capacities(
            "ep-ab", [{"VariantName": "A", "DesiredWeight": 0}, {"VariantName": "B", "DesiredWeight": 1}])
        time.sleep(3)  # replicas pick weights up within about a second
        mark = len(answered)
        time.sleep(2)
        stop.set()
        t.join()
        assert not failures
        assert answered[mark:] and set(answered[mark:]) == {"B"}
        d = predictor.describe()
        weights = {v["VariantName"]: v["CurrentWeight"] for v in d["ProductionVariants"]}
        assert weights == {"A": 0.0, "B": 1.0}
        counts = {v["VariantName"]: v["Invocations"] for v in d["ProductionVariants"]}
        assert counts["A"] + counts["B"] >= n + 20 and counts["B"] >= 20
        with pytest.raises(EndpointError, match="has no variant C"):
            predictor.update_weights({"C": 1})
    finally:
        predictor.delete_endpoint()


def test_serverless_endpoint_scaled_to_zero_answers_its_first_request(trained, data_dir):
    X = np.loadtxt(data_dir / "features.csv", delimiter=",", dtype=np.float32)
    predictor = trained.deploy(endpoint_name="ep-zero", serverless_inference_config=ServerlessInferenceConfig(
        memory_size_in_mb=1024, max_concurrency=2))
    try:
        [v] = predictor.describe()["ProductionVariants"]
        assert v["CurrentInstanceCount"] == 0  # no replica until a request comes
        started = time.monotonic()
        got = predictor.predict(X)["predictions"]
        assert len(got) == len(X)
        assert time.monotonic() - started < 60
        [v] = predictor.describe()["ProductionVariants"]
        assert v["CurrentInstanceCount"] == 1
    finally:
        predictor.delete_endpoint()


def test_concurrent_requests_are_batched_into_one_model_call():
    settings = serving.Settings(batch_size=16, batch_wait_ms=50)
    serving.deploy("ep-batch", [serving.Variant("AllTraffic", _spec(_rows_in_call), resources={"CPU": 0.5})],
                   settings)
    try:
        with ThreadPoolExecutor(16) as pool:
            sizes = list(pool.map(lambda _: _post("ep-batch").json()["predictions"][0], range(64)))
        assert max(sizes) > 1, sizes  # several requests shared one call
        assert all(1 <= s <= 16 for s in sizes)
        serving.delete("ep-batch")
        serving.deploy("ep-batch", [serving.Variant("AllTraffic", _spec(_rows_in_call),
                                                    resources={"CPU": 0.5})],
                       serving.Settings(batch_size=1))
        with ThreadPoolExecutor(16) as pool:
            sizes = list(pool.map(lambda _: _post("ep-batch").json()["predictions"][0], range(32)))
        assert set(sizes) == {1.0}  # batching off: one request per call
    finally:
        serving.delete("ep-batch")


AUTH = [
    # (kind, headers, status)
    ("bearer", {}, 401),
    ("bearer", {"Authorization": "Bearer wrong"}, 401),
    ("bearer", {"Authorization": "Basic s3cret"}, 401),
    ("bearer", {"Authorization": "Bearer s3cret"}, 200),
    ("api_key", {}, 401),
    ("api_key", {"X-Api-Key": "nope"}, 401),
    ("api_key", {"X-Api-Key": "s3cret"}, 200),
]


def test_auth_table_timeout_and_payload_limit():
    results = {}
    for kind in ("bearer", "api_key"):
        settings = serving.Settings(auth=(kind, serving.secret_hash("s3cret")), max_payload_bytes=1000)
        serving.deploy("ep-auth", [serving.Variant("AllTraffic", _spec(_rows_in_call),
                                                   resources={"CPU": 0.5})], settings)
        try:
            for k, headers, status in AUTH:
                if k != kind:
                    continue
                r = _post("ep-auth", headers=headers)
                results[(kind, json.dumps(headers))] = r.status_code
                assert r.status_code == status, (kind, headers, r.text)
                if status == 401:
                    assert "missing or wrong" in r.json()["error"] and "s3cret" not in r.text
            ok = {"Authorization": "Bearer s3cret"} if kind == "bearer" else {"X-Api-Key": "s3cret"}
            r = _post("ep-auth", ROW * 200, ok)
            assert r.status_code == 413 and "the limit is 1000" in r.json()["error"]
            assert requests.get(f"{serving.endpoint_url('ep-auth')}/ping").status_code == 200
        finally:
            serving.delete("ep-auth")
    serving.deploy("ep-slow", [serving.Variant("AllTraffic", _spec(_slow), resources={"CPU": 0.5})],
                   serving.Settings(timeout_s=0.5, batch_size=1))
    try:
        r = _post("ep-slow")
        assert r.status_code == 504 and "within 0.5 s" in r.json()["error"]
        assert requests.get(f"{serving.endpoint_url('ep-slow')}/ping").status_code == 200
    finally:
        serving.delete("ep-slow")


def test_cli_endpoint_commands_and_refusals(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mlcore.cli", *args], capture_output=True,
                              text=True, timeout=120)

    res = cli("endpoints", "describe", "nope")
    assert res.returncode == 1 and "no endpoint 'nope'" in res.stderr and "Traceback" not in res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Endpoint\nendpoint_name: x\nvariants:\n  - model: {name: m, training_job: j}\n"
                   "    serverless_config: {memory_size_in_mb: 1000}\n")
    res = cli("deploy", str(bad))
    assert res.returncode == 2, res.stderr
    assert "variants.0.model: give either name" in res.stderr
    assert "memory_size_in_mb: Input should be a multiple of 1024" in res.stderr
    res = cli("endpoints", "update-weights", "x", "A=heavy")
    assert res.returncode == 2 and "VARIANT=NUMBER" in res.stderr
    missing = tmp_path / "missing.yaml"
    missing.write_text("kind: Endpoint\nendpoint_name: x\nvariants:\n  - model: {name: no-such-group}\n")
    res = cli("validate", str(missing))
    assert res.returncode == 2 and "no-such-group" in res.stderr
