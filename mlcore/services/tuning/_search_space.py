"""Search-space decisions of a tuning job, as small pure functions tested without Ray.

* ranges -> Optuna distributions (Bayesian) or Ray Tune domains (Random, Hyperband, Grid);
* warm start: which of a parent's evaluated trials still fit a (possibly changed) space;
* early stopping: the round budget, the rounds a trial reports at, SageMaker's median rule;
* completion: when the job may end before max_jobs.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass

from mlcore.specs import CategoricalRange, CompletionCriteria, ContinuousRange, IntegerRange

# Round-budget hyperparameters, in the order they are looked for (SageMaker's names first).
ROUND_HYPERPARAMETERS = ("num_round", "epochs", "num_epochs", "max_steps", "steps", "iterations")


def optuna_distributions(ranges: dict) -> dict:
    """``{name: optuna distribution}`` for the Bayesian search."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out = {}
    for name, r in ranges.items():
        if isinstance(r, ContinuousRange):
            out[name] = FloatDistribution(r.min_value, r.max_value, log=r.log())
        elif isinstance(r, IntegerRange):
            out[name] = IntDistribution(r.min_value, r.max_value, log=r.log())
        else:
            out[name] = CategoricalDistribution(list(r.values))
    return out


def tune_domains(ranges: dict, grid: bool = False) -> dict:
    """Ray Tune's search space: random sampling, or every value for a grid."""
    from ray import tune

    out = {}
    for name, r in ranges.items():
        if grid:
            out[name] = tune.grid_search(grid_values(r))
        elif isinstance(r, ContinuousRange):
            out[name] = (tune.loguniform if r.log() else tune.uniform)(r.min_value, r.max_value)
        elif isinstance(r, IntegerRange):
            # Tune's randint excludes the upper bound; SageMaker's max_value is included.
            out[name] = (tune.lograndint if r.log() else tune.randint)(r.min_value, r.max_value + 1)
        else:
            out[name] = tune.choice(list(r.values))
    return out


def grid_values(r) -> list:
    if isinstance(r, IntegerRange):
        return list(range(r.min_value, r.max_value + 1))
    return list(r.values)


def grid_size(ranges: dict) -> int:
    return math.prod(len(grid_values(r)) for r in ranges.values())


def grid_points(ranges: dict) -> list[dict]:
    names = list(ranges)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(grid_values(ranges[n]) for n in names))]


@dataclass
class ParentTrial:
    """One evaluated trial of a parent tuning job."""

    job_name: str
    params: dict
    value: float | None  # None: the trial failed or never reported the objective


def fit_parent_trials(trials: list[ParentTrial], ranges: dict) -> tuple[list[tuple[str, dict, float]], list[str]]:
    """Map parents' trials onto the new search space.

    A hyperparameter the new job no longer tunes is dropped from the trial; a value outside
    the new range (or no longer among the categories) is dropped too; a trial left with no
    tuned hyperparameter, or without an objective value, is not used. Returns the trials kept
    as ``(job_name, params, value)`` and one note per kind of change, for the log.
    """
    kept, removed, out_of_range, unused = [], set(), {}, []
    for t in trials:
        if t.value is None or not math.isfinite(t.value):
            unused.append(t.job_name)
            continue
        params = {}
        for name, raw in t.params.items():
            if name not in ranges:
                removed.add(name)
                continue
            value = _fit(ranges[name], raw)
            if value is None:
                out_of_range[name] = out_of_range.get(name, 0) + 1
            else:
                params[name] = value
        if params:
            kept.append((t.job_name, params, t.value))
        else:
            unused.append(t.job_name)
    notes = []
    if removed:
        notes.append(f"no longer tuned, dropped from the parents' trials: {', '.join(sorted(removed))}")
    notes += [f"{n}: {c} parent value(s) outside the new range, dropped" for n, c in sorted(out_of_range.items())]
    added = sorted(set(ranges) - {n for t in trials for n in t.params})
    if added:
        notes.append(f"new hyperparameter(s) the parents never tried: {', '.join(added)} (the "
                     "sampler learns them from the new trials)")
    if unused:
        notes.append(f"{len(unused)} parent trial(s) unused (failed, no objective, or nothing left)")
    return kept, notes


def _fit(r, raw):
    """``raw`` (a parent's value, often a string) as a value of range ``r``, or None."""
    try:
        if isinstance(r, CategoricalRange):
            by_text = {str(v): v for v in r.values}
            return by_text.get(str(raw))
        value = float(raw)
        if isinstance(r, IntegerRange):
            if not value.is_integer():
                return None
            value = int(value)
        return value if r.min_value <= value <= r.max_value else None
    except (TypeError, ValueError):
        return None


