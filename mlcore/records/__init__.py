"""Records of every resource mlcore runs: training jobs, tuning jobs, endpoints and
transform jobs.

One store (:class:`RecordStore`, one SQL table through SQLAlchemy) holds them all, keyed by
kind and name; :func:`store` is this process's, at ``MLCORE_RECORDS_URI`` (SQLite under
``$MLCORE_HOME`` by default; PostgreSQL lets several machines share records). Each kind is a
:class:`Record` dataclass with SageMaker's Describe* fields and one :class:`Status` enum::

    from mlcore.records import Status, TrainingJobRecord

    if TrainingJobRecord.claim("my-job", InstanceCount=2):   # atomic: False if taken
        rec = TrainingJobRecord.load("my-job")
        rec.update(TrainingJobStatus=Status.COMPLETED)       # only the changed fields
"""

from mlcore.records._kinds import (
    EndpointRecord,
    TrainingJobRecord,
    TransformJobRecord,
    TuningJobRecord,
)
from mlcore.records._record import Record
from mlcore.records._status import Status
from mlcore.records._store import RecordStore, store

__all__ = [
    "Status", "RecordStore", "store", "Record",
    "TrainingJobRecord", "TuningJobRecord", "EndpointRecord", "TransformJobRecord",
]
