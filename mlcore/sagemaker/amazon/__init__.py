"""``sagemaker.amazon``: SageMaker's first-party algorithms (``amazon.kmeans.KMeans``,
``amazon.linear_learner.LinearLearner``, ...), their RecordIO-protobuf helpers
(``amazon.common``) and ``amazon.record_pb2``."""

from mlcore.sagemaker.amazon import (
    amazon_estimator,
    common,
    factorization_machines,
    hyperparameter,
    kmeans,
    knn,
    linear_learner,
    pca,
    randomcutforest,
    record_pb2,
    validation,
)

__all__ = ["amazon_estimator", "common", "factorization_machines", "hyperparameter", "kmeans",
           "knn", "linear_learner", "pca", "randomcutforest", "record_pb2", "validation"]
