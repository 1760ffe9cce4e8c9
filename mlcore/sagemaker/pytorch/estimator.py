"""``sagemaker.pytorch.estimator``: the PyTorch framework estimator on Ray Train workers."""

from __future__ import annotations

from mlcore.sagemaker.estimator import Framework


class PyTorch(Framework):
    """``PyTorch(entry_point, source_dir, framework_version, py_version, instance_count,
    instance_type, hyperparameters, distribution, ...)``: script mode on Ray Train workers
    (DDP, DeepSpeed, SageMaker's smdistributed settings through ``distribution``).
    ``deploy`` / ``create_model`` give a ``PyTorchModel`` served with the container's defaults."""

    _framework_name = "pytorch"

    def __init__(self, entry_point: str | None = None, framework_version: str | None = None,
                 py_version: str | None = None, source_dir: str | None = None,
                 hyperparameters: dict | None = None, image_uri: str | None = None,
                 distribution: dict | None = None, **kwargs):
        super().__init__(entry_point, source_dir, hyperparameters, image_uri,
                         framework_version=framework_version, py_version=py_version,
                         distribution=distribution, **kwargs)

    def _model_class(self):
        from mlcore.sagemaker.pytorch.model import PyTorchModel

        return PyTorchModel


__all__ = ["PyTorch"]
