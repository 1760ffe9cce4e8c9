"""Built-in algorithms, one module each, registered by their SageMaker names.

Each entry says how to validate hyperparameters, which Ray Train trainer runs it, the
per-worker training function, and how to load and call the saved model.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from mlcore.errors import AlgorithmError


@dataclass(frozen=True)
class Algorithm:
    name: str
    trainer: str          # which Ray Train trainer runs train_fn ("xgboost", "torch")
    mlflow_flavor: str    # MLflow flavour the model is registered with
    module: ModuleType    # train_fn, load_model, predict, metric_names, feature_count
    channels: tuple[str, ...] = ("train", "validation")
    required_channels: tuple[str, ...] = ("train",)


def _make_xgboost() -> Algorithm:
    from algorithms import _xgboost

    return Algorithm("xgboost", "xgboost", "xgboost", _xgboost)


_REGISTRY = {"xgboost": _make_xgboost}


def get(name: str) -> Algorithm:
    """The built-in algorithm called ``name`` (SageMaker's name)."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise AlgorithmError(
            f"built-in algorithm {name!r} is not implemented in this version; available: "
            f"{', '.join(_REGISTRY)}", algorithm=name) from None


def available() -> list[str]:
    return sorted(_REGISTRY)


__all__ = ["Algorithm", "available", "get"]
