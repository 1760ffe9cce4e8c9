"""The distributed training runtime: launching Ray Train runs, script mode (a user's own
training script with SageMaker's environment), DeepSpeed data and pipeline parallelism,
getting metrics and checkpoints out of workers cheaply, and resuming from the latest
committed checkpoint after a failure or a preemption."""

from parallel import context
from parallel._distribution import BACKENDS, DeepSpeedOptions, Plan, plan
from parallel._launch import Aborted, LaunchResult, interruptions, run, worker_error
from parallel._policy import CheckpointPolicy
from parallel._reporting import MetricsBuffer, MetricsSink, report_checkpoint, worker_cpus
from parallel._script import train_fn as script_train_fn

__all__ = ["Aborted", "BACKENDS", "CheckpointPolicy", "DeepSpeedOptions", "LaunchResult", "MetricsBuffer",
           "MetricsSink", "Plan", "context", "interruptions", "plan", "report_checkpoint", "run",
           "script_train_fn", "worker_cpus", "worker_error"]
