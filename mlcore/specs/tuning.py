"""The tuning job spec (SageMaker's CreateHyperParameterTuningJob), shared by YAML and Python.

Range checks that need no algorithm live here; the checks against the estimator (unknown
hyperparameters, values the algorithm refuses, an objective it never reports) are in
:func:`mlcore.services.tuning.check`, which runs before any trial starts.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlcore.specs._base import (
    ApprovalStatus,
    HyperparameterValue,
    ModelPackageGroupName,
    Spec,
    TuningJobName,
    shown,
    tag_dict,
)
from mlcore.specs.training import TrainingJob, training_problems


class _NumericRange(Spec):
    """What Continuous and Integer ranges share: bounds and the sampling scale."""

    min_value: float = Field(description="Lowest value tried.")
    max_value: float = Field(description="Highest value tried.")
    scaling_type: Literal["Auto", "Linear", "Logarithmic"] = Field(
        "Auto", description="How values are spread: Auto is Logarithmic when the range spans a "
        "factor of 100 or more and starts above 0, else Linear.")

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_value > self.max_value:
            raise ValueError(f"min_value ({self.min_value}) is greater than max_value "
                             f"({self.max_value}); swap them")
        if self.scaling_type == "Logarithmic" and self.min_value <= 0:
            raise ValueError(f"scaling_type Logarithmic needs min_value > 0; got {self.min_value}. "
                             "Raise min_value or use Linear")
        return self

    def log(self) -> bool:
        """Sample on a log scale?"""
        if self.scaling_type == "Auto":
            return self.min_value > 0 and self.max_value / self.min_value >= 100
        return self.scaling_type == "Logarithmic"


class ContinuousRange(_NumericRange):
    """A real-valued hyperparameter between min_value and max_value."""

    type: Literal["Continuous"] = Field("Continuous", description="Range kind.")


class IntegerRange(_NumericRange):
    """An integer hyperparameter between min_value and max_value (both included)."""

    type: Literal["Integer"] = Field("Integer", description="Range kind.")
    min_value: int = Field(description="Lowest value tried.")
    max_value: int = Field(description="Highest value tried.")


class CategoricalRange(Spec):
    """A hyperparameter taking one of a list of values."""

    type: Literal["Categorical"] = Field("Categorical", description="Range kind.")
    values: list[HyperparameterValue] = Field(min_length=1, description="The values tried.")

    @field_validator("values")
    @classmethod
    def _distinct(cls, v: list) -> list:
        if len({str(x) for x in v}) != len(v):
            raise ValueError(f"values must be distinct; got {shown(v)}")
        return v


ParameterRange = Annotated[ContinuousRange | IntegerRange | CategoricalRange,
                           Field(discriminator="type")]


class WarmStartSpec(Spec):
    """Seed the search with the evaluated trials of earlier tuning jobs."""

    type: Literal["IdenticalDataAndAlgorithm", "TransferLearning"] = Field(
        description="IdenticalDataAndAlgorithm: the parents trained the same algorithm on the "
        "same data; TransferLearning: data or algorithm may differ.")
    parents: list[TuningJobName] = Field(min_length=1, max_length=5,
                                         description="Names of the parent tuning jobs (at most 5).")


class CompletionCriteria(Spec):
    """When a tuning job may end before max_jobs (SageMaker's TuningJobCompletionCriteria)."""

    target_objective_metric_value: float | None = Field(
        None, description="Stop once a training job reaches this objective value.")
    max_number_of_training_jobs_not_improving: int | None = Field(
        None, ge=3, description="Stop after this many consecutive completed training jobs "
        "that did not improve the best objective.")


class TuningRegisterSpec(Spec):
    """Register the best training job's model after tuning."""

    model_package_group_name: ModelPackageGroupName | None = Field(
        None, description="Registered model name (alphanumerics and hyphens, <= 63); null "
        "uses the tuning job's name.")
    approval_status: ApprovalStatus = Field(
        "PendingManualApproval", description="Initial approval status of the new version.")


class TuningJob(Spec):
    """A hyperparameter tuning job: up to max_jobs training jobs of `estimator`."""

    KIND: ClassVar[str] = "TuningJob"
    kind: Literal["TuningJob"] = Field("TuningJob", description="Spec kind.")
    name: TuningJobName | None = Field(
        None, description="Tuning job name (SageMaker rules: alphanumerics and hyphens, <= 32); "
        "null generates one. Running a spec whose named job exists unfinished resumes it.")
    estimator: TrainingJob = Field(
        description="The training job each trial runs (a TrainingJob spec without kind); "
        "its hyperparameters are the fixed ones, except a name also in hyperparameter_ranges, "
        "which is tuned (its fixed value is dropped, as SageMaker does).")
    objective_metric_name: str = Field(
        description="Metric the search optimises, as the estimator reports it (validation:auc).")
    objective_type: Literal["Maximize", "Minimize"] = Field(
        "Maximize", description="Whether a larger or a smaller objective is better.")
    hyperparameter_ranges: dict[str, ParameterRange] = Field(
        min_length=1, description="Tuned hyperparameters: {name: {type: Continuous|Integer|"
        "Categorical, min_value, max_value, scaling_type} or {type: Categorical, values}}.")
    max_jobs: int = Field(10, ge=1, description="Training jobs to run in total.")
    max_parallel_jobs: int = Field(1, ge=1, description="Training jobs running at once, at most.")
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = Field(
        "Bayesian", description="Bayesian: Optuna's TPE; Random; Hyperband (its own early "
        "stopping); Grid (every combination of Categorical/Integer values).")
    early_stopping_type: Literal["Off", "Auto"] = Field(
        "Off", description="Auto stops a training job whose objective at a round is worse than "
        "the median of the other jobs' running averages up to that round (SageMaker's rule; "
        "checked at every tenth of the round budget, once 3 other jobs got there).")
    warm_start_config: WarmStartSpec | None = Field(
        None, description="Start from the trials of earlier tuning jobs.")
    random_seed: int | None = Field(None, description="Seed of the search; null is random.")
    max_runtime_in_seconds: int | None = Field(
        None, ge=1, description="Stop starting trials after this many seconds.")
    completion_criteria_config: CompletionCriteria | None = Field(
        None, description="End early on a target objective or on no improvement.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags of the tuning run.")
    registration: TuningRegisterSpec | None = Field(
        None, alias="register", description="Register the best model (default: registered "
        "as a new version of the group named after the tuning job, PendingManualApproval).")

    @field_validator("estimator", mode="before")
    @classmethod
    def _estimator_kind(cls, v: Any) -> Any:
        return {"kind": "TrainingJob", **v} if isinstance(v, dict) else v

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_list(cls, v: Any) -> Any:
        return tag_dict(v)

    def maximize(self) -> bool:
        return self.objective_type == "Maximize"

    @classmethod
    def cross_field_problems(cls, d: dict) -> list[tuple[str, str]]:
        return tuning_problems(d)

    def resolve_paths(self, resolve) -> None:
        self.estimator.resolve_paths(resolve)


def tuning_problems(d: dict) -> list[tuple[str, str]]:
    """Rules spanning several fields of a TuningJob, on dumped data or, after a field error,
    on the raw data (so any field may have any type here)."""
    estimator = _mapping(d.get("estimator"))
    out = [(f"estimator.{p}", m) for p, m in training_problems(estimator)]
    strategy, ranges = d.get("strategy"), _mapping(d.get("hyperparameter_ranges"))
    if strategy == "Hyperband" and d.get("early_stopping_type") == "Auto":
        out.append(("early_stopping_type", "Hyperband stops trials early itself; set "
                                           "early_stopping_type: Off"))
    if strategy == "Grid":
        bad = [n for n, r in ranges.items() if _mapping(r).get("type") == "Continuous"]
        if bad:
            out.append((f"hyperparameter_ranges.{bad[0]}", "Grid search needs Categorical or "
                        "Integer ranges (a continuous range has no grid); use Bayesian or Random"))
    if d.get("warm_start_config") and strategy not in ("Bayesian", None):
        out.append(("warm_start_config", f"warm start seeds the Bayesian search; strategy "
                                         f"{shown(strategy)} ignores earlier trials. Use Bayesian"))
    parallel, total = d.get("max_parallel_jobs", 1), d.get("max_jobs", 10)
    if isinstance(parallel, int) and isinstance(total, int) and parallel > total:
        out.append(("max_parallel_jobs", f"is {parallel}, more than max_jobs ({total}); lower it"))
    return out


def _mapping(v: Any) -> dict:
    return v if isinstance(v, dict) else {}
