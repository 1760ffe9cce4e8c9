"""Script mode on the algorithm contract: a user's training script is an algorithm whose
hyperparameters are free-form, whose metrics are its metric definitions, and whose model is
loaded and called through the script's own inference handlers."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from algorithms._contract import Algorithm
from mlcore.errors import AlgorithmError


def _load(entry_point: str, code_dir: str, framework: str | None, model_dir: str):
    from algorithms._script_model import ScriptModel

    return ScriptModel(entry_point, framework).load(code_dir, model_dir)


def _predict(model, X):
    return model.predict(None, X)


def _objective(names: list[str], entry_point: str, hp: dict) -> str:
    if not names:
        raise AlgorithmError(f"{entry_point} declares no metric_definitions, so a tuning job has "
                             "no objective to read; add [{Name, Regex}] for the metric to tune")
    return names[0]


def script_mode(entry_point: str, code_dir: str, metric_names: Sequence[str] = (),
                framework: str | None = None) -> Algorithm:
    """The algorithm of a training script ``entry_point`` (relative to ``code_dir``) that
    reports ``metric_names`` (its metric definitions, or what it logs itself); its model is
    served with ``framework``'s default inference handlers where the script has none."""
    from parallel import script_train_fn

    names = list(metric_names)
    return Algorithm(
        f"script:{entry_point}", None, script_train_fn, partial(_load, entry_point, code_dir, framework),
        _predict, lambda hp, channels: list(names), partial(_objective, names, entry_point),
        trainer="torch", mlflow_flavor="pyfunc", content_types=("*/*",), channels=(),
        required_channels=())
