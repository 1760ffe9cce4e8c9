"""The training job spec (SageMaker's CreateTrainingJob), shared by YAML and the Python API."""

from __future__ import annotations

import difflib
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from mlcore._builtins import BUILTIN_ALGORITHMS
from mlcore.errors import SpecError
from mlcore.specs._base import (
    ApprovalStatus,
    ChannelName,
    EndpointName,
    HyperparameterValue,
    ModelPackageGroupName,
    Spec,
    TrainingJobName,
    check_instance_type,
    format_problems,
    shown,
    tag_dict,
)

# SageMaker's built-in algorithm names; `algorithms` registers the implementations.


class Channel(Spec):
    """One input channel: where its data lives and how it is encoded."""

    uri: str = Field(description="Local path, file:// or s3:// URI of a file or a folder/prefix.")
    content_type: str | None = Field(
        None, description="text/csv (label first, no header) or application/x-parquet; "
        "null infers it from the file extension.")
    input_mode: Literal["File", "FastFile", "Pipe"] = Field(
        "File", description="Script mode: File and FastFile give the script a local folder "
        "(SM_CHANNEL_<NAME>; remote data is copied to each worker first); Pipe streams the "
        "channel as this worker's Ray Data shard (context.dataset(name)).")


class MetricDefinition(Spec):
    """A metric parsed from the training script's output (SageMaker's metric_definitions)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    Name: str = Field(description="Metric name, e.g. validation:loss.")
    Regex: str = Field(description="Regular expression whose first group is the value.")

    @field_validator("Regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        import re

        try:
            if re.compile(v).groups < 1:
                raise ValueError(f"regex {shown(v)} needs a capturing group around the value, e.g. "
                                 "'loss=([0-9.eE+-]+)'")
        except re.error as e:
            raise ValueError(f"regex {shown(v)} does not compile: {e}") from None
        return v


class RegisterSpec(Spec):
    """Register the trained model in the model registry after training."""

    model_package_group_name: ModelPackageGroupName = Field(
        description="Registered model (package group) name (SageMaker rules: alphanumerics "
        "and hyphens, <= 63).")
    approval_status: ApprovalStatus = Field(
        "PendingManualApproval", description="Initial approval status of the new version.")
    description: str | None = Field(None, description="Version description.")


class DeploySpec(Spec):
    """Deploy the trained model to a realtime endpoint after training."""

    endpoint_name: EndpointName | None = Field(
        None, description="Endpoint name (alphanumerics and hyphens, <= 63); null uses the "
        "job name.")
    initial_instance_count: int = Field(1, ge=1, description="Replicas serving the model.")
    instance_type: str = Field("local", description="Instance type of each replica.")
    sample_input: str | None = Field(
        None, description="CSV file (features only, no label) sent to the endpoint once it is "
        "up; the predictions are printed.")
    delete_after: bool = Field(
        False, description="Delete the endpoint after the sample prediction.")

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, v: str) -> str:
        return check_instance_type(v)


class TrainingJob(Spec):
    """A training job: a built-in algorithm or a user's script on `instance_count` workers."""

    KIND: ClassVar[str] = "TrainingJob"
    kind: Literal["TrainingJob"] = Field("TrainingJob", description="Spec kind.")
    name: TrainingJobName | None = Field(
        None, description="Job name (SageMaker rules: alphanumerics and hyphens, <= 63); null "
        "generates <algorithm>-<timestamp>.")
    algorithm: str | None = Field(None, description=f"Built-in algorithm: {', '.join(BUILTIN_ALGORITHMS)}.")
    entry_point: str | None = Field(None, description="User training script (script mode).")
    source_dir: str | None = Field(None, description="Folder holding entry_point and its modules.")
    framework: Literal["pytorch", "sklearn", "xgboost"] | None = Field(
        None, description="Script mode framework (the PyTorch, SKLearn and XGBoost estimators set "
        "it): whose container defaults serve the model where the script defines no inference "
        "handler; null: PyTorch's.")
    dependencies: list[str] = Field(
        default_factory=list, description="Script mode: local folders (or files) copied next to "
        "the entry point, each under its own name, and so importable (v2's Framework "
        "dependencies).")
    framework_version: str | None = Field(None, description="Recorded; the installed torch runs the script.")
    py_version: str | None = Field(None, description="Recorded; the cluster's Python runs the script.")
    distribution: dict[str, Any] | None = Field(
        None, description="Script mode: how workers cooperate. {torch_distributed: {enabled: "
        "true}} (DDP, the default), {deepspeed: {zero_stage, offload_optimizer, precision, "
        "pipeline_parallel_degree, microbatches, partition_method, config}} or SageMaker's "
        "{smdistributed: {modelparallel: {enabled, parameters: {partitions, microbatches, ddp}}}}.")
    metric_definitions: list[MetricDefinition] = Field(
        default_factory=list, description="Script mode: metrics parsed from rank 0's output "
        "lines ([{Name, Regex}], the regex's first group is the value), as SageMaker does.")
    hyperparameters: dict[str, HyperparameterValue] = Field(
        default_factory=dict, description="Hyperparameters, named as the algorithm names them.")
    inputs: dict[ChannelName, Channel] = Field(
        default_factory=dict, description="Channels by name ({train: {uri, content_type}}); "
        "a bare URI or {name: uri} is accepted. Names: letters, digits, '.', '-', '_' (<= 64).")
    output_path: str | None = Field(
        None, description="Where <job>/model and <job>/checkpoints go; null is $MLCORE_HOME/output.")
    instance_type: str = Field("local", description="SageMaker instance type (ml.m5.xlarge, ...) "
                               "or 'local' (one CPU per worker).")
    instance_count: int = Field(1, ge=1, description="Number of training workers.")
    use_spot_instances: bool = Field(False, description="Run as a spot (preemptible) job.")
    max_run: int = Field(86400, ge=1, description="Seconds the job may train before it is stopped.")
    max_wait: int | None = Field(
        None, ge=1, description="Spot only: seconds to wait for capacity plus training; >= max_run.")
    checkpoint_s3_uri: str | None = Field(
        None, description="Where checkpoints go; null is <output_path>/<job>/checkpoints.")
    checkpoint_local_path: str | None = Field(
        None, description="Script mode: worker-local checkpoint folders go under it, one per "
        "rank (<path>/rank-N, emptied at start, then holding the restored checkpoint; "
        "SM_CHECKPOINT_DIR); null is a private temporary folder per worker.")
    keep_checkpoints: int = Field(
        3, ge=1, description="Committed checkpoints kept (the newest; older ones are deleted).")
    checkpoint_frequency: int = Field(
        10, ge=1, description="Rounds (or epochs) between periodic checkpoints.")
    checkpoint_min_interval_s: float = Field(
        30.0, ge=0, description="At least this many seconds between periodic checkpoints; 0 "
        "checkpoints every checkpoint_frequency rounds whatever their speed.")
    max_retry_attempts: int = Field(
        0, ge=-1, description="Restarts from the latest checkpoint after a worker failure; "
        "0 never retries, -1 retries forever.")
    environment: dict[str, str] = Field(default_factory=dict, description="Environment variables for the workers.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags ({k: v} or [{Key, Value}]).")
    # "register" would shadow BaseModel's ABC `register`, hence the alias.
    registration: RegisterSpec | None = Field(None, alias="register",
                                              description="Register the model after training.")
    deploy: DeploySpec | None = Field(None, description="Deploy the model after training.")

    @field_validator("inputs", mode="before")
    @classmethod
    def _bare_uris(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"train": {"uri": v}}
        if isinstance(v, dict):
            return {k: {"uri": c} if isinstance(c, str) else c for k, c in v.items()}
        return v

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_list(cls, v: Any) -> Any:
        return tag_dict(v)

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, v: str) -> str:
        return check_instance_type(v)

    @field_validator("algorithm")
    @classmethod
    def _known_algorithm(cls, v: str | None) -> str | None:
        if v is not None and v not in BUILTIN_ALGORITHMS:
            close = difflib.get_close_matches(v, BUILTIN_ALGORITHMS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(BUILTIN_ALGORITHMS)}"
            raise ValueError(f"unknown built-in algorithm {shown(v)}; {hint}")
        return v

    @model_validator(mode="after")
    def _cross_field(self, info) -> TrainingJob:
        if (info.context or {}).get("skip_cross"):
            return self
        problems = self.cross_field_problems(self.model_dump())
        if problems:
            raise SpecError(format_problems(problems), problems)
        return self

    @classmethod
    def cross_field_problems(cls, d: dict) -> list[tuple[str, str]]:
        return training_problems(d)

    def resolve_paths(self, resolve) -> None:
        for channel in self.inputs.values():
            channel.uri = resolve(channel.uri)
        for field in ("output_path", "checkpoint_s3_uri", "source_dir"):
            if getattr(self, field):
                setattr(self, field, resolve(getattr(self, field)))
        if self.entry_point and not self.source_dir:
            self.entry_point = resolve(self.entry_point)
        self.dependencies = [resolve(d) for d in self.dependencies]
        ds = (self.distribution or {}).get("deepspeed")
        if isinstance(ds, dict) and isinstance(ds.get("config"), str):
            ds["config"] = resolve(ds["config"])
        if self.deploy and self.deploy.sample_input:
            self.deploy.sample_input = resolve(self.deploy.sample_input)


