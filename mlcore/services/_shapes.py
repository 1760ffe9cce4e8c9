"""SageMaker's Describe* responses built from mlcore's records, with boto3's field names and
types: datetimes as boto3 parses them (timezone-aware, local zone), every hyperparameter a
string, an absent field left out (boto3 never returns None).

A response may also hold a few mlcore fields that SageMaker has no name for (the MLflow model,
restarts, the results table...). Each is listed in :data:`EXTRAS` for its operation, and
:func:`shape_problems` (the oracle the tests run) refuses any other key, so a SageMaker-named
key always has the service model's type.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dateutil.tz import tzlocal

from mlcore import _session, _storage
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord

REGION, ACCOUNT = "local", "000000000000"  # what the ARNs of this installation carry
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mlcore"  # RoleArn is required; Ray needs no role

# mlcore fields a response may carry beside SageMaker's ("X[]." : each item of the list X).
EXTRAS: dict[str, tuple[str, ...]] = {
    "DescribeTrainingJob": ("MlflowModelUri", "Progress", "PhaseTimings", "Restarts",
                            "Interruptions", "DriverHost"),
    "DescribeHyperParameterTuningJob": (
        "TrainingJobs", "MlflowRunId", "StudyUri", "Artifacts", "WarmStartNotes",
        "RegisteredModel", "CompletionReason", "Resumes", "DriverHost"),
    "DescribeEndpoint": ("Url", "Auth", *(f"ProductionVariants[].{k}" for k in (
        "Model", "Autoscaling", "Invocations", "Errors", "MeanLatencyMs", "ModelLoads"))),
    "ListTrainingJobsForHyperParameterTuningJob": (),
    "DescribeTransformJob": ("Progress", "FailedFiles", "PhaseTimings", "Model", "Resumes",
                             "DriverHost"),
}

# mlcore's secondary statuses with another SageMaker name.
_SECONDARY = {"Preparing": "PreparingTrainingStack"}
# A trial's status -> its TrainingJobStatusCounters key.
_COUNTER = {"Completed": "Completed", "InProgress": "InProgress", "Stopping": "InProgress",
            "Failed": "NonRetryableError", "Stopped": "Stopped"}


def when(t: float | None) -> datetime | None:
    """An epoch time as boto3 returns a timestamp."""
    return None if t is None else datetime.fromtimestamp(t, tzlocal())


def arn(resource: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name.lower()}"


def compact(value):
    """``value`` with every None left out, at any depth (boto3 omits absent fields)."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value if v is not None]
    return value


