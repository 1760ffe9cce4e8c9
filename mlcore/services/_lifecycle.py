"""What every resource kind's lifecycle shares: one name generator with SageMaker's rules,
one way to end a job (its record and its MLflow run together), one job handle."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

from mlcore import _session, _tracking
from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Record, Status, TrainingJobRecord
from mlcore.services import _shapes
from mlcore.specs import check_name

log = logging.getLogger("mlcore")


def generate_name(base: str, max_len: int = 63) -> str:
    """``<base>-<timestamp>``, as SageMaker names jobs: its long timestamp (to the
    millisecond) where the name may hold 63 characters, a compact one for 32."""
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-") or "job"
    now = datetime.now()
    stamp = (now.strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3] if max_len >= 50
             else now.strftime("%y%m%d-%H%M%S-%f")[:-3])
    return f"{base[:max_len - len(stamp) - 1].rstrip('-')}-{stamp}"


def claim_name(record: type[Record], name: str | None, base: str, max_len: int | None = None,
               resume: bool = False, field: str = "name") -> str:
    """Claim ``name`` for a new job of ``record``'s kind (a user's name must follow
    SageMaker's rule and be free), or a generated one; ``resume``: the named job exists.
    ``max_len``: the kind's longest name (default: its record's ``NAME_MAX``). The check is
    the one every entry point uses, and it runs before anything is claimed or written."""
    max_len = max_len or record.NAME_MAX
    if name:
        check_name(name, field, max_len)
        if not resume and not record.claim(name):
            raise SpecError(f"{field}: a {record.NOUN} named {name!r} already exists; choose "
                            "another name or leave it unset", [(field, "duplicate")])
        return name
    while True:  # generated names are unique to the millisecond; retry on a collision
        candidate = generate_name(base, max_len)
        if record.claim(candidate):
            return candidate
        time.sleep(0.001)


def driver() -> dict:
    """The record fields naming this process as the job's driver (liveness checks read them)."""
    return {"DriverHost": socket.gethostname(), "DriverPid": os.getpid()}


def finish(record: Record, status: Status, reason: str | None = None,
           secondary: str | None = None, **changes) -> Record:
    """End ``record``'s job as ``status`` (with ``reason`` when it did not complete): one
    record update, then its MLflow run closed. A training job also enters the secondary
    status ``secondary`` (default: ``status``)."""
    fields = {record.STATUS_FIELD: status, "FailureReason": reason, **changes}
    if isinstance(record, TrainingJobRecord):
        record.transition(secondary or str(status), reason or "", **fields)
    else:
        record.update(**fields)
    _tracking.close_run(getattr(record, "MlflowRunId", None), status, reason)
    return record


class Handle:
    """A job (training, tuning) or endpoint by name: ``describe()``, ``wait()``, ``stop()``,
    ``logs()`` (SageMaker's ``estimator.latest_training_job``, ``tuner.latest_tuning_job``,
    and what a ``Predictor`` describes and deletes its endpoint through). ``describe``: the
    kind's own description (default: the record's fields, less ``hide``)."""

    def __init__(self, record: type[Record], name: str, stop: Callable[[str], object] | None = None,
                 hide: tuple[str, ...] = (), describe: Callable[[str], dict] | None = None):
        self.name = self.job_name = name
        self._record, self._stop, self._hide = record, stop, hide
        self._describe = describe
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self, fn: Callable[[], object]) -> Handle:
        """Run ``fn`` in a background thread (``wait=False``); its error is re-raised by
        :meth:`wait`."""
        def background():
            try:
                fn()
            except BaseException as e:  # noqa: B036 (re-raised by wait())
                self.error = e

        self._thread = threading.Thread(target=background, name=f"mlcore-{self.name}", daemon=True)
        self._thread.start()
        return self

    def record(self) -> Record:
        return self._record.load(self.name)

    def describe(self) -> dict:
        """The kind's Describe* response: ``describe`` when given, DescribeTrainingJob for a
        training job, else the record's fields less ``hide``."""
        if self._describe is not None:
            return self._describe(self.name)
        record = self.record()
        if isinstance(record, TrainingJobRecord):
            return _shapes.training_job(record)
        out = record.to_dict()
        for key in self._hide:
            out.pop(key, None)
        return out

    def wait(self, logs: bool = True) -> dict:
        if self._thread is not None:
            self._thread.join()
            if self.error is not None:
                raise self.error
        return self.describe()

    def stop(self) -> None:
        if self._stop is None:
            raise MLCoreError(f"a {self._record.NOUN} cannot be stopped")
        self._stop(self.name)

    def logs(self) -> None:
        rec = self.record()
        print(f"{rec.name}: {rec.status}; MLflow run {getattr(rec, 'MlflowRunId', None)} at "
              f"{_session.redact(_session.tracking_uri())}")
