"""``sagemaker.amazon.knn``: ``KNN``, ``KNNModel``, ``KNNPredictor`` (answers:
``predicted_label``)."""

from __future__ import annotations

from mlcore.sagemaker.amazon._model import AlgorithmModel, RecordPredictor
from mlcore.sagemaker.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.amazon.validation import ge, isin


class KNN(AmazonAlgorithmEstimatorBase):
    """k-nearest neighbours: a classifier (the neighbours' majority label) or a regressor
    (their mean label)."""

    repo_name: str = "knn"
    repo_version: str = "1"

    k: hp = hp("k", (ge(1)), "An integer greater than 0", int)
    sample_size: hp = hp("sample_size", (ge(1)), "An integer greater than 0", int)
    predictor_type: hp = hp(
        "predictor_type", isin("classifier", "regressor"), 'One of "classifier" or "regressor"', str
    )
    dimension_reduction_target: hp = hp(
        "dimension_reduction_target",
        (ge(1)),
        "An integer greater than 0 and less than feature_dim",
        int,
    )
    dimension_reduction_type: hp = hp(
        "dimension_reduction_type", isin("sign", "fjlt"), 'One of "sign" or "fjlt"', str
    )
    index_metric: hp = hp(
        "index_metric",
        isin("COSINE", "INNER_PRODUCT", "L2"),
        'One of "COSINE", "INNER_PRODUCT", "L2"',
        str,
    )
    index_type: hp = hp(
        "index_type",
        isin("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"),
        'One of "faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"',
        str,
    )
    faiss_index_ivf_nlists: hp = hp(
        "faiss_index_ivf_nlists", (), '"auto" or an integer greater than 0', str
    )
    faiss_index_pq_m: hp = hp("faiss_index_pq_m", (ge(1)), "An integer greater than 0", int)

    def __init__(self, role=None, instance_count=None, instance_type=None, k=None,
                 sample_size=None, predictor_type=None, dimension_reduction_type=None,
                 dimension_reduction_target=None, index_type=None, index_metric=None,
                 faiss_index_ivf_nlists=None, faiss_index_pq_m=None, **kwargs):
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.k = k
        self.sample_size = sample_size
        self.predictor_type = predictor_type
        self.dimension_reduction_type = dimension_reduction_type
        self.dimension_reduction_target = dimension_reduction_target
        self.index_type = index_type
        self.index_metric = index_metric
        self.faiss_index_ivf_nlists = faiss_index_ivf_nlists
        self.faiss_index_pq_m = faiss_index_pq_m
        if dimension_reduction_type and not dimension_reduction_target:
            raise ValueError('"dimension_reduction_target" is required when '
                             '"dimension_reduction_type" is set.')

    def _model_class(self):
        return KNNModel


class KNNPredictor(RecordPredictor):
    """Each answer: ``label["predicted_label"]``."""


class KNNModel(AlgorithmModel):
    _repo_name, _predictor_cls = "knn", KNNPredictor


__all__ = ["KNN", "KNNModel", "KNNPredictor"]
