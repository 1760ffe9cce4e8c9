"""The record kinds: training jobs, tuning jobs, endpoints and transform jobs, with SageMaker's
Describe* field names (what ``mlcore ... describe`` shows)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

from mlcore.records._record import Record
from mlcore.records._status import Status


@dataclass
class TrainingJobRecord(Record):
    KIND = "TrainingJob"
    NAME_FIELD = "TrainingJobName"
    STATUS_FIELD = "TrainingJobStatus"
    NOUN = "training job"
    LIST_COMMAND = "mlcore jobs list"

    TrainingJobName: str
    TrainingJobStatus: Status = Status.IN_PROGRESS
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
    ModelArtifacts: str | None = None  # the committed model folder mlcore serves from
    S3ModelArtifacts: str | None = None  # SageMaker's <output>/<job>/output/model.tar.gz
    OutputPath: str | None = None
    CheckpointUri: str | None = None
    InputDataConfig: dict[str, dict] = field(default_factory=dict)
    HyperParameters: dict[str, str] = field(default_factory=dict)
    MlflowRunId: str | None = None
    MlflowModelUri: str | None = None
    Progress: dict = field(default_factory=dict)
    PhaseTimings: dict = field(default_factory=dict)  # seconds per phase (see training._run)
    SecondaryStatusTransitions: list[dict] = field(default_factory=list)
    Restarts: int = 0
    Interruptions: list[dict] = field(default_factory=list)
    Spec: dict = field(default_factory=dict)
    DriverHost: str = field(default_factory=socket.gethostname)
    DriverPid: int = field(default_factory=os.getpid)

    def transition(self, status: str, message: str = "", **changes) -> TrainingJobRecord:
        """Enter a new secondary status (SageMaker's SecondaryStatusTransitions), timed, in
        one update with ``changes``. Only the job's driver transitions, so the list is
        extended from this copy."""
        now = time.time()
        transitions = [dict(t) for t in self.SecondaryStatusTransitions]
        if transitions:
            last = transitions[-1]
            last["EndTime"] = now
            last["Seconds"] = round(now - last["StartTime"], 3)
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        return self.update(SecondaryStatus=status, SecondaryStatusTransitions=transitions,
                           **changes)


@dataclass
class TuningJobRecord(Record):
    """A tuning job; its trials are training jobs with their own records."""

    KIND = "HyperParameterTuningJob"
    NAME_FIELD = "HyperParameterTuningJobName"
    NAME_MAX = 32
    STATUS_FIELD = "HyperParameterTuningJobStatus"
    NOUN = "tuning job"
    LIST_COMMAND = "mlcore tuning-jobs list"

    HyperParameterTuningJobName: str
    HyperParameterTuningJobStatus: Status = Status.IN_PROGRESS  # Completed | Failed | Stopped
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

    @classmethod
    def request_stop(cls, name: str) -> None:
        """Ask the driver running ``name`` to stop starting trials (its stopper reads the
        flag). Sets only StopRequested, so the driver's concurrent updates all survive."""
        cls.load(name, liveness=False).update(StopRequested=True)


@dataclass
class EndpointRecord(Record):
    """An endpoint's deployment: its spec and resolved models. Its live state (replicas,
    weights) comes from Ray Serve, not from here."""

    KIND = "Endpoint"
    NAME_FIELD = "EndpointName"
    STATUS_FIELD = "EndpointStatus"
    NOUN = "endpoint"
    LIST_COMMAND = "mlcore endpoints list"

    EndpointName: str
    EndpointStatus: Status = Status.CREATING
    CreationTime: float = field(default_factory=time.time)
    LastModifiedTime: float = field(default_factory=time.time)
    Spec: dict = field(default_factory=dict)  # the Endpoint spec, model_dump(mode="json")
    CaptureDestination: str | None = None
    Models: dict = field(default_factory=dict)  # variant name -> resolved model info
    AsyncInferenceConfig: dict | None = None  # an async endpoint's, as DescribeEndpoint shows it
    AsyncQueue: str | None = None  # its queue's URI
    FailureReason: str | None = None
    DriverHost: str = field(default_factory=socket.gethostname)
    DriverPid: int = field(default_factory=os.getpid)


@dataclass
class TransformJobRecord(Record):
    """A batch transform job: its spec (what DescribeTransformJob reports is built from it),
    the resolved model, and its progress by file and record."""

    KIND = "TransformJob"
    NAME_FIELD = "TransformJobName"
    STATUS_FIELD = "TransformJobStatus"
    NOUN = "transform job"
    LIST_COMMAND = "mlcore transform-jobs list"

    TransformJobName: str
    TransformJobStatus: Status = Status.IN_PROGRESS
    ModelName: str | None = None
    Model: dict = field(default_factory=dict)  # what the model resolved to
    CreationTime: float = field(default_factory=time.time)
    TransformStartTime: float | None = None
    TransformEndTime: float | None = None
    FailureReason: str | None = None
    OutputPath: str | None = None
    # files, files_done, files_failed, records, errors, bytes, bytes_done, actors
    Progress: dict = field(default_factory=dict)
    FailedFiles: list[dict] = field(default_factory=list)  # {rel, records, errors, reason}
    PhaseTimings: dict = field(default_factory=dict)
    MlflowRunId: str | None = None
    Resumes: int = 0
    Spec: dict = field(default_factory=dict)
    DriverHost: str = field(default_factory=socket.gethostname)
    DriverPid: int = field(default_factory=os.getpid)


KINDS: tuple[type[Record], ...] = (TrainingJobRecord, TuningJobRecord, EndpointRecord,
                                   TransformJobRecord)