def for_people(value):
    """A response for printing: datetimes as ISO 8601 text."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {k: for_people(v) for k, v in value.items()}
    if isinstance(value, list):
        return [for_people(v) for v in value]
    return value


# --- training jobs ------------------------------------------------------------------------
def training_job(rec: TrainingJobRecord) -> dict:
    """DescribeTrainingJob of ``rec``."""
    spec, name = rec.Spec or {}, rec.TrainingJobName
    output = rec.OutputPath or spec.get("output_path") or _session.default_output_path()
    tuning = (spec.get("tags") or {}).get("mlcore.tuning_job")
    transitions = [{"Status": _SECONDARY.get(t["Status"], t["Status"]), "StartTime": when(t["StartTime"]),
                    "EndTime": when(t.get("EndTime")), "StatusMessage": t.get("StatusMessage")}
                   for t in rec.SecondaryStatusTransitions]
    times = [rec.CreationTime, rec.TrainingEndTime, *(t.get("EndTime") or t["StartTime"]
                                                      for t in rec.SecondaryStatusTransitions)]
    modified = max(t for t in times if t is not None)
    artifacts = (rec.S3ModelArtifacts or rec.ModelArtifacts
                 or _storage.join(output, name, "output", "model.tar.gz"))
    return compact({
        "TrainingJobName": name, "TrainingJobArn": arn("training-job", name),
        "TuningJobArn": arn("hyper-parameter-tuning-job", tuning) if tuning else None,
        "ModelArtifacts": {"S3ModelArtifacts": artifacts},
        "TrainingJobStatus": str(rec.TrainingJobStatus),
        "SecondaryStatus": _SECONDARY.get(rec.SecondaryStatus, rec.SecondaryStatus),
        "FailureReason": rec.FailureReason,
        "HyperParameters": {str(k): str(v) for k, v in rec.HyperParameters.items()},
        **_definition(spec, rec.AlgorithmName, output, rec.CheckpointUri, rec.InputDataConfig),
        "ResourceConfig": {"InstanceType": rec.InstanceType, "InstanceCount": rec.InstanceCount},
        "CreationTime": when(rec.CreationTime), "TrainingStartTime": when(rec.TrainingStartTime),
        "TrainingEndTime": when(rec.TrainingEndTime), "LastModifiedTime": when(modified),
        "SecondaryStatusTransitions": transitions,
        "FinalMetricDataList": [{"MetricName": k, "Value": float(v), "Timestamp": when(rec.TrainingEndTime or modified)}
                                for k, v in sorted(rec.FinalMetrics.items())],
        "TrainingTimeInSeconds": rec.TrainingTimeInSeconds,
        "BillableTimeInSeconds": rec.BillableTimeInSeconds,
        "MlflowDetails": {"MlflowRunId": rec.MlflowRunId} if rec.MlflowRunId else None,
        "MlflowModelUri": rec.MlflowModelUri, "Progress": rec.Progress,
        "PhaseTimings": rec.PhaseTimings, "Restarts": rec.Restarts,
        "Interruptions": rec.Interruptions, "DriverHost": rec.DriverHost,
    })


def _definition(spec: dict, algorithm: str | None, output: str, checkpoint: str | None,
                channels: dict | None = None) -> dict:
    """What DescribeTrainingJob and a tuning job's TrainingJobDefinition share, from a
    TrainingJob spec (``model_dump(mode="json")``)."""
    channels = channels or spec.get("inputs") or {}
    algorithm = algorithm or spec.get("algorithm") or (f"script:{spec['entry_point']}" if spec.get("entry_point") else None)
    spot = bool(spec.get("use_spot_instances", False))
    return {
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": algorithm,
                                   "MetricDefinitions": [{"Name": m["Name"], "Regex": m["Regex"]}
                                                         for m in spec.get("metric_definitions") or []]},
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [
            {"ChannelName": n, "ContentType": c.get("content_type"), "InputMode": c.get("input_mode"),
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": c["uri"],
                                             "S3DataDistributionType": "FullyReplicated"}}}
            for n, c in channels.items()],
        "OutputDataConfig": {"S3OutputPath": output},
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.get("max_run", 86400),
                              "MaxWaitTimeInSeconds": spec.get("max_wait") if spot else None},
        "EnableManagedSpotTraining": spot,
        "CheckpointConfig": ({"S3Uri": checkpoint, "LocalPath": spec.get("checkpoint_local_path")}
                             if checkpoint else None),
        "RetryStrategy": ({"MaximumRetryAttempts": spec["max_retry_attempts"]}
                          if "max_retry_attempts" in spec else None),
        "Environment": spec.get("environment") or None,
    }


# --- tuning jobs --------------------------------------------------------------------------
def tuning_job(rec: TuningJobRecord, static: dict) -> dict:
    """DescribeHyperParameterTuningJob of ``rec``; ``static``: its trials' static
    hyperparameters (the estimator's less the tuned ones, plus the objective)."""
    spec = rec.Spec or {}
    est = spec.get("estimator") or {}
    summaries = trial_summaries(rec)
    counters = dict.fromkeys(("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0)
    objective = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
    for s in summaries:
        counters[_COUNTER.get(s["TrainingJobStatus"], "NonRetryableError")] += 1
        objective[s["ObjectiveStatus"]] += 1
    best = (rec.BestTrainingJob or {}).get("TrainingJobName")
    warm = spec.get("warm_start_config")
    output = est.get("output_path") or _session.default_output_path()
    end = rec.HyperParameterTuningEndTime
    return compact({
        "HyperParameterTuningJobName": rec.name,
        "HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job", rec.name),
        "HyperParameterTuningJobConfig": _tuning_config(spec, rec.Strategy),
        "TrainingJobDefinition": {"StaticHyperParameters": {str(k): str(v) for k, v in static.items()},
                                  **_definition(est, None, output, est.get("checkpoint_s3_uri")),
                                  "ResourceConfig": {"InstanceType": est.get("instance_type", "local"),
                                                     "InstanceCount": est.get("instance_count", 1)}},
        "HyperParameterTuningJobStatus": str(rec.HyperParameterTuningJobStatus),
        "CreationTime": when(rec.CreationTime), "HyperParameterTuningEndTime": when(end),
        "LastModifiedTime": max([when(rec.CreationTime), *([when(end)] if end else []),
                                 *(s.get("TrainingEndTime") or s.get("TrainingStartTime") or s["CreationTime"]
                                   for s in summaries)]),
        "TrainingJobStatusCounters": counters, "ObjectiveStatusCounters": objective,
        "BestTrainingJob": next((s for s in summaries if s["TrainingJobName"] == best), None),
        "WarmStartConfig": {"WarmStartType": warm["type"], "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": p} for p in warm["parents"]]} if warm else None,
        "FailureReason": rec.FailureReason,
        "ConsumedResources": {"RuntimeInSeconds": int(round(end - rec.CreationTime))} if end else None,
        "TrainingJobs": list(rec.TrainingJobs), "MlflowRunId": rec.MlflowRunId, "StudyUri": rec.StudyUri,
        "Artifacts": rec.Artifacts, "WarmStartNotes": rec.WarmStartNotes,
        "RegisteredModel": rec.RegisteredModel, "CompletionReason": rec.CompletionReason,
        "Resumes": rec.Resumes, "DriverHost": rec.DriverHost,
    })


