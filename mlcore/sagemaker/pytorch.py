"""``sagemaker.pytorch``: the framework estimator most v2 scripts use, on Ray Train workers."""

from __future__ import annotations

from mlcore.sagemaker.estimator import Estimator


class PyTorch(Estimator):
    """``PyTorch(entry_point, source_dir, framework_version, py_version, instance_count,
    instance_type, hyperparameters, distribution, ...)``: script mode with the framework fixed.

    ``framework_version`` and ``py_version`` are recorded on the job; the script runs with the
    torch and Python the Ray cluster has installed (no containers are pulled).
    """

    def __init__(self, entry_point: str, framework_version: str | None = None,
                 py_version: str | None = None, source_dir: str | None = None,
                 hyperparameters: dict | None = None, image_uri: str | None = None, **kwargs):
        super().__init__(entry_point=entry_point, source_dir=source_dir, framework="pytorch",
                         framework_version=framework_version, py_version=py_version,
                         hyperparameters=hyperparameters, **kwargs)
        self.image_uri = image_uri
        self.framework_version, self.py_version = framework_version, py_version


__all__ = ["PyTorch"]
