"""The hyperparameters every trial of a tuning job starts from, as SageMaker v2 builds them.

* A name both set on the estimator and given a range is tuned: the estimator's value is
  dropped (v2's ``HyperparameterTuner._prepare_static_hyperparameters``).
* SageMaker passes ``_tuning_objective_metric=<objective>`` to every trial of a built-in
  algorithm (its XGBoost adds the metric to eval_metric). It is passed where the algorithm's
  hyperparameter table declares it; script mode reports through metric_definitions instead.
"""

from __future__ import annotations

import logging

from mlcore.specs import TuningJob

log = logging.getLogger("mlcore")

TUNING_OBJECTIVE = "_tuning_objective_metric"  # SageMaker's reserved hyperparameter


def takes_objective(algo) -> bool:
    """Does ``algo`` (an ``algorithms.Algorithm``) accept ``_tuning_objective_metric``?"""
    return algo.hyperparameters is not None and TUNING_OBJECTIVE in algo.hyperparameters


def static_hyperparameters(spec: TuningJob, algo=None) -> dict:
    """The estimator's hyperparameters less the tuned ones, plus the objective for a
    built-in ``algo`` that takes it (SageMaker's StaticHyperParameters)."""
    out = {k: v for k, v in spec.estimator.hyperparameters.items() if k not in spec.hyperparameter_ranges}
    if algo is not None and takes_objective(algo):
        out[TUNING_OBJECTIVE] = spec.objective_metric_name
    return out


def trial_static(spec: dict) -> dict:
    """:func:`static_hyperparameters` of a recorded spec (``model_dump(mode="json")``); {}
    for a job claimed but not started yet."""
    if not spec:
        return {}
    import algorithms

    tuning = TuningJob.model_validate(spec)
    est = tuning.estimator
    return static_hyperparameters(tuning, None if est.entry_point else algorithms.get(est.algorithm))


def overridden(spec: TuningJob) -> list[str]:
    """Names the estimator sets and the tuning job tunes (their fixed values are not used)."""
    return sorted(set(spec.estimator.hyperparameters) & set(spec.hyperparameter_ranges))


def log_overrides(spec: TuningJob) -> None:
    names = overridden(spec)
    if names:
        fixed = ", ".join(f"{n}={spec.estimator.hyperparameters[n]}" for n in names)
        log.info("tuned hyperparameters override the estimator's fixed values (%s)", fixed)
