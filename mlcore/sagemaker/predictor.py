"""``sagemaker.predictor``."""

from serving import Predictor

__all__ = ["Predictor"]