def training_problems(d: dict) -> list[tuple[str, str]]:
    """Rules spanning several fields of a TrainingJob, checked on raw (possibly invalid) data."""
    out = []
    algo, entry = d.get("algorithm"), d.get("entry_point")
    if not algo and not entry:
        out.append(("algorithm", "set either algorithm (a built-in such as 'xgboost') or entry_point (a script)"))
    elif algo and entry:
        out.append(("entry_point", f"set algorithm ({shown(algo)}) or entry_point ({shown(entry)}), not both"))
    if algo and (d.get("distribution") or d.get("metric_definitions") or d.get("dependencies")):
        field = next(f for f in ("distribution", "metric_definitions", "dependencies") if d.get(f))
        out.append((field, f"only applies to script mode (entry_point); built-in {shown(algo)} "
                           "chooses its own. Remove it"))
    if entry and not str(entry).endswith(".py"):
        out.append(("entry_point", f"must be a Python script (*.py); got {shown(entry)}"))
    spot, max_run, max_wait = d.get("use_spot_instances"), d.get("max_run", 86400), d.get("max_wait")
    if spot is True:
        if max_wait is None:
            out.append(("max_wait", "use_spot_instances requires max_wait (seconds to wait for spot "
                                    "capacity plus training), at least max_run"))
        elif isinstance(max_wait, int) and isinstance(max_run, int) and max_wait < max_run:
            out.append(("max_wait", f"must be >= max_run ({max_run}) when use_spot_instances is "
                                    f"true; got {max_wait}"))
    elif max_wait is not None:
        out.append(("max_wait", f"is only used with use_spot_instances: true; got max_wait={shown(max_wait)} "
                                "without spot. Set use_spot_instances: true or remove max_wait"))
    return out


