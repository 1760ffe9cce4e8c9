"""``sagemaker.amazon.randomcutforest``: ``RandomCutForest``, ``RandomCutForestModel``,
``RandomCutForestPredictor`` (answers: ``score``, the anomaly score)."""

from __future__ import annotations

from mlcore.sagemaker.amazon._model import AlgorithmModel, RecordPredictor
from mlcore.sagemaker.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.amazon.validation import ge, le


class RandomCutForest(AmazonAlgorithmEstimatorBase):
    """Random Cut Forest anomaly detection on the train channel's rows (unlabelled)."""

    repo_name: str = "randomcutforest"
    repo_version: str = "1"
    MINI_BATCH_SIZE: int = 1000

    eval_metrics: hp = hp(
        name="eval_metrics",
        validation_message='A comma separated list of "accuracy" or "precision_recall_fscore"',
        data_type=list,
    )

    num_trees: hp = hp("num_trees", (ge(50), le(1000)), "An integer in [50, 1000]", int)
    num_samples_per_tree: hp = hp(
        "num_samples_per_tree", (ge(1), le(2048)), "An integer in [1, 2048]", int
    )
    feature_dim: hp = hp("feature_dim", (ge(1), le(10000)), "An integer in [1, 10000]", int)

    def __init__(self, role=None, instance_count=None, instance_type=None,
                 num_samples_per_tree=None, num_trees=None, eval_metrics=None, **kwargs):
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_samples_per_tree = num_samples_per_tree
        self.num_trees = num_trees
        self.eval_metrics = eval_metrics

    def _model_class(self):
        return RandomCutForestModel

    def _prepare_for_training(self, records, mini_batch_size=None, job_name=None):
        if mini_batch_size is None:
            mini_batch_size = self.MINI_BATCH_SIZE
        elif mini_batch_size != self.MINI_BATCH_SIZE:
            raise ValueError(
                f"Random Cut Forest uses a fixed mini_batch_size of {self.MINI_BATCH_SIZE}")
        super()._prepare_for_training(records, mini_batch_size=mini_batch_size, job_name=job_name)


class RandomCutForestPredictor(RecordPredictor):
    """Each answer: ``label["score"]`` (higher: more anomalous)."""


class RandomCutForestModel(AlgorithmModel):
    _repo_name, _predictor_cls = "randomcutforest", RandomCutForestPredictor


__all__ = ["RandomCutForest", "RandomCutForestModel", "RandomCutForestPredictor"]
