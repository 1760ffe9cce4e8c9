"""The endpoints service: Endpoint specs onto Ray Serve (production variants, autoscaling,
serverless, multi-model, inference pipelines, data capture), their records and descriptions."""

from __future__ import annotations

from mlcore import _names, constants
from mlcore.records import EndpointRecord, Status
from mlcore.services import _shapes
from mlcore.services.endpoints import _deploy
from mlcore.services.endpoints._async import async_home
from mlcore.services.endpoints._deploy import (
    capture_uri,
    check,
    delete,
    deploy,
    deploy_model,
    list_endpoints,
    model_ref,
    resolve,
    serverless_autoscaling,
    update_weights,
)
from mlcore.specs import Endpoint

RECORD = EndpointRecord


def run(spec: Endpoint, name: str | None = None, logs: bool = True, say=print) -> EndpointRecord:
    """Deploy ``spec`` (``name`` overrides its endpoint_name); ``say`` prints what a user reads."""
    if name:  # checked here: model_copy does not validate
        spec = spec.model_copy(update={"endpoint_name": _names.check_name(
            name, "endpoint_name", _names.ENDPOINT_MAX)})
    d = deploy(spec)
    if d.get("AsyncInferenceConfig"):
        out = d["AsyncInferenceConfig"]["OutputConfig"]
        say(f"endpoint {d['EndpointName']} {d['EndpointStatus']} (async): POST "
            f"{d['Url']}/async-invocations; results under {out['S3OutputPath']}, failures "
            f"under {out['S3FailurePath']}; GET {d['Url']}/async-invocations/<id> for status")
    else:
        say(f"endpoint {d['EndpointName']} {d['EndpointStatus']}: POST {d['Url']}/invocations")
    for v in d["ProductionVariants"]:
        m = v["Model"]
        model = (m.get("ModelPackageArn") or m.get("TrainingJobName") or m.get("ModelDataPrefix")
                 or " -> ".join(s.get("ModelPackageArn") or s.get("TrainingJobName", "?")
                                for s in m.get("Pipeline", [])))
        say(f"  variant {v['VariantName']}: {model}, weight {v['DesiredWeight']}, "
            f"{v['CurrentInstanceCount']} replica(s) running")
    return EndpointRecord.load(spec.endpoint_name)


def lives_with_driver() -> bool:
    """On an embedded (local) Ray an endpoint lives as long as the process that deployed it;
    on a cluster (RAY_ADDRESS) it stays after the deploying process ends."""
    return not constants.get("RAY_ADDRESS")


def succeeded(record: EndpointRecord) -> bool:
    return record.status != Status.FAILED


def rows() -> list[str]:
    """``mlcore endpoints list``."""
    out = []
    for d in list_endpoints():
        variants = ", ".join(f"{v['VariantName']}({v['CurrentInstanceCount']})"
                             for v in d["ProductionVariants"])
        out.append(f"{d['EndpointName']:32} {d['EndpointStatus']:12} {variants}")
    return out or ["no endpoints"]


def describe(name: str, apps: dict | None = None) -> dict:
    """SageMaker's DescribeEndpoint response (boto3's field names and types), from the
    record and Serve's live state (``apps``: :func:`serving.statuses`, when known)."""
    return _shapes.endpoint(_deploy.describe(name, apps))


def describe_for_people(name: str) -> dict:
    return _shapes.for_people(describe(name))


__all__ = ["RECORD", "async_home", "capture_uri", "check", "delete", "deploy", "deploy_model", "describe",
           "describe_for_people", "list_endpoints", "lives_with_driver", "model_ref", "resolve",
           "rows", "run", "serverless_autoscaling", "succeeded", "update_weights"]
