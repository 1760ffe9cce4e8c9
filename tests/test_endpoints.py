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
from mlcore.sagemaker.deserializers import CSVDeserializer
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


def _scores(rows) -> np.ndarray:
    """The built-in XGBoost's CSV answer (a line per prediction), read by CSVDeserializer."""
    return np.asarray(rows, dtype=float).ravel()


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
    predictor = pkg.deploy(endpoint_name="ep-reg", serializer=CSVSerializer(),
                           deserializer=CSVDeserializer())
    try:
        got = _scores(predictor.predict(X))
        import tarfile

        import xgboost as xgb

        with tarfile.open(trained.model_data) as tar:  # SageMaker's model.tar.gz
            booster = xgb.Booster(model_file=bytearray(tar.extractfile("xgboost-model").read()))
        np.testing.assert_allclose(got, booster.predict(xgb.DMatrix(X)), rtol=1e-5)
        npy = __import__("io").BytesIO()
        np.save(npy, X)
        resp = _post("ep-reg", npy.getvalue(), {"Content-Type": "application/x-npy"})
        assert resp.status_code == 200
        np.testing.assert_allclose(np.asarray(resp.text.split(), dtype=float), got, rtol=1e-6)
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

        def until(cond, what):
            deadline = time.monotonic() + 30
            while not cond():
                assert time.monotonic() < deadline and t.is_alive(), f"timed out waiting for {what}"
                time.sleep(0.05)

        t = threading.Thread(target=load)
        t.start()
        try:
            until(lambda: len(answered) >= 20, "the client's first answers")
            sess.update_endpoint_weights_and_capacities(
                "ep-ab", [{"VariantName": "A", "DesiredWeight": 0}, {"VariantName": "B", "DesiredWeight": 1}])
            # Replicas pick weights up within about a second: wait for 20 B answers in a row
            # (0.2 ** 20 at the old weights), then every later answer must be B.
            until(lambda: answered[-20:] == ["B"] * 20, "the new weights to be used")
            mark = len(answered)
            until(lambda: len(answered) >= mark + 100, "100 more answers")
        finally:
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
        memory_size_in_mb=1024, max_concurrency=2), serializer=CSVSerializer(),
        deserializer=CSVDeserializer())
    try:
        [v] = predictor.describe()["ProductionVariants"]
        assert v["CurrentInstanceCount"] == 0  # no replica until a request comes
        started = time.monotonic()
        got = _scores(predictor.predict(X))
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
    from conftest import run_together

    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Endpoint\nendpoint_name: x\nvariants:\n  - model: {name: m, training_job: j}\n"
                   "    serverless_config: {memory_size_in_mb: 1000}\n")
    missing = tmp_path / "missing.yaml"
    missing.write_text("kind: Endpoint\nendpoint_name: x\nvariants:\n  - model: {name: no-such-group}\n")
    cli = [sys.executable, "-m", "mlcore.cli"]
    nope, deploy, weights, validate = run_together(  # four refusals, independent of each other
        [*cli, "endpoints", "describe", "nope"], [*cli, "deploy", str(bad)],
        [*cli, "endpoints", "update-weights", "x", "A=heavy"], [*cli, "validate", str(missing)],
        timeout=120)
    assert nope.returncode == 1 and "no endpoint 'nope'" in nope.stderr and "Traceback" not in nope.stderr
    assert deploy.returncode == 2, deploy.stderr
    assert "variants.0.model: give exactly one of name" in deploy.stderr
    assert "memory_size_in_mb: Input should be a multiple of 1024" in deploy.stderr
    assert weights.returncode == 2 and "VARIANT=NUMBER" in weights.stderr
    assert validate.returncode == 2 and "no-such-group" in validate.stderr


def _listener(port: int) -> str:
    """Name of the process listening on 127.0.0.1:``port``."""
    import psutil

    for c in psutil.net_connections("tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid:
            return psutil.Process(c.pid).name()
    return ""


@pytest.mark.slow
def test_haproxy_is_the_default_ingress_and_serves_proxy_the_alternative(trained, data_dir, tmp_path):
    """The session's local Ray took the default (HAProxy); a `mlcore deploy` process with
    MLCORE_SERVE_INGRESS=proxy starts its own local Ray behind Serve's proxy actor, on other
    ports, alongside it."""
    import os
    import signal

    from conftest import fixed_range_port

    body = (data_dir / "features.csv").read_text().splitlines()[0]
    predictor = trained.deploy(endpoint_name="ep-ingress")
    try:
        assert _listener(int(os.environ["MLCORE_SERVE_PORT"])) == "haproxy"
        expected = _post("ep-ingress", body).text  # the XGBoost container's CSV
    finally:
        predictor.delete_endpoint()
    spec = tmp_path / "proxy.yaml"
    spec.write_text(f"kind: Endpoint\nendpoint_name: ep-proxy\nvariants:\n"
                    f"  - model: {{training_job: {trained.latest_training_job.name}}}\n")
    port = fixed_range_port()
    env = {**os.environ, "MLCORE_SERVE_INGRESS": "proxy", "MLCORE_SERVE_PORT": str(port)}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "mlcore.cli", "deploy", str(spec)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/endpoints/ep-proxy"
    try:
        deadline = time.monotonic() + 180
        while not any("Ctrl-C stops" in line for line in lines):  # deployed, now serving
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.5)
        r = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "text/csv"},
                          timeout=60)
        assert r.status_code == 200 and r.text == expected
        assert "ProxyActor" in _listener(port)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        reader.join(timeout=10)
    out = "".join(lines)
    assert proc.returncode == 0 and "endpoint ep-proxy deleted" in out, out


