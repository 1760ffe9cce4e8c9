"""The one status enum of every record: SageMaker's job and endpoint status values.

A ``Status`` is a ``str``: it compares equal to ``"Completed"``, JSON-serialises as the plain
string and formats as it (``f"{s:11}"`` pads the value, not ``Status.COMPLETED``).
"""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    # Training and tuning jobs (DescribeTrainingJob / DescribeHyperParameterTuningJob).
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    # Endpoints (DescribeEndpoint). FAILED is shared with jobs.
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    DELETING = "Deleting"
    OUT_OF_SERVICE = "OutOfService"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def is_terminal(self) -> bool:
        """The job ended and nothing will change it again: Completed, Failed or Stopped.

        Meant for jobs. Of the endpoint states only Failed (shared with jobs) is terminal, and
        loosely: a Failed or OutOfService endpoint can be deployed again, so endpoint callers
        look at the status itself.
        """
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        """A driver process is working on the resource right now (InProgress, Stopping,
        Creating, Updating): if that process is gone, the record is stale."""
        return self in _ACTIVE


_TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.STOPPED})
_ACTIVE = frozenset({Status.IN_PROGRESS, Status.STOPPING, Status.CREATING, Status.UPDATING})
