"""The algorithm contract: what every built-in algorithm (and script mode) provides to the
platform, as one typed, registered record of callables.

The training service reads nothing else of an algorithm: how to check its hyperparameters,
which Ray Train trainer runs which per-worker function, what metrics it reports, and how the
endpoints load and call the model it saved. ``tests/test_algorithm_conformance.py`` runs every
registered algorithm through the same checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from algorithms._hyperparameters import HP, validate
from mlcore._builtins import BUILTIN_ALGORITHMS
from mlcore.errors import AlgorithmError

CSV, PARQUET = "text/csv", "application/x-parquet"


@dataclass(frozen=True)
class Algorithm:
    name: str  # SageMaker's name (xgboost, linear-learner, ...) or script:<entry point>
    # SageMaker-named hyperparameters with types and ranges; None: free-form (script mode
    # hands them to the script as they are).
    hyperparameters: Mapping[str, HP] | None
    train_fn: Callable[[dict], None]          # runs in every Ray Train worker
    load_model: Callable[[str], Any]          # a local model folder -> the model
    # (model, features [n, d]) -> predictions [n, ...], or a structured array whose fields
    # are the keys of SageMaker's answer (score, predicted_label, closest_cluster, ...)
    predict: Callable[[Any, Any], Any]
    metric_names: Callable[[dict, Sequence[str]], list[str]]  # (hyperparameters, channels)
    default_objective: Callable[[dict], str]  # tuning's objective when none is given
    feature_count: Callable[[Any], int | None] = lambda model: None
    trainer: Literal["xgboost", "torch"] = "torch"
    mlflow_flavor: str = "pyfunc"             # how the model is logged to MLflow
    content_types: tuple[str, ...] = (CSV, PARQUET)
    channels: tuple[str, ...] = ("train", "validation")
    required_channels: tuple[str, ...] = ("train",)
    # Channels whose rows carry no label (K-Means, PCA, RCF's train): every CSV column is a
    # feature. The others' CSV rows start with the label.
    unlabelled: tuple[str, ...] = ()
    # Rules across hyperparameters, on converted values: [(name, message)].
    check: Callable[[dict], list[tuple[str, str]]] = lambda hp: []
    # Hyperparameters that train it in seconds on a small binary problem (the conformance
    # suite fits every registered algorithm with them).
    example_hyperparameters: Mapping[str, object] = field(default_factory=dict)

    def validate(self, hyperparameters: dict) -> dict:
        """Converted hyperparameters, or one AlgorithmError whose ``problems`` are
        ``(hyperparameter name, message)`` pairs."""
        if self.hyperparameters is None:
            return dict(hyperparameters)
        values = validate(self.name, self.hyperparameters, hyperparameters)
        problems = self.check(values)
        if problems:
            raise AlgorithmError(f"invalid hyperparameters for {self.name}:\n  - "
                                 + "\n  - ".join(m for _, m in problems), problems=problems)
        return values


_REGISTRY: dict[str, Callable[[], Algorithm]] = {}


def register(name: str, factory: Callable[[], Algorithm]) -> None:
    """Register a built-in under SageMaker's ``name``; ``factory`` builds it on first use (so
    importing ``algorithms`` does not import xgboost or torch)."""
    if name not in BUILTIN_ALGORITHMS:
        raise AlgorithmError(f"{name!r} is not one of SageMaker's built-in algorithm names "
                             f"({', '.join(BUILTIN_ALGORITHMS)})", algorithm=name)
    if name in _REGISTRY:
        raise AlgorithmError(f"algorithm {name!r} is registered already", algorithm=name)
    _REGISTRY[name] = factory


_built: dict[str, Algorithm] = {}


def get(name: str) -> Algorithm:
    """The built-in algorithm called ``name`` (SageMaker's name)."""
    if name not in _REGISTRY:
        raise AlgorithmError(
            f"built-in algorithm {name!r} is not implemented in this version; available: "
            f"{', '.join(available())}", algorithm=name)
    if name not in _built:
        algo = _REGISTRY[name]()
        if algo.name != name:
            raise AlgorithmError(f"the factory registered as {name!r} built {algo.name!r}")
        _built[name] = algo
    return _built[name]


def available() -> list[str]:
    """Names of the implemented built-ins."""
    return sorted(_REGISTRY)
