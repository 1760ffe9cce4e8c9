"""describe() of training jobs, tuning jobs and endpoints against boto3's responses: every
field checked by botocore's SageMaker service model (names, types, required members,
enumerations), on records built here without Ray."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import pytest

from mlcore import parse_spec
from mlcore.records import EndpointRecord, Status, TrainingJobRecord, TuningJobRecord
from mlcore.services import _shapes, endpoints, training, tuning

XGB = {"num_round": 20, "objective": "binary:logistic", "eval_metric": "auc", "eta": 0.2}


def conforms(value: dict, operation: str) -> None:
    """The oracle: fails listing every departure from boto3's response of ``operation``."""
    problems = _shapes.shape_problems(value, operation)
    assert problems == [], "\n".join(problems)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _training_spec(**extra) -> dict:
    return parse_spec({"kind": "TrainingJob", "algorithm": "xgboost", "hyperparameters": XGB,
                       "inputs": {"train": {"uri": "/data/train.csv", "content_type": "text/csv"},
                                  "validation": "/data/validation.csv"},
                       "use_spot_instances": True, "max_run": 3600, "max_wait": 7200, **extra}).model_dump(mode="json")


def _job(name: str, status: Status = Status.COMPLETED, metrics: dict | None = None, **fields) -> TrainingJobRecord:
    """A training job record as its driver leaves it."""
    assert TrainingJobRecord.claim(name)
    rec = TrainingJobRecord.load(name, liveness=False)
    t0 = time.time() - 30
    rec.update(**{"AlgorithmName": "xgboost", "OutputPath": "/out", "CheckpointUri": f"/out/{name}/checkpoints",
                  "InputDataConfig": {"train": {"uri": "/data/train.csv", "content_type": "text/csv",
                                                "input_mode": "File"}},
                  "HyperParameters": {k: str(v) for k, v in XGB.items()}, "Spec": _training_spec(),
                  "MlflowRunId": "0123abcd", "TrainingStartTime": t0, **fields})
    for step in ("Starting", "Preparing", "Training"):
        rec.transition(step, f"{step.lower()} now")
    if status.is_terminal:
        rec.transition(str(status), "", TrainingJobStatus=status, TrainingEndTime=t0 + 20,
                       TrainingTimeInSeconds=20, BillableTimeInSeconds=18,
                       FinalMetrics=metrics or {}, ModelArtifacts=f"/out/{name}/model",
                       FailureReason="it broke" if status == Status.FAILED else None)
    return TrainingJobRecord.load(name, liveness=False)


# --- the oracle itself ----------------------------------------------------------------------
def test_the_oracle_names_each_kind_of_departure():
    good = training.describe(_job(_name("oracle")).TrainingJobName)
    conforms(good, "DescribeTrainingJob")
    bad = {**good, "TrainingTimeInSeconds": "20", "FailureReason": None, "Surprise": 1,
           "CreationTime": datetime.now(), "TrainingJobStatus": "Done",
           "HyperParameters": {"eta": 0.2},
           "FinalMetricDataList": [{"MetricName": "validation:auc", "Value": "0.9"}]}
    del bad["ModelArtifacts"]
    problems = "\n".join(_shapes.shape_problems(bad, "DescribeTrainingJob"))
    for words in ("ModelArtifacts: required", "TrainingTimeInSeconds: integer", "FailureReason: None",
                  "Surprise: not a member", "CreationTime: boto3's timestamps carry a time zone",
                  "'Done' is not one of TrainingJobStatus's values", "HyperParameters['eta']: string",
                  "FinalMetricDataList[].Value: float"):
        assert words in problems, (words, problems)
    # An mlcore field is allowed only where it is listed.
    assert _shapes.shape_problems(good, "DescribeTrainingJob", extras=()) != []


