"""Built-in algorithms, one module each, registered by their SageMaker names on one contract
(:class:`Algorithm`); script mode (:func:`script_mode`) is one more implementation of it."""

from __future__ import annotations

from algorithms._container_modules import metric_definitions as framework_metrics
from algorithms._container_modules import sys_path as container_path
from algorithms._contract import Algorithm, available, get, register
from algorithms._hyperparameters import HP
from algorithms._script import script_mode


def _make_xgboost() -> Algorithm:
    from algorithms import _xgboost

    return _xgboost.algorithm()


register("xgboost", _make_xgboost)

__all__ = ["HP", "Algorithm", "available", "container_path", "framework_metrics", "get", "register", "script_mode"]
