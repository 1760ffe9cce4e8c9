"""Early stopping under ``early_stopping_type: Auto``: SageMaker's median rule, driven the way
a trial drives it (the trial's reporter -> Tune -> the scheduler), with synthetic learning
curves and no Ray cluster. (A real tuning run with early stopping is in test_tuning.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlcore.services.tuning import _search_space
from mlcore.services.tuning._callbacks import MedianStopping
from mlcore.services.tuning._trial import OBJECTIVE, ROUND, RUNNING_MEAN, _Reporter

BUDGET = 20


def loss(q: float, t: int) -> float:
    """A loss curve (Minimize) that levels off at ``q``."""
    return q + 1.0 / t


def run_trial(monkeypatch, scheduler, name: str, q: float) -> list[dict]:
    """Feed one trial's curve, a round at a time, through its reporter to ``scheduler`` (a
    STOP ends the report with SystemExit, as Tune does); return what reached Tune."""
    from ray import tune

    seen, trial = [], SimpleNamespace(trial_id=name, custom_trial_name=name)

    def report(result):
        seen.append(result)
        if scheduler.on_trial_result(None, trial, result) == "STOP":
            raise SystemExit(0)

    monkeypatch.setattr(tune, "report", report)
    reporter = _Reporter("loss", name, _search_space.decision_rounds(BUDGET))
    for t in range(1, BUDGET + 1):
        reporter([("loss", loss(q, t), t), ("other", 0.0, t)])
        if reporter.stopped:
            break
    return seen


def test_decision_rounds_are_fixed_and_before_the_last_round():
    assert _search_space.decision_rounds(150) == [15, 30, 45, 60, 75, 90, 105, 120, 135]
    assert _search_space.decision_rounds(12) == [1, 2, 4, 5, 6, 7, 8, 10, 11]
    assert _search_space.decision_rounds(1) == []
    assert _search_space.decision_rounds(150, hyperband_grace=16) == [16, 48, 144]  # ASHA's rungs


def test_reporter_reports_running_averages_over_every_round_at_decision_rounds_only(monkeypatch):
    seen = run_trial(monkeypatch, MedianStopping(maximize=False, min_samples=3), "a", 0.5)
    assert [r[ROUND] for r in seen] == _search_space.decision_rounds(BUDGET)
    for r in seen:  # the average of every round's value up to the reported round
        t = r[ROUND]
        assert r[OBJECTIVE] == pytest.approx(loss(0.5, t))
        assert r[RUNNING_MEAN] == pytest.approx(sum(loss(0.5, i) for i in range(1, t + 1)) / t)


def test_worse_than_the_median_stops_before_the_last_round_better_does_not(monkeypatch):
    """Three trials set the medians; then a better trial, a much worse one, and one a little
    worse than the median level (its current value still beats the others' running averages,
    which lag behind their current values, so SageMaker's rule lets it run)."""
    rule = MedianStopping(maximize=False, min_samples=3)
    for name, q in (("a", 0.5), ("b", 0.6), ("c", 0.7)):  # fewer than 3 others: never stopped
        assert len(run_trial(monkeypatch, rule, name, q)) == 9, name
    rounds = {name: [r[ROUND] for r in run_trial(monkeypatch, rule, name, q)]
              for name, q in (("better", 0.3), ("worse", 1.5), ("near", 0.62))}
    last = _search_space.decision_rounds(BUDGET)[-1]
    assert rounds["better"][-1] == last and rounds["near"][-1] == last
    assert rounds["worse"] == [2]  # stopped at the first decision round, counted from its reports
    assert rule.rule.decide("later", 2, loss(1.5, 2), 99.0)[0] is True


def test_median_rule_for_a_maximized_objective_needs_min_samples():
    rule = _search_space.MedianRule(maximize=True, min_samples=2)
    assert rule.decide("a", 5, 0.1, 0.1) == (False, None, 0)
    assert rule.decide("b", 5, 0.9, 0.8) == (False, None, 1)
    stop, median, n = rule.decide("c", 5, 0.2, 0.2)
    assert (stop, median, n) == (True, pytest.approx(0.45), 2)
    assert rule.decide("d", 5, 0.5, 0.5)[0] is False  # median of 0.1, 0.8, 0.2 is 0.2
    assert rule.decide("e", 5, float("nan"), float("nan"))[0] is False  # no value: no decision


def test_the_sampler_and_the_stopping_rule_a_tuning_job_gets():
    """A small numeric Bayesian search without early stopping models the ranges with a
    Gaussian process; with early stopping (whose stopped trials the GP sampler would ignore)
    or a categorical range, TPE; Auto is the median rule, Hyperband ASHA at its rungs."""
    import optuna

    from mlcore.sagemaker import Estimator
    from mlcore.sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
    )
    from mlcore.services.tuning import _strategy

    def spec(ranges, **kw):
        est = Estimator(algorithm="xgboost", hyperparameters={"num_round": 150, "objective": "binary:logistic"})
        return HyperparameterTuner(est, "validation:logloss", ranges, objective_type="Minimize",
                                   max_jobs=12, max_parallel_jobs=2, **kw).spec

    numeric = {"eta": ContinuousParameter(0.005, 0.5, "Logarithmic")}
    assert isinstance(_strategy.sampler(spec(numeric)), optuna.samplers.GPSampler)
    auto = spec(numeric, early_stopping_type="Auto")
    assert isinstance(_strategy.sampler(auto), optuna.samplers.TPESampler)
    mixed = {**numeric, "booster": CategoricalParameter(["gbtree", "dart"])}
    assert isinstance(_strategy.sampler(spec(mixed)), optuna.samplers.TPESampler)
    static = {"num_round": 150}
    assert _strategy.early_stopping(auto, static) == ("median rule", [15, 30, 45, 60, 75, 90, 105, 120, 135])
    assert _strategy.early_stopping(spec(numeric, strategy="Hyperband"), static) == ("ASHA", [16, 48, 144])
    assert _strategy.early_stopping(spec(numeric), static) == (None, [])