# --- training jobs -------------------------------------------------------------------------
def test_completed_training_job_is_describe_training_job():
    name = _name("shape-train")
    rec = _job(name, metrics={"validation:auc": 0.91, "train:auc": 0.95},
               S3ModelArtifacts=f"/out/{name}/output/model.tar.gz")
    d = training.describe(name)
    conforms(d, "DescribeTrainingJob")
    assert d["ModelArtifacts"] == {"S3ModelArtifacts": f"/out/{name}/output/model.tar.gz"}
    assert d["TrainingJobArn"].endswith(f":training-job/{name}")
    assert d["HyperParameters"] == {k: str(v) for k, v in XGB.items()}
    assert [(m["MetricName"], m["Value"]) for m in d["FinalMetricDataList"]] == [
        ("train:auc", 0.95), ("validation:auc", 0.91)]
    assert d["CreationTime"] == datetime.fromtimestamp(rec.CreationTime).astimezone()
    assert [t["Status"] for t in d["SecondaryStatusTransitions"]] == [
        "Starting", "PreparingTrainingStack", "Training", "Completed"]
    assert [c["ChannelName"] for c in d["InputDataConfig"]] == ["train"]
    assert d["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "/data/train.csv"
    assert d["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert d["EnableManagedSpotTraining"] is True
    assert d["MlflowDetails"] == {"MlflowRunId": "0123abcd"}
    assert "Spec" not in d and "DriverPid" not in d


def test_model_artifacts_fall_back_to_the_model_folder_then_the_planned_tarball():
    name = _name("shape-old")
    _job(name)  # a record from before S3ModelArtifacts
    assert training.describe(name)["ModelArtifacts"] == {"S3ModelArtifacts": f"/out/{name}/model"}
    fresh = _name("shape-new")
    assert TrainingJobRecord.claim(fresh)  # claimed, its driver not started yet
    d = training.describe(fresh)
    conforms(d, "DescribeTrainingJob")
    assert d["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{fresh}/output/model.tar.gz")


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.FAILED, Status.STOPPED])
def test_unfinished_and_failed_training_jobs_conform(status):
    d = training.describe(_job(_name("shape-st"), status).TrainingJobName)
    conforms(d, "DescribeTrainingJob")
    assert d["TrainingJobStatus"] == status.value
    assert ("FailureReason" in d) == (status == Status.FAILED)


def test_describe_for_people_prints_as_json():
    name = _job(_name("shape-cli"), metrics={"validation:auc": 0.9}).TrainingJobName
    text = json.dumps(training.describe_for_people(name))  # no default=str needed
    assert f'"TrainingJobName": "{name}"' in text and '"CreationTime": "20' in text


# --- tuning jobs ---------------------------------------------------------------------------
def _tuning(name: str, trials: dict[str, tuple[Status, float | None]]) -> TuningJobRecord:
    spec = parse_spec({"kind": "TuningJob", "estimator": _training_spec(), "objective_metric_name": "validation:auc",
                       "hyperparameter_ranges": {"eta": {"type": "Continuous", "min_value": 0.05, "max_value": 0.5},
                                                 "max_depth": {"type": "Integer", "min_value": 2, "max_value": 6},
                                                 "booster_kind": {"type": "Categorical", "values": ["a", "b"]}},
                       "max_jobs": 6, "max_parallel_jobs": 2, "random_seed": 3,
                       "completion_criteria_config": {"max_number_of_training_jobs_not_improving": 3},
                       "warm_start_config": {"type": "TransferLearning", "parents": ["parent-job"]}})
    assert TuningJobRecord.claim(name)
    jobs = []
    for i, (status, auc) in enumerate(trials.values()):
        job = f"{name}-{i + 1:03d}-abcdef01"
        _job(job, status, {"validation:auc": auc} if auc is not None else {},
             HyperParameters={"eta": "0.1", "max_depth": str(2 + i), "booster_kind": "a", "num_round": "20"})
        jobs.append(job)
    best = {"TrainingJobName": jobs[0], "FinalObjectiveValue": 0.9} if jobs else None
    return TuningJobRecord.load(name, liveness=False).update(
        Spec=spec.model_dump(mode="json"), TrainingJobs=jobs, BestTrainingJob=best,
        MlflowRunId="feed", HyperParameterTuningJobStatus=Status.COMPLETED,
        HyperParameterTuningEndTime=time.time())


