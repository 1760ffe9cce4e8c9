"""``sagemaker.model_monitor``: what an endpoint records for monitoring."""

from __future__ import annotations

from mlcore.sagemaker import _args


class DataCaptureConfig:
    """Capture ``sampling_percentage`` % of an endpoint's requests and responses as JSON lines
    (SageMaker's capture format) under ``destination_s3_uri`` (any fsspec URI; default
    ``$MLCORE_HOME/data-capture``), ``<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/``."""

    def __init__(self, enable_capture: bool = True, sampling_percentage: float = 20,
                 destination_s3_uri: str | None = None, **kwargs):
        _args.accept("DataCaptureConfig", kwargs, DataCaptureConfig.__init__)
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri

    def _spec(self) -> dict:
        return {"enable_capture": self.enable_capture, "sampling_percentage": self.sampling_percentage,
                "destination_s3_uri": self.destination_s3_uri}


__all__ = ["DataCaptureConfig"]
