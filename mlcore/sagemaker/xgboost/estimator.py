"""``sagemaker.xgboost.estimator``: the XGBoost framework estimator on Ray Train workers."""

from __future__ import annotations

from mlcore.sagemaker.estimator import Framework


class XGBoost(Framework):
    """``XGBoost(entry_point, framework_version, source_dir, hyperparameters, ...)``:
    framework (script) mode, the user's script run with SageMaker's SM_* contract; the
    built-in algorithm is ``Estimator(image_uris.retrieve("xgboost", ...))``.
    ``deploy`` / ``create_model`` give a ``XGBoostModel`` served with the container's defaults."""

    _framework_name = "xgboost"

    def __init__(self, entry_point: str, framework_version: str | None = None,
                 source_dir: str | None = None, hyperparameters: dict | None = None,
                 py_version: str = "py3", image_uri: str | None = None, **kwargs):
        super().__init__(entry_point, source_dir, hyperparameters, image_uri,
                         framework_version=framework_version, py_version=py_version, **kwargs)

    def _model_class(self):
        from mlcore.sagemaker.xgboost.model import XGBoostModel

        return XGBoostModel


__all__ = ["XGBoost"]
