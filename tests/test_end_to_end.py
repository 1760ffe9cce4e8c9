"""The README's main job, three ways: the CLI on embedded defaults, `ray job submit` against
a `ray start --head` cluster this test starts (and stops by PID), and job records."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import fixed_range_port, free_port, run_together

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "AWS_ENDPOINT"))}
    env.update(MLCORE_HOME=str(home), MLCORE_SERVE_PORT=str(free_port()), MLCORE_NUM_CPUS="2",
               PATH=f"{BIN}:{env.get('PATH', '')}", **extra)
    return env


def _check_quickstart_output(out: str, home: Path) -> str:
    assert "training job xgboost-" in out and ": Completed" in out
    assert "validation:auc = " in out
    auc = float(out.split("validation:auc = ")[1].split()[0])
    assert auc > 0.95, out  # breast-cancer is an easy problem; a broken pipeline is not
    assert "registered breast-cancer-xgboost version 1 (Approved)" in out
    assert "predictions for 58 rows" in out and "-> " in out
    job = out.split("training job ")[1].split(":")[0]
    from mlcore.records import RecordStore

    record = RecordStore(f"sqlite:///{home}/records.db").get("TrainingJob", job)
    assert record["TrainingJobStatus"] == "Completed"
    assert (home / "output" / job / "model" / "_COMMITTED").exists()
    return job


def test_quickstart_cli_and_job_records(tmp_path):
    home = tmp_path / "home"
    res = subprocess.run([str(BIN / "mlcore"), "run", "configs/quickstart.yaml"], cwd=ROOT,
                         env=_env(home), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    job = _check_quickstart_output(res.stdout, home)
    assert f"mlflow ui --backend-store-uri sqlite:///{home}/mlflow.db" in res.stdout

    # Commands that only read what the quickstart left: started together (each is mostly its
    # interpreter's start-up), checked one by one.
    configs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.yaml"))
    mlcore = str(BIN / "mlcore")
    listed, desc, missing, done, res = run_together(
        [mlcore, "jobs", "list"], [mlcore, "jobs", "describe", job],
        [mlcore, "jobs", "describe", "no-such-job"], [mlcore, "jobs", "stop", job],
        ([mlcore, "validate", *configs],
         {"env": _env(home, ENDPOINT_TOKEN="a-token")}),  # endpoint-serverless's auth
        cwd=ROOT, env=_env(home))
    assert listed.returncode == 0, listed.stderr
    assert job in listed.stdout and "Completed" in listed.stdout
    assert desc.returncode == 0, desc.stderr
    desc = json.loads(desc.stdout)
    assert desc["TrainingJobStatus"] == "Completed"
    assert desc["BillableTimeInSeconds"] == desc["TrainingTimeInSeconds"] >= 0
    assert desc["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"{job}/output/model.tar.gz")
    assert {m["MetricName"] for m in desc["FinalMetricDataList"]} >= {"validation:auc", "train:auc"}
    assert missing.returncode == 1 and "no training job named 'no-such-job'" in missing.stderr
    assert done.returncode == 1 and "is Completed already; nothing to stop" in done.stderr

    # Every shipped example validates deeply (models resolve, files exist) against what the
    # quickstart registered; the pipeline example's churn-* models do not exist here, and
    # validate says so in one line.
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    invalid = [line for line in res.stderr.splitlines() if line.startswith("configs/")]
    assert [line.split(":")[0] for line in invalid] == ["configs/endpoint-pipeline.yaml"], res.stderr
    assert "churn-preprocess" in invalid[0], invalid
    assert res.stdout.count(": valid ") == len(configs) - 1, res.stdout

    # The transform example runs on what the quickstart registered: one answer per test row.
    res = subprocess.run([str(BIN / "mlcore"), "transform", "configs/transform.yaml"], cwd=ROOT,
                         env=_env(home), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "1/1 files (" in res.stdout and "58 records" in res.stdout, res.stdout
    (out,) = (home / "output").glob("breast-cancer-xgboost-*/test.csv.out")
    scores = [float(x) for x in out.read_text().splitlines()]
    assert len(scores) == 58 and all(0 <= x <= 1 for x in scores)
    assert "Traceback" not in res.stderr and "Progress bars" not in res.stderr, res.stderr


def _kill_cluster(temp_dir: str) -> None:
    """Stop only the processes of the cluster under temp_dir (never `ray stop`)."""
    import psutil

    procs = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(temp_dir in part for part in (p.info["cmdline"] or [])):
                procs.append(p)
        except psutil.Error:
            pass
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    # The dashboard and log monitor exit on SIGTERM; the GCS server, raylet and autoscaler
    # monitor were still running 20 s later here, so a short grace before SIGKILL.
    _, alive = psutil.wait_procs(procs, timeout=3)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture
def ray_head():
    temp_dir = tempfile.mkdtemp(prefix="mlcray", dir="/tmp")  # short: Ray's socket paths
    # Below the ephemeral range, so that the session Ray's port-0 servers cannot take one
    # between choice and bind; distinct.
    ports: list[int] = []
    while len(ports) < 6:
        if (p := fixed_range_port()) not in ports:
            ports.append(p)
    port, dash = ports[:2]
    env = {**_env(Path(temp_dir) / "unused"), "RAY_AUTH_MODE": "disabled"}
    # The session's Ray (other tests) already holds the agents' default ports on this host:
    # a second head's job agent could not bind them and `ray job submit` would wait forever.
    agent_ports = [f"--dashboard-agent-listen-port={ports[2]}",
                   f"--dashboard-agent-grpc-port={ports[3]}",
                   f"--metrics-export-port={ports[4]}", f"--runtime-env-agent-port={ports[5]}"]
    res = subprocess.run([str(BIN / "ray"), "start", "--head", f"--port={port}", "--num-cpus=2",
                          "--node-ip-address=127.0.0.1", "--include-dashboard=true", *agent_ports,
                          "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}",
                          f"--temp-dir={temp_dir}", "--disable-usage-stats"],
                         env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, f"ray start failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    try:
        yield f"http://127.0.0.1:{dash}", env
    finally:
        _kill_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_ray_job_submit_runs_the_quickstart(ray_head, tmp_path):
    address, env = ray_head
    home = tmp_path / "job-home"
    runtime_env = {"env_vars": {"MLCORE_HOME": str(home), "MLCORE_SERVE_PORT": str(free_port())}}
    t0 = time.monotonic()
    deadline = t0 + 120
    while True:  # the head's job agent comes up a few seconds after `ray start` returns
        res = subprocess.run(
            [str(BIN / "ray"), "job", "submit", "--address", address, "--working-dir", ".",
             "--runtime-env-json", json.dumps(runtime_env), "--",
             "mlcore", "run", "configs/quickstart.yaml", "--quiet"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        out = res.stdout + res.stderr
        if "No available agent to submit job" not in out or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert res.returncode == 0, out[-4000:]
    assert "succeeded" in out, out[-2000:]
    _check_quickstart_output(out, home)
    print(f"ray job submit end to end: {time.monotonic() - t0:.1f}s")
