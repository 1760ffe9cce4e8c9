"""SageMaker Python SDK v2 names on mlcore, so a v2 script ports by changing its imports:
``import sagemaker`` becomes ``from mlcore import sagemaker``, ``from sagemaker.inputs import
TrainingInput`` becomes ``from mlcore.sagemaker.inputs import TrainingInput``, and so on."""

# The SageMaker Python SDK release whose v2 API this facade follows (examples print it).
__version__ = "2.257.6"

from mlcore.sagemaker import (  # noqa: E402
                              amazon,
                              analytics,
                              async_inference,
                              deserializers,
                              estimator,
                              exceptions,
                              image_uris,
                              inputs,
                              local,
                              model,
                              model_monitor,
                              multidatamodel,
                              pipeline,
                              predictor,
                              predictor_async,
                              pytorch,
                              s3,
                              serializers,
                              serverless,
                              session,
                              sklearn,
                              transformer,
                              tuner,
                              utils,
                              xgboost,
)
from mlcore.sagemaker.amazon.factorization_machines import (
                              FactorizationMachines,
                              FactorizationMachinesModel,
                              FactorizationMachinesPredictor,
)
from mlcore.sagemaker.amazon.kmeans import KMeans, KMeansModel, KMeansPredictor
from mlcore.sagemaker.amazon.knn import KNN, KNNModel, KNNPredictor
from mlcore.sagemaker.amazon.linear_learner import (
                              LinearLearner,
                              LinearLearnerModel,
                              LinearLearnerPredictor,
)
from mlcore.sagemaker.amazon.pca import PCA, PCAModel, PCAPredictor
from mlcore.sagemaker.amazon.randomcutforest import (
                              RandomCutForest,
                              RandomCutForestModel,
                              RandomCutForestPredictor,
)
from mlcore.sagemaker.estimator import Estimator, Framework
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.model import FrameworkModel, Model, ModelPackage
from mlcore.sagemaker.model_monitor import DataCaptureConfig
from mlcore.sagemaker.multidatamodel import MultiDataModel
from mlcore.sagemaker.pipeline import PipelineModel
from mlcore.sagemaker.predictor import Predictor
from mlcore.sagemaker.pytorch import PyTorch, PyTorchModel, PyTorchPredictor
from mlcore.sagemaker.serverless import ServerlessInferenceConfig
from mlcore.sagemaker.session import Session, get_execution_role, production_variant
from mlcore.sagemaker.sklearn import SKLearn, SKLearnModel, SKLearnPredictor
from mlcore.sagemaker.transformer import Transformer
from mlcore.sagemaker.tuner import (
                              CategoricalParameter,
                              ContinuousParameter,
                              HyperparameterTuner,
                              IntegerParameter,
                              WarmStartConfig,
                              WarmStartTypes,
)
from mlcore.sagemaker.xgboost import XGBoost, XGBoostModel, XGBoostPredictor

__all__ = ["CategoricalParameter", "ContinuousParameter", "DataCaptureConfig", "Estimator",
           "FactorizationMachines", "FactorizationMachinesModel",
           "FactorizationMachinesPredictor", "Framework", "FrameworkModel", "HyperparameterTuner",
           "IntegerParameter", "KMeans", "KMeansModel", "KMeansPredictor", "KNN", "KNNModel",
           "KNNPredictor", "LinearLearner", "LinearLearnerModel", "LinearLearnerPredictor",
           "Model", "ModelPackage", "MultiDataModel", "PCA", "PCAModel", "PCAPredictor",
           "PipelineModel", "Predictor", "PyTorch", "PyTorchModel", "PyTorchPredictor",
           "RandomCutForest", "RandomCutForestModel", "RandomCutForestPredictor", "SKLearn",
           "SKLearnModel", "SKLearnPredictor", "ServerlessInferenceConfig", "Session",
           "TrainingInput", "Transformer", "WarmStartConfig", "WarmStartTypes", "XGBoost",
           "XGBoostModel", "XGBoostPredictor", "deserializers", "amazon", "analytics",
           "async_inference", "estimator", "exceptions", "get_execution_role", "image_uris",
           "inputs", "local", "model", "model_monitor", "multidatamodel", "pipeline", "predictor",
           "predictor_async", "production_variant", "pytorch", "s3", "serializers", "serverless",
           "session", "sklearn", "transformer", "tuner", "utils", "xgboost"]
