"""``sagemaker.xgboost.model``: a XGBoost model artifact served by its inference script."""

from __future__ import annotations

from mlcore.sagemaker._predictors import XGBoostPredictor
from mlcore.sagemaker.model import FrameworkModel


class XGBoostModel(FrameworkModel):
    """``model_data`` (a model.tar.gz or a folder) served by ``entry_point``'s handlers over
    sagemaker-xgboost-container's framework-mode defaults: ``model_fn`` must
    come from the script; ``input_fn`` reads CSV, LibSVM or RecordIO-protobuf into a DMatrix,
    ``predict_fn`` is ``model.predict(data, validate_features=False)``, ``output_fn`` encodes
    JSON, CSV or NPY. Without ``entry_point`` the artifact's ``xgboost-model`` is served by
    the built-in (the container's algorithm mode)."""

    _framework = "xgboost"

    def __init__(self, model_data: str, role: str | None = None, entry_point: str | None = None,
                 framework_version: str | None = None, image_uri: str | None = None,
                 py_version: str = "py3", predictor_cls=XGBoostPredictor,
                 model_server_workers: int | None = None, **kwargs):
        super().__init__(model_data, image_uri, role, entry_point, framework_version,
                         py_version, model_server_workers, predictor_cls=predictor_cls, **kwargs)


__all__ = ["XGBoostModel", "XGBoostPredictor"]
