"""Async endpoints on the session's Ray, over real HTTP on 127.0.0.1: requests accepted at
once and worked through from zero replicas, results equal to the realtime answer, failure
records, notifications once per request, refusals at submit time, and exactly one outcome per
accepted request when a worker replica or the ingress is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests

import serving
from mlcore import _storage
from mlcore.services import endpoints
from mlcore.specs import Endpoint, load_file
from tests.conftest import make_classification

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[1]


class Webhook:
    """A loopback notification topic: records each POSTed message."""

    def __init__(self):
        self.messages: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.messages.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/topic"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def by_id(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for m in list(self.messages):
            out.setdefault(m["inferenceId"], []).append(m)
        return out


def wait_for(cond, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(every)


def _submit(name: str, body: bytes | None = None, headers: dict | None = None):
    return requests.post(f"{serving.endpoint_url(name)}/async-invocations", data=body,
                         headers=headers or {}, timeout=60)


def _status(name: str, inference_id: str) -> dict:
    return requests.get(f"{serving.endpoint_url(name)}/async-invocations/{inference_id}",
                        timeout=30).json()


def _workers(name: str) -> int:
    d = endpoints.describe(name)
    return d["ProductionVariants"][0]["CurrentInstanceCount"]


def _read(uri: str) -> bytes | None:
    fs, path = _storage.filesystem(uri)
    return fs.cat_file(path) if fs.exists(path) else None


def _csv(X: np.ndarray) -> bytes:
    return "\n".join(",".join(f"{v:.7g}" for v in row) for row in X).encode()


def test_async_endpoint_from_zero_results_failures_notifications_and_refusals(
        trained, bucket):
    from algorithms import get as algorithm
    from serving._model import _load
    from serving._payload import parse, render

    hook = Webhook()
    job = trained.latest_training_job.name
    name = "ep-async"
    # The shipped example, on this session's model, bucket and notification topic.
    example = load_file(ROOT / "configs" / "endpoint-async.yaml").model_dump()
    example["variants"][0].update(model={"training_job": job}, instance_type="local")  # 1 CPU
    example["variants"][0]["autoscaling"]["scale_in_cooldown_s"] = 3  # idle to zero soon
    example["async_inference"].update(
        output_path=f"s3://{bucket}/async/out", failure_path=f"s3://{bucket}/async/fail",
        max_concurrent_invocations_per_instance=2,
        notification_config={"success_topic": hook.url, "error_topic": hook.url})
    spec = Endpoint(**{**example, "endpoint_name": name})
    desc = endpoints.deploy(spec)
    try:
        assert desc["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"] == f"s3://{bucket}/async/out"
        # It starts with initial_instance_count replicas (1), as SageMaker's does, and scales
        # in to zero while the queue is empty.
        wait_for(lambda: _workers(name) == 0, 60, "the idle workers to scale to zero")

        # The realtime answer, from the realtime path's own functions on the same model.
        model_spec, _ = endpoints.resolve(spec.variants[0].model)
        model, n_features = _load(model_spec)
        xgb = algorithm("xgboost")

        def realtime(body: bytes, ctype="text/csv", accept="text/csv") -> bytes:
            return render(xgb.predict(model, parse(body, ctype, n_features, len(body))), accept,
                          model_spec.container)[0]

        # Small requests as bodies, large ones (multi-MB) by s3:// input location.
        bodies, expected, ids = {}, {}, []
        for i in range(6):
            X, _ = make_classification(5 + i, 8, seed=10 + i)
            bodies[i] = _csv(X)
        fs, _ = _storage.filesystem(f"s3://{bucket}")
        for i in range(6, 9):
            X, _ = make_classification(40_000, 8, seed=i)
            bodies[i] = _csv(X)
            assert len(bodies[i]) > 2_000_000
            fs.pipe_file(f"{bucket}/async/in/big-{i}.csv", bodies[i])
        started = time.monotonic()
        for i, body in bodies.items():
            headers = {"X-Amzn-SageMaker-Content-Type": "text/csv", "X-Amzn-SageMaker-Accept": "text/csv"}
            if i >= 6:
                res = _submit(name, headers={**headers, "X-Amzn-SageMaker-InputLocation":
                                             f"s3://{bucket}/async/in/big-{i}.csv"})
            else:
                res = _submit(name, body, headers)
            assert res.status_code == 202, res.text
            out = res.json()
            assert out["OutputLocation"] == f"s3://{bucket}/async/out/{out['InferenceId']}.out"
            assert res.headers["X-Amzn-SageMaker-FailureLocation"] == out["FailureLocation"]
            ids.append(out["InferenceId"])
            expected[out["InferenceId"]] = realtime(body)
        # A request only the model can find wrong: a failure record, the endpoint stays up.
        bad = _submit(name, b"1,2,3\n", {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "bad-1"})
        assert bad.status_code == 202 and bad.json()["InferenceId"] == "bad-1"
        assert _status(name, ids[0])["Status"] in ("Pending", "InProgress")

        def done():
            return all(_status(name, i)["Status"] in ("Completed", "Failed") for i in ids + ["bad-1"])

        wait_for(done, 180, "every request to finish")
        first_results_s = time.monotonic() - started
        for i in ids:
            st = _status(name, i)
            assert st["Status"] == "Completed", st
            assert _read(st["OutputLocation"]) == expected[i], i
            assert _read(st["FailureLocation"]) is None
        fail = _status(name, "bad-1")
        assert fail["Status"] == "Failed" and "features" in fail["FailureReason"], fail
        record = json.loads(_read(fail["FailureLocation"]))
        assert record["InferenceId"] == "bad-1" and record["FailureReason"] == fail["FailureReason"]
        assert _read(fail["OutputLocation"]) is None

        # One notification per request (a duplicate would carry the same inferenceId).
        got = wait_for(lambda: (lambda m: m if len(m) == len(ids) + 1 else None)(hook.by_id()),
                       30, "a notification per request")
        for i in ids:
            [m] = {json.dumps(x, sort_keys=True) for x in got[i]}  # duplicates identical, if any
            m = json.loads(m)
            assert m["invocationStatus"] == "Completed" and m["eventName"] == "InferenceResult"
            assert m["responseParameters"]["outputLocation"] == _status(name, i)["OutputLocation"]
        assert got["bad-1"][0]["invocationStatus"] == "Failed"
        assert got["bad-1"][0]["failureReason"] == fail["FailureReason"]

        # Refused at submit time, with a JSON reason; nothing queued.
        url = f"{serving.endpoint_url(name)}"
        table = [
            (_submit(name, b"", {"Content-Type": "text/csv"}), 400, "no input"),
            (_submit(name, headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-InputLocation":
                                    f"s3://{bucket}/async/in/none.csv"}), 400, "does not exist"),
            (_submit(name, headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-InputLocation":
                                    "/etc/passwd"}), 400, "s3:// URI"),
            (_submit(name, b"1,2", {"Content-Type": "image/png"}), 415, "Content-Type"),
            (_submit(name, b"1,2", {"Content-Type": "text/csv", "Accept": "image/png"}), 406, "Accept"),
            (_submit(name, b"1,2", {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "bad-1"}),
             409, "already used"),
            (_submit(name, b"1,2", {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "a b"}),
             400, "Inference-Id"),
            (_submit(name, b"1,2", {"Content-Type": "text/csv", "X-Amzn-SageMaker-RequestTTLSeconds": "5"}),
             400, "RequestTTLSeconds"),
            (requests.post(f"{url}/invocations", data=b"1,2", timeout=30), 400, "async-invocations"),
            (requests.get(f"{url}/async-invocations/nope", timeout=30), 404, "no inference"),
        ]
        for res, status, words in table:
            assert res.status_code == status and words in res.json()["error"], (status, res.text)
            assert "Traceback" not in res.text
        # An endpoint that does not exist: the ingress (HAProxy) answers, in JSON too.
        res = requests.post(url.replace(name, "no-such-endpoint") + "/async-invocations",
                            data=b"1,2", timeout=30)
        assert res.status_code == 404 and "no-such-endpoint" in res.json()["error"], res.text

        # The queue emptied: the workers go back to zero, and new work wakes them again.
        wait_for(lambda: _workers(name) == 0, 90, "the workers to scale back to zero")
        again = _submit(name, bodies[0], {"Content-Type": "text/csv", "Accept": "text/csv"}).json()
        wait_for(lambda: _status(name, again["InferenceId"])["Status"] == "Completed", 120,
                 "the request sent at zero replicas")
        assert _read(again["OutputLocation"]) == expected[ids[0]]
        print(f"first batch of {len(ids) + 1} from zero replicas: {first_results_s:.1f} s")
    finally:
        endpoints.delete(name)
        hook.server.shutdown()
    assert not Path(endpoints.async_home(name)).with_suffix(".db").exists()


SLOW_MODEL = '''
"""y = X @ w, slowly (a long request), with the framework containers' handlers."""
import os
import time

