"""Crashed drivers, exposed listeners, slow clients and secrets.

One endpoint driver (`mlcore deploy`, its own local Ray with the HAProxy ingress) is probed as
an attacker on the host would probe it, then SIGKILLed; a new driver must deploy on the same
port. A training driver is SIGKILLed mid-job; its MLflow run must read FAILED.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import fixed_range_port

from mlcore import _haproxy_launch, _processes, _session
from mlcore.errors import EndpointError

MLCORE = str(Path(sys.executable).with_name("mlcore"))
TOKEN = "hostile-token-5b1f9c0e7d"


def wait_for(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# -- pure parts -----------------------------------------------------------------------------

RENDERED = """global
    stats socket /tmp/x/admin.sock mode 666 level admin expose-fd listeners
defaults
    mode http
    timeout client 3600s
frontend prometheus
    bind :9101
frontend http_frontend
    bind 127.0.0.1:8000
listen stats
  bind *:8404
backend default_backend
    http-request return status 404 content-type text/plain lf-string "Path \'%[path]\' not found."
"""


def test_haproxy_configuration_is_hardened():
    out = _haproxy_launch.harden(RENDERED, 7)
    assert "mode 600 level admin" in out and "mode 666" not in out
    assert "bind 127.0.0.1:9101" in out and "bind 127.0.0.1:8404" in out
    assert "bind 127.0.0.1:8000" in out  # the frontend keeps the host it was given
    assert "timeout http-request 7s\n    option http-buffer-request" in out
    assert ('http-request return status 404 content-type application/json lf-string '
            '"{\\"error\\": \\"no endpoint serves %[path,json(utf8s)];') in out
    assert _haproxy_launch.harden(out, 7) == out  # a reload hardens an already hardened file


def test_a_taken_port_is_replaced_unless_the_user_chose_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        chosen = _session.choose_port("127.0.0.1", taken, explicit=False)
        assert chosen != taken and _session.port_free("127.0.0.1", chosen)
        with pytest.raises(EndpointError, match="MLCORE_SERVE_PORT"):
            _session.choose_port("127.0.0.1", taken, explicit=True)
    assert _session.choose_port("127.0.0.1", taken, explicit=True) == taken  # free again


def test_reap_stops_what_a_dead_driver_left_and_nothing_else(tmp_path):
    dead_owner = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner.wait()
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    folder = tmp_path / "haproxy-files"
    folder.mkdir()
    try:
        _processes.record(ours.pid, "test")  # owned by this (live) process
        path = _processes.run_dir() / f"test-{orphan.pid}.json"
        path.write_text(json.dumps({"pid": orphan.pid, "start": _processes.start_time(orphan.pid),
                                    "role": "test", "owner": dead_owner.pid, "owner_start": 1}))
        (_processes.run_dir() / "folder-x.json").write_text(json.dumps(
            {"path": str(folder), "owner": dead_owner.pid, "owner_start": 1}))
        assert _processes.reap() == [f"test {orphan.pid}"]
        assert orphan.wait(timeout=5) == -signal.SIGTERM
        assert ours.poll() is None and not folder.exists()
    finally:
        for p in (orphan, ours):
            p.kill()
            p.wait()
        _processes.forget_own()


# -- a crashed training driver --------------------------------------------------------------


def test_killed_training_driver_leaves_a_failed_mlflow_run(ray_session, data_dir, tmp_path):
    from mlcore import _tracking
    from mlcore.records import Status, TrainingJobRecord

    spec = tmp_path / "job.yaml"
    spec.write_text(f"""kind: TrainingJob
algorithm: xgboost
hyperparameters: {{num_round: 2000, max_depth: 6, objective: "binary:logistic"}}
inputs:
  train: {{uri: {data_dir / 'train.csv'}, content_type: text/csv}}
