"""``sagemaker.xgboost``: ``XGBoost``, ``XGBoostModel``, ``XGBoostPredictor``."""

from mlcore.sagemaker._predictors import XGBoostPredictor
from mlcore.sagemaker.xgboost import estimator, model
from mlcore.sagemaker.xgboost.estimator import XGBoost
from mlcore.sagemaker.xgboost.model import XGBoostModel

__all__ = ["XGBoost", "XGBoostModel", "XGBoostPredictor", "estimator", "model"]
