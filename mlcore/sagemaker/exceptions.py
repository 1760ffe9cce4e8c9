"""``sagemaker.exceptions``: v2's async inference errors, with v2's messages (each class's
``fmt``, filled from the keywords it was raised with, kept in ``kwargs``).

They are rooted at :class:`mlcore.MLCoreError` as every mlcore error is (so they are still
``Exception``\\ s, as in v2) and pickle by their keywords, which v2's cannot (their
``__init__`` takes keywords only)."""

from __future__ import annotations

from mlcore.errors import MLCoreError


class AsyncInferenceError(MLCoreError):
    """The base exception class for Async Inference exceptions."""

    fmt = "An unspecified error occurred"

    def __init__(self, **kwargs):
        msg = self.fmt.format(**kwargs)
        super().__init__(msg)
        self.kwargs = kwargs
        self.fields = dict(kwargs)

    def __reduce__(self):
        return (_rebuild, (type(self), self.kwargs))


def _rebuild(cls, kwargs):
    return cls(**kwargs)


class ObjectNotExistedError(AsyncInferenceError):
    """Raised when Amazon S3 object not exist in the given path"""

    fmt = "Object not exist at {output_path}. {message}"

    def __init__(self, message, output_path):
        super().__init__(message=message, output_path=output_path)


class PollingTimeoutError(AsyncInferenceError):
    """Raised when wait longer than expected and no result object in Amazon S3 bucket yet"""

    fmt = "No result at {output_path} after polling for {seconds} seconds. {message}"

    def __init__(self, message, output_path, seconds):
        super().__init__(message=message, output_path=output_path, seconds=seconds)


class UnexpectedClientError(AsyncInferenceError):
    """Raised when ClientError's error code is not expected"""

    fmt = "Encountered unexpected client error: {message}"

    def __init__(self, message):
        super().__init__(message=message)


class AsyncInferenceModelError(AsyncInferenceError):
    """Raised when model returns errors for failed requests"""

    fmt = "Model returned error: {message} "

    def __init__(self, message):
        super().__init__(message=message)


__all__ = ["AsyncInferenceError", "AsyncInferenceModelError", "ObjectNotExistedError",
           "PollingTimeoutError", "UnexpectedClientError"]
