"""The serving package's exceptions, rooted at :class:`mlcore.errors.EndpointError`.

``ServingError`` subclasses ``EndpointError`` so that code catching ``EndpointError`` (the
CLI, the SageMaker facade, tests) keeps catching everything an endpoint raises.
"""

from __future__ import annotations

from mlcore.errors import EndpointError


class ServingError(EndpointError):
    """An endpoint could not be deployed, reached, changed or compared."""


class BadRequest(ServingError):
    """A request the endpoint refuses; ``status`` is the HTTP status it answers with and
    ``message`` the one sentence the client sees (what was wrong, what is expected)."""

    def __init__(self, status: int, message: str, **fields):
        super().__init__(message, status=status, **fields)
        self.status = status

    def __reduce__(self):
        # MLCoreError rebuilds with cls(message, **fields); the status comes first here.
        fields = {k: v for k, v in self.fields.items() if k != "status"}
        return (_rebuild_bad_request, (type(self), self.status, self.message, fields))


def _rebuild_bad_request(cls, status, message, fields):
    return cls(status, message, **fields)


__all__ = ["BadRequest", "ServingError"]
