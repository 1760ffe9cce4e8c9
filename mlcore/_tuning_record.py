"""Tuning job records: one JSON file per tuning job under ``$MLCORE_HOME/tuning-jobs``,
with SageMaker's DescribeHyperParameterTuningJob fields. The trials are training jobs with
their own records (``mlcore jobs describe``)."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field

from mlcore import _jobs, _storage, constants
from mlcore.errors import JobNotFound

FOLDER = "tuning-jobs"


@dataclass
class TuningRecord:
    HyperParameterTuningJobName: str
    HyperParameterTuningJobStatus: str = "InProgress"  # Completed | Failed | Stopped
    Strategy: str = "Bayesian"
    CreationTime: float = field(default_factory=time.time)
    HyperParameterTuningEndTime: float | None = None
    FailureReason: str | None = None
    CompletionReason: str | None = None
    BestTrainingJob: dict | None = None  # {TrainingJobName, FinalObjectiveValue, ...}
    TrainingJobs: list[str] = field(default_factory=list)  # trial training jobs, in order
    TrainingJobStatusCounters: dict[str, int] = field(default_factory=dict)
    RegisteredModel: dict | None = None
    WarmStartNotes: list[str] = field(default_factory=list)
    OutputPath: str | None = None
    ExperimentPath: str | None = None  # Ray Tune's experiment folder (used to resume)
    StudyUri: str | None = None  # the persisted Optuna study (Bayesian)
    Artifacts: dict[str, str] = field(default_factory=dict)  # results table and plots
    MlflowRunId: str | None = None
    StopRequested: bool = False
    Resumes: int = 0
    Spec: dict = field(default_factory=dict)
    DriverHost: str = field(default_factory=socket.gethostname)
    DriverPid: int = field(default_factory=os.getpid)

    @property
    def name(self) -> str:
        return self.HyperParameterTuningJobName

    def save(self) -> None:
        _storage.write_json_atomic(str(_dir() / f"{self.name}.json"), asdict(self))

    def update(self, **changes) -> TuningRecord:
        # Another process (`tuner.stop()` elsewhere) may have asked to stop: keep its request.
        if not changes.get("StopRequested") and _dir().joinpath(f"{self.name}.json").exists():
            self.StopRequested = self.StopRequested or _raw(self.name).get("StopRequested", False)
        for k, v in changes.items():
            setattr(self, k, v)
        self.save()
        return self

    def driver_alive(self) -> bool:
        if self.DriverHost != socket.gethostname():
            return True  # cannot tell from here
        try:
            os.kill(self.DriverPid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def claim(name: str) -> bool:
    return _jobs.claim(name, FOLDER)


def _dir():
    d = constants.home() / FOLDER
    d.mkdir(parents=True, exist_ok=True)
    return d


def _raw(name: str) -> dict:
    try:
        return json.loads((_dir() / f"{name}.json").read_text())
    except FileNotFoundError:
        close = [p.stem for p in _dir().glob("*.json") if name in p.stem][:3]
        hint = f" (similar: {', '.join(close)})" if close else " (`mlcore tuning-jobs list` shows all)"
        raise JobNotFound(f"no tuning job named {name!r}{hint}", name=name) from None


def load(name: str) -> TuningRecord:
    known = TuningRecord.__dataclass_fields__
    # A name just claimed holds only the claim until the record is first saved.
    return TuningRecord(**{"HyperParameterTuningJobName": name,
                           **{k: v for k, v in _raw(name).items() if k in known}})


def exists(name: str) -> bool:
    return (_dir() / f"{name}.json").exists()


def list_records() -> list[TuningRecord]:
    recs = [load(p.stem) for p in _dir().glob("*.json")]
    return sorted(recs, key=lambda r: r.CreationTime, reverse=True)


def request_stop(name: str) -> None:
    """Ask the driver running ``name`` to stop starting trials (read by its stopper)."""
    rec = load(name)
    rec.StopRequested = True
    rec.save()
