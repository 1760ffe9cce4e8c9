"""The durable queue of an async endpoint: every accepted request, its state and its one outcome.

The embedded backend is one SQLite file in WAL mode (``$MLCORE_HOME/async/<endpoint>.db``):
every process on the host (the ingress that accepts, the replicas that work, the autoscaler
in Serve's controller) opens it; nothing holds the queue in memory, so no process's death
loses a request. Why SQLite and not Celery's brokers: Celery's ``filesystem://`` transport
deletes a message when a worker fetches it and ``sqla+sqlite://`` strands one whose worker
died, while a row here stays until its outcome is committed; WAL lets readers (status
queries, the autoscaler) run beside the one writer, and ``BEGIN IMMEDIATE`` makes a claim
atomic across processes.

The protocol (each step one transaction):

* ``submit``: a row in ``Pending``; it is committed (``synchronous=FULL``) before the
  inference id is answered.
* ``claim``: the oldest ``Pending`` row, or an ``InProgress`` one whose lease lapsed (its
  replica died), becomes ``InProgress`` under the claimer's lease with ``attempt + 1``. The
  attempt number fences: only the holder of the current attempt may renew or finish it.
* ``finish``: the worker first writes its outcome to a staging object named after the
  attempt, then flips the row to ``Completed`` / ``Failed`` *if its attempt is still current*
  and records the staging object; only then is the staging object moved to the output (or
  failure) location. A late writer (lease lost) finds its attempt fenced and deletes its
  staging object. A crash between the flip and the move is repaired by :meth:`settle`, which
  any worker runs: the move happens at most once, so every accepted request has exactly one
  outcome, written once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PENDING, IN_PROGRESS, COMPLETED, FAILED = "Pending", "InProgress", "Completed", "Failed"
TERMINAL = (COMPLETED, FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    input TEXT NOT NULL,
    content_type TEXT NOT NULL,
    accept TEXT NOT NULL,
    output TEXT NOT NULL,
    failure TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    submitted REAL NOT NULL,
    expires REAL NOT NULL,
    started REAL,
    finished REAL,
    reason TEXT,
    staged TEXT,
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS open_requests ON requests (status, submitted)
    WHERE status IN ('Pending', 'InProgress');
CREATE INDEX IF NOT EXISTS unsettled ON requests (finished)
    WHERE staged IS NOT NULL OR notified = 0;
"""


@dataclass(frozen=True)
class Request:
    """One accepted request, as stored."""

    id: str
    input: str
    content_type: str
    accept: str
    output: str
    failure: str
    status: str
    attempt: int
    submitted: float
    expires: float
    started: float | None = None
    finished: float | None = None
    reason: str | None = None
    staged: str | None = None
    notified: int = 0
    owner: str | None = None
    lease_until: float | None = None

    @property
    def settled(self) -> bool:
        """Its outcome is in place (a terminal status whose staging object has moved)."""
        return self.status in TERMINAL and self.staged is None


_COLUMNS = ", ".join(Request.__dataclass_fields__)


class Taken(Exception):
    """The inference id was used before (HTTP 409)."""


class QueueFull(Exception):
    """The queue holds its most open requests; the client retries later (HTTP 429)."""