def test_tuning_job_is_describe_hyper_parameter_tuning_job():
    name = _name("tun")
    _tuning(name, {"a": (Status.COMPLETED, 0.9), "b": (Status.FAILED, None),
                   "c": (Status.STOPPED, None), "d": (Status.IN_PROGRESS, None), "e": (Status.COMPLETED, 0.8)})
    d = tuning.describe(name)
    conforms(d, "DescribeHyperParameterTuningJob")
    assert d["TrainingJobStatusCounters"] == {"Completed": 2, "InProgress": 1, "RetryableError": 0,
                                              "NonRetryableError": 1, "Stopped": 1}
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 1, "Failed": 2}
    best = d["BestTrainingJob"]
    assert best["TrainingJobName"] == f"{name}-001-abcdef01" and best["ObjectiveStatus"] == "Succeeded"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize", "MetricName": "validation:auc", "Value": 0.9}
    assert best["TunedHyperParameters"] == {"eta": "0.1", "max_depth": "2", "booster_kind": "a"}
    config = d["HyperParameterTuningJobConfig"]
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "6", "ScalingType": "Auto"}]
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [{"Name": "booster_kind", "Values": ["a", "b"]}]
    assert config["TuningJobCompletionCriteria"] == {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    static = d["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "eta" not in static and static["num_round"] == "20"  # the tuned eta overrides the fixed one
    assert d["WarmStartConfig"] == {"WarmStartType": "TransferLearning",
                                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-job"}]}
    assert d["TrainingJobs"] == [f"{name}-{i:03d}-abcdef01" for i in range(1, 6)]  # a listed mlcore field

    listing = {"TrainingJobSummaries": tuning.training_job_summaries(name)}
    conforms(listing, "ListTrainingJobsForHyperParameterTuningJob")
    assert [s["ObjectiveStatus"] for s in listing["TrainingJobSummaries"]] == [
        "Succeeded", "Failed", "Failed", "Pending", "Succeeded"]


def test_a_tuning_job_before_its_first_trial_conforms():
    name = _name("tun-new")
    assert TuningJobRecord.claim(name)  # claimed; its driver has not recorded the spec yet
    conforms(tuning.describe(name), "DescribeHyperParameterTuningJob")
    _tuning(name + "x", {})
    d = tuning.describe(name + "x")
    conforms(d, "DescribeHyperParameterTuningJob")
    assert "BestTrainingJob" not in d and sum(d["TrainingJobStatusCounters"].values()) == 0


# --- endpoints -----------------------------------------------------------------------------
def _endpoint_record(name: str, **spec) -> None:
    ep = parse_spec({"kind": "Endpoint", "endpoint_name": name, **spec})
    assert EndpointRecord.claim(name)
    EndpointRecord.load(name, liveness=False).update(
        Spec=ep.model_dump(mode="json"), EndpointStatus=Status.IN_SERVICE,
        Models={v.variant_name: {"TrainingJobName": "some-job"} for v in ep.variants})


def test_endpoint_is_describe_endpoint_without_ray():
    """Off Ray the endpoint reads OutOfService, still in DescribeEndpoint's shape."""
    name = _name("ep")
    _endpoint_record(name, variants=[
        {"variant_name": "a", "model": {"training_job": "some-job"}, "initial_weight": 3},
        {"variant_name": "b", "model": {"training_job": "some-job"}, "serverless_config": {"memory_size_in_mb": 2048}}],
        data_capture={"enable_capture": True, "sampling_percentage": 30})
    d = endpoints.describe(name)
    conforms(d, "DescribeEndpoint")
    assert d["EndpointArn"].endswith(f":endpoint/{name}") and d["EndpointConfigName"] == name
    assert d["EndpointStatus"] == "OutOfService"
    a, b = d["ProductionVariants"]
    assert (a["DesiredWeight"], a["DesiredInstanceCount"], a["CurrentInstanceCount"]) == (3.0, 1, 0)
    assert b["CurrentServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 20}
    assert d["DataCaptureConfig"]["CurrentSamplingPercentage"] == 30
    json.dumps(endpoints.describe_for_people(name))


def test_live_endpoint_fields_conform():
    """The service's description of a running endpoint (weights and per-variant counts)."""
    raw = {"EndpointName": "live", "EndpointStatus": Status.IN_SERVICE, "FailureReason": None,
           "Url": "http://127.0.0.1:8080/endpoints/live", "CreationTime": time.time(),
           "LastModifiedTime": time.time(), "Auth": None, "DataCaptureConfig": None,
           "ProductionVariants": [{"VariantName": "a", "Model": {"TrainingJobName": "j"}, "CurrentWeight": 1,
                                   "DesiredWeight": 1, "CurrentInstanceCount": 2, "DesiredInstanceCount": 2,
                                   "CurrentServerlessConfig": None, "Autoscaling": {"min_capacity": 1},
                                   "Invocations": 5, "Errors": 0, "MeanLatencyMs": 3.2, "ModelLoads": 1}]}
    d = _shapes.endpoint(raw)
    conforms(d, "DescribeEndpoint")
    assert d["ProductionVariants"][0]["CurrentWeight"] == 1.0 and "Auth" not in d
    raw["ProductionVariants"][0]["Brand-new"] = 1  # a new field must be listed to pass
    assert any("Brand-new" in p for p in _shapes.shape_problems(_shapes.endpoint(raw), "DescribeEndpoint"))
