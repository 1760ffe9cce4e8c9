"""The distributed training runtime: launching Ray Train runs, getting metrics and
checkpoints out of workers cheaply, and resuming from the latest committed checkpoint."""

from parallel._launch import LaunchResult, run, worker_error
from parallel._policy import CheckpointPolicy
from parallel._reporting import MetricsBuffer, MetricsSink, report_checkpoint, worker_cpus

__all__ = ["CheckpointPolicy", "LaunchResult", "MetricsBuffer", "MetricsSink", "report_checkpoint", "run",
           "worker_cpus", "worker_error"]
