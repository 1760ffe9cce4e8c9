"""Training job records (SageMaker's DescribeTrainingJob fields), kept under $MLCORE_HOME/jobs."""

from mlcore._jobs import STATUSES, JobRecord, list_jobs
from mlcore._jobs import load as describe

__all__ = ["STATUSES", "JobRecord", "describe", "list_jobs"]
