"""CPU time by process kind: this process (the clients) and every process of the server's
session (its Ray: Serve's replicas, proxy, controller, raylet, GCS; HAProxy), from
``/proc/<pid>/stat`` (utime + stime, all threads). A phase's delta divided by its requests is
the CPU each part spent per request."""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def _kind(pid: int, me: int) -> str:
    if pid == me:
        return "clients (this process)"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "ServeReplica:" in cmd:  # ray::ServeReplica:<app>:<deployment>
        app, _, dep = cmd.split("ServeReplica:", 1)[1].split()[0].partition(":")
        return f"replica {app}/{dep}"
    for word, kind in (("haproxy", "haproxy"), ("ServeController", "serve controller"),
                       ("ProxyActor", "serve proxy"), ("raylet", "raylet"),
                       ("gcs_server", "gcs"), ("bench_server.py", "server driver"),
                       ("dashboard", "dashboard"), ("log_monitor", "log monitor")):
        if word in cmd:
            return kind
    return "other ray"


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def snapshot(sid: int) -> dict[int, tuple[str, float]]:
    me, out = os.getpid(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if pid != me and os.getsid(pid) != sid:
                continue
        except OSError:
            continue
        t = _cpu(pid)
        if t is not None:
            out[pid] = (_kind(pid, me), t)
    return out


def delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per kind between two snapshots (a process new since ``before`` counts whole)."""
    out: dict[str, float] = {}
    for pid, (kind, t) in after.items():
        out[kind] = out.get(kind, 0.0) + t - (before[pid][1] if pid in before else 0.0)
    return {k: round(v, 4) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}
