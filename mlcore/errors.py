"""mlcore's exception hierarchy. Every error a user can cause says what and how to fix it.

Errors cross Ray process boundaries (a worker raises, the driver reports), so each keeps its
structured fields through pickling.
"""

from __future__ import annotations


class MLCoreError(Exception):
    """Root of every error mlcore raises on purpose."""

    def __init__(self, message: str, **fields):
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.fields))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls, message, fields):
    return cls(message, **fields)


class SpecError(MLCoreError):
    """A job spec (YAML or Python) is invalid; ``problems`` lists ``(field_path, message)``."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None, **fields):
        super().__init__(message, problems=problems or [], **fields)
        self.problems = problems or []

    def __reduce__(self):
        return (_rebuild_spec, (type(self), self.message, self.problems, self.fields))


def _rebuild_spec(cls, message, problems, fields):
    fields = {k: v for k, v in fields.items() if k != "problems"}
    return cls(message, problems, **fields)


class CapacityError(MLCoreError):
    """The cluster can never provide what a job asks for."""


class DataError(MLCoreError):
    """A data channel is missing, empty or not in the expected format."""


class AlgorithmError(MLCoreError):
    """A built-in algorithm rejected its hyperparameters or failed while training."""


class StorageError(MLCoreError):
    """A URI cannot be read or written, or an artifact is not committed."""


class JobNotFound(MLCoreError):
    """No job record with that name."""


class RegistryError(MLCoreError):
    """A model registry operation failed (unknown group, version or status)."""


class EndpointError(MLCoreError):
    """An endpoint could not be created, reached or deleted."""


__all__ = [
    "MLCoreError", "SpecError", "CapacityError", "DataError", "AlgorithmError",
    "StorageError", "JobNotFound", "RegistryError", "EndpointError",
]
