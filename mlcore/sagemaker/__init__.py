"""SageMaker Python SDK v2 names on mlcore, so a v2 script ports by changing its imports:
``import sagemaker`` becomes ``from mlcore import sagemaker``, ``from sagemaker.inputs import
TrainingInput`` becomes ``from mlcore.sagemaker.inputs import TrainingInput``, and so on."""

from mlcore.sagemaker import (
                              deserializers,
                              estimator,
                              image_uris,
                              inputs,
                              model,
                              model_monitor,
                              multidatamodel,
                              pipeline,
                              predictor,
                              pytorch,
                              serializers,
                              serverless,
                              tuner,
)
from mlcore.sagemaker.estimator import Estimator
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.model import ModelPackage
from mlcore.sagemaker.model_monitor import DataCaptureConfig
from mlcore.sagemaker.multidatamodel import MultiDataModel
from mlcore.sagemaker.pipeline import PipelineModel
from mlcore.sagemaker.predictor import Predictor
from mlcore.sagemaker.pytorch import PyTorch
from mlcore.sagemaker.serverless import ServerlessInferenceConfig
from mlcore.sagemaker.session import Session, get_execution_role, production_variant
from mlcore.sagemaker.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    WarmStartConfig,
    WarmStartTypes,
)

__all__ = ["CategoricalParameter", "ContinuousParameter", "DataCaptureConfig", "Estimator", "HyperparameterTuner",
           "IntegerParameter", "ModelPackage", "MultiDataModel", "PipelineModel", "Predictor", "PyTorch", "ServerlessInferenceConfig",
           "Session", "TrainingInput", "WarmStartConfig", "WarmStartTypes", "deserializers",
           "estimator", "get_execution_role", "image_uris", "inputs", "model", "model_monitor", "multidatamodel", "pipeline", "predictor",
           "production_variant", "pytorch", "serializers", "serverless", "tuner"]
