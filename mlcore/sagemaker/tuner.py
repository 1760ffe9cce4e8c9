"""``sagemaker.tuner``: ``HyperparameterTuner`` and its parameter ranges, with SageMaker v2's
names, on Ray Tune (Optuna for Bayesian search, SageMaker's median rule for early stopping)."""

from __future__ import annotations

import enum
import logging
import os

from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Status, TuningJobRecord
from mlcore.sagemaker import _args
from mlcore.sagemaker.analytics import HyperparameterTuningJobAnalytics
from mlcore.sagemaker.estimator import Estimator, _channels
from mlcore.services import Handle, tuning
from mlcore.specs import CompletionCriteria, TuningJob, WarmStartSpec, parse_spec

log = logging.getLogger("mlcore")


class ContinuousParameter:
    """A real-valued range; ``scaling_type``: Auto, Linear, Logarithmic."""

    def __init__(self, min_value: float, max_value: float, scaling_type: str = "Auto"):
        self.min_value, self.max_value, self.scaling_type = min_value, max_value, scaling_type

    def _spec(self) -> dict:
        return {"type": "Continuous", "min_value": self.min_value, "max_value": self.max_value,
                "scaling_type": self.scaling_type}


class IntegerParameter(ContinuousParameter):
    """An integer range, both ends included."""

    def _spec(self) -> dict:
        return {**super()._spec(), "type": "Integer"}


class CategoricalParameter:
    """One of ``values``."""

    def __init__(self, values):
        self.values = list(values) if isinstance(values, (list, tuple, set)) else [values]

    def _spec(self) -> dict:
        return {"type": "Categorical", "values": self.values}