def _pid(model, X):
    import os

    return np.full(len(X), float(os.getpid()))


@pytest.mark.chaos
def test_killing_a_replica_under_steady_load_keeps_99_percent_of_requests():
    """20 requests/s for 30 s against 2 replicas; one replica is SIGKILLed after 5 s."""
    import os
    import signal

    serving.deploy("ep-chaos", [serving.Variant("AllTraffic", _spec(_pid), replicas=2,
                                                resources={"CPU": 0.5})],
                   serving.Settings(batch_size=1))
    try:
        http = requests.Session()
        ok, failed, pids, killed = 0, [], set(), None
        start = time.monotonic()
        for i in range(600):
            time.sleep(max(0.0, start + i / 20 - time.monotonic()))  # 20 per second
            try:
                r = http.post(f"{serving.endpoint_url('ep-chaos')}/invocations", data=ROW,
                              headers={"Content-Type": "text/csv"}, timeout=30)
                if r.status_code == 200:
                    ok += 1
                    pids.add(int(r.json()["predictions"][0]))
                else:
                    failed.append(r.status_code)
            except requests.RequestException as e:
                failed.append(repr(e))
            if killed is None and i >= 100 and len(pids) >= 2:
                killed = sorted(pids)[0]
                os.kill(killed, signal.SIGKILL)
        assert killed is not None, f"never saw both replicas: {pids}"
        assert ok / 600 >= 0.99, (ok, failed)
        assert len(pids - {killed}) >= 2, pids  # the survivor and the replacement both served
    finally:
        serving.delete("ep-chaos")


def test_data_capture_writes_the_sampled_share_in_sagemakers_format(trained, tmp_path):
    from mlcore.sagemaker import DataCaptureConfig

    dest = tmp_path / "capture"
    predictor = trained.deploy(endpoint_name="ep-capture", data_capture_config=DataCaptureConfig(
        sampling_percentage=30, destination_s3_uri=str(dest)))
    try:
        n, captured_ids = 400, set()
        for i in range(n):
            r = _post("ep-capture", f"{i},2,3,4,5,6,7,8")
            assert r.status_code == 200
            if "X-Amzn-SageMaker-Inference-Id" in r.headers:
                captured_ids.add(r.headers["X-Amzn-SageMaker-Inference-Id"])
        d = predictor.describe()["DataCaptureConfig"]
        assert d == {"EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 30,
                     "DestinationS3Uri": str(dest), "KmsKeyId": ""}
        time.sleep(2.5)  # one flush interval (1 s) and then some
    finally:
        predictor.delete_endpoint()
    files = sorted(dest.rglob("*.jsonl"))
    assert files and all(f.relative_to(dest).parts[:2] == ("ep-capture", "AllTraffic") for f in files)
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    # Binomial(400, 0.3): sd 9.2; 4 sd either side.
    assert abs(len(rows) - 0.3 * n) < 37, len(rows)
    assert {r["eventMetadata"]["eventId"] for r in rows} == captured_ids
    first = rows[0]["captureData"]
    assert first["endpointInput"]["observedContentType"] == "text/csv"
    assert first["endpointInput"]["encoding"] == "CSV" and first["endpointInput"]["mode"] == "INPUT"
    sent = int(first["endpointInput"]["data"].split(",")[0])
    assert 0 <= sent < n
    out = first["endpointOutput"]  # the XGBoost container's CSV: one line per prediction
    assert out["encoding"] == "CSV" and len(out["data"].splitlines()) == 1


