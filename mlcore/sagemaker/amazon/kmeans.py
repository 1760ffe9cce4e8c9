"""``sagemaker.amazon.kmeans``: ``KMeans``, ``KMeansModel``, ``KMeansPredictor`` (answers:
``closest_cluster``, ``distance_to_cluster``)."""

from __future__ import annotations

from mlcore.sagemaker.amazon._model import AlgorithmModel, RecordPredictor
from mlcore.sagemaker.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.amazon.validation import ge, gt, isin, le


class KMeans(AmazonAlgorithmEstimatorBase):
    """k-means clustering: ``k`` centers of the train channel's rows."""

    repo_name: str = "kmeans"
    repo_version: str = "1"

    k: hp = hp("k", gt(1), "An integer greater-than 1", int)
    init_method: hp = hp("init_method", isin("random", "kmeans++"),
                         'One of "random", "kmeans++"', str)
    max_iterations: hp = hp("local_lloyd_max_iter", gt(0), "An integer greater-than 0", int)
    tol: hp = hp("local_lloyd_tol", (ge(0), le(1)), "An float in [0, 1]", float)
    num_trials: hp = hp("local_lloyd_num_trials", gt(0), "An integer greater-than 0", int)
    local_init_method: hp = hp("local_lloyd_init_method", isin("random", "kmeans++"),
                               'One of "random", "kmeans++"', str)
    half_life_time_size: hp = hp("half_life_time_size", ge(0),
                                 "An integer greater-than-or-equal-to 0", int)
    epochs: hp = hp("epochs", gt(0), "An integer greater-than 0", int)
    center_factor: hp = hp("extra_center_factor", gt(0), "An integer greater-than 0", int)
    eval_metrics: hp = hp(name="eval_metrics",
                          validation_message='A comma separated list of "msd" or "ssd"',
                          data_type=list)

    def __init__(self, role=None, instance_count=None, instance_type=None, k=None,
                 init_method=None, max_iterations=None, tol=None, num_trials=None,
                 local_init_method=None, half_life_time_size=None, epochs=None,
                 center_factor=None, eval_metrics=None, **kwargs):
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.k = k
        self.init_method = init_method
        self.max_iterations = max_iterations
        self.tol = tol
        self.num_trials = num_trials
        self.local_init_method = local_init_method
        self.half_life_time_size = half_life_time_size
        self.epochs = epochs
        self.center_factor = center_factor
        self.eval_metrics = eval_metrics

    def _model_class(self):
        return KMeansModel

    def _prepare_for_training(self, records, mini_batch_size=5000, job_name=None):
        super()._prepare_for_training(records, mini_batch_size=mini_batch_size, job_name=job_name)

    def hyperparameters(self) -> dict[str, str]:
        # v2 always sends force_dense: K-Means trains on dense Record rows
        return {"force_dense": "True", **super().hyperparameters()}


class KMeansPredictor(RecordPredictor):
    """Each answer: ``label["closest_cluster"]``, ``label["distance_to_cluster"]``."""


class KMeansModel(AlgorithmModel):
    _repo_name, _predictor_cls = "kmeans", KMeansPredictor


__all__ = ["KMeans", "KMeansModel", "KMeansPredictor"]