class SqliteQueue:
    """The embedded backend (see the module docstring). Thread-safe: one connection per
    thread, opened on first use."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time, durable: bool = True):
        # durable: every commit fsynced (the ingress: an accepted request survives a power
        # loss). Off, WAL commits survive any process's death but not the machine's; the
        # workers' steps can be: a lost claim or finish only runs the request again, and the
        # move is skipped when the output is in place already.
        self.path, self._clock, self._durable = str(path), clock, durable
        self._local = threading.local()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db().executescript(_SCHEMA)  # its own transaction

    def __reduce__(self):  # travels to replicas and the autoscaler as its path
        return (SqliteQueue, (self.path, time.time, self._durable))

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, *_):
            self.db.execute("ROLLBACK" if kind else "COMMIT")

    def _tx(self):
        return self._Tx(self._db())

    # -- the client's side -------------------------------------------------------------------

    def submit(self, id: str, input: str, content_type: str, accept: str, output: str,
               failure: str, ttl_s: float, notify: bool = False,
               max_open: int | None = None) -> Request:
        """Accept a request (``notify``: a topic waits for its outcome). Raises
        :class:`Taken` for an inference id used before, :class:`QueueFull` past ``max_open``."""
        now = self._clock()
        with self._tx() as db:
            if max_open is not None and self._open(db) >= max_open:
                raise QueueFull(f"{max_open} requests are already queued or running")
            if db.execute("SELECT 1 FROM requests WHERE id = ?", (id,)).fetchone():
                raise Taken(f"inference id {id!r} is taken")
            db.execute("INSERT INTO requests (id, input, content_type, accept, output, failure, "
                       "status, submitted, expires, notified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (id, input, content_type, accept, output, failure, PENDING, now,
                        now + ttl_s, int(not notify)))
        return self.get(id)

    def get(self, id: str) -> Request | None:
        row = self._db().execute(f"SELECT {_COLUMNS} FROM requests WHERE id = ?", (id,)).fetchone()
        return Request(**dict(row)) if row else None

    def counts(self) -> dict[str, int]:
        """Requests per status (the autoscaler reads Pending + InProgress)."""
        rows = self._db().execute("SELECT status, count(*) FROM requests GROUP BY status")
        return {PENDING: 0, IN_PROGRESS: 0, COMPLETED: 0, FAILED: 0, **dict(rows.fetchall())}

    def open_work(self) -> int:
        """Pending + InProgress: what the replicas have to do (the autoscaler's input)."""
        return self._open(self._db())

    @staticmethod
    def _open(db) -> int:
        return db.execute("SELECT count(*) FROM requests "
                          "WHERE status IN ('Pending', 'InProgress')").fetchone()[0]

    # -- the workers' side -------------------------------------------------------------------

    def claim(self, owner: str, lease_s: float, max_attempts: int) -> Request | None:
        """The oldest request to work on now, under ``owner``'s lease; None if there is none.

        A request not to run comes back with ``reason`` set, for its claimer to write as its
        failure record: one whose lease lapsed ``max_attempts`` times (its replica kept dying
        on it), or one that waited past its time to live."""
        now = self._clock()
        with self._tx() as db:
            row = db.execute(
                "SELECT id, attempt, expires FROM requests WHERE status = 'Pending' OR "
                "(status = 'InProgress' AND lease_until < ?) ORDER BY submitted LIMIT 1",
                (now,)).fetchone()
            if row is None:
                return None
            reason = None
            if row["attempt"] >= max_attempts:
                reason = (f"the replica processing it stopped {row['attempt']} times before "
                          "finishing (is the payload too large for the replica's memory?)")
            elif row["expires"] < now:
                reason = "it waited in the queue longer than its RequestTTLSeconds"
            db.execute("UPDATE requests SET status = ?, attempt = attempt + 1, owner = ?, "
                       "lease_until = ?, started = coalesce(started, ?), reason = ? WHERE id = ?",
                       (IN_PROGRESS, owner, now + lease_s, now, reason, row["id"]))
            return Request(**dict(db.execute(f"SELECT {_COLUMNS} FROM requests WHERE id = ?",
                                             (row["id"],)).fetchone()))

    def renew(self, held: list[tuple[str, int]], lease_s: float) -> set[str]:
        """Extend the leases of ``held`` (id, attempt); return the ids still held (a lost one
        was reclaimed: its worker must not finish it)."""
        if not held:
            return set()
        until, kept = self._clock() + lease_s, set()
        with self._tx() as db:
            for id, attempt in held:
                n = db.execute("UPDATE requests SET lease_until = ? WHERE id = ? AND attempt = ? "
                               "AND status = 'InProgress'", (until, id, attempt)).rowcount
                if n:
                    kept.add(id)
        return kept

    def release(self, id: str, attempt: int) -> None:
        """Give a claimed request back (a replica shutting down): Pending again, its attempt
        not counted against it."""
        with self._tx() as db:
            db.execute("UPDATE requests SET status = ?, attempt = attempt - 1, owner = NULL, "
                       "lease_until = NULL WHERE id = ? AND attempt = ? AND status = ?",
                       (PENDING, id, attempt, IN_PROGRESS))

    def finish(self, id: str, attempt: int, status: str, staged: str | None,
               reason: str | None = None, owner: str | None = None, lease_s: float = 0) -> bool:
        """Make ``status`` the request's outcome if ``attempt`` is still current; ``staged``:
        the object to move into place next (:meth:`settle`), under ``owner``'s settle claim
        for ``lease_s`` when given. False: fenced (do not move)."""
        assert status in TERMINAL
        now = self._clock()
        with self._tx() as db:
            return bool(db.execute(
                "UPDATE requests SET status = ?, staged = ?, reason = ?, finished = ?, "
                "owner = ?, lease_until = ? WHERE id = ? AND attempt = ? AND status = ?",
                (status, staged, reason, now, owner, now + lease_s if owner else None, id,
                 attempt, IN_PROGRESS)).rowcount)

    def unsettled(self, limit: int = 100) -> list[Request]:
        """Finished requests whose staging object has not moved yet, or whose notification
        has not been delivered."""
        rows = self._db().execute(
            f"SELECT {_COLUMNS} FROM requests WHERE (staged IS NOT NULL OR notified = 0) AND "
            "status IN ('Completed', 'Failed') ORDER BY finished LIMIT ?", (limit,)).fetchall()
        return [Request(**dict(r)) for r in rows]

    def claim_settle(self, id: str, owner: str, lease_s: float) -> bool:
        """Take the move of a finished request's staging object (no other process moves it
        while ``owner`` holds this); False if another holds it."""
        now = self._clock()
        with self._tx() as db:
            return bool(db.execute(
                "UPDATE requests SET owner = ?, lease_until = ? WHERE id = ? AND staged IS NOT "
                "NULL AND (owner IS NULL OR owner = ? OR lease_until < ?)",
                (owner, now + lease_s, id, owner, now)).rowcount)

    def moved(self, id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE requests SET staged = NULL, owner = NULL, lease_until = NULL "
                       "WHERE id = ?", (id,))

    def notified(self, id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE requests SET notified = 1 WHERE id = ?", (id,))

    def drop(self) -> None:
        """Remove the queue (its endpoint was deleted)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        for suffix in ("", "-wal", "-shm"):
            Path(self.path + suffix).unlink(missing_ok=True)


def open_queue(uri: str, durable: bool = True):
    """The queue at ``uri``: ``redis://host:port/db?prefix=...`` (:mod:`serving._queue_redis`),
    or a SQLite file (``sqlite:///path`` or a plain path); ``durable``: see SqliteQueue."""
    if uri.startswith(("redis://", "rediss://")):
        from serving._queue_redis import RedisQueue

        return RedisQueue(uri)
    return SqliteQueue(uri.removeprefix("sqlite://"), durable=durable)
