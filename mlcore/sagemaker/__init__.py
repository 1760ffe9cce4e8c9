"""SageMaker Python SDK v2 names on mlcore, so a v2 script ports by changing its imports:
``import sagemaker`` becomes ``from mlcore import sagemaker``, ``from sagemaker.inputs import
TrainingInput`` becomes ``from mlcore.sagemaker.inputs import TrainingInput``, and so on."""

from mlcore.sagemaker import (
                              deserializers,
                              estimator,
                              image_uris,
                              inputs,
                              predictor,
                              pytorch,
                              serializers,
)
from mlcore.sagemaker.estimator import Estimator
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.predictor import Predictor
from mlcore.sagemaker.pytorch import PyTorch
from mlcore.sagemaker.session import Session, get_execution_role

__all__ = ["Estimator", "Predictor", "PyTorch", "Session", "TrainingInput", "deserializers", "estimator",
           "get_execution_role", "image_uris", "inputs", "predictor", "pytorch", "serializers"]
