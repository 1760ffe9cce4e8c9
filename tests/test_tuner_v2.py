"""SageMaker v2's tuning semantics: tuned names override the estimator's, every built-in trial
gets ``_tuning_objective_metric``, and what a trial would refuse is refused before the first
one starts. Only the last test needs Ray."""

from __future__ import annotations

import dataclasses

import pytest

import algorithms
from mlcore.errors import DataError, MLCoreError, SpecError
from mlcore.records import TrainingJobRecord, TuningJobRecord
from mlcore.sagemaker import Estimator
from mlcore.sagemaker.analytics import HyperparameterTuningJobAnalytics, TrainingJobAnalytics
from mlcore.sagemaker.estimator import _channels
from mlcore.sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from mlcore.services import _shapes
from mlcore.services.tuning import _run, _static

# As AWS's XGBoost direct-marketing tuning example: eta and max_depth set on the estimator
# and tuned; the objective validation:auc while eval_metric names only logloss.
XGB = {"num_round": 8, "objective": "binary:logistic", "eval_metric": "logloss", "eta": 0.2,
       "max_depth": 5, "seed": 1}
RANGES = {"eta": ContinuousParameter(0.1, 0.5), "max_depth": IntegerParameter(2, 4)}


def _inputs(data_dir) -> dict:
    return {"train": str(data_dir / "train.csv"), "validation": str(data_dir / "validation.csv")}


def _tuner(hp=None, ranges=None, objective="validation:auc", **kw) -> HyperparameterTuner:
    est = Estimator(algorithm="xgboost", hyperparameters=hp or XGB, **kw)
    return HyperparameterTuner(est, objective, ranges or RANGES, max_jobs=2, max_parallel_jobs=2,
                               random_seed=4)


def _spec(tuner, data_dir):
    """The tuner's spec with its inputs, as fit() builds it."""
    spec = tuner.spec.model_copy(deep=True)
    spec.estimator.inputs = _channels(_inputs(data_dir))
    return spec


def test_tuned_names_override_the_estimators_values(data_dir):
    spec = _spec(_tuner(), data_dir)  # accepted: no "also a fixed hyperparameter" refusal
    assert spec.estimator.hyperparameters["eta"] == 0.2  # the estimator keeps its value, as in v2
    static = _static.static_hyperparameters(spec, algorithms.get("xgboost"))
    assert "eta" not in static and "max_depth" not in static
    assert static["num_round"] == 8 and static["eval_metric"] == "logloss"
    trial = _run.trial_spec(spec, algorithms.get("xgboost"), {"eta": 0.3, "max_depth": 3})
    assert trial.hyperparameters["eta"] == 0.3 and trial.hyperparameters["max_depth"] == 3
    _run.check(spec)  # validation:auc passes: the objective reaches metric_names


def test_built_in_trials_get_the_tuning_objective_and_scripts_do_not():
    spec = _tuner().spec
    xgb = algorithms.get("xgboost")
    assert _static.static_hyperparameters(spec, xgb)[_static.TUNING_OBJECTIVE] == "validation:auc"
    script = algorithms.script_mode("train.py", "/tmp")
    assert _static.TUNING_OBJECTIVE not in _static.static_hyperparameters(spec, script)
    # A built-in whose table lacks it gets none (it would refuse the unknown name).
    bare = dataclasses.replace(xgb, hyperparameters={k: v for k, v in xgb.hyperparameters.items()
                                                     if k != _static.TUNING_OBJECTIVE})
    assert _static.TUNING_OBJECTIVE not in _static.static_hyperparameters(spec, bare)


def test_the_objective_check_asks_with_the_objective_passed(data_dir, monkeypatch):
    """The objective is checked against what the algorithm reports when the trial's
    _tuning_objective_metric is among its hyperparameters."""
    seen = []
    xgb = algorithms.get("xgboost")

    def metric_names(hp, channels):
        seen.append(hp.get(_static.TUNING_OBJECTIVE))
        return ["validation:logloss"] + (["validation:auc"] if _static.TUNING_OBJECTIVE in hp else [])

    monkeypatch.setattr(_run, "_algorithm", lambda est: dataclasses.replace(xgb, metric_names=metric_names))
    _run.check(_spec(_tuner(), data_dir))
    assert seen and set(seen) == {"validation:auc"}


