"""``sagemaker.pytorch``: ``PyTorch``, ``PyTorchModel``, ``PyTorchPredictor``."""

from mlcore.sagemaker._predictors import PyTorchPredictor
from mlcore.sagemaker.pytorch import estimator, model
from mlcore.sagemaker.pytorch.estimator import PyTorch
from mlcore.sagemaker.pytorch.model import PyTorchModel

__all__ = ["PyTorch", "PyTorchModel", "PyTorchPredictor", "estimator", "model"]
