"""mlcore's exception hierarchy. Every error a user can cause says what and how to fix it.

Errors cross Ray process boundaries (a worker raises, the driver reports), so each keeps its
structured fields through pickling.
"""

from __future__ import annotations

import re


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


class TrackingError(MLCoreError):
    """The MLflow tracking store is locked, unreachable or refused a job's run."""


# A foreign exception's reason is kept to one line this long; mlcore's own messages (written
# to be read, and naming the fix) are kept whole up to _OWN_LIMIT.
REASON_LIMIT = 300
_OWN_LIMIT = 1000
# "ValueError: ...", "mlcore.errors.DataError: ...": a line that names its exception's type.
_NAMED = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning)): ?(.*)$")


def root_cause(error: BaseException | str, limit: int = REASON_LIMIT) -> str:
    """One line saying why ``error`` happened, fit for a FailureReason or a terminal.

    The innermost exception of the chain is the one that knows: ``__cause__`` /
    ``__context__``, a database driver's error under SQLAlchemy's ``orig`` (its first line:
    SQLAlchemy appends the SQL and a "Background on this error" link), the user's exception
    inside Ray's wrappers (``worker_failures``, ``controller_failure``, ``cause``). A text that
    carries a traceback (Ray passes some errors on as text) gives its final exception line.
    mlcore's own errors are kept as they are worded, on one line.
    """
    if isinstance(error, str):
        text = _text_reason(error)
        named = _NAMED.match(text)
        return _clip(f"{named[1]}: {named[2]}" if named else text, limit)
    exc = innermost(error)
    if isinstance(exc, MLCoreError):
        return _clip(" ".join(str(exc).split()), max(limit, _OWN_LIMIT))
    text = _text_reason(str(exc))
    if named := _NAMED.match(text):  # a traceback's last line: it names the real type
        return _clip(f"{named[1]}: {named[2]}", limit)
    return _clip(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, limit)


def innermost(error: BaseException) -> BaseException:
    """The root of ``error``'s chain (see :func:`root_cause`); mlcore's own errors end it."""
    seen: set[int] = set()
    exc = error
    while id(exc) not in seen and len(seen) < 32 and not isinstance(exc, MLCoreError):
        seen.add(id(exc))
        inner = _inner(exc)
        if inner is None:
            break
        exc = inner
    return exc


def _inner(exc: BaseException) -> BaseException | None:
    failures = getattr(exc, "worker_failures", None)  # Ray Train's WorkerGroupError: rank -> error
    if isinstance(failures, dict) and failures:
        return failures[min(failures)]
    # Ray Train's ControllerError, Ray's RayTaskError, SQLAlchemy's DBAPIError (the driver's).
    for attr in ("controller_failure", "cause", "orig"):
        inner = getattr(exc, attr, None)
        if isinstance(inner, BaseException):
            return inner
    if exc.__cause__ is not None:
        return exc.__cause__
    if exc.__context__ is not None and not exc.__suppress_context__:
        return exc.__context__
    return None


def _text_reason(text: str) -> str:
    """The line of ``text`` that says why: a traceback's final exception line, else the first
    non-empty line."""
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    if any(ln.startswith("Traceback (most recent call last)") or ln.lstrip().startswith('File "')
           for ln in lines):
        for ln in reversed(lines):
            if not ln.startswith((" ", "\t")) and _NAMED.match(ln):
                return ln.strip()
    return lines[0].strip()


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


__all__ = [
    "MLCoreError", "SpecError", "CapacityError", "DataError", "AlgorithmError",
    "StorageError", "JobNotFound", "RegistryError", "EndpointError", "TrackingError",
    "innermost", "root_cause",
]
