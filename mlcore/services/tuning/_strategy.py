"""How a tuning job searches and what stops its trials early: the Optuna sampler of a
Bayesian search, and the early stopping rule with the rounds trials report at."""

from __future__ import annotations

import logging

from mlcore.services.tuning import _search_space
from mlcore.services.tuning._trial import OBJECTIVE, ROUND
from mlcore.specs import CategoricalRange, TuningJob

GP_MAX_JOBS = 100  # a Gaussian process refits on every trial (cubic in trials): TPE beyond


def sampler(spec: TuningJob):
    """Optuna's Gaussian-process sampler for a small budget over numeric ranges without early
    stopping (it models how the ranges interact from a few trials, where TPE's densities
    have one or two points), TPE otherwise: categorical ranges, large budgets, and early
    stopping, whose stopped trials TPE learns from (PRUNED, ranked by their intermediate
    values) while the GP sampler ignores them and would propose them again. Both see the
    running trials (the GP as such, TPE through constant_liar), so parallel trials differ."""
    import warnings

    import optuna

    # n_startup_trials: random trials before the model is used (Optuna's default is 10,
    # most of a 12-job budget); warm-start trials count towards it.
    startup = max(2, min(10, spec.max_jobs // 5))
    numeric = not any(isinstance(r, CategoricalRange) for r in spec.hyperparameter_ranges.values())
    if numeric and spec.max_jobs <= GP_MAX_JOBS and spec.early_stopping_type == "Off":
        # Its once-per-process note that the optional greenlet package would speed it up.
        logging.getLogger("optuna._gp.batched_lbfgsb").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # A built-in algorithm is seeded (the same values train the same model): the GP
            # may then fit the observed values exactly; a script's objective may be noisy.
            return optuna.samplers.GPSampler(seed=spec.random_seed, n_startup_trials=startup,
                                             deterministic_objective=not spec.estimator.entry_point)
    return optuna.samplers.TPESampler(seed=spec.random_seed, n_startup_trials=startup,
                                      constant_liar=spec.max_parallel_jobs > 1)


# The median rule decides at a round once 3 other jobs reached it (SageMaker does not say how
# many; fewer makes the median of 1-2 early jobs the bar, more lets most of a 12-job budget
# run unchecked).
MIN_SAMPLES = 3


def early_stopping(spec: TuningJob, static: dict) -> tuple[str | None, list[int]]:
    """(the early stopping rule, the rounds a trial reports at before its last): the median
    rule for ``early_stopping_type: Auto``, ASHA's rungs for Hyperband, none when it is off."""
    if spec.early_stopping_type == "Off" and spec.strategy != "Hyperband":
        return None, []
    budget, grace = _search_space.round_budget(static, spec.hyperparameter_ranges)
    if spec.strategy == "Hyperband":
        return "ASHA", _search_space.decision_rounds(budget, grace)
    return "median rule", _search_space.decision_rounds(budget)


def scheduler(spec: TuningJob, static: dict):
    rule, _ = early_stopping(spec, static)
    if rule is None:
        return None
    if rule == "median rule":
        from mlcore.services.tuning._callbacks import MedianStopping

        return MedianStopping(spec.maximize(), MIN_SAMPLES)
    from ray.tune.schedulers import ASHAScheduler

    budget, grace = _search_space.round_budget(static, spec.hyperparameter_ranges)
    # max_t one past the budget: ASHA stops a trial that reaches max_t, and a trial reporting
    # its last round must be let finish (commit its model), not cut off.
    return ASHAScheduler(time_attr=ROUND, metric=OBJECTIVE, mode="max" if spec.maximize() else "min",
                         max_t=budget + 1, grace_period=grace, reduction_factor=3, brackets=3)
