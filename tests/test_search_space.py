"""Tuning decisions without Ray: range validation, warm-start mapping, the ASHA budget,
completion criteria, concurrency accounting, and Bayesian vs random on a known function."""

from __future__ import annotations

import math

import pytest

from mlcore import parse_spec
from mlcore.errors import SpecError
from mlcore.records import TuningJobRecord
from mlcore.sagemaker import Estimator
from mlcore.sagemaker.tuner import (
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
)
from mlcore.services.tuning import _search_space
from mlcore.specs import CategoricalRange, CompletionCriteria, ContinuousRange, IntegerRange

XGB = {"num_round": 20, "objective": "binary:logistic", "eval_metric": "auc"}
INPUTS = {"train": "/data/train.csv", "validation": "/data/validation.csv"}


def _tuner(ranges, objective="validation:auc", **kw):
    est = Estimator(algorithm="xgboost", hyperparameters=XGB)
    return HyperparameterTuner(est, objective, ranges, max_jobs=4, **kw)


@pytest.mark.parametrize("ranges, objective, kw, path, words", [
    ({"eta": ContinuousParameter(0.5, 0.1)}, "validation:auc", {},
     "hyperparameter_ranges.eta", "min_value (0.5) is greater than max_value (0.1)"),
    ({"alpha": ContinuousParameter(0, 1, "Logarithmic")}, "validation:auc", {},
     "hyperparameter_ranges.alpha", "Logarithmic needs min_value > 0"),
    ({"max_depth": IntegerParameter(8, 2)}, "validation:auc", {},
     "hyperparameter_ranges.max_depth", "greater than max_value"),
    ({"etaa": ContinuousParameter(0.1, 0.3)}, "validation:auc", {},
     "hyperparameter_ranges.etaa", "unknown hyperparameter 'etaa' for xgboost (did you mean 'eta'?)"),
    ({"eta": ContinuousParameter(0.1, 2.0)}, "validation:auc", {},
     "hyperparameter_ranges.eta", "eta must be <= 1"),
    ({"eta": ContinuousParameter(0.1, 0.3)}, "validation:made_up", {},  # (validation:rmse is added to eval_metric)
     "objective_metric_name", "got 'validation:made_up'"),
    ({"eta": ContinuousParameter(0.1, 0.3)}, "validation:auc", {"strategy": "Grid"},
     "hyperparameter_ranges.eta", "Grid search needs Categorical or Integer ranges"),
    ({"eta": ContinuousParameter(0.1, 0.3)}, "validation:auc",
     {"strategy": "Hyperband", "early_stopping_type": "Auto"}, "early_stopping_type", "Hyperband stops"),
    ({"eta": ContinuousParameter(0.1, 0.3)}, "validation:auc", {"max_parallel_jobs": 9},
     "max_parallel_jobs", "more than max_jobs"),
    ({"max_depth": IntegerParameter(2, 9)}, "validation:auc", {"strategy": "Grid"},
     "max_jobs", "the grid has 8 combinations but max_jobs is 4"),
])
def test_bad_tuning_jobs_are_refused_before_any_trial(ranges, objective, kw, path, words):
    from mlcore.services.tuning import _run as _tuning

    before = len(TuningJobRecord.list())
    with pytest.raises(SpecError) as err:
        t = _tuner(ranges, objective, **kw)
        spec = t.spec.model_copy(deep=True)
        spec.estimator.inputs = parse_spec({"kind": "TrainingJob", "algorithm": "xgboost",
                                            "inputs": INPUTS}).inputs
        _tuning.prepare(spec, None, None)
    assert path in [p for p, _ in err.value.problems], err.value.problems
    assert words in str(err.value)
    assert len(TuningJobRecord.list()) == before  # no tuning job was created


