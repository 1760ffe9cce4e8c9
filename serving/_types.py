"""What an endpoint is made of: its production variants and its request handling settings.

Plain dataclasses shared by the HTTP ingress (``serving._ingress``), which reads them in
every replica, and the application management (``serving._apps``), which turns them into a
Serve application.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from serving._async import AsyncConfig
from serving._capture import CaptureConfig
from serving._model import ModelSpec


@dataclass
class Variant:
    """One production variant (SageMaker's ``ProductionVariant``). ``model`` may be a list:
    an inference pipeline, each stage its own deployment sharing the variant's resources, the
    output of one stage the input of the next."""

    name: str
    model: ModelSpec | list[ModelSpec]
    weight: float = 1.0
    replicas: int = 1
    autoscaling: dict | None = None  # Serve autoscaling_config (min/max_replicas, ...)
    resources: dict[str, float] = field(default_factory=lambda: {"CPU": 1})
    max_ongoing_requests: int = 256  # per replica; beyond it Serve queues (and backs off)

    @property
    def stages(self) -> list[ModelSpec]:
        """The variant's models in call order (one unless it is a pipeline)."""
        return self.model if isinstance(self.model, list) else [self.model]


@dataclass
class Settings:
    """Per-endpoint request handling; ``auth`` holds only a SHA-256 of the secret."""

    max_payload_bytes: int = 6 * 1024 * 1024
    timeout_s: float = 60.0
    auth: tuple[str, str] | None = None  # ("bearer" | "api_key", sha256 hex of the secret)
    batch_size: int = 32  # 1 turns batching off
    batch_wait_ms: float = 10.0  # the longest a request waits for others (serving._batch)
    batch_gap_ms: float = 1.0  # a batch stops waiting when no request joined for this long
    capture: CaptureConfig | None = None  # data capture (sampled requests and responses)
    async_config: AsyncConfig | None = None  # an async endpoint (serving._async)


def secret_hash(secret: str) -> str:
    """What :attr:`Settings.auth` holds instead of the secret itself (it travels to every
    replica and into Serve's config, where a plain secret would be readable)."""
    return hashlib.sha256(secret.encode()).hexdigest()
