"""The base of every record kind: a dataclass of SageMaker Describe* fields kept in the store.

A subclass names its kind and its name and status fields, and declares (after its own fields,
in Describe* order) ``CreationTime``, ``FailureReason``, ``DriverHost`` and ``DriverPid``.
Records are written whole only when claimed; afterwards :meth:`Record.update` sends just the
changed fields, so processes changing different fields of one record never undo each other.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from typing import ClassVar

from mlcore._names import check_name
from mlcore.errors import JobNotFound
from mlcore.records._status import Status
from mlcore.records._store import store

log = logging.getLogger("mlcore")


class Record:
    KIND: ClassVar[str]  # the store's kind column: "TrainingJob"
    NAME_FIELD: ClassVar[str]  # "TrainingJobName"
    STATUS_FIELD: ClassVar[str]  # "TrainingJobStatus"; loaded back as a Status
    NOUN: ClassVar[str]  # in messages: "training job"
    LIST_COMMAND: ClassVar[str]  # suggested when a name is unknown: "mlcore jobs list"
    NAME_MAX: ClassVar[int] = 63  # SageMaker's longest name of the kind (a tuning job: 32)

    CreationTime: float
    FailureReason: str | None
    DriverHost: str  # the machine and process that work on the resource (liveness)
    DriverPid: int

    @property
    def name(self) -> str:
        return getattr(self, self.NAME_FIELD)

    @property
    def status(self) -> Status:
        return Status(getattr(self, self.STATUS_FIELD))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def _field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    @classmethod
    def _from_data(cls, name: str, data: dict, liveness: bool):
        known = cls._field_names()
        # Keys this version does not know (written by a newer one) are ignored.
        rec = cls(**{cls.NAME_FIELD: name, **{k: v for k, v in data.items() if k in known}})
        rec._coerce_status()
        return rec._with_liveness() if liveness else rec

    def _coerce_status(self) -> None:
        try:
            setattr(self, self.STATUS_FIELD, Status(getattr(self, self.STATUS_FIELD)))
        except ValueError:
            pass  # a status a newer version wrote: keep the string rather than fail to load

    def _with_liveness(self):
        status = getattr(self, self.STATUS_FIELD)
        if isinstance(status, Status) and status.is_active and not self.driver_alive():
            reason = (f"the process that ran the {self.NOUN} (pid {self.DriverPid}) exited "
                      "without finishing it; run it again")
            if self.FailureReason is None:  # the first reader to notice
                self._close_abandoned_run(reason)
            setattr(self, self.STATUS_FIELD, Status.FAILED)
            self.FailureReason = reason
        return self

    def _close_abandoned_run(self, reason: str) -> None:
        """End the MLflow run of a job whose driver died (SIGKILL, a lost machine) as FAILED
        with ``reason``, once: the stored record keeps its status (a resume continues from
        it) and gains the reason, which tells later readers the run is closed already."""
        run_id, claimed = getattr(self, "MlflowRunId", None), []

        def mark(data: dict) -> dict:  # unless a new driver took the job over meanwhile
            if data.get("DriverPid") != self.DriverPid or data.get("FailureReason"):
                return {}
            claimed.append(True)
            return {"FailureReason": reason}

        try:
            store().update(self.KIND, self.name, mark)
        except Exception:  # a reader must not fail on the store's trouble
            log.exception("could not note that the driver of %s %s died", self.NOUN, self.name)
            return
        if claimed:
            from mlcore import _tracking

            _tracking.close_run(run_id, Status.FAILED, reason)

    def driver_alive(self) -> bool:
        """Whether the driver process still runs; True when it is on another host (this
        process cannot tell)."""
        if self.DriverHost != socket.gethostname() or self.DriverPid <= 0:
            return True
        return _pid_alive(self.DriverPid)

    @classmethod
    def _not_found(cls, name: str) -> JobNotFound:
        close = [n for n in store().names(cls.KIND) if name in n][:3]
        hint = f" (similar: {', '.join(close)})" if close else f" (`{cls.LIST_COMMAND}` shows all)"
        return JobNotFound(f"no {cls.NOUN} named {name!r}{hint}", name=name)

    @classmethod
    def claim(cls, name: str, **fields) -> bool:
        """Write a new record (defaults plus ``fields``) if ``name`` is free; False if taken.
        A name breaking SageMaker's rule is refused (SpecError) whoever claims it: the name
        becomes folders, URLs and MLflow names later."""
        check_name(name, cls.NAME_FIELD, cls.NAME_MAX)
        rec = cls(**{**fields, cls.NAME_FIELD: name})
        return store().claim(cls.KIND, name, rec.to_dict())

    @classmethod
    def load(cls, name: str, liveness: bool = True):
        """The record of ``name``; with ``liveness``, an active one whose driver process is
        gone reads as Failed (the stored record is left as it is)."""
        data = store().get(cls.KIND, name)
        if data is None:
            raise cls._not_found(name)
        return cls._from_data(name, data, liveness)

    @classmethod
    def exists(cls, name: str) -> bool:
        return store().get(cls.KIND, name) is not None

    @classmethod
    def list(cls) -> list:
        """Every record of this kind, newest first, with liveness."""
        recs = [cls._from_data(d.get(cls.NAME_FIELD, ""), d, True)
                for d in store().list(cls.KIND)]
        return sorted(recs, key=lambda r: r.CreationTime, reverse=True)

    @classmethod
    def delete(cls, name: str) -> None:
        if not store().delete(cls.KIND, name):
            raise cls._not_found(name)

    def update(self, **changes):
        """Store ``changes`` (only those fields) and refresh this record from the result,
        which includes what other processes changed meanwhile."""
        unknown = set(changes) - self._field_names()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        if changes.get(self.NAME_FIELD, self.name) != self.name:
            raise ValueError(f"a {self.NOUN}'s name cannot change ({self.name!r})")
        try:
            data = store().update(self.KIND, self.name, changes)
        except JobNotFound:
            raise self._not_found(self.name) from None
        known = self._field_names()
        for key, value in data.items():
            if key in known:
                setattr(self, key, value)
        self._coerce_status()
        return self


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    try:  # an exited child its parent has not reaped yet is a zombie: gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
