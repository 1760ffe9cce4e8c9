"""``sagemaker.pytorch.model``: a PyTorch model artifact served by its inference script."""

from __future__ import annotations

from mlcore.sagemaker._predictors import PyTorchPredictor
from mlcore.sagemaker.model import FrameworkModel


class PyTorchModel(FrameworkModel):
    """``model_data`` (a model.tar.gz or a folder) served by ``entry_point``'s handlers over
    sagemaker-pytorch-inference-toolkit's defaults: ``model_fn`` loads the
    TorchScript ``model.pt`` (or the one ``.pt`` / ``.pth`` file), ``input_fn`` decodes JSON, CSV
    or NPY to a float tensor on the device, ``predict_fn`` calls the model under ``no_grad``,
    ``output_fn`` encodes JSON, CSV or NPY by the Accept header."""

    _framework = "pytorch"

    def __init__(self, model_data: str, role: str | None = None, entry_point: str | None = None,
                 framework_version: str = "1.3", py_version: str | None = None,
                 image_uri: str | None = None, predictor_cls=PyTorchPredictor,
                 model_server_workers: int | None = None, **kwargs):
        super().__init__(model_data, image_uri, role, entry_point, framework_version,
                         py_version, model_server_workers, predictor_cls=predictor_cls, **kwargs)


__all__ = ["PyTorchModel", "PyTorchPredictor"]
