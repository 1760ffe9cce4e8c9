"""The endpoint spec (SageMaker's CreateEndpointConfig + CreateEndpoint), shared by YAML and
the Python API: production variants, each serving one model, with autoscaling or a serverless
configuration; request batching, auth and limits for the whole endpoint."""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlcore.specs._base import (
    EndpointName,
    ModelPackageGroupName,
    Spec,
    TrainingJobName,
    VariantName,
    check_instance_type,
    shown,
)


class ModelRef(Spec):
    """Which model a variant serves: a registered model version (by version or alias), the
    model of a completed training job, or (multi-model) every model under a prefix."""

    name: ModelPackageGroupName | None = Field(
        None, description="Registered model (model package group) name.")
    version: int | None = Field(None, ge=1, description="Registered version; with name.")
    alias: str | None = Field(
        None, description="Registry alias, e.g. 'approved' (the newest approved version); with "
        "name. Neither version nor alias means 'approved'.")
    training_job: TrainingJobName | None = Field(
        None, description="A completed training job whose model to serve.")
    model_data_prefix: str | None = Field(
        None, description="Multi-model: a folder or prefix of model artifacts, each loaded on "
        "first use by the X-Amzn-SageMaker-Target-Model header (its path under the prefix).")
    model_data: str | None = Field(
        None, description="A model artifact to serve (bring your own): a model.tar.gz or a "
        "folder, local or s3://; with entry_point (its inference script) or algorithm (a "
        "built-in's artifact, e.g. an xgboost-model file).")
    entry_point: str | None = Field(
        None, description="With model_data: the inference script (model_fn, input_fn, "
        "predict_fn, output_fn or transform_fn), relative to source_dir; null source_dir: a "
        "local path, or the artifact's own code/<entry_point>.")
    source_dir: str | None = Field(None, description="With entry_point: the local folder "
                                   "holding it and its modules, shipped to every replica.")
    dependencies: list[str] = Field(
        default_factory=list, description="With entry_point: local folders (or files) "
        "shipped next to the code, each under its own name (importable).")
    framework: Literal["pytorch", "sklearn", "xgboost"] | None = Field(
        None, description="With entry_point: whose container defaults serve the handlers the "
        "script leaves out; null: PyTorch's.")
    env: dict[str, str] = Field(default_factory=dict, description="With entry_point: "
                                "environment variables set in each replica before the model loads.")
    algorithm: str | None = Field(None, description="Multi-model, or with model_data: the "
                                  "built-in algorithm of the models.")
    max_models_per_replica: int = Field(
        50, ge=1, description="Multi-model: models kept loaded per replica (least recently used "
        "evicted).")

    @model_validator(mode="after")
    def _one_source(self):
        if sum(map(bool, (self.name, self.training_job, self.model_data_prefix,
                          self.model_data))) != 1:
            raise ValueError("give exactly one of name (a registered model, with version or "
                             "alias), training_job, model_data (an artifact), or "
                             "model_data_prefix (multi-model)")
        code = [f for f in ("entry_point", "source_dir", "dependencies", "framework", "env")
                if getattr(self, f)]
        if self.model_data and not (code or self.algorithm):
            raise ValueError(f"model_data {shown(self.model_data)} needs entry_point (an inference "
                             "script), framework (its container's default handlers) or "
                             "algorithm (the built-in whose artifact it is)")
        if code and (self.algorithm or not self.model_data):
            raise ValueError(f"{', '.join(code)} go with model_data (an artifact served by an "
                             "inference script), not with algorithm or another source")
        if (self.source_dir or self.dependencies) and not self.entry_point:
            raise ValueError("source_dir and dependencies go with entry_point (the inference script)")
        if self.model_data_prefix and not self.algorithm:
            raise ValueError("model_data_prefix needs algorithm (the built-in algorithm that "
                             "loads the models, e.g. xgboost)")
        if self.training_job and (self.version or self.alias):
            raise ValueError("version and alias go with name (a registered model), not training_job")
        if self.version and self.alias:
            raise ValueError(f"give version or alias, not both (version {self.version}, "
                             f"alias {shown(self.alias)})")
        return self

    def describe(self) -> str:
        if self.model_data:
            return f"model_data {self.model_data}"
        if self.model_data_prefix:
            return f"{self.algorithm} models under {self.model_data_prefix}"
        if self.training_job:
            return f"training job {self.training_job}"
        return f"{self.name}/{self.version}" if self.version else f"{self.name}@{self.alias or 'approved'}"


class ServerlessSpec(Spec):
    """SageMaker's ServerlessInferenceConfig: scale to zero when idle; the first request after
    waits for a replica (it never fails because the endpoint is cold)."""

    memory_size_in_mb: int = Field(
        2048, ge=1024, le=6144, multiple_of=1024,
        description="Memory per replica (1024-6144 in steps of 1024); also sets its CPU share "
        "(1 CPU per 4096 MB, at least 0.25).")
    max_concurrency: int = Field(20, ge=1, le=200, description="Most replicas at once.")