def round_budget(fixed: dict, ranges: dict, default: int = 100) -> tuple[int, int]:
    """``(max_t, grace_period)`` for ASHA, in the rounds the objective is reported at.

    The budget is the estimator's round count (num_round, epochs, ... fixed or the top of its
    range); the first rung at about a ninth of it, so with ASHA's reduction factor 3 the rungs
    fall at 1/9, 1/3 and the whole budget.
    """
    for name in ROUND_HYPERPARAMETERS:
        if name in fixed:
            try:
                max_t = int(float(fixed[name]))
                break
            except (TypeError, ValueError):
                continue
        if name in ranges and not isinstance(ranges[name], CategoricalRange):
            max_t = int(ranges[name].max_value)
            break
    else:
        max_t = default
    max_t = max(1, max_t)
    return max_t, max(1, max_t // 9)


def decision_rounds(budget: int, hyperband_grace: int | None = None) -> list[int]:
    """The rounds at which early stopping may stop a trial, the same for every trial: a
    trial reports to Tune only there (and once at the end), since each report waits for
    Tune's controller. Before the last round: nothing is left to save there.

    Median rule (``hyperband_grace`` None): every tenth of the budget from the first tenth
    on; the first tenth is the grace period (an XGBoost job's loss at round 15 of 150 already
    ranks the configurations, and the rule compares the current value with running averages,
    which lag behind, so an early check stops only clearly poor trials). ASHA (Hyperband):
    its rungs, ``grace * 3**k``, whatever bracket a trial runs in.
    """
    if hyperband_grace is not None:
        rungs, r = [], max(1, hyperband_grace)
        while r < budget:
            rungs.append(r)
            r *= 3
        return rungs
    return sorted({max(1, round(budget * k / 10)) for k in range(1, 10)} - {budget})


class MedianRule:
    """SageMaker's Auto early stopping: a training job stops when its objective at a round is
    worse than the median of the running averages (mean over rounds 1..that round) that the
    other jobs had at the same round, once ``min_samples`` other jobs have reached it.

    Trials report at the same rounds (:func:`decision_rounds`), so rounds match exactly.
    """

    def __init__(self, maximize: bool, min_samples: int = 3):
        self.maximize, self.min_samples = maximize, min_samples
        self.means: dict[int, dict[str, float]] = {}  # round -> {trial: running average}

    def decide(self, trial: str, rnd: int, value: float, running_mean: float) -> tuple[bool, float | None, int]:
        """Record ``trial``'s running average at ``rnd``; return (stop?, the median it was
        compared with or None, how many other trials that median is over)."""
        others = [m for t, m in self.means.get(rnd, {}).items() if t != trial]
        if math.isfinite(running_mean):
            self.means.setdefault(rnd, {})[trial] = running_mean
        if len(others) < self.min_samples or not math.isfinite(value):
            return False, None, len(others)
        median = statistics.median(others)
        return (value < median if self.maximize else value > median), median, len(others)


class CompletionPolicy:
    """Ends a tuning job before max_jobs: a target objective reached, or no improvement in
    ``max_number_of_training_jobs_not_improving`` consecutive completed jobs."""

    def __init__(self, criteria: CompletionCriteria | None, maximize: bool):
        self.criteria = criteria or CompletionCriteria()
        self.maximize = maximize
        self.best: float | None = None
        self.not_improving = 0

    def better(self, a: float, b: float | None) -> bool:
        return b is None or (a > b if self.maximize else a < b)

    def decide(self, value: float) -> str | None:
        """Record one completed job's objective; return why the job should end, or None."""
        if self.better(value, self.best):
            self.best, self.not_improving = value, 0
        else:
            self.not_improving += 1
        target = self.criteria.target_objective_metric_value
        if target is not None and not self.better(target, value):
            return f"the objective reached the target {target} ({value:.6g})"
        limit = self.criteria.max_number_of_training_jobs_not_improving
        if limit is not None and self.not_improving >= limit:
            return f"{limit} training jobs in a row did not improve the best objective ({self.best:.6g})"
        return None


def max_concurrency(intervals: list[tuple[float, float]]) -> int:
    """The most intervals ``(start, end)`` open at one time (touching ends do not overlap)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = peak = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


def study_storage(uri: str):
    """The Optuna study of a Bayesian tuning job (SQLite; waits out another writer's lock)."""
    import optuna

    return optuna.storages.RDBStorage(uri, engine_kwargs={"connect_args": {"timeout": 30}})
