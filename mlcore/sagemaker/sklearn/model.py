"""``sagemaker.sklearn.model``: a scikit-learn model artifact served by its inference script."""

from __future__ import annotations

from mlcore.sagemaker._predictors import SKLearnPredictor
from mlcore.sagemaker.model import FrameworkModel


class SKLearnModel(FrameworkModel):
    """``model_data`` (a model.tar.gz or a folder) served by ``entry_point``'s handlers over
    sagemaker-scikit-learn-container's defaults: ``model_fn`` must come from the
    script; ``input_fn`` decodes JSON, CSV (as float32) or NPY, ``predict_fn`` is
    ``model.predict``, ``output_fn`` encodes JSON, CSV or NPY by the Accept header."""

    _framework = "sklearn"

    def __init__(self, model_data: str, role: str | None = None, entry_point: str | None = None,
                 framework_version: str | None = None, py_version: str = "py3",
                 image_uri: str | None = None, predictor_cls=SKLearnPredictor,
                 model_server_workers: int | None = None, **kwargs):
        super().__init__(model_data, image_uri, role, entry_point, framework_version,
                         py_version, model_server_workers, predictor_cls=predictor_cls, **kwargs)


__all__ = ["SKLearnModel", "SKLearnPredictor"]