def _tuning_config(spec: dict, strategy: str) -> dict:
    ranges = {"IntegerParameterRanges": [], "ContinuousParameterRanges": [], "CategoricalParameterRanges": []}
    for n, r in (spec.get("hyperparameter_ranges") or {}).items():
        if r["type"] == "Categorical":
            ranges["CategoricalParameterRanges"].append({"Name": n, "Values": [str(v) for v in r["values"]]})
        else:
            ranges[f"{r['type']}ParameterRanges"].append(
                {"Name": n, "MinValue": str(r["min_value"]), "MaxValue": str(r["max_value"]),
                 "ScalingType": r.get("scaling_type", "Auto")})
    crit = spec.get("completion_criteria_config") or {}
    patience = crit.get("max_number_of_training_jobs_not_improving")
    return {
        "Strategy": spec.get("strategy", strategy),
        "HyperParameterTuningJobObjective": ({"Type": spec.get("objective_type", "Maximize"),
                                              "MetricName": spec["objective_metric_name"]}
                                             if spec.get("objective_metric_name") else None),
        "ResourceLimits": {"MaxNumberOfTrainingJobs": spec.get("max_jobs"),
                           "MaxParallelTrainingJobs": spec.get("max_parallel_jobs", 1),
                           "MaxRuntimeInSeconds": spec.get("max_runtime_in_seconds")},
        "ParameterRanges": ranges,
        "TrainingJobEarlyStoppingType": spec.get("early_stopping_type", "Off"),
        "TuningJobCompletionCriteria": {
            "TargetObjectiveMetricValue": crit.get("target_objective_metric_value"),
            "BestObjectiveNotImproving": ({"MaxNumberOfTrainingJobsNotImproving": patience}
                                          if patience else None)} if crit else None,
        "RandomSeed": spec.get("random_seed"),
    }


