"""A throwaway PostgreSQL server for tests: Debian's binaries, a data folder in a temporary
directory, loopback only, trust authentication, stopped by the PID that was started.

``initdb`` and ``postgres`` refuse to run as root, so as root both run as the ``postgres``
user (``Popen(user=...)``: the PID started is the postmaster itself, not a wrapper).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

DATABASE = "mlcore_test"


def bindir() -> str | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
             if os.path.exists(f"{d}/initdb") and os.path.exists(f"{d}/postgres")]
    return max(found, key=lambda d: int(d.split("/")[-2]), default=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, port: int, log: str, timeout_s: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.skip(f"PostgreSQL exited at start (code {proc.returncode}): {_tail(log)}")
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                 connect_timeout=2, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                pytest.skip(f"PostgreSQL did not accept connections within {timeout_s:.0f} s: "
                            f"{_tail(log)}")
            time.sleep(0.05)  # polling the server's readiness, not waiting for an event


def _tail(path: str) -> str:
    with contextlib.suppress(OSError), open(path) as f:
        return " | ".join(f.read().strip().splitlines()[-3:])
    return "(no log)"


@contextlib.contextmanager
def server() -> Iterator[str]:
    """Start a server; yield a SQLAlchemy URL of an empty database on it. Skips (with the
    reason) where PostgreSQL is not installed or does not start."""
    pg = bindir()
    if pg is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); "
                    ".ci/run installs Debian's postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[dev]')")
    root = tempfile.mkdtemp(prefix="mlcore-pg-")
    as_user = {}
    if os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    data, log = f"{root}/data", f"{root}/server.log"
    init = subprocess.run([f"{pg}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                           "-E", "UTF8", "--no-sync"], capture_output=True, text=True,
                          cwd=root, **as_user)
    if init.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    port = _free_port()
    with open(log, "w") as out:
        # fsync off: a test database need not survive a power cut, and syncs dominate its time.
        proc = subprocess.Popen(
            [f"{pg}/postgres", "-D", data, "-p", str(port), "-k", root,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=out, stderr=subprocess.STDOUT, cwd=root, **as_user)
    try:
        _wait_ready(proc, port, log)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every
        # pooled client connection to close.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
