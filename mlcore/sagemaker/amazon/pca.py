"""``sagemaker.amazon.pca``: ``PCA``, ``PCAModel``, ``PCAPredictor`` (answers:
``projection``)."""

from __future__ import annotations

from mlcore.sagemaker.amazon._model import AlgorithmModel, RecordPredictor
from mlcore.sagemaker.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase, _train
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.amazon.validation import gt, isin


class PCA(AmazonAlgorithmEstimatorBase):
    """Principal component analysis: ``num_components`` components of the train channel."""

    repo_name: str = "pca"
    repo_version: str = "1"
    DEFAULT_MINI_BATCH_SIZE: int = 500

    num_components: hp = hp("num_components", gt(0),
                            "Value must be an integer greater than zero", int)
    algorithm_mode: hp = hp("algorithm_mode", isin("regular", "randomized"),
                            'Value must be one of "regular" and "randomized"', str)
    subtract_mean: hp = hp(name="subtract_mean", validation_message="Value must be a boolean",
                           data_type=bool)
    extra_components: hp = hp(name="extra_components", validation_message=(
        "Value must be an integer greater than or equal to 0, or -1."), data_type=int)

    def __init__(self, role=None, instance_count=None, instance_type=None, num_components=None,
                 algorithm_mode=None, subtract_mean=None, extra_components=None, **kwargs):
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_components = num_components
        self.algorithm_mode = algorithm_mode
        self.subtract_mean = subtract_mean
        self.extra_components = extra_components

    def _model_class(self):
        return PCAModel

    def _prepare_for_training(self, records, mini_batch_size=None, job_name=None):
        num_records = _train(records).num_records
        super()._prepare_for_training(
            records, mini_batch_size=mini_batch_size or self._get_default_mini_batch_size(
                num_records), job_name=job_name)


class PCAPredictor(RecordPredictor):
    """Each answer: ``label["projection"]`` (``num_components`` values)."""


class PCAModel(AlgorithmModel):
    _repo_name, _predictor_cls = "pca", PCAPredictor


__all__ = ["PCA", "PCAModel", "PCAPredictor"]
