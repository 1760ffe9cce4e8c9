"""SageMaker's built-in algorithm names: the one list that specs, ``image_uris.retrieve``,
the CLI and the algorithm registry (which refuses any other name) read."""

BUILTIN_ALGORITHMS = (
    "xgboost", "linear-learner", "kmeans", "pca", "randomcutforest", "factorization-machines",
    "knn", "deepar", "blazingtext", "image-classification", "object-detection",
)