def test_multi_model_endpoint_loads_on_first_use_and_evicts_least_recently_used(tmp_path):
    """120 distinct XGBoost models under one prefix, at most 10 loaded per replica."""
    import xgboost as xgb

    from mlcore import _storage
    from mlcore.sagemaker import MultiDataModel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    prefix, expected = str(tmp_path / "models"), {}
    staging = tmp_path / "staging"
    staging.mkdir()
    probe = X[:3]
    for i in range(120):
        y = (X[:, i % 8] + rng.normal(scale=0.3, size=200) > 0).astype(np.float32)
        booster = xgb.train({"max_depth": 2, "objective": "binary:logistic", "seed": i},
                            xgb.DMatrix(X, y), num_boost_round=3)
        booster.save_model(str(staging / "xgboost-model.json"))
        (staging / "xgboost-model.json").rename(staging / "xgboost-model")
        _storage.commit_dir(str(staging), f"{prefix}/m{i:03d}")
        (staging / "xgboost-model").unlink()
        expected[f"m{i:03d}"] = booster.predict(xgb.DMatrix(probe))

    mme = MultiDataModel("ep-mme", prefix, algorithm="xgboost", max_models_per_replica=10)
    assert mme.add_model(f"{prefix}/m000", "extra/copy-of-m000") == "extra/copy-of-m000"
    models = list(mme.list_models())
    assert len(models) == 121 and models[0] == "extra/copy-of-m000" and models[-1] == "m119"
    predictor = mme.deploy(serializer=CSVSerializer(), deserializer=CSVDeserializer())
    try:
        def loads():
            time.sleep(2.5)  # replicas push their counts about once a second
            [v] = predictor.describe()["ProductionVariants"]
            return v["ModelLoads"]

        for name in expected:  # first use of each: 120 loads, each answering as its own model
            got = _scores(predictor.predict(probe, target_model=name))
            np.testing.assert_allclose(got, expected[name], rtol=1e-6)
        assert loads() == 120
        for name in list(expected)[-10:]:  # the 10 most recent are still loaded
            predictor.predict(probe, target_model=name)
        assert loads() == 120
        predictor.predict(probe, target_model="m000")  # evicted long ago: loaded again
        np.testing.assert_allclose(_scores(predictor.predict(probe, target_model="extra/copy-of-m000")),
                                   expected["m000"], rtol=1e-6)
        assert loads() == 122
        for target, status, words in [(None, 400, "X-Amzn-SageMaker-Target-Model"),
                                      ("nope", 404, "no model 'nope'"),
                                      ("../m001", 400, "without '..'")]:
            with pytest.raises(EndpointError, match=words) as info:
                predictor.predict(probe, target_model=target)
            assert info.value.fields["status"] == status
    finally:
        predictor.delete_endpoint()


def _replica_rss(app: str) -> list[int]:
    """Resident memory of each replica of endpoint ``app`` (all on this machine; Ray titles
    a replica's process ``ray::ServeReplica:<app>:<deployment>``)."""
    import psutil

    title = f"ray::ServeReplica:{app}:"
    return sorted(p.memory_info().rss for p in psutil.process_iter(["cmdline"])
                  if (p.info["cmdline"] or [""])[0].startswith(title))


@pytest.mark.slow
def test_multi_model_endpoint_serves_1000_models_in_bounded_memory_and_spreads_a_hot_one(tmp_path):
    """1,000 models (each ~1 MB in memory) through 2 replicas capped at 10 each: every one
    loads and answers, replica memory stays flat, and a hot model is loaded on both replicas
    rather than pinned to one."""
    import xgboost as xgb

    from algorithms import _xgboost
    from mlcore import _storage

    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 8)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] + rng.normal(scale=0.3, size=2000) > 0).astype(np.float32)
    booster = xgb.train({"max_depth": 6, "objective": "binary:logistic", "seed": 0},
                        xgb.DMatrix(X, y), num_boost_round=600)
    staging = tmp_path / "staging"
    staging.mkdir()
    _xgboost.save_model(booster, str(staging))
    model_bytes = len(booster.save_raw("ubj"))
    assert model_bytes > 800_000
    one = _storage.commit_dir(str(staging), str(tmp_path / "one"))
    prefix = tmp_path / "models"
    prefix.mkdir()
    for i in range(1000):  # 1,000 names of one artifact: each loads as its own object
        (prefix / f"m{i:04d}").symlink_to(one)
    spec = serving.ModelSpec(str(prefix), _xgboost.load_model, _xgboost.predict,
                             _xgboost.feature_count, multi_model=10)
    serving.deploy("ep-mme-1000", [serving.Variant("AllTraffic", spec, replicas=2,
                                                   resources={"CPU": 0.25})])
    expected = booster.predict(xgb.DMatrix(X[:1]))
    body = ",".join(map(str, X[0]))

    def ask(i: int) -> None:
        r = _post("ep-mme-1000", body, {"X-Amzn-SageMaker-Target-Model": f"m{i:04d}"})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-6)

    def loads() -> int:
        time.sleep(2.5)  # replicas push their counts about once a second
        return serving.variant_stats("ep-mme-1000")["variants"]["AllTraffic"]["ModelLoads"]

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(ask, range(50)))
            early = _replica_rss("ep-mme-1000")
            list(pool.map(ask, range(50, 1000)))
        late = _replica_rss("ep-mme-1000")
        assert len(early) == len(late) == 2
        assert loads() == 1000  # each model once: a model is loaded on first use
        # Unbounded caching would hold ~1 GB more; the cap keeps each replica near 10 models.
        growth = max(b - a for a, b in zip(early, late, strict=True))
        print(f"replica RSS after 50 models {early}, after 1000 {late}; a model is {model_bytes} B")
        assert growth < 40 * model_bytes, (early, late, model_bytes)
        before = loads()
        with ThreadPoolExecutor(8) as pool:  # one hot model, evicted by now, at 8 connections
            list(pool.map(lambda _: ask(0), range(200)))
        assert loads() - before == 2  # loaded on both replicas, not pinned to one
    finally:
        serving.delete("ep-mme-1000")


