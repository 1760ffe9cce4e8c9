"""``sagemaker.serverless``: serverless inference (scale to zero when idle)."""

from __future__ import annotations


class ServerlessInferenceConfig:
    """A variant with no replicas while idle; the first request waits for one and succeeds.
    ``memory_size_in_mb`` (1024-6144, steps of 1024) sets each replica's memory and CPU
    share; ``max_concurrency`` bounds its replicas."""

    def __init__(self, memory_size_in_mb: int = 2048, max_concurrency: int = 5):
        self.memory_size_in_mb = memory_size_in_mb
        self.max_concurrency = max_concurrency

    def _spec(self) -> dict:
        return {"memory_size_in_mb": self.memory_size_in_mb, "max_concurrency": self.max_concurrency}


__all__ = ["ServerlessInferenceConfig"]