def test_yaml_tuning_spec_names_the_field():
    with pytest.raises(SpecError) as err:
        parse_spec({"kind": "TuningJob", "estimator": {"algorithm": "xgboost", "max_rnu": 3},
                    "objective_metric_name": "validation:auc",
                    "hyperparameter_ranges": {"eta": {"type": "Continous", "min_value": 0.1, "max_value": 0.2}}})
    paths = [p for p, _ in err.value.problems]
    assert "estimator.max_rnu" in paths and "hyperparameter_ranges.eta" in paths, paths


def test_auto_scaling_and_distributions():
    assert ContinuousRange(min_value=1e-4, max_value=1).log()
    assert not ContinuousRange(min_value=0.1, max_value=1).log()
    assert not ContinuousRange(min_value=0, max_value=1000).log()  # log needs min > 0
    d = _search_space.optuna_distributions({
        "a": ContinuousRange(min_value=1e-4, max_value=1), "b": IntegerRange(min_value=1, max_value=5),
        "c": CategoricalRange(values=["x", "y"])})
    assert d["a"].log and (d["b"].low, d["b"].high) == (1, 5) and d["c"].choices == ("x", "y")
    points = _search_space.grid_points({"b": IntegerRange(min_value=1, max_value=3),
                                        "c": CategoricalRange(values=["x", "y"])})
    assert len(points) == 6 and {"b": 3, "c": "y"} in points


def test_parent_trials_fit_a_changed_space():
    trials = [
        _search_space.ParentTrial("p-1", {"eta": "0.1", "max_depth": "4", "gamma": "1"}, 0.91),
        _search_space.ParentTrial("p-2", {"eta": "0.6", "max_depth": "9", "gamma": "2"}, 0.93),
        _search_space.ParentTrial("p-3", {"eta": "0.2", "max_depth": "5", "gamma": "0"}, None),
        _search_space.ParentTrial("p-4", {"gamma": "3"}, 0.90),
    ]
    ranges = {"eta": ContinuousRange(min_value=0.05, max_value=0.5),   # re-ranged: 0.6 drops
              "max_depth": IntegerRange(min_value=2, max_value=8),     # 9 drops
              "subsample": ContinuousRange(min_value=0.5, max_value=1)}  # new; gamma removed
    kept, notes = _search_space.fit_parent_trials(trials, ranges)
    assert kept == [("p-1", {"eta": 0.1, "max_depth": 4}, 0.91)]
    text = "\n".join(notes)
    assert "no longer tuned, dropped from the parents' trials: gamma" in text
    assert "eta: 1 parent value(s) outside the new range" in text
    assert "max_depth: 1 parent value(s) outside the new range" in text
    assert "new hyperparameter(s) the parents never tried: subsample" in text
    assert "3 parent trial(s) unused" in text
    same, _ = _search_space.fit_parent_trials(trials[:2], {
        "eta": ContinuousRange(min_value=0.05, max_value=0.7), "max_depth": IntegerRange(min_value=2, max_value=9),
        "gamma": CategoricalRange(values=[1, 2])})
    assert [p for _, p, _ in same] == [{"eta": 0.1, "max_depth": 4, "gamma": 1},
                                       {"eta": 0.6, "max_depth": 9, "gamma": 2}]


def test_round_budget_and_completion_policy():
    assert _search_space.round_budget({"num_round": "90"}, {}) == (90, 10)
    assert _search_space.round_budget({}, {"epochs": IntegerRange(min_value=5, max_value=27)}) == (27, 3)
    assert _search_space.round_budget({}, {}) == (100, 11)
    target = _search_space.CompletionPolicy(CompletionCriteria(target_objective_metric_value=0.9), True)
    assert target.decide(0.5) is None and "reached the target 0.9" in target.decide(0.95)
    lower = _search_space.CompletionPolicy(CompletionCriteria(target_objective_metric_value=0.1), False)
    assert lower.decide(0.2) is None and lower.decide(0.05)
    stale = _search_space.CompletionPolicy(
        CompletionCriteria(max_number_of_training_jobs_not_improving=3), True)
    assert [stale.decide(v) for v in (0.5, 0.6, 0.55, 0.6, 0.59)][:4] == [None] * 4
    assert "3 training jobs in a row" in stale.decide(0.1)


