"""Built-in algorithms, one module each, registered by their SageMaker names on one contract
(:class:`Algorithm`); script mode (:func:`script_mode`) is one more implementation of it."""

from __future__ import annotations

from functools import partial

from algorithms._container_modules import metric_definitions as framework_metrics
from algorithms._container_modules import sys_path as container_path
from algorithms._contract import Algorithm, available, get, register
from algorithms._hyperparameters import HP
from algorithms._script import script_mode


def _make_xgboost() -> Algorithm:
    from algorithms import _xgboost

    return _xgboost.algorithm()


def _first_party(module: str) -> Algorithm:
    from algorithms import _amazon

    return _amazon.algorithm(module)


register("xgboost", _make_xgboost)
# SageMaker's first-party algorithms, on one runtime (algorithms._amazon)
for _name, _module in (("linear-learner", "_linear_learner"), ("kmeans", "_kmeans"),
                       ("pca", "_pca"), ("randomcutforest", "_rcf"),
                       ("factorization-machines", "_factorization_machines"), ("knn", "_knn")):
    register(_name, partial(_first_party, _module))

__all__ = ["HP", "Algorithm", "available", "container_path", "framework_metrics", "get", "register", "script_mode"]