def trial_summaries(rec: TuningJobRecord) -> list[dict]:
    """ListTrainingJobsForHyperParameterTuningJob's summaries of ``rec``'s trials, in trial
    order."""
    spec = rec.Spec or {}
    tuned = list(spec.get("hyperparameter_ranges") or {})
    metric, kind = spec.get("objective_metric_name"), spec.get("objective_type", "Maximize")
    out = []
    for job in sorted(rec.TrainingJobs):
        if not TrainingJobRecord.exists(job):
            continue
        t = TrainingJobRecord.load(job)
        value = t.FinalMetrics.get(metric) if t.TrainingJobStatus == Status.COMPLETED else None
        state = ("Succeeded" if value is not None else
                 "Pending" if not Status(t.TrainingJobStatus).is_terminal else "Failed")
        out.append(compact({
            "TrainingJobName": job, "TrainingJobArn": arn("training-job", job), "TuningJobName": rec.name,
            "CreationTime": when(t.CreationTime), "TrainingStartTime": when(t.TrainingStartTime),
            "TrainingEndTime": when(t.TrainingEndTime), "TrainingJobStatus": str(t.TrainingJobStatus),
            "TunedHyperParameters": {n: t.HyperParameters[n] for n in tuned if n in t.HyperParameters},
            "FailureReason": t.FailureReason,
            "FinalHyperParameterTuningJobObjectiveMetric": (
                {"Type": kind, "MetricName": metric, "Value": float(value)} if value is not None else None),
            "ObjectiveStatus": state,
        }))
    return out


# --- endpoints ----------------------------------------------------------------------------
def endpoint(d: dict) -> dict:
    """DescribeEndpoint from the endpoints service's description ``d`` (its record and
    Serve's live state); unknown per-variant fields pass through (the oracle names them)."""
    name = d["EndpointName"]
    capture = d.get("DataCaptureConfig")
    return compact({
        "EndpointName": name, "EndpointArn": arn("endpoint", name), "EndpointConfigName": name,
        "ProductionVariants": [_variant(v) for v in d.get("ProductionVariants", [])],
        "DataCaptureConfig": {"EnableCapture": bool(capture["EnableCapture"]), "CaptureStatus": "Started",
                              # an integer in SageMaker; mlcore's spec also takes fractions
                              "CurrentSamplingPercentage": round(capture["CurrentSamplingPercentage"]),
                              "DestinationS3Uri": capture.get("DestinationS3Uri") or "",
                              "KmsKeyId": capture.get("KmsKeyId") or ""} if capture else None,
        "EndpointStatus": str(d["EndpointStatus"]), "FailureReason": d.get("FailureReason"),
        "CreationTime": when(d["CreationTime"]), "LastModifiedTime": when(d["LastModifiedTime"]),
        "Url": d.get("Url"), "Auth": d.get("Auth"),
        "AsyncInferenceConfig": d.get("AsyncInferenceConfig"),
    })


def _variant(v: dict) -> dict:
    serverless = v.get("CurrentServerlessConfig")
    if serverless:
        serverless = {"MemorySizeInMB": serverless["memory_size_in_mb"],
                      "MaxConcurrency": serverless["max_concurrency"]}
    weight = v.get("CurrentWeight")
    return {**v, "CurrentWeight": None if weight is None else float(weight),
            "DesiredWeight": float(v["DesiredWeight"]),
            "CurrentServerlessConfig": serverless, "DesiredServerlessConfig": serverless}


# --- the oracle ---------------------------------------------------------------------------
# Enumerations mlcore widens: its instance types include "local" and Ray-only ones.
_OPEN_ENUMS = ("TrainingInstanceType", "ProductionVariantInstanceType")
_PYTHON = {"string": str, "boolean": bool, "integer": int, "long": int, "float": (int, float),
           "double": (int, float), "timestamp": datetime, "blob": bytes}


