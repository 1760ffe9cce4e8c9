"""sagemaker_containers/_errors.py: the errors scripts catch or raise."""

import textwrap


class ClientError(Exception):
    """Error class used to separate framework and user errors."""


class ImportModuleError(ClientError):
    """A module failed to import."""


class ChannelDoesNotExistException(Exception):
    """A channel does not exist."""

    def __init__(self, channel_name):
        super().__init__(f"Channel {channel_name} is not a valid channel")


class UnsupportedFormatError(Exception):
    """A content type is not supported by the current framework. ``status_code`` 415 is
    what sagemaker-inference answers with (mlcore's replicas read it)."""

    status_code = 415

    def __init__(self, content_type, **kwargs):
        self.message = textwrap.dedent(f"""\
            Content type {content_type} is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README.""")
        super().__init__(self.message, **kwargs)
