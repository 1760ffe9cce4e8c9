"""The transform service: TransformJob specs (SageMaker's batch transform) scored on Ray Data
(:mod:`serving._transform`): every input file's ``.out`` committed whole, errors per record,
resumable after any crash, tracked in MLflow, described as DescribeTransformJob."""

from __future__ import annotations

import time

from mlcore import _names
from mlcore.errors import MLCoreError
from mlcore.records import Status, TransformJobRecord
from mlcore.services import _shapes
from mlcore.services.transform._plan import TransformPlan, prepare
from mlcore.services.transform._plan import check as _check
from mlcore.services.transform._run import execute
from mlcore.specs import TransformJob

RECORD = TransformJobRecord


def check(spec: TransformJob) -> None:
    """Everything ``run`` refuses before any work: the model (exists, approved), the input
    files, content type / split / accept against the model, the filters, the output path."""
    _check(spec)


def run(spec: TransformJob, name: str | None = None, logs: bool = True,
        say=print) -> TransformJobRecord:
    """Run ``spec`` as ``name`` (or its own name, or a generated one); ``say`` prints what a
    user reads. Returns the final record."""
    if name:
        _names.check_name(name, "job_name", _names.TRANSFORM_JOB_MAX)
    plan = prepare(spec, name)
    record = execute(plan, logs=logs, say=say)
    say(f"\ntransform job {record.TransformJobName}: {record.status}")
    if record.FailureReason:
        say(f"  FailureReason: {record.FailureReason}")
    say(f"  output: {record.OutputPath}")
    say("\nnext:")
    say(f"  mlcore transform-jobs describe {record.TransformJobName}")
    return record


def succeeded(record: TransformJobRecord) -> bool:
    return record.status == Status.COMPLETED


def describe(name: str) -> dict:
    """SageMaker's DescribeTransformJob response (boto3's field names and types)."""
    return _shapes.transform_job(TransformJobRecord.load(name))


def describe_for_people(name: str) -> dict:
    return _shapes.for_people(describe(name))


def stop(name: str) -> str:
    """SageMaker's StopTransformJob: the scoring actors finish their current request, files
    committed so far stay, and the job ends Stopped."""
    record = TransformJobRecord.load(name)
    if record.status.is_terminal:
        raise MLCoreError(f"transform job {name} is {record.status} already; nothing to stop")
    record.update(TransformJobStatus=Status.STOPPING)
    return f"asked transform job {name} to stop"


def rows() -> list[str]:
    """``mlcore transform-jobs list``."""
    recs = TransformJobRecord.list()
    if not recs:
        return ["no transform jobs yet"]
    out = [f"{'NAME':45} {'STATUS':11} {'CREATED':20} {'FILES':>9} {'RECORDS':>11}"]
    for r in recs:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.CreationTime))
        p = r.Progress or {}
        files = f"{p.get('files_done', 0)}/{p.get('files', '?')}"
        out.append(f"{r.TransformJobName:45} {r.status:11} {created:20} {files:>9} "
                   f"{p.get('records', 0):>11,}")
    return out


__all__ = ["RECORD", "TransformPlan", "check", "describe", "describe_for_people", "execute",
           "prepare", "rows", "run", "stop", "succeeded"]