# --- transform jobs -----------------------------------------------------------------------
def transform_job(rec) -> dict:
    """DescribeTransformJob of a TransformJobRecord (its fields built from the job's spec)."""
    spec = rec.Spec or {}
    dp = {"InputFilter": spec.get("input_filter"), "OutputFilter": spec.get("output_filter"),
          "JoinSource": spec.get("join_source")}
    return compact({
        "TransformJobName": rec.TransformJobName,
        "TransformJobArn": arn("transform-job", rec.TransformJobName),
        "TransformJobStatus": str(rec.TransformJobStatus),
        "FailureReason": rec.FailureReason,
        "ModelName": rec.ModelName or "model",
        "MaxConcurrentTransforms": spec.get("max_concurrent_transforms")
        or (rec.Progress or {}).get("concurrency"),
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": int(spec.get("invocation_timeout_s", 600)),
                              "InvocationsMaxRetries": 0},
        "MaxPayloadInMB": spec.get("max_payload", 6),
        "BatchStrategy": spec.get("strategy") or "MultiRecord",
        "Environment": spec.get("env") or None,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": spec.get("data_type", "S3Prefix"),
                                            "S3Uri": spec.get("data", "")}},
            "ContentType": spec.get("content_type"),
            "CompressionType": spec.get("compression_type") or "None",
            "SplitType": spec.get("split_type") or "None"},
        "TransformOutput": {"S3OutputPath": rec.OutputPath or spec.get("output_path") or "",
                            "Accept": spec.get("accept"),
                            "AssembleWith": spec.get("assemble_with") or "None"},
        "TransformResources": {"InstanceType": spec.get("instance_type", "local"),
                               "InstanceCount": spec.get("instance_count", 1)},
        "CreationTime": when(rec.CreationTime),
        "TransformStartTime": when(rec.TransformStartTime),
        "TransformEndTime": when(rec.TransformEndTime),
        "DataProcessing": compact(dp) or None,
        "Progress": rec.Progress, "FailedFiles": rec.FailedFiles or None,
        "PhaseTimings": rec.PhaseTimings or None, "Model": rec.Model, "Resumes": rec.Resumes,
        "DriverHost": rec.DriverHost,
    })


def shape_problems(value: dict, operation: str, extras: Iterable[str] | None = None) -> list[str]:
    """Where ``value`` departs from what boto3 returns for SageMaker's ``operation``
    (botocore's service model): a required member missing, a member of another type or
    outside its enumeration, a None, or a key that is neither SageMaker's nor listed in
    ``extras`` (default: :data:`EXTRAS` of the operation). Empty when it conforms."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation).output_shape
    allowed = set(EXTRAS.get(operation, ()) if extras is None else extras)
    return _problems(value, shape, "", allowed)


def _problems(value, shape, path: str, extras: set[str]) -> list[str]:
    where = path or "<response>"
    if value is None:
        return [f"{where}: None (boto3 leaves an absent field out)"]
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: {shape.name} must be a dict; got {type(value).__name__}"]
        out = [f"{_at(path, k)}: required by {shape.name}, missing"
               for k in shape.required_members if k not in value]
        for k, v in value.items():
            if k in shape.members:
                out += _problems(v, shape.members[k], _at(path, k), extras)
            elif _at(path, k) not in extras:
                out.append(f"{_at(path, k)}: not a member of {shape.name} nor a listed mlcore field")
        return out
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: {shape.name} must be a list; got {type(value).__name__}"]
        return [p for item in value for p in _problems(item, shape.member, f"{path}[]", extras)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: {shape.name} must be a dict; got {type(value).__name__}"]
        return [p for k, v in value.items()
                for p in (_problems(k, shape.key, f"{path}<key>", extras)
                          + _problems(v, shape.value, f"{path}[{k!r}]", extras))]
    expected = _PYTHON[kind]
    if isinstance(value, bool) and kind != "boolean" or not isinstance(value, expected):
        return [f"{where}: {kind} ({shape.name}) expected; got {type(value).__name__} {value!r}"]
    if kind == "timestamp" and value.tzinfo is None:
        return [f"{where}: boto3's timestamps carry a time zone; got a naive datetime"]
    enum = getattr(shape, "enum", None)  # only string shapes have one
    if enum and value not in enum and shape.name not in _OPEN_ENUMS:
        return [f"{where}: {value!r} is not one of {shape.name}'s values"]
    return []


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
