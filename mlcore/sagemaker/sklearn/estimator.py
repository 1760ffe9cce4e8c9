"""``sagemaker.sklearn.estimator``: the scikit-learn framework estimator on Ray Train workers."""

from __future__ import annotations

from mlcore.sagemaker.estimator import Framework


class SKLearn(Framework):
    """``SKLearn(entry_point, framework_version, py_version, source_dir,
    hyperparameters, ...)``: script mode, the user's script run with SageMaker's SM_*
    contract (one worker: scikit-learn does not distribute).
    ``deploy`` / ``create_model`` give a ``SKLearnModel`` served with the container's defaults."""

    _framework_name = "sklearn"

    def __init__(self, entry_point: str, framework_version: str | None = None,
                 py_version: str = "py3", source_dir: str | None = None,
                 hyperparameters: dict | None = None, image_uri: str | None = None, **kwargs):
        if kwargs.get("instance_count", 1) != 1:  # v2 refuses it the same way
            raise AttributeError("Scikit-Learn does not support distributed training. Please "
                                 "remove the 'instance_count' argument or set 'instance_count=1' "
                                 "when initializing SKLearn.")
        super().__init__(entry_point, source_dir, hyperparameters, image_uri,
                         framework_version=framework_version, py_version=py_version, **kwargs)

    def _model_class(self):
        from mlcore.sagemaker.sklearn.model import SKLearnModel

        return SKLearnModel


__all__ = ["SKLearn"]
