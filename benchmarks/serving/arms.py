"""The benchmark's servers, measured side by side in short interleaved segments.

Every server of a group is started first, each in its own session; then, per connection
level, each server in turn gets a segment of the requests while the others are paused
(SIGSTOP on every process of their session: an mlcore server's Ray, HAProxy and replicas
too). The machine's speed drifts with other work on it by tens of percent within seconds,
so each server sees the same drift; and a paused server does no background work (an idle
Ray with Serve costs ~13% of a CPU) that would tax the one being measured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from loadgen import summary

HERE = Path(__file__).parent


@dataclass
class Server:
    """One arm: a server command, where it answers, the body it is sent, at which levels
    (connections: requests)."""

    name: str
    cmd: list[str]
    ping: str
    url: str
    body: Path
    content_type: str
    levels: dict[int, int]
    env: dict
    ready_line: bool = False  # the server prints "ready" (serve_mlcore.py)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        print(f"[{self.name}] starting", flush=True)
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            stdout=subprocess.PIPE if self.ready_line else subprocess.DEVNULL,
            start_new_session=True)  # its own session: what pause() stops
        if self.ready_line:
            assert self.proc.stdout.readline().strip() == "ready", f"{self.name} did not start"
        # Answering for 2 s in a row: an mlcore server's HAProxy reloads a few times once its
        # replica is up, and a reload interrupted by pause() would refuse connections later.
        wait_http(self.ping, self.proc, steady_s=2.0)

    def pause(self, paused: bool = True) -> None:
        """Stop (or continue) every process of the server's session."""
        sig = signal.SIGSTOP if paused else signal.SIGCONT
        for pid in _session(self.proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        stop(self.proc)


def _session(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:  # gone meanwhile
                pass
    return pids


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180, steady_s: float = 0) -> None:
    """Until ``url`` answers 200 (each time for ``steady_s`` seconds in a row)."""
    deadline, since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            ok = requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            ok = False
        since = (since or time.monotonic()) if ok else None
        if since is not None and time.monotonic() - since >= steady_s:
            return
        time.sleep(0.1 if ok else 0.5)
    raise RuntimeError(f"{url} never answered")


def stop(proc: subprocess.Popen) -> None:
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=30)


def load(url: str, body_file: Path, content_type: str, n: int, concurrency: int,
         headers: dict | None = None, latencies: bool = False) -> dict:
    extra = [a for k, v in (headers or {}).items() for a in ("--header", f"{k}={v}")]
    out = subprocess.run([sys.executable, str(HERE / "loadgen.py"), "--url", url, "--body-file",
                          str(body_file), "--content-type", content_type, "-n", str(n), "-c",
                          str(concurrency), *extra, *(["--latencies"] if latencies else [])],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"load generator on {url} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(servers: list[Server], segments: int) -> dict[str, dict[int, dict]]:
    """``{server: {connections: result}}``, each result over ``segments`` interleaved parts
    (the order reversed every other segment, so no server always follows the same one)."""
    parts = {s.name: {c: [] for c in s.levels} for s in servers}
    try:
        for s in servers:
            s.start()
            s.pause()
        for c in sorted({c for s in servers for c in s.levels}):
            for i in range(segments):
                for s in (servers if i % 2 == 0 else servers[::-1]):
                    if c in s.levels:
                        s.pause(False)
                        try:
                            wait_http(s.ping, s.proc)
                            parts[s.name][c].append(load(s.url, s.body, s.content_type,
                                                         s.levels[c] // segments, c, latencies=True))
                        finally:
                            s.pause()
            for s in servers:
                if c in s.levels:
                    print(f"[{s.name}] c={c}: {_merged(parts[s.name][c])}", flush=True)
    finally:
        for s in servers:
            if s.proc is not None:
                s.pause(False)
                s.stop()
    return {name: {c: _merged(p) for c, p in levels.items()} for name, levels in parts.items()}


def _merged(parts: list[dict]) -> dict:
    out = summary([x for p in parts for x in p["latencies_ms"]], parts[0]["concurrency"],
                  sum(p["seconds"] for p in parts), sum(p["errors"] for p in parts))
    return {**out, "segments": len(parts)}
