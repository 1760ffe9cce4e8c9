"""Helper processes a driver starts (its local Ray's daemons, the HAProxy ingress) die with it
or are reaped by the next start.

Each such process has a pid file under ``$MLCORE_HOME/run/`` naming it, its owner (the driver)
and both their start times, so a recycled PID is never mistaken for either. A driver killed
with SIGKILL runs no clean-up; the next driver that starts a local Ray calls :func:`reap`,
which stops the processes whose owner is gone. (HAProxy also gets SIGTERM the moment its
parent dies: ``mlcore/_haproxy_launch.py`` sets ``PR_SET_PDEATHSIG``.)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path

from mlcore import constants

log = logging.getLogger("mlcore")


def run_dir() -> Path:
    path = constants.home() / "run"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), or
    None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def _same(pid: int, started: int | None) -> bool:
    return started is not None and start_time(pid) == started


def record(pid: int, role: str, owner: int | None = None) -> None:
    """Note that ``pid`` (a ``role``: "ray", "haproxy") works for ``owner`` (default: this
    process) and must not outlive it."""
    owner = owner or os.getpid()
    data = {"pid": pid, "start": start_time(pid), "role": role,
            "owner": owner, "owner_start": start_time(owner)}
    path = run_dir() / f"{role}-{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def record_folder(path: str) -> None:
    """Note that the folder ``path`` (HAProxy's runtime files) goes when this process does."""
    me = os.getpid()
    data = {"path": path, "owner": me, "owner_start": start_time(me)}
    (run_dir() / f"folder-{me}-{Path(path).name}.json").write_text(json.dumps(data))


def descendants(pid: int | None = None) -> list[int]:
    """Every live process below ``pid`` (default: this one), read from ``/proc``."""
    pid = pid or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def record_descendants(role: str) -> int:
    """Record every process this one has started so far (a local Ray's daemons)."""
    pids = descendants()
    for pid in pids:
        record(pid, role)
    return len(pids)


def reap(grace_s: float = 3.0) -> list[str]:
    """Stop every recorded process whose owner has exited; forget records of processes that
    are gone. Returns what was stopped (``"haproxy 1234"``), for one log line."""
    stopped, victims = [], []
    for path in sorted(run_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if _same(data["owner"], data.get("owner_start")):
            continue  # its driver still runs
        if "path" in data:
            shutil.rmtree(data["path"], ignore_errors=True)
        elif _same(data["pid"], data.get("start")):
            victims.append((data["pid"], data["start"], data["role"]))
        path.unlink(missing_ok=True)
    for pid, _, role in victims:
        try:
            os.kill(pid, signal.SIGTERM)
            stopped.append(f"{role} {pid}")
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    while victims and time.monotonic() < deadline:
        victims = [v for v in victims if _same(v[0], v[1])]
        time.sleep(0.05)
    for pid, _, _ in victims:  # still there after the grace period
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if stopped:
        log.info("stopped %d process(es) left by a driver that exited without cleaning up: %s",
                 len(stopped), ", ".join(stopped))
    return stopped


def forget_own() -> None:
    """Drop this process's records (it shut its helpers down itself)."""
    me, started = os.getpid(), start_time(os.getpid())
    for path in run_dir().glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("owner") == me and data.get("owner_start") == started:
            path.unlink(missing_ok=True)
