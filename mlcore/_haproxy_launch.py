"""Starts Ray Serve's HAProxy for a local Ray that mlcore started (``RAY_SERVE_HAPROXY_BINARY_PATH``
points at a wrapper that runs this file). Standard library only: it runs on every reload.

Ray renders HAProxy's configuration from a fixed template that offers no setting for what an
endpoint on a shared host needs, so before it execs the real binary this:

* makes the admin socket ``mode 600`` (the template says ``mode 666 level admin``);
* binds the stats page and the Prometheus exporter to 127.0.0.1 (the template binds them to
  every interface, without auth);
* adds ``timeout http-request`` and ``option http-buffer-request`` to ``defaults``: a client
  gets that long for its headers and the first buffer of its body (slow-header and slow-body
  clients are cut off instead of holding one of ``maxconn`` slots for ``timeout client``);
* answers a path no endpoint serves with a JSON 404 (the template's is plain text), as every
  other refusal is answered;
* asks the kernel for SIGTERM when its parent (Ray's HAProxy manager) dies, so a SIGKILLed
  driver does not leave HAProxy holding the port;
* writes a pid file in the format of :func:`mlcore._processes.record`, so the next driver
  reaps it if it outlives its owner anyway.

Usage: ``python -I -S _haproxy_launch.py SETTINGS.json <haproxy arguments>``.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import signal
import sys

_PR_SET_PDEATHSIG = 1


# HAProxy's json converter escapes the path for a JSON string.
_NOT_FOUND = ('http-request return status 404 content-type application/json lf-string '
              '"{\\"error\\": \\"no endpoint serves %[path,json(utf8s)]; `mlcore endpoints list` '
              'shows the endpoints\\"}"')


def harden(text: str, http_request_timeout_s: int) -> str:
    """Ray's rendered configuration, with the changes above (idempotent)."""
    text = re.sub(r"^(\s*)http-request return status 404 content-type text/plain .*$",
                  lambda m: m.group(1) + _NOT_FOUND, text, flags=re.M)
    text = re.sub(r"(stats socket \S+ mode )666", r"\g<1>600", text)
    text = re.sub(r"^(\s*bind )\*?:(\d+)[ \t]*$", r"\g<1>127.0.0.1:\2", text, flags=re.M)
    if "timeout http-request" not in text:
        text = re.sub(r"^defaults[ \t]*$", f"defaults\n    timeout http-request {http_request_timeout_s}s"
                      "\n    option http-buffer-request", text, count=1, flags=re.M)
    return text


def _rewrite(path: str, http_request_timeout_s: int) -> None:
    # Ray writes the file under an flock on "<path>.lock"; take the same lock.
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with open(path) as f:
            text = f.read()
        hardened = harden(text, http_request_timeout_s)
        if hardened != text:
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(hardened)
            os.replace(tmp, path)


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _record(settings: dict) -> None:
    pid = os.getpid()
    data = {"pid": pid, "start": _start_time(pid), "role": "haproxy",
            "owner": settings["owner"], "owner_start": settings["owner_start"]}
    path = os.path.join(settings["run_dir"], f"haproxy-{pid}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)


def _die_with_parent() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return  # not Linux: the next driver's reap is the only guard
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(1)


def main(argv: list[str]) -> None:
    with open(argv[1]) as f:
        settings = json.load(f)
    args = argv[2:]
    _die_with_parent()
    if "-f" in args:
        _rewrite(args[args.index("-f") + 1], settings["http_request_timeout_s"])
    _record(settings)
    os.execv(settings["binary"], [settings["binary"], *args])


if __name__ == "__main__":
    main(sys.argv)