class AutoscalingSpec(Spec):
    """Replica autoscaling on in-flight requests (Ray Serve's autoscaling_config)."""

    min_capacity: int = Field(1, ge=0, description="Fewest replicas; 0 scales to zero when idle.")
    max_capacity: int = Field(1, ge=1, description="Most replicas.")
    target_ongoing_requests: float = Field(
        2.0, gt=0, description="In-flight requests per replica the autoscaler aims for.")
    scale_in_cooldown_s: float = Field(60.0, ge=0, description="Idle time before removing replicas.")
    scale_out_cooldown_s: float = Field(5.0, ge=0, description="Sustained load before adding replicas.")

    @model_validator(mode="after")
    def _order(self):
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) is above max_capacity "
                             f"({self.max_capacity})")
        return self


class VariantSpec(Spec):
    """One production variant: a model, its replicas, its share of the traffic."""

    variant_name: VariantName = Field(
        "AllTraffic", description="Variant name (alphanumerics and hyphens, <= 63; it names "
        "the variant's data capture folder).")
    model: ModelRef | None = Field(None, description="The model this variant serves.")
    pipeline: list[ModelRef] | None = Field(
        None, min_length=2, description="Instead of model: an inference pipeline (e.g. "
        "preprocess -> model -> postprocess), each stage its own deployment, each stage's "
        "output the next one's input.")
    initial_weight: float = Field(1.0, ge=0, description="Relative share of the traffic.")
    instance_type: str = Field("local", description="Instance type of each replica.")
    initial_instance_count: int = Field(1, ge=1, description="Replicas (without autoscaling).")
    serverless_config: ServerlessSpec | None = Field(
        None, description="Serverless: scale to zero; excludes autoscaling.")
    autoscaling: AutoscalingSpec | None = Field(None, description="Autoscaling bounds.")

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, v: str) -> str:
        return check_instance_type(v)

    @model_validator(mode="after")
    def _one_model(self):
        if (self.model is None) == (self.pipeline is None):
            raise ValueError("give model (one model) or pipeline (a list of models), one of them")
        if self.pipeline and any(m.model_data_prefix for m in self.pipeline):
            raise ValueError("a pipeline stage cannot be multi-model (model_data_prefix)")
        return self

    @model_validator(mode="after")
    def _one_scaling(self):
        if self.serverless_config and self.autoscaling:
            raise ValueError("give serverless_config or autoscaling, not both (serverless already "
                             "scales from 0 to max_concurrency)")
        return self


class BatchingSpec(Spec):
    """Requests arriving together are predicted in one model call."""

    max_batch_size: int = Field(32, ge=1, le=4096, description="Most requests per model call; 1 turns batching off.")
    max_wait_ms: float = Field(10.0, ge=0, le=1000, description=(
        "Longest a request waits for others to join. A batch waits only for as many requests as "
        "the replica held at once lately (a lone client's requests never wait), and only while "
        "they keep arriving (arrival_gap_ms)."))
    arrival_gap_ms: float = Field(1.0, ge=0, le=1000, description=(
        "A batch stops waiting once no request has joined for this long (or for three times "
        "the recent interval between arrivals, when longer); set to max_wait_ms, only "
        "max_wait_ms and the expected count end the wait."))


class AuthSpec(Spec):
    """Per-endpoint authentication; the secret is read from an environment variable on the
    deploying machine and only its SHA-256 reaches the replicas."""

    type: Literal["bearer", "api_key"] = Field(
        description="bearer: 'Authorization: Bearer <token>'; api_key: 'X-Api-Key: <key>'.")
    secret_env: str = Field(description="Environment variable holding the token or key.")


class DataCaptureSpec(Spec):
    """SageMaker's DataCaptureConfig: a sampled share of requests and responses written as
    JSON lines (SageMaker's capture format) under destination_s3_uri."""

    enable_capture: bool = Field(True, description="Capture on or off.")
    sampling_percentage: float = Field(20.0, ge=0, le=100, description="Share of requests captured.")
    destination_s3_uri: str | None = Field(
        None, description="Any fsspec URI; null: $MLCORE_HOME/data-capture.")


class NotificationSpec(Spec):
    """SageMaker's AsyncInferenceNotificationConfig. A topic here is a URL: each outcome is
    POSTed to it as SageMaker's notification JSON, at least once, keyed by its inferenceId
    (an SNS ARN has no meaning off AWS; the Python API also takes a callable)."""

    success_topic: str | None = Field(None, description="URL notified of each completed request.")
    error_topic: str | None = Field(None, description="URL notified of each failed request.")
    include_inference_response_in: list[Literal["SUCCESS_NOTIFICATION_TOPIC",
                                                "ERROR_NOTIFICATION_TOPIC"]] = Field(
        default_factory=list, max_length=2, description="SUCCESS_NOTIFICATION_TOPIC: the "
        "success notification carries the response body (up to 128 KB).")

    @field_validator("success_topic", "error_topic")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"a topic is an http(s):// URL that receives the notification "
                             f"JSON; got {shown(v)}")
        return v