import numpy as np


def model_fn(model_dir):
    return np.loadtxt(os.path.join(model_dir, "w.txt"))


def predict_fn(data, model):
    time.sleep(0.4)
    return np.asarray(data, dtype=float) @ model
'''


def _replica_pids(app: str, deployment: str) -> list[int]:
    """PIDs of a Serve deployment's replicas (Ray titles them ray::ServeReplica:<app>:<name>)."""
    import psutil

    title = f"ServeReplica:{app}:{deployment}"
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any(title in part for part in (p.info["cmdline"] or []))]


def _kill(pids: list[int]) -> None:
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


@pytest.mark.chaos
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_every_accepted_request_has_one_outcome_when_replicas_ingress_or_redis_die(
        ray_session, tmp_path, monkeypatch, request, backend):
    monkeypatch.setenv("MLCORE_ASYNC_LEASE_S", "3")  # a dead replica's work is taken up soon
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    w = np.array([0.5, -1.0, 2.0])
    np.savetxt(model_dir / "w.txt", w)
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    redis_server = request.getfixturevalue("redis_server") if backend == "redis" else None
    name = f"ep-async-chaos-{backend}"
    out = tmp_path / "out"
    spec = Endpoint(endpoint_name=name, variants=[{
        "model": {"model_data": str(model_dir), "entry_point": str(tmp_path / "slow.py"),
                  "framework": "sklearn"},
        "autoscaling": {"min_capacity": 1, "max_capacity": 1}}],
        async_inference={"output_path": str(out), "failure_path": str(tmp_path / "fail"),
                         "max_concurrent_invocations_per_instance": 2,
                         **({"queue": redis_server.url} if redis_server else {})})
    endpoints.deploy(spec)
    accepted: dict[str, bytes] = {}  # inference id -> its body
    rng = np.random.default_rng(7)

    def submit(i: int) -> None:
        """Send request i until it is accepted: a 202, or a 409 for its own id (the ingress
        died after persisting it, before answering)."""
        body = _csv(rng.normal(size=(3, 3)).astype(np.float32))
        deadline = time.monotonic() + 120
        while True:
            try:
                res = _submit(name, body, {"Content-Type": "text/csv", "Accept": "text/csv",
                                           "X-Amzn-SageMaker-Inference-Id": f"req-{i}"})
                if res.status_code in (202, 409):
                    accepted[f"req-{i}"] = body
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"req-{i} was never accepted"
            time.sleep(0.2)

    def finished() -> int:
        return sum(1 for f in out.glob("*.out"))

    try:
        for i in range(10):
            submit(i)
        wait_for(lambda: finished() >= 2, 60, "the first results")
        _kill(_replica_pids(name, "variant-AllTraffic"))  # mid-stream: two requests in its hands
        for i in range(10, 16):
            submit(i)
        _kill(_replica_pids(name, "ingress"))  # the process that accepts; Serve starts another
        for i in range(16, 22):
            submit(i)
        if redis_server is not None:  # the queue's server itself dies, and comes back
            redis_server.kill()
            time.sleep(1.0)
            redis_server.start()
        for i in range(22, 26):
            submit(i)

        def all_settled():
            try:
                states = [_status(name, i)["Status"] for i in accepted]
            except (requests.RequestException, ValueError):
                return False
            return all(s in ("Completed", "Failed") for s in states)

        wait_for(all_settled, 180, "every accepted request to finish", every=0.5)
        for i, body in accepted.items():
            X = np.loadtxt(body.decode().splitlines(), delimiter=",", ndmin=2)
            st = _status(name, i)
            assert st["Status"] == "Completed", st
            got = np.loadtxt((out / f"{i}.out").read_text().splitlines(), delimiter=",")
            np.testing.assert_allclose(got.ravel(), (X @ w).ravel(), rtol=1e-5)
            assert not (tmp_path / "fail" / f"{i}-error.out").exists()
        assert sorted(p.name for p in out.glob("*.out")) == sorted(f"{i}.out" for i in accepted)
        assert not list((out / ".mlcore-async").glob("*"))  # no staged copy left behind
        assert len(accepted) == 26
        # The replica died with work in its hands: that work ran again under a new attempt.
        assert max(_status(name, i)["Attempts"] for i in accepted) >= 2
    finally:
        endpoints.delete(name)
