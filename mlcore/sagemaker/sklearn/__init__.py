"""``sagemaker.sklearn``: ``SKLearn``, ``SKLearnModel``, ``SKLearnPredictor``."""

from mlcore.sagemaker._predictors import SKLearnPredictor
from mlcore.sagemaker.sklearn import estimator, model
from mlcore.sagemaker.sklearn.estimator import SKLearn
from mlcore.sagemaker.sklearn.model import SKLearnModel

__all__ = ["SKLearn", "SKLearnModel", "SKLearnPredictor", "estimator", "model"]
