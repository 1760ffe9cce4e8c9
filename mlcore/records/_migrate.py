"""One-time move of earlier versions' JSON records into the record store.

Earlier versions kept one JSON file per record in ``$MLCORE_HOME/jobs``, ``tuning-jobs`` and
``endpoints``. The first :func:`~mlcore.records.store` call against a home claims each of them
in the store (a name already there is kept as it is) and moves the files to
``$MLCORE_HOME/migrated-json/<folder>/``, so it happens once. Only the ``*.json`` files move:
``tuning-jobs/<name>/`` folders hold the Optuna studies that resumes read.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path

from mlcore.records._kinds import EndpointRecord, TrainingJobRecord, TuningJobRecord
from mlcore.records._record import Record
from mlcore.records._status import Status
from mlcore.records._store import RecordStore

log = logging.getLogger("mlcore")

FOLDERS: dict[str, type[Record]] = {
    "jobs": TrainingJobRecord, "tuning-jobs": TuningJobRecord, "endpoints": EndpointRecord,
}


def _complete(cls: type[Record], name: str, data: dict) -> dict:
    """The old record with what the old format could lack filled in (unknown keys kept)."""
    data = {**data, cls.NAME_FIELD: name}  # the old loaders went by the file name
    if cls.STATUS_FIELD not in data:
        if cls is EndpointRecord:  # written only once the endpoint had started
            data[cls.STATUS_FIELD] = Status.IN_SERVICE
        else:  # a bare claim: its driver died before the first save
            data[cls.STATUS_FIELD] = Status.FAILED
            data.setdefault("FailureReason", f"the {cls.NOUN} never started (only its name was "
                                             "claimed); run it again")
    # Unknown driver: "" is never this host, so liveness does not guess from our own pid.
    data.setdefault("DriverHost", "")
    data.setdefault("DriverPid", 0)
    return {**cls(**{cls.NAME_FIELD: name}).to_dict(), **data}


def _migrate_file(rs: RecordStore, cls: type[Record], path: Path) -> str:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return "gone"  # another process is migrating the same home
    except (OSError, ValueError) as exc:
        log.warning("old %s record %s is unreadable (%s); moved aside, not migrated",
                    cls.NOUN, path, exc)
        return "unreadable"
    if not isinstance(data, dict):
        log.warning("old %s record %s is not a JSON object; moved aside, not migrated",
                    cls.NOUN, path)
        return "unreadable"
    return "migrated" if rs.claim(cls.KIND, path.stem, _complete(cls, path.stem, data)) \
        else "already present"


def migrate(rs: RecordStore, home: Path) -> Counter:
    """Move the old JSON records under ``home`` into ``rs``; counts of what happened."""
    counts: Counter = Counter()
    for folder, cls in FOLDERS.items():
        src = home / folder
        # ".name.pid.ns.claim" files were the old claims' private temporaries.
        files = sorted(p for p in src.glob("*.json") if p.is_file()
                       and not p.name.startswith(".")) if src.is_dir() else []
        if not files:
            continue
        dest = home / "migrated-json" / folder
        dest.mkdir(parents=True, exist_ok=True)
        for path in files:
            outcome = _migrate_file(rs, cls, path)
            counts[outcome] += 1
            if outcome != "gone":
                try:
                    os.replace(path, dest / path.name)
                except FileNotFoundError:
                    pass  # moved by a concurrent migration
    if counts:
        log.info("records: moved old JSON records of %s into %r (%s); the files are in %s",
                 home, rs, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
                 home / "migrated-json")
    return counts
