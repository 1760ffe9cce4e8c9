"""``sagemaker.predictor``."""

from __future__ import annotations

import serving
from mlcore.errors import EndpointError
from mlcore.records import EndpointRecord
from mlcore.sagemaker import _args
from mlcore.services import Handle, endpoints


class Predictor(serving.Predictor):
    """SageMaker v2's ``Predictor``: ``predict`` over HTTP, ``delete_endpoint`` removes the
    endpoint and its record, ``describe`` returns DescribeEndpoint's fields. The endpoint
    name goes into the URL (``/endpoints/<name>``), so it must follow SageMaker's rule."""

    def __init__(self, endpoint_name: str, sagemaker_session=None,
                 serializer=serving.IdentitySerializer(), deserializer=serving.BytesDeserializer(),
                 component_name: str | None = None, **kwargs):
        """v2's defaults: the body sent as it is, the answer returned as bytes. ``kwargs``:
        mlcore's ``timeout``, ``token``, ``api_key`` (see :class:`serving.Predictor`)."""
        super().__init__(_args.name(endpoint_name, "endpoint_name", _args.ENDPOINT),
                         sagemaker_session, serializer, deserializer, component_name, **kwargs)

    @property
    def endpoint(self) -> str:
        """v2's older name of ``endpoint_name`` (deprecated there, still used by examples)."""
        return self.endpoint_name

    @property
    def _handle(self) -> Handle:
        return Handle(EndpointRecord, self.endpoint_name, stop=endpoints.delete,
                      describe=endpoints.describe)

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        """Delete the endpoint and its record (``delete_endpoint_config``: there is none)."""
        self._handle.stop()

    def describe(self) -> dict:
        return self._handle.describe()

    def compare_variants(self, ground_truth: dict[str, float], metric: str = "accuracy",
                         threshold: float = 0.5, alpha: float = 0.05) -> dict:
        """Per-variant ``accuracy`` or ``mse`` on ``ground_truth`` (inference id -> label),
        joined with the endpoint's data capture, and a significance test between two
        variants (``PValue``, ``Significant``, ``Better``)."""
        dest = endpoints.capture_uri(self.endpoint_name)
        if not dest:
            raise EndpointError(f"endpoint {self.endpoint_name!r} has no data capture; deploy it "
                                "with data_capture_config=DataCaptureConfig(...)")
        return serving.compare_variants(dest, self.endpoint_name, ground_truth, metric, threshold, alpha)

    def update_weights(self, weights: dict[str, float]) -> dict:
        """Set production variant weights in place (no restart); returns the description."""
        return endpoints.update_weights(self.endpoint_name, weights)


__all__ = ["Predictor"]
