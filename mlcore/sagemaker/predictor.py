"""``sagemaker.predictor``."""

from __future__ import annotations

import serving


class Predictor(serving.Predictor):
    """SageMaker v2's ``Predictor``: ``predict`` over HTTP, ``delete_endpoint`` removes the
    endpoint and its record, ``describe`` returns DescribeEndpoint's fields."""

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        from mlcore.sagemaker import _deploy

        _deploy.delete(self.endpoint_name)

    def describe(self) -> dict:
        from mlcore.sagemaker import _deploy

        return _deploy.describe(self.endpoint_name)

    def update_weights(self, weights: dict[str, float]) -> dict:
        """Set production variant weights in place (no restart); returns the description."""
        from mlcore.sagemaker import _deploy

        return _deploy.update_weights(self.endpoint_name, weights)


__all__ = ["Predictor"]