@pytest.mark.parametrize("change, path, words", [
    (dict(ranges={"max_depth": IntegerParameter(-1, 4)}), "hyperparameter_ranges.max_depth",
     "max_depth must be >= 0"),
    (dict(objective="validation:made_up"), "objective_metric_name", "_tuning_objective_metric must be"),
    (dict(hp={**XGB, "objective": "reg:squarederror", "eval_metric": "rmse"}), "estimator.hyperparameters",
     "metric 'auc' needs a binary: or rank: objective"),
])
def test_what_every_trial_would_refuse_is_refused_before_any_job(data_dir, change, path, words):
    before = (len(TuningJobRecord.list()), len(TrainingJobRecord.list()))
    with pytest.raises(SpecError) as err:
        _run.prepare(_spec(_tuner(**change), data_dir), None, None)
    assert path in [p for p, _ in err.value.problems], err.value.problems
    assert words in str(err.value)
    assert (len(TuningJobRecord.list()), len(TrainingJobRecord.list())) == before


def test_unreadable_channels_are_refused_before_any_job(data_dir, tmp_path):
    before = len(TuningJobRecord.list())
    tuner = _tuner()
    with pytest.raises((SpecError, DataError)) as err:
        tuner.fit({"train": str(tmp_path / "missing.csv"), "validation": str(data_dir / "validation.csv")})
    assert "missing.csv" in str(err.value)
    assert len(TuningJobRecord.list()) == before and tuner.latest_tuning_job is None


def test_a_trial_the_cluster_cannot_hold_fails_the_job_before_its_first_trial(data_dir, monkeypatch):
    """The training service's capacity check, once, before Tune starts anything."""
    from mlcore import _session

    monkeypatch.setenv("MLCORE_STRICT_RESOURCES", "1")  # as on a cluster: never scaled down
    monkeypatch.setattr(_session, "ensure_ray", lambda *a, **k: None)
    monkeypatch.setattr(_session, "cluster_nodes", lambda: [{"CPU": 2.0, "memory": 8e9}])
    tuner = _tuner(instance_type="ml.m5.4xlarge", instance_count=3)
    with pytest.raises(MLCoreError) as err:
        tuner.fit(_inputs(data_dir), logs=False)
    assert "instance_type ml.m5.4xlarge x instance_count 3 needs" in str(err.value)
    d = tuner.describe()
    assert d["HyperParameterTuningJobStatus"] == "Failed" and d["TrainingJobs"] == []
    assert _shapes.shape_problems(d, "DescribeHyperParameterTuningJob") == []


def test_analytics_is_importable_from_tuner_and_refuses_unknown_jobs():
    from mlcore.sagemaker import tuner

    assert tuner.HyperparameterTuningJobAnalytics is HyperparameterTuningJobAnalytics
    with pytest.raises(MLCoreError, match="does not exist"):
        TrainingJobAnalytics("no-such-job-anywhere")


@pytest.mark.integration
def test_two_trial_xgboost_tuning_with_overridden_names(ray_session, data_dir):
    """AWS's example in small: eta and max_depth fixed and tuned, objective validation:auc
    while eval_metric names logloss; 2 trials."""
    tuner = _tuner()
    tuner.fit(_inputs(data_dir), logs=False)
    d = tuner.describe()
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    assert _shapes.shape_problems(d, "DescribeHyperParameterTuningJob") == []
    static = d["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["_tuning_objective_metric"] == "validation:auc" and "eta" not in static
    assert d["TrainingJobStatusCounters"]["Completed"] == 2

    analytics = tuner.analytics()
    df = analytics.dataframe()
    assert list(df.columns[:3]) == ["eta", "max_depth", "TrainingJobName"]
    assert df.eta.between(0.1, 0.5).all() and df.max_depth.between(2, 4).all()
    assert df.FinalObjectiveValue.notna().all() and (df.TrainingElapsedTimeSeconds > 0).all()
    assert analytics.description()["HyperParameterTuningJobName"] == tuner.latest_tuning_job.name
    assert len(analytics.training_job_summaries()) == 2

    for job in d["TrainingJobs"]:  # each trial trained with its own tuned values
        hp = TrainingJobRecord.load(job).HyperParameters
        row = df.set_index("TrainingJobName").loc[job]
        assert float(hp["eta"]) == pytest.approx(row.eta) and hp["_tuning_objective_metric"] == "validation:auc"
        described = tuner.best_estimator(job).latest_training_job.describe()
        assert _shapes.shape_problems(described, "DescribeTrainingJob") == []
        assert {m["MetricName"] for m in described["FinalMetricDataList"]} >= {"validation:auc", "validation:logloss"}

    curves = TrainingJobAnalytics(tuner.best_training_job(), metric_names=["validation:auc"]).dataframe()
    assert list(curves.columns) == ["timestamp", "metric_name", "value"]
    assert len(curves) == 8 and set(curves.metric_name) == {"validation:auc"}  # one value per round
    assert curves.value.iloc[-1] == pytest.approx(df.FinalObjectiveValue.max())
