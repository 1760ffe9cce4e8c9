"""The SageMaker containers' own Python modules that framework-mode scripts import, as small
re-implementations on mlcore: ``sagemaker_containers`` (the training toolkit of the XGBoost
container) and ``sagemaker_xgboost_container`` (``distributed.rabit_run``,
``data_utils.get_dmatrix``, ``encoder``).

On SageMaker they are installed in the framework's image, so AWS's XGBoost examples import
them unchanged (``from sagemaker_xgboost_container import distributed``). Here this folder
is put on ``sys.path`` only for a framework whose container has them (:func:`sys_path`), by
the script-mode workers and the endpoint replicas; nothing else sees the names.
"""

from __future__ import annotations

import os
import sys

PATH = os.path.dirname(os.path.abspath(__file__))
# The frameworks whose container ships these modules (their scripts import them).
_FRAMEWORKS = frozenset({"xgboost"})


def sys_path(framework: str | None) -> list[str]:
    """The folders to put on ``sys.path`` for a ``framework`` script (empty for others)."""
    return [PATH] if framework in _FRAMEWORKS else []


def activate(framework: str | None) -> None:
    """Make the container modules of ``framework`` importable in this process."""
    for path in sys_path(framework):
        if path not in sys.path:
            sys.path.append(path)  # after the script's own folder: its modules win


def metric_definitions(framework: str | None) -> list[dict]:
    """The metrics ``framework``'s image reports from a script's log when the job declares no
    metric_definitions: for XGBoost, SageMaker's built-in definitions (``train:rmse``,
    ``validation:auc``, ...) over xgb.train's evaluation lines, ``[3]<tab>train-rmse:1.2<tab>
    validation-rmse:1.3`` (CloudWatch shows the tab as ``#011``, which the regexes also take)."""
    if framework != "xgboost":
        return []
    from algorithms._xgboost import EVAL_METRICS

    number = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    return [{"Name": f"{channel}:{metric}",
             "Regex": rf".*\[[0-9]+\].*(?:#011|\s){channel}-{metric}:{number}.*"}
            for channel in ("train", "validation") for metric in EVAL_METRICS]


__all__ = ["PATH", "activate", "metric_definitions", "sys_path"]
