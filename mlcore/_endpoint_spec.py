"""The endpoint spec (SageMaker's CreateEndpointConfig + CreateEndpoint), shared by YAML and
the Python API: production variants, each serving one model, with autoscaling or a serverless
configuration; request batching, auth and limits for the whole endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlcore._specs import _check_instance_type, _Spec

NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class ModelRef(_Spec):
    """Which model a variant serves: a registered model version (by version or alias), or the
    model of a completed training job."""

    name: str | None = Field(None, description="Registered model (model package group) name.")
    version: int | None = Field(None, ge=1, description="Registered version; with name.")
    alias: str | None = Field(
        None, description="Registry alias, e.g. 'approved' (the newest approved version); with "
        "name. Neither version nor alias means 'approved'.")
    training_job: str | None = Field(None, description="A completed training job whose model to serve.")

    @model_validator(mode="after")
    def _one_source(self):
        if bool(self.name) == bool(self.training_job):
            raise ValueError("give either name (a registered model, with version or alias) or "
                             "training_job, not both and not neither")
        if self.training_job and (self.version or self.alias):
            raise ValueError("version and alias go with name (a registered model), not training_job")
        if self.version and self.alias:
            raise ValueError(f"give version or alias, not both (version {self.version}, "
                             f"alias {self.alias!r})")
        return self

    def describe(self) -> str:
        if self.training_job:
            return f"training job {self.training_job}"
        return f"{self.name}/{self.version}" if self.version else f"{self.name}@{self.alias or 'approved'}"


class ServerlessSpec(_Spec):
    """SageMaker's ServerlessInferenceConfig: scale to zero when idle; the first request after
    waits for a replica (it never fails because the endpoint is cold)."""

    memory_size_in_mb: int = Field(
        2048, ge=1024, le=6144, multiple_of=1024,
        description="Memory per replica (1024-6144 in steps of 1024); also sets its CPU share "
        "(1 CPU per 4096 MB, at least 0.25).")
    max_concurrency: int = Field(20, ge=1, le=200, description="Most replicas at once.")


class AutoscalingSpec(_Spec):
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


class VariantSpec(_Spec):
    """One production variant: a model, its replicas, its share of the traffic."""

    variant_name: str = Field("AllTraffic", pattern=NAME, description="Variant name.")
    model: ModelRef = Field(description="The model this variant serves.")
    initial_weight: float = Field(1.0, ge=0, description="Relative share of the traffic.")
    instance_type: str = Field("local", description="Instance type of each replica.")
    initial_instance_count: int = Field(1, ge=1, description="Replicas (without autoscaling).")
    serverless_config: ServerlessSpec | None = Field(
        None, description="Serverless: scale to zero; excludes autoscaling.")
    autoscaling: AutoscalingSpec | None = Field(None, description="Autoscaling bounds.")

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, v: str) -> str:
        return _check_instance_type(v)

    @model_validator(mode="after")
    def _one_scaling(self):
        if self.serverless_config and self.autoscaling:
            raise ValueError("give serverless_config or autoscaling, not both (serverless already "
                             "scales from 0 to max_concurrency)")
        return self


class BatchingSpec(_Spec):
    """Requests arriving together are predicted in one model call."""

    max_batch_size: int = Field(32, ge=1, le=4096, description="Most requests per model call; 1 turns batching off.")
    max_wait_ms: float = Field(2.0, ge=0, le=1000, description="Longest a request waits for others to join.")


class AuthSpec(_Spec):
    """Per-endpoint authentication; the secret is read from an environment variable on the
    deploying machine and only its SHA-256 reaches the replicas."""

    type: Literal["bearer", "api_key"] = Field(
        description="bearer: 'Authorization: Bearer <token>'; api_key: 'X-Api-Key: <key>'.")
    secret_env: str = Field(description="Environment variable holding the token or key.")


class Endpoint(_Spec):
    """A realtime endpoint."""

    kind: Literal["Endpoint"] = Field("Endpoint", description="Spec kind.")
    endpoint_name: str = Field(pattern=NAME, description="Endpoint name (alphanumerics and hyphens, <= 63).")
    variants: list[VariantSpec] = Field(min_length=1, description="Production variants.")
    batching: BatchingSpec = Field(default_factory=BatchingSpec, description="Dynamic batching.")
    auth: AuthSpec | None = Field(None, description="Authentication; null means none (loopback only).")
    max_payload_mb: float = Field(6.0, gt=0, le=1024, description="Largest request body (413 above).")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Longest a prediction may take (504 after).")
    allow_unapproved: bool = Field(
        False, description="Serve registered versions that are not Approved (off: refused).")

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
