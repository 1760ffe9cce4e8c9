"""``sagemaker.async_inference.waiter_config``: how often, and how many times, to look for an
async request's result before giving up (``PollingTimeoutError``)."""

from __future__ import annotations


class WaiterConfig:
    """v2's ``WaiterConfig``: ``max_attempts`` looks (60), ``delay`` seconds apart (15)."""

    def __init__(self, max_attempts=60, delay=15):
        self.max_attempts = max_attempts
        self.delay = delay

    def _to_request_dict(self):
        """The ``WaiterConfig`` a botocore waiter takes."""
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}


__all__ = ["WaiterConfig"]
