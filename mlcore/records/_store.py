"""The record store: one SQL table holding every record of every kind as a JSON document.

``mlcore_records(kind, name, data, version, created_at)``, keyed by ``(kind, name)``. A name is
claimed by inserting its row (the primary key makes that atomic); changes are merged into a
row by compare-and-set on ``version``, so two processes changing different fields of one
record both keep theirs. SQLite (the default, a file under ``$MLCORE_HOME``) serves the
processes of one machine; PostgreSQL (``MLCORE_RECORDS_URI=postgresql+psycopg://...``) lets
several machines share records.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from mlcore import constants
from mlcore.errors import JobNotFound, StorageError

_METADATA = sa.MetaData()
RECORDS = sa.Table(
    "mlcore_records", _METADATA,
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    # TEXT, not JSON: the same on every backend, and a metric may be NaN, which PostgreSQL's
    # json type rejects.
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
_BUSY_TIMEOUT_MS = 30_000  # Ray workers of one job may all write at once; waits are short

_engines: dict[tuple[str, int], sa.Engine] = {}
_lock = threading.Lock()
_migrated: set[str] = set()


def _forget_engines() -> None:
    # A forked child must neither use nor close its parent's pooled connections (closing one
    # would end the parent's PostgreSQL session); it opens its own on first use.
    global _lock
    _lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")  # first: switching to WAL can wait
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
    # With WAL, NORMAL never corrupts the file; a power cut may lose the last commits (the
    # jobs they describe died with the machine), and a commit costs no fsync.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _create_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":  # SQLAlchemy's default is psycopg2; we ship psycopg 3
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed)
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)  # survives a server restart
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise StorageError(f"the record store {_shown(parsed)} needs a database driver that is "
                           f"not installed ({exc}); for PostgreSQL run "
                           "`pip install 'psycopg[binary]'`") from None
    for attempt in (1, 2):
        try:
            _METADATA.create_all(engine)
            return engine
        except sa.exc.DBAPIError as exc:
            # The first failure may be another process creating the table between our check
            # and our CREATE; the second check then sees it. Anything else fails twice.
            if attempt == 2:
                raise StorageError(f"cannot use the record store {_shown(parsed)}: "
                                   f"{' '.join(str(exc.orig).split())}; check MLCORE_RECORDS_URI",
                                   url=_shown(parsed)) from None
    raise AssertionError("unreachable")


def _engine(url: str) -> sa.Engine:
    key = (url, os.getpid())  # belt and braces with _forget_engines: never a parent's engine
    with _lock:
        if key not in _engines:
            _engines[key] = _create_engine(url)
        return _engines[key]


def _dumps(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


class RecordStore:
    """Records of every kind in the database at ``url`` (any SQLAlchemy URL).

    Cheap to create: the engine (connection pool) is shared per URL within a process.
    """

    def __init__(self, url: str):
        self.url = url

    def __repr__(self) -> str:
        return f"RecordStore({_shown(sa.make_url(self.url))!r})"

    @property
    def engine(self) -> sa.Engine:
        return _engine(self.url)

    def _where(self, kind: str, name: str):
        return (RECORDS.c.kind == kind) & (RECORDS.c.name == name)

    def claim(self, kind: str, name: str, data: dict) -> bool:
        """Insert the record; False (and nothing written) if ``name`` is taken."""
        row = {"kind": kind, "name": name, "data": _dumps(data), "version": 1,
               "created_at": float(data.get("CreationTime") or time.time())}
        try:
            with self.engine.begin() as conn:
                conn.execute(RECORDS.insert().values(**row))
        except sa.exc.IntegrityError:  # the primary key: someone else holds the name
            return False
        return True

    def get(self, kind: str, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(RECORDS.c.data).where(self._where(kind, name))).first()
        return None if row is None else json.loads(row.data)

    def update(self, kind: str, name: str, changes: dict | Callable[[dict], dict]) -> dict:
        """Merge ``changes`` (top-level keys) into the stored record; return the result.

        ``changes`` may be a function of the current data returning the changes, for a
        read-modify-write such as appending to a list. Raises JobNotFound if there is no
        such record.
        """
        while True:
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(RECORDS.c.data, RECORDS.c.version, RECORDS.c.created_at)
                                   .where(self._where(kind, name))).first()
                if row is None:
                    raise JobNotFound(f"no {kind} record named {name!r}", kind=kind, name=name)
                data = json.loads(row.data)
                data.update(changes(data) if callable(changes) else changes)
                text = _dumps(data)
                done = conn.execute(
                    RECORDS.update()
                    .where(self._where(kind, name) & (RECORDS.c.version == row.version))
                    .values(data=text, version=row.version + 1,
                            created_at=float(data.get("CreationTime") or row.created_at))).rowcount
            if done:
                return json.loads(text)  # as stored: what any later reader will see
            # Another writer changed the row since we read it: merge onto its version. Each
            # miss means some other update succeeded, so the loop always ends.

    def list(self, kind: str) -> list[dict]:
        """Every record of ``kind``, newest first."""
        query = (sa.select(RECORDS.c.data).where(RECORDS.c.kind == kind)
                 .order_by(RECORDS.c.created_at.desc(), RECORDS.c.name))
        with self.engine.connect() as conn:
            return [json.loads(r.data) for r in conn.execute(query)]

    def names(self, kind: str) -> list[str]:
        query = sa.select(RECORDS.c.name).where(RECORDS.c.kind == kind).order_by(RECORDS.c.name)
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def delete(self, kind: str, name: str) -> bool:
        """Remove the record; False if there was none."""
        with self.engine.begin() as conn:
            return conn.execute(RECORDS.delete().where(self._where(kind, name))).rowcount == 1


def default_url() -> str:
    return constants.get("MLCORE_RECORDS_URI") or f"sqlite:///{constants.home()}/records.db"


def store() -> RecordStore:
    """This process's record store (``MLCORE_RECORDS_URI``, else SQLite under
    ``$MLCORE_HOME``). The first use against an ``$MLCORE_HOME`` moves its old JSON records in."""
    rs = RecordStore(default_url())
    home = str(constants.home())
    if home not in _migrated:
        from mlcore.records import _migrate

        _migrate.migrate(rs, constants.home())
        _migrated.add(home)
    return rs
