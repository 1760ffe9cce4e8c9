"""Training job records (SageMaker's DescribeTrainingJob fields), in the record store."""

from mlcore.records import Status, TrainingJobRecord

STATUSES = tuple(s.value for s in (Status.IN_PROGRESS, Status.COMPLETED, Status.STOPPING,
                                   Status.FAILED, Status.STOPPED))
JobRecord = TrainingJobRecord  # the name earlier versions exported
describe = TrainingJobRecord.load
list_jobs = TrainingJobRecord.list

__all__ = ["STATUSES", "JobRecord", "Status", "TrainingJobRecord", "describe", "list_jobs"]