def _double(model, X):
    return X * 2


def _row_sums(model, X):
    return X.sum(axis=1, keepdims=True)


def _plus_one(model, X):
    return X + 1


def test_inference_pipeline_composes_its_stages_each_its_own_deployment():
    stages = [_spec(_double), _spec(_row_sums), _spec(_plus_one)]
    serving.deploy("ep-pipe", [serving.Variant("AllTraffic", stages, resources={"CPU": 1.5})],
                   serving.Settings(batch_size=4, batch_wait_ms=5))
    try:
        rows = [[1, 2, 3], [0.5, 0, -1]]
        r = requests.post(f"{serving.endpoint_url('ep-pipe')}/invocations", json=rows, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [[13.0], [0.0]]  # (2*sum) + 1
        deployments = serving.status("ep-pipe")["deployments"]
        assert {"AllTraffic-stage-0", "AllTraffic-stage-1", "AllTraffic-stage-2"} <= set(deployments)
        assert all(d["replicas"].get("RUNNING") == 1 for n, d in deployments.items() if "stage" in n)
    finally:
        serving.delete("ep-pipe")
    from mlcore import SpecError
    from mlcore.sagemaker import PipelineModel

    with pytest.raises(SpecError, match="at least 2 models"):
        PipelineModel(models=["g/1"])
    with pytest.raises(TypeError, match="did you mean 'sagemaker_session'"):
        PipelineModel(models=["g/1", "g/2"], sagemaker_sesion=None)


def _sign_of_first(model, X):
    return (X[:, 0] > 0).astype(float)


def _always_low(model, X):
    return np.full(len(X), 0.3)


def test_variant_comparison_on_ground_truth_finds_the_better_variant(tmp_path):
    dest = str(tmp_path / "capture")
    settings = serving.Settings(capture=serving.CaptureConfig(dest, 100.0), batch_size=1)
    serving.deploy("ep-cmp", [
        serving.Variant("A", _spec(_sign_of_first), weight=0.5, resources={"CPU": 0.5}),
        serving.Variant("B", _spec(_always_low), weight=0.5, resources={"CPU": 0.5})], settings)
    try:
        rng = np.random.default_rng(0)
        truth = {}
        for i in range(200):
            x0 = float(rng.normal())
            r = _post("ep-cmp", f"{x0},0,0", {"X-Amzn-SageMaker-Inference-Id": f"req-{i}"})
            assert r.status_code == 200 and r.headers["X-Amzn-SageMaker-Inference-Id"] == f"req-{i}"
            truth[f"req-{i}"] = float(x0 > 0)
        time.sleep(2.5)  # the capture writer flushes every second
    finally:
        serving.delete("ep-cmp")
    out = serving.compare_variants(dest, "ep-cmp", truth)
    a, b = out["Variants"]["A"], out["Variants"]["B"]
    assert a["N"] + b["N"] == 200 and min(a["N"], b["N"]) > 50
    assert a["accuracy"] == 1.0 and 0.3 < b["accuracy"] < 0.7
    assert out["Test"] == "two-proportion z-test" and out["PValue"] < 1e-6
    assert out["Significant"] and out["Better"] == "A"
    mse = serving.compare_variants(dest, "ep-cmp", truth, metric="mse")
    assert mse["Better"] == "A" and mse["Variants"]["A"]["mse"] == 0.0
    with pytest.raises(EndpointError, match="metric must be one of"):
        serving.compare_variants(dest, "ep-cmp", truth, metric="auc")