class WarmStartTypes(enum.Enum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Start a tuning job from the evaluated trials of up to 5 earlier ones (``parents``)."""

    def __init__(self, warm_start_type: WarmStartTypes | str, parents):
        self.type = WarmStartTypes(warm_start_type.value if isinstance(warm_start_type, WarmStartTypes)
                                   else warm_start_type)
        self.parents = sorted(parents) if isinstance(parents, set) else list(parents)

    def _spec(self) -> WarmStartSpec:
        return WarmStartSpec(type=self.type.value, parents=self.parents)


class HyperparameterTuner:
    """Tunes ``estimator``'s hyperparameters over ``hyperparameter_ranges``.

    Every trial is a training job of the estimator (built-in or script mode, any
    instance_count), tracked as a child MLflow run of the tuning job's run.
    """

    def __init__(self, estimator: Estimator, objective_metric_name: str, hyperparameter_ranges: dict,
                 metric_definitions: list | None = None, strategy: str = "Bayesian",
                 objective_type: str = "Maximize", max_jobs: int | None = None,
                 max_parallel_jobs: int = 1, max_runtime_in_seconds: int | None = None,
                 tags: list | dict | None = None, base_tuning_job_name: str | None = None,
                 warm_start_config: WarmStartConfig | None = None, early_stopping_type: str = "Off",
                 random_seed: int | None = None, completion_criteria_config: dict | None = None,
                 **kwargs):
        _args.accept("HyperparameterTuner", kwargs, HyperparameterTuner.__init__)
        # A base is trimmed to fit the 32-character tuning job name, as v2's name_from_base.
        _args.name(base_tuning_job_name, "base_tuning_job_name", _args.TRAINING_JOB)
        self.estimator = estimator
        self.base_tuning_job_name = base_tuning_job_name
        est = estimator.spec.model_copy(deep=True)
        # Trials run in Ray Tune's trial folders: local paths are taken from here, as fit() does.
        est.resolve_paths(lambda p: p if p is None or "://" in p else os.path.abspath(os.path.expanduser(p)))
        if metric_definitions:
            est.metric_definitions = metric_definitions
        ranges = {}
        for name, r in (hyperparameter_ranges or {}).items():
            if not hasattr(r, "_spec"):
                raise SpecError(f"hyperparameter_ranges[{name!r}] must be a ContinuousParameter, "
                                f"IntegerParameter or CategoricalParameter; got {type(r).__name__}",
                                [(f"hyperparameter_ranges.{name}", "wrong type")])
            ranges[name] = r._spec()
        crit = completion_criteria_config
        if isinstance(crit, dict):
            crit = CompletionCriteria(**{_snake(k): v for k, v in crit.items()})
        self._spec: TuningJob = parse_spec({
            "kind": "TuningJob", "estimator": est.model_dump(by_alias=True),
            "objective_metric_name": objective_metric_name, "objective_type": objective_type,
            "hyperparameter_ranges": ranges,
            "max_jobs": max_jobs or 1, "max_parallel_jobs": max_parallel_jobs, "strategy": strategy,
            "early_stopping_type": early_stopping_type, "random_seed": random_seed,
            "max_runtime_in_seconds": max_runtime_in_seconds,
            "warm_start_config": warm_start_config._spec().model_dump() if warm_start_config else None,
            "completion_criteria_config": crit.model_dump() if crit else None,
            "tags": tags or {}})
        self.latest_tuning_job: Handle | None = None
        self._attached = False

    @classmethod
    def from_spec(cls, spec: TuningJob) -> HyperparameterTuner:
        tuner = cls.__new__(cls)
        tuner.estimator = Estimator.from_spec(spec.estimator)
        tuner.base_tuning_job_name = None
        tuner._spec = spec.model_copy(deep=True)
        tuner.latest_tuning_job = None
        tuner._attached = False
        return tuner

    @property
    def spec(self) -> TuningJob:
        return self._spec

    @classmethod
    def attach(cls, tuning_job_name: str, sagemaker_session=None) -> HyperparameterTuner:
        """The tuner of an existing tuning job: its results, or ``fit()`` to resume it."""
        _args.name(tuning_job_name, "tuning_job_name", _args.TUNING_JOB)
        rec = TuningJobRecord.load(tuning_job_name)
        tuner = cls.from_spec(TuningJob.model_validate(rec.Spec))
        tuner.latest_tuning_job = _handle(tuning_job_name)
        tuner._attached = True
        return tuner

    def fit(self, inputs=None, job_name: str | None = None, wait: bool = True, logs: bool = True,
            **kwargs):
        """Run the tuning job. On an attached, unfinished job (its driver died), resume it."""
        _args.accept("HyperparameterTuner.fit", kwargs, HyperparameterTuner.fit)
        _args.name(job_name, "job_name", _args.TUNING_JOB)
        spec = self._spec.model_copy(deep=True)
        if inputs is not None:
            spec.estimator.inputs = _channels(inputs)
        resume = self._attached and job_name is None  # attach(name).fit() resumes name
        name = self.latest_tuning_job.name if resume else job_name
        name = tuning.prepare(spec, name, self.base_tuning_job_name, resume=resume)
        self._attached = False
        handle = self.latest_tuning_job = _handle(name)
        if not wait:
            handle.start(lambda: tuning.execute(spec, name, resume=resume, logs=logs))
            return None
        rec = tuning.execute(spec, name, resume=resume, logs=logs)
        if rec.status == Status.FAILED:
            raise MLCoreError(f"tuning job {name} failed: {rec.FailureReason}", job_name=name)
        return None

    def wait(self) -> dict:
        return self._handle().wait()

    def _handle(self) -> Handle:
        if self.latest_tuning_job is None:
            raise MLCoreError("this tuner has not run a tuning job; call fit() first "
                              "(or HyperparameterTuner.attach(name))")
        return self.latest_tuning_job

    def describe(self) -> dict:
        return self._handle().describe()

    def best_training_job(self) -> str:
        rec = TuningJobRecord.load(self._handle().name)
        if not rec.BestTrainingJob:
            raise MLCoreError(f"tuning job {rec.name} is {rec.status} and has no "
                              f"best training job yet{': ' + rec.FailureReason if rec.FailureReason else ''}")
        return rec.BestTrainingJob["TrainingJobName"]

    def best_estimator(self, best_training_job=None) -> Estimator:
        return Estimator.attach(best_training_job or self.best_training_job())

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local", **kwargs):
        """Deploy the best training job's model."""
        return self.best_estimator().deploy(initial_instance_count, instance_type, **kwargs)

    def analytics(self) -> HyperparameterTuningJobAnalytics:
        return HyperparameterTuningJobAnalytics(self._handle().name)

    def stop(self) -> None:
        """Stop the tuning job: no new trials; running ones are stopped (StopHyperParameterTuningJob)."""
        self._handle().stop()

    stop_tuning_job = stop

    def transfer_learning_tuner(self, additional_parents=None, estimator: Estimator | None = None):
        return self._child(WarmStartTypes.TRANSFER_LEARNING, additional_parents, estimator)

    def identical_dataset_and_algorithm_tuner(self, additional_parents=None):
        return self._child(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, additional_parents, None)

    def _child(self, kind, additional_parents, estimator):
        parents = [self._handle().name, *sorted(additional_parents or [])]
        spec = self._spec.model_copy(deep=True)
        spec.name = None
        spec.warm_start_config = WarmStartSpec(type=kind.value, parents=parents)
        if estimator is not None:
            spec.estimator = estimator.spec.model_copy(deep=True)
        return HyperparameterTuner.from_spec(TuningJob.model_validate(spec.model_dump(by_alias=True)))


def _handle(name: str) -> Handle:
    return Handle(TuningJobRecord, name, stop=tuning.stop, describe=tuning.describe)


def _snake(key: str) -> str:
    """SageMaker's CompletionCriteria keys (TargetObjectiveMetricValue) or ours."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


__all__ = ["CategoricalParameter", "ContinuousParameter", "HyperparameterTuner",
           "HyperparameterTuningJobAnalytics", "IntegerParameter", "WarmStartConfig", "WarmStartTypes"]
