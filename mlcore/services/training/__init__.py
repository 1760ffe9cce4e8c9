"""The training service: a TrainingJob spec resolved into a plan, run on Ray Train workers
(a built-in algorithm or a user's script), tracked in MLflow, its model committed and
optionally registered and deployed (the spec's ``register:`` / ``deploy:`` steps)."""

from __future__ import annotations

import os
import time

from mlcore import _instances, _session
from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Status, TrainingJobRecord
from mlcore.services import _shapes
from mlcore.services.training._mlflow_model import ensure as ensure_mlflow_model
from mlcore.services.training._outputs import check as check_outputs
from mlcore.services.training._plan import TrainingPlan, prepare
from mlcore.services.training._plan import check as check_job
from mlcore.services.training._run import execute
from mlcore.services.training._steps import completed, deploy_and_predict, register
from mlcore.specs import TrainingJob, check_name

RECORD = TrainingJobRecord


def check(spec: TrainingJob) -> None:
    """Everything ``run`` would refuse before training: the algorithm and its
    hyperparameters, the script and its distribution, the data of every channel, output
    locations that take no writes, the names and files of later steps."""
    check_job(spec).check_data(spec)
    check_outputs(spec)
    _check_steps(spec)


def check_capacity(spec: TrainingJob) -> None:
    """The capacity check of a training job's preflight against the connected cluster
    (``Placement.fit``): scaled down on mlcore's own local Ray, else a CapacityError when its
    workers could never be placed."""
    _instances.placement(spec.instance_type, spec.instance_count).fit(_session.cluster_nodes())


def _check_steps(spec: TrainingJob) -> None:
    if spec.registration:
        check_name(spec.registration.model_package_group_name, "register.model_package_group_name")
    if spec.deploy and spec.deploy.endpoint_name:
        check_name(spec.deploy.endpoint_name, "deploy.endpoint_name")
    sample = spec.deploy.sample_input if spec.deploy else None
    if sample and "://" not in sample and not os.path.isfile(sample):
        raise SpecError(f"deploy.sample_input: {sample} does not exist; point it at a CSV of "
                        "feature rows", [("deploy.sample_input", "not found")])


def run(spec: TrainingJob, name: str | None = None, logs: bool = True, say=print) -> TrainingJobRecord:
    """Train ``spec`` as ``name`` (or a generated name), then its ``register:`` and
    ``deploy:`` steps; ``say`` prints what a user reads. Returns the final record."""
    _check_steps(spec)
    plan = prepare(spec, name or spec.name, spec.algorithm)
    t0 = time.time()
    record = execute(plan, logs=logs)
    say(f"\ntraining job {record.TrainingJobName}: {record.status} in {time.time() - t0:.1f}s")
    if record.FailureReason:
        say(f"  FailureReason: {record.FailureReason}")
    if record.status != Status.COMPLETED:
        return record
    for k, v in sorted(record.FinalMetrics.items()):
        say(f"  {k} = {v:.6g}")
    say(f"  model artifact: {record.ModelArtifacts}")
    if spec.registration:
        r = spec.registration
        pkg = register(record.TrainingJobName, r.model_package_group_name, r.approval_status,
                       r.description)
        say(f"registered {pkg.model_package_group_name} version {pkg.version} "
            f"({pkg.approval_status}): {pkg.model_uri}")
    if spec.deploy:
        deploy_and_predict(record.TrainingJobName, spec.deploy, say)
    say("\nnext:")
    say(f"  mlcore jobs describe {record.TrainingJobName}")
    say(f"  mlflow ui --backend-store-uri {_session.redact(_session.tracking_uri())}")
    if spec.registration:
        say(f"  mlcore models list {spec.registration.model_package_group_name}")
    return record


def succeeded(record: TrainingJobRecord) -> bool:
    return record.status == Status.COMPLETED


def describe(name: str) -> dict:
    """SageMaker's DescribeTrainingJob response (boto3's field names and types)."""
    return _shapes.training_job(TrainingJobRecord.load(name))


def describe_for_people(name: str) -> dict:
    return _shapes.for_people(describe(name))


def stop(name: str) -> str:
    """SageMaker's StopTrainingJob: the job's driver sees Stopping within about a second,
    aborts its workers and ends the job Stopped."""
    record = TrainingJobRecord.load(name)
    if record.status.is_terminal:
        raise MLCoreError(f"training job {name} is {record.status} already; nothing to stop")
    record.update(TrainingJobStatus=Status.STOPPING)
    return f"asked training job {name} to stop"


def rows() -> list[str]:
    """``mlcore jobs list``."""
    recs = TrainingJobRecord.list()
    if not recs:
        return ["no training jobs yet"]
    out = [f"{'NAME':45} {'STATUS':11} {'CREATED':20} {'SECONDS':>7}"]
    for r in recs:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.CreationTime))
        seconds = r.TrainingTimeInSeconds if r.TrainingTimeInSeconds is not None else "-"
        out.append(f"{r.TrainingJobName:45} {r.status:11} {created:20} {seconds:>7}")
    return out


__all__ = ["RECORD", "TrainingPlan", "check", "check_capacity", "check_job", "check_outputs", "completed", "deploy_and_predict", "describe",
           "describe_for_people", "ensure_mlflow_model",
           "execute", "prepare", "register", "rows", "run", "stop", "succeeded"]
