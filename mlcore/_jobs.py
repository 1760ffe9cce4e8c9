"""Job records: one JSON file per training job under ``$MLCORE_HOME/jobs``.

They hold what ``mlcore jobs describe`` shows (SageMaker's DescribeTrainingJob fields), are
written atomically, and outlive the process that ran the job.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field

from mlcore import _storage, constants
from mlcore.errors import JobNotFound

STATUSES = ("InProgress", "Completed", "Failed", "Stopped")


@dataclass
class JobRecord:
    TrainingJobName: str
    TrainingJobStatus: str = "InProgress"
    SecondaryStatus: str = "Starting"
    AlgorithmName: str | None = None
    InstanceType: str = "local"
    InstanceCount: int = 1
    CreationTime: float = field(default_factory=time.time)
    TrainingStartTime: float | None = None
    TrainingEndTime: float | None = None
    TrainingTimeInSeconds: int | None = None
    BillableTimeInSeconds: int | None = None
    FailureReason: str | None = None
    FinalMetrics: dict[str, float] = field(default_factory=dict)
    ModelArtifacts: str | None = None
    OutputPath: str | None = None
    CheckpointUri: str | None = None
    InputDataConfig: dict[str, dict] = field(default_factory=dict)
    HyperParameters: dict[str, str] = field(default_factory=dict)
    MlflowRunId: str | None = None
    MlflowModelUri: str | None = None
    Progress: dict = field(default_factory=dict)
    SecondaryStatusTransitions: list[dict] = field(default_factory=list)
    Restarts: int = 0
    Interruptions: list[dict] = field(default_factory=list)
    Spec: dict = field(default_factory=dict)
    DriverHost: str = field(default_factory=socket.gethostname)
    DriverPid: int = field(default_factory=os.getpid)

    def save(self) -> None:
        _storage.write_json_atomic(str(_dir() / f"{self.TrainingJobName}.json"), asdict(self))

    def transition(self, status: str, message: str = "", **changes) -> JobRecord:
        """Enter a new secondary status (SageMaker's SecondaryStatusTransitions), timed."""
        now = time.time()
        if self.SecondaryStatusTransitions:
            last = self.SecondaryStatusTransitions[-1]
            last["EndTime"] = now
            last["Seconds"] = round(now - last["StartTime"], 3)
        self.SecondaryStatusTransitions.append({"Status": status, "StartTime": now,
                                                "StatusMessage": message})
        return self.update(SecondaryStatus=status, **changes)

    def update(self, **changes) -> JobRecord:
        for k, v in changes.items():
            setattr(self, k, v)
        self.save()
        return self


def claim(name: str, folder: str = "jobs") -> bool:
    """Reserve a job name atomically; False if a job of that name exists.

    The record is written to a private file and hard-linked into place: the link fails if
    the name is taken, and a reader never sees a half-written record.
    """
    path = _dir(folder) / f"{name}.json"
    tmp = _dir(folder) / f".{name}.{os.getpid()}.{time.monotonic_ns()}.claim"
    tmp.write_text(json.dumps({"TrainingJobName": name, "CreationTime": time.time()}))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def _dir(folder: str = "jobs"):
    d = constants.home() / folder
    d.mkdir(parents=True, exist_ok=True)
    return d


def _with_liveness(rec: JobRecord) -> JobRecord:
    """An InProgress job whose driver process is gone (on this host) is reported as Failed."""
    if rec.TrainingJobStatus == "InProgress" and rec.DriverHost == socket.gethostname():
        try:
            os.kill(rec.DriverPid, 0)
        except ProcessLookupError:
            rec.TrainingJobStatus = "Failed"
            rec.FailureReason = (f"the process that ran the job (pid {rec.DriverPid}) exited "
                                 "without finishing it; run the job again")
        except PermissionError:
            pass
    return rec


def load(name: str, liveness: bool = True) -> JobRecord:
    """The record of ``name``; with ``liveness``, an InProgress job whose driver is gone
    reads as Failed (the file is left as it is)."""
    path = _dir() / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        close = [p.stem for p in _dir().glob("*.json") if name in p.stem][:3]
        hint = f" (similar: {', '.join(close)})" if close else " (`mlcore jobs list` shows all)"
        raise JobNotFound(f"no training job named {name!r}{hint}", name=name) from None
    known = JobRecord.__dataclass_fields__
    rec = JobRecord(**{k: v for k, v in data.items() if k in known})
    return _with_liveness(rec) if liveness else rec


def list_jobs() -> list[JobRecord]:
    recs = [load(p.stem) for p in _dir().glob("*.json")]
    return sorted(recs, key=lambda r: r.CreationTime, reverse=True)


def exists(name: str) -> bool:
    return (_dir() / f"{name}.json").exists()