instance_type: local
""")
    name = "hostile-killed-driver"
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    driver = subprocess.Popen([MLCORE, "run", str(spec), "--job-name", name], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_id = wait_for(lambda: TrainingJobRecord.exists(name) and TrainingJobRecord.load(
            name, liveness=False).MlflowRunId, 120, "the job's MLflow run")
    finally:
        driver.kill()
        driver.wait()
    assert _tracking.client(_session.tracking_uri()).get_run(run_id).info.status == "RUNNING"
    record = TrainingJobRecord.load(name)  # the first reader that notices closes the run
    assert record.TrainingJobStatus == Status.FAILED and "exited" in record.FailureReason
    run = _tracking.client(_session.tracking_uri()).get_run(run_id)
    assert run.info.status == "FAILED"
    assert "exited without finishing" in run.data.tags["mlcore.failure_reason"]


# -- an endpoint driver probed, killed and replaced ------------------------------------------


def _tree(pid: int) -> set[int]:
    return {pid, *_processes.descendants(pid)}


def _listeners(pids: set[int]) -> list[tuple[str, int, int]]:
    import psutil

    return [(c.laddr.ip, c.laddr.port, c.pid) for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


def _answers_without_auth(ip: str, port: int) -> str | None:
    """The path a plain HTTP GET gets a 2xx/3xx for on this listener, if any."""
    host = f"[{ip}]" if ":" in ip else ip
    for path in ("/", "/stats", "/metrics"):
        try:
            r = requests.get(f"http://{host}:{port}{path}", timeout=2)
        except requests.RequestException:
            return None  # not HTTP (Ray's gRPC servers, which check Ray's token)
        if r.status_code < 400:
            return path
    return None


def _deploy(spec: Path, port: int, out=subprocess.PIPE, **extra) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(MLCORE_SERVE_PORT=str(port), HOSTILE_TOKEN=TOKEN, MLCORE_SERVE_READ_TIMEOUT_S="2",
               MLCORE_SERVE_INGRESS="haproxy", **extra)
    return subprocess.Popen([MLCORE, "deploy", str(spec)], env=env, stdout=out,
                            stderr=subprocess.STDOUT if out is not subprocess.PIPE
                            else subprocess.PIPE, text=True)


def _serving(port: int, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"the deploy exited: {proc.communicate()}")
    try:
        return requests.get(f"http://127.0.0.1:{port}/endpoints/hostile/ping", timeout=2).ok
    except requests.RequestException:
        return False


def _predict(port: int) -> requests.Response:
    return requests.post(f"http://127.0.0.1:{port}/endpoints/hostile/invocations",
                         data=b"0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8",
                         headers={"Content-Type": "text/csv", "Authorization": f"Bearer {TOKEN}"},
                         timeout=30)


def _slow_clients_cut_off(port: int, n_headers: int = 100, n_bodies: int = 50) -> None:
    head = b"POST /endpoints/hostile/invocations HTTP/1.1\r\nHost: x\r\n"
    slow = []
    for i in range(n_headers + n_bodies):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(head if i < n_headers else
                  head + b"Content-Type: text/csv\r\nContent-Length: 4000\r\n\r\n0.1,")
        slow.append(s)
    try:
        assert _predict(port).status_code == 200  # a legitimate client is still served
        deadline = time.monotonic() + 15  # the read timeout is 2 s
        for s in slow:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            answer = s.recv(200)  # raises socket.timeout if the server keeps it open
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        for s in slow:
            s.close()


@pytest.mark.integration
@pytest.mark.chaos
def test_endpoint_driver_exposes_nothing_and_a_killed_one_frees_its_port(trained, tmp_path):
    job = trained.latest_training_job.name
    spec = tmp_path / "endpoint.yaml"
    spec.write_text(f"""kind: Endpoint
endpoint_name: hostile
variants:
  - variant_name: AllTraffic
    model: {{training_job: {job}}}
    instance_type: local
auth: {{type: bearer, secret_env: HOSTILE_TOKEN}}
""")
    port = fixed_range_port()
    first = _deploy(spec, port)
    second = third = None
    seen: dict[int, int | None] = {}  # pid -> start time: what the drivers started
    try:
        wait_for(lambda: _serving(port, first), 180, "the endpoint to serve")
        assert _predict(port).status_code == 200
        tree = _tree(first.pid)
        seen.update({p: _processes.start_time(p) for p in tree})
        # A second driver asking for the same port must fail at once, in one line: started
        # now (it is a separate process, outside the tree probed below), checked after.
        second = subprocess.Popen([MLCORE, "deploy", str(spec)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "MLCORE_SERVE_PORT": str(port),
                                       "HOSTILE_TOKEN": TOKEN})

        # The token is in the deploying driver's environment only, never in Ray's processes.
        for pid in tree - {first.pid}:
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            assert TOKEN.encode() not in environ, (pid, Path(f"/proc/{pid}/comm").read_text())

        # HAProxy: a private runtime folder, an admin socket for its owner only.
        haproxy = [p for p in tree if Path(f"/proc/{p}/comm").read_text().strip() == "haproxy"]
        assert haproxy
        args = Path(f"/proc/{haproxy[0]}/cmdline").read_bytes().split(b"\0")
        config = Path(args[args.index(b"-f") + 1].decode())
        runtime = config.parent.parent
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
        assert stat.S_IMODE((config.parent / "admin.sock").stat().st_mode) == 0o600

        # Nothing this driver started answers plain HTTP on a non-loopback interface.
        exposed = [(ip, p, path) for ip, p, _ in _listeners(tree)
                   if not ip.startswith("127.") and ip != "::1"
                   for path in [_answers_without_auth(ip, p)] if path]
        assert not exposed, exposed
        assert {ip for ip, _, pid in _listeners(set(haproxy))} == {"127.0.0.1"}

        _slow_clients_cut_off(port)

        _, second_err = second.communicate(timeout=120)
        assert second.returncode != 0 and "MLCORE_SERVE_PORT" in second_err
        assert "Traceback" not in second_err, second_err

        # SIGKILL: HAProxy goes with its parent and the port is free again.
        first.kill()
        first.wait()
        wait_for(lambda: not any(_processes.start_time(p) for p in haproxy), 15,
                 "HAProxy to exit with the driver")
        wait_for(lambda: _session.port_free("127.0.0.1", port), 15, "the port to be free")
        leftovers = {p for p in tree if _processes.start_time(p)} - {first.pid}

        log = tmp_path / "third.log"
        with log.open("w") as out:
            third = _deploy(spec, port, out)
        wait_for(lambda: _serving(port, third), 180, "the redeployed endpoint to serve")
        seen.update({p: _processes.start_time(p) for p in _tree(third.pid)})
        assert _predict(port).status_code == 200
        still = {p for p in leftovers if _processes.start_time(p)}
        assert not still, f"the new driver did not reap {still}"
        # Ctrl-C once the driver serves (not mid-deploy): it deletes the endpoint and exits 0.
        wait_for(lambda: "Ctrl-C stops" in log.read_text(), 60, "the driver to serve")
        third.send_signal(signal.SIGINT)
        assert third.wait(timeout=90) == 0, log.read_text()
        assert "endpoint hostile deleted" in log.read_text()
    finally:
        for p in (first, second, third):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        for pid, started in seen.items():  # whatever still runs of what the drivers started
            if started and _processes.start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
