"""Fixtures own their resources: one Ray (2 CPUs) per session, an S3 server (moto) on a
loopback port, MLflow on SQLite and all storage under a temporary MLCORE_HOME."""

from __future__ import annotations

import os
import socket
import tempfile
import time

import numpy as np
import pytest

# Environment first: Ray workers only see variables set before ray.init.
_HOME = tempfile.mkdtemp(prefix="mlcore-test-home-")
os.environ["MLCORE_HOME"] = _HOME
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("RAY_ADDRESS", None)
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# DeepSpeed compiles a C++ op on first use (~25 s): build it once per checkout, not per run.
os.environ.setdefault("MLCORE_TORCH_EXTENSIONS_DIR", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "torch_extensions"))
for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ[key] = value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixed_range_port(low: int = 20000, high: int = 30000) -> int:
    """A free port below the kernel's ephemeral range (32768+), for a server that binds it
    later: Ray's many port-0 servers cannot take it in between (above Ray's worker ports)."""
    import random

    for port in random.sample(range(low, high), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {low}-{high}")


os.environ["MLCORE_SERVE_PORT"] = str(fixed_range_port())


def run_together(*commands, timeout: float = 300, **common) -> list:
    """Run independent commands side by side and return their ``CompletedProcess`` results in
    order: a CLI call is mostly its interpreter's start-up, so several at once take about as
    long as one. A command is an argv list, or ``(argv, Popen keywords)`` over ``common``."""
    import subprocess

    procs = []
    try:
        for cmd in commands:
            argv, own = cmd if isinstance(cmd, tuple) else (cmd, {})
            procs.append((argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                 text=True, **{**common, **own})))
        out = []
        for argv, proc in procs:
            stdout, stderr = proc.communicate(timeout=timeout)
            out.append(subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr))
        return out
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class RedisServer:
    """A ``redis-server`` on 127.0.0.1 with an append-only file fsynced on every write (what an
    async endpoint's queue on Redis asks for), which the tests may kill and start again."""

    def __init__(self, directory: str):
        self.dir, self.port, self.proc = directory, fixed_range_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil
        import subprocess

        import redis

        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--protected-mode", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: what is not in the append-only file is lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Debian's redis-server (``.ci/run`` installs it); the tests that need it skip without it."""
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (as s3fs's own tests run it); yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def _s3_env(s3_server):
    os.environ["AWS_ENDPOINT_URL"] = s3_server
    return s3_server


@pytest.fixture(scope="session")
def ray_session(_s3_env):
    """The session's Ray: 2 CPUs, started after the S3 endpoint is in the environment."""
    import ray

    from mlcore import _session

    os.environ["MLCORE_NUM_CPUS"] = "2"
    _session.ensure_ray()
    yield ray
    try:
        from ray import serve
        serve.shutdown()
    except Exception:
        pass
    ray.shutdown()


@pytest.fixture
def bucket(_s3_env):
    """A fresh bucket on the loopback S3 server."""
    import uuid

    import boto3

    name = f"b-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=_s3_env).create_bucket(Bucket=name)
    return name


def make_classification(n: int, f: int = 10, seed: int = 0):
    """A binary problem with a known signal; returns (X float32, y float32)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    logits = X[:, 0] * 2 - X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    y = (logits + rng.normal(scale=0.5, size=n) > 0).astype(np.float32)
    return X, y


def write_csv(path, X, y) -> str:
    np.savetxt(path, np.column_stack([y, X]), delimiter=",", fmt="%.7g")
    return str(path)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Train/validation CSVs (SageMaker convention) of a 6,000-row binary problem, seed 1."""
    d = tmp_path_factory.mktemp("data")
    X, y = make_classification(6000, 8, seed=1)
    write_csv(d / "train.csv", X[:4800], y[:4800])
    write_csv(d / "validation.csv", X[4800:], y[4800:])
    np.savetxt(d / "features.csv", X[4800:4810], delimiter=",", fmt="%.7g")
    return d


XGB_HP = {"num_round": 40, "max_depth": 4, "eta": 0.3, "objective": "binary:logistic",
          "eval_metric": "auc,logloss", "seed": 3}


@pytest.fixture(scope="session")
def trained(ray_session, data_dir):
    """One completed 2-worker XGBoost job, shared by the registry and endpoint tests."""
    from mlcore.sagemaker import Estimator

    est = Estimator(algorithm="xgboost", instance_type="local", instance_count=2,
                    hyperparameters=XGB_HP, checkpoint_frequency=10)
    est.fit({"train": str(data_dir / "train.csv"), "validation": str(data_dir / "validation.csv")},
            logs=False)
    return est