class AsyncInferenceSpec(Spec):
    """SageMaker's AsyncInferenceConfig: requests are queued durably, answered at once with
    an inference id and the output location, and worked through by replicas that scale to
    zero while the queue is empty."""

    output_path: str | None = Field(
        None, description="Where each result is written, as <output_path>/<inference id>.out "
        "(any fsspec URI); null: s3://<default bucket>/async-endpoint-outputs/<endpoint>.")
    failure_path: str | None = Field(
        None, description="Where each failure record is written, as "
        "<failure_path>/<inference id>-error.out; null: s3://<default bucket>/"
        "async-endpoint-failures/<endpoint>.")
    max_concurrent_invocations_per_instance: int | None = Field(
        None, ge=1, le=1000, description="Requests a replica works on at once; null: one per "
        "vCPU of the instance type.")
    notification_config: NotificationSpec | None = Field(
        None, description="Where outcomes are announced; null: nowhere.")
    queue: str | None = Field(
        None, description="The request queue: null for the embedded one (a SQLite file under "
        "$MLCORE_HOME/async: the replicas share one host); redis://host:port/db for a Redis "
        "server run with appendonly yes and appendfsync always (replicas on any host); or "
        "sqlite:///path.")

    @field_validator("queue")
    @classmethod
    def _queue(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "sqlite:///")):
            raise ValueError(f"queue is redis://host:port/db or sqlite:///path; got {shown(v)}")
        if v is not None and v.startswith("redis"):
            try:
                import redis  # noqa: F401
            except ImportError:
                raise ValueError("a redis:// queue needs the redis package: pip install "
                                 "'mlcore[redis]'") from None
        return v
    request_ttl_s: int = Field(21600, ge=60, le=21600, description="Default RequestTTLSeconds: "
                               "a request still queued after this long fails.")
    invocation_timeout_s: int = Field(900, ge=1, le=3600, description="Default "
                                      "InvocationTimeoutSeconds: the longest one request may run.")


class Endpoint(Spec):
    """A realtime endpoint, or an asynchronous one (async_inference)."""

    KIND: ClassVar[str] = "Endpoint"
    kind: Literal["Endpoint"] = Field("Endpoint", description="Spec kind.")
    endpoint_name: EndpointName = Field(
        description="Endpoint name (alphanumerics and hyphens, <= 63).")
    variants: list[VariantSpec] = Field(min_length=1, description="Production variants.")
    batching: BatchingSpec = Field(default_factory=BatchingSpec, description="Dynamic batching.")
    auth: AuthSpec | None = Field(None, description="Authentication; null means none (loopback only).")
    max_payload_mb: float = Field(6.0, gt=0, le=1024, description="Largest request body (413 above).")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Longest a prediction may take (504 after).")
    allow_unapproved: bool = Field(
        False, description="Serve registered versions that are not Approved (off: refused).")
    require_approved_model: bool = Field(
        False, description="Serve only Approved registry versions: a training_job or "
        "model_data_prefix source, or a PendingManualApproval or Rejected version, is refused "
        "at deploy time, whatever allow_unapproved says. MLCORE_REQUIRE_APPROVED_MODEL=true in "
        "the deploying process turns it on for every endpoint.")
    data_capture: DataCaptureSpec | None = Field(None, description="Data capture; null: off.")
    async_inference: AsyncInferenceSpec | None = Field(
        None, description="Make the endpoint asynchronous (SageMaker's AsyncInferenceConfig): "
        "one variant, one model; POST .../async-invocations answers 202 with the inference id.")

    @model_validator(mode="after")
    def _async_shape(self):
        if self.async_inference is None:
            return self
        if len(self.variants) != 1:
            raise ValueError(f"an async endpoint has one variant; got {len(self.variants)}")
        v = self.variants[0]
        if v.pipeline or (v.model and v.model.model_data_prefix):
            raise ValueError("an async endpoint serves one model: not a pipeline or a "
                             "multi-model prefix")
        if v.serverless_config:
            raise ValueError("give async_inference or serverless_config, not both (an async "
                             "endpoint scales to zero on its own queue)")
        if self.data_capture:
            raise ValueError("data_capture is not offered on async endpoints (their inputs and "
                             "outputs are already kept in storage)")
        return self

    def resolve_paths(self, resolve) -> None:
        for v in self.variants:
            for ref in ([v.model] if v.model else []) + (v.pipeline or []):
                if ref.model_data:
                    ref.model_data = resolve(ref.model_data)
                if ref.source_dir:
                    ref.source_dir = resolve(ref.source_dir)
                elif ref.entry_point and os.path.exists(resolve(ref.entry_point)):
                    ref.entry_point = resolve(ref.entry_point)
                ref.dependencies = [resolve(d) for d in ref.dependencies]

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: list[VariantSpec]) -> list[VariantSpec]:
        names = [v.variant_name for v in variants]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"variant names must be distinct; {', '.join(dup)} repeats "
                             "(set variant_name on each)")
        if not any(v.initial_weight > 0 for v in variants):
            raise ValueError("at least one variant needs initial_weight above 0")
        return variants
