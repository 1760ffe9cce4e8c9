"""``sagemaker.amazon.amazon_estimator``. Examples import ``image_uris`` from here (v2 keeps
that import working); the first-party algorithm estimators arrive with their algorithms."""

from mlcore.sagemaker import image_uris

__all__ = ["image_uris"]