def test_max_concurrency_counts_overlaps():
    assert _search_space.max_concurrency([(0, 2), (2, 4), (4, 6)]) == 1  # touching: no overlap
    assert _search_space.max_concurrency([(0, 3), (1, 4), (2, 5), (4.5, 6)]) == 3
    assert _search_space.max_concurrency([]) == 0


def _branin(x: float, y: float) -> float:
    """Branin on [-5, 10] x [0, 15]; minimum 0.397887 (three places)."""
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (y - b * x ** 2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def _trials_to_target(searcher, n: int, target: float) -> int:
    for i in range(1, n + 1):
        cfg = searcher.suggest(f"t{i}")
        value = _branin(cfg["x"], cfg["y"])
        searcher.on_trial_complete(f"t{i}", {"objective": value, "job_status": "Completed"})
        if value <= target:
            return i
    return n + 1


def test_bayesian_reaches_the_target_in_fewer_trials_than_random():
    """The searchers the tuning job builds (TPE as configured; Tune's random generator),
    driven on Branin with fixed seeds: trials until within 0.5 of the minimum."""
    from ray.tune.search import BasicVariantGenerator
    from ray.tune.search.optuna import OptunaSearch

    from mlcore.services.tuning import _run as _tuning

    spec = _tuner({"x": ContinuousParameter(-5, 10), "y": ContinuousParameter(0, 15)},
                  strategy="Bayesian", random_seed=0, objective_type="Minimize").spec
    spec = spec.model_copy(update={"max_jobs": 60, "name": "branin"})
    bayes, rand = [], []
    for seed in (0, 1, 2):
        spec.random_seed = seed
        opt = _tuning._searcher(spec, None, 1)
        assert isinstance(opt, OptunaSearch)
        bayes.append(_trials_to_target(opt, 60, 0.9))
        rand.append(_random_trials_to_target(BasicVariantGenerator, seed, 0.9))
    print("trials to target, bayesian:", bayes, "random:", rand)
    assert sorted(bayes)[1] < sorted(rand)[1], (bayes, rand)


def _random_trials_to_target(cls, seed: int, target: float, n: int = 60) -> int:
    from ray import tune
    from ray.tune.experiment import Experiment

    gen = cls(random_state=seed)
    gen.add_configurations([Experiment("branin", lambda c: None, num_samples=n,
                                       config={"x": tune.uniform(-5, 10), "y": tune.uniform(0, 15)})])
    for i in range(1, n + 1):
        cfg = gen.next_trial().config
        if _branin(cfg["x"], cfg["y"]) <= target:
            return i
    return n + 1


def test_a_trial_the_tuner_stopped_is_pruned_not_completed():
    """Tune hands the searcher a stopped trial's last (early-round) result; TPE must not take
    it for the configuration's final value."""
    from mlcore.services.tuning import _run as _tuning

    spec = _tuner({"eta": ContinuousParameter(0.05, 0.5)}).spec.model_copy(update={"name": "pruned"})
    opt = _tuning._searcher(spec, None, 1)
    opt.suggest("a")
    opt.on_trial_result("a", {"objective": 0.61, "training_iteration": 3})
    opt.on_trial_complete("a", {"objective": 0.61, "training_iteration": 3})  # stopped at round 3
    opt.suggest("b")
    opt.on_trial_complete("b", {"objective": 0.93, "training_iteration": 20, "job_status": "Completed"})
    trials = opt._ot_study.trials
    assert [t.state.name for t in trials] == ["PRUNED", "COMPLETE"]
    assert trials[0].intermediate_values == {3: 0.61} and trials[1].value == 0.93
