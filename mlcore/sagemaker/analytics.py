"""``sagemaker.analytics``: a tuning job's results and a training job's metric curves as pandas
DataFrames, with SageMaker v2's classes, methods and columns.

v2 reads ListTrainingJobsForHyperParameterTuningJob and CloudWatch; here the tuning job's
trial records and the training job's MLflow run (every value it logged) stand in for them.
"""

from __future__ import annotations

from datetime import datetime

from mlcore import _tracking
from mlcore.errors import MLCoreError
from mlcore.records import TrainingJobRecord
from mlcore.sagemaker import _args
from mlcore.services import tuning

# v2's columns after the tuned hyperparameters (TrainingJobDefinitionName: multi-algorithm
# tuning jobs only, which mlcore does not run).
COLUMNS = ("TrainingJobName", "TrainingJobStatus", "FinalObjectiveValue", "TrainingStartTime",
           "TrainingEndTime", "TrainingElapsedTimeSeconds")


class AnalyticsMetricsBase:
    """The cached DataFrame of v2's analytics classes."""

    def __init__(self):
        self._dataframe = None

    def dataframe(self, force_refresh: bool = False):
        if force_refresh:
            self.clear_cache()
        if self._dataframe is None:
            self._dataframe = self._fetch_dataframe()
        return self._dataframe

    def export_csv(self, filename: str) -> None:
        self.dataframe().to_csv(filename)

    def clear_cache(self) -> None:
        self._dataframe = None

    def _fetch_dataframe(self):
        raise NotImplementedError


class HyperparameterTuningJobAnalytics(AnalyticsMetricsBase):
    """``tuner.analytics()``: one row per training job of a tuning job."""

    def __init__(self, hyperparameter_tuning_job_name: str, sagemaker_session=None):
        self._name = _args.name(hyperparameter_tuning_job_name, "hyperparameter_tuning_job_name",
                                _args.TUNING_JOB)
        super().__init__()
        self.clear_cache()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<sagemaker.HyperparameterTuningJobAnalytics for {self.name}>"

    def clear_cache(self) -> None:
        super().clear_cache()
        self._description = self._summaries = None

    def description(self, force_refresh: bool = False) -> dict:
        """The DescribeHyperParameterTuningJob response."""
        if force_refresh:
            self.clear_cache()
        if self._description is None:
            self._description = tuning.describe(self.name)
        return self._description

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict]:
        """ListTrainingJobsForHyperParameterTuningJob's TrainingJobSummaries."""
        if force_refresh:
            self.clear_cache()
        if self._summaries is None:
            self._summaries = tuning.training_job_summaries(self.name)
        return self._summaries

    @property
    def tuning_ranges(self) -> dict:
        """``{name: range}`` of the tuned hyperparameters, as the description holds them."""
        ranges = self.description()["HyperParameterTuningJobConfig"]["ParameterRanges"]
        return {r["Name"]: r for kind in ranges.values() for r in kind}

    def _fetch_dataframe(self):
        """v2's columns: the tuned hyperparameters (as floats where they are numbers), then
        COLUMNS; and FailureReason, which v2 leaves to the training job's description."""
        import pandas as pd

        summaries = self.training_job_summaries()
        # the tuned names in the tuning job's order (TunedHyperParameters'), as v2's rows hold them
        tuned = list(dict.fromkeys([k for s in summaries for k in s["TunedHyperParameters"]]
                                   + list(self.tuning_ranges)))
        rows = [_row(s) for s in summaries]
        return pd.DataFrame(rows, columns=[*tuned, *COLUMNS, "FailureReason"])


def _row(summary: dict) -> dict:
    out = {}
    for k, v in summary["TunedHyperParameters"].items():
        try:
            v = float(v)  # as v2 does
        except (TypeError, ValueError):
            pass
        out[k] = v
    start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
    out.update(TrainingJobName=summary["TrainingJobName"], TrainingJobStatus=summary["TrainingJobStatus"],
               FinalObjectiveValue=summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
               TrainingStartTime=start, TrainingEndTime=end,
               TrainingElapsedTimeSeconds=(end - start).total_seconds() if start and end else None,
               FailureReason=summary.get("FailureReason"))
    return out


class TrainingJobAnalytics(AnalyticsMetricsBase):
    """A training job's metrics over time: columns timestamp (seconds since the metric's first
    value, as v2), metric_name, value.

    ``metric_names``: default every metric the job logged. ``start_time`` / ``end_time``
    (datetimes) keep the values logged between them. ``period`` (seconds): average the values
    over windows of that length, as CloudWatch's Average statistic does in v2; by default every
    logged value is kept (MLflow holds them all, so nothing needs averaging).
    """

    def __init__(self, training_job_name: str, metric_names: list[str] | None = None,
                 sagemaker_session=None, start_time: datetime | None = None,
                 end_time: datetime | None = None, period: int | None = None):
        self._name = _args.name(training_job_name, "training_job_name", _args.TRAINING_JOB)
        if not TrainingJobRecord.exists(self._name):
            raise MLCoreError(f"training job {self._name!r} does not exist; see mlcore jobs list",
                              job_name=self._name)
        self._start, self._end, self._period = start_time, end_time, period
        self._metric_names = list(metric_names) if metric_names else None
        super().__init__()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<sagemaker.TrainingJobAnalytics for {self.name}>"

    def _fetch_dataframe(self):
        import pandas as pd

        rows = []
        for metric, points in _history(self.name, self._metric_names).items():
            points = [(t, v) for t, v in points if self._inside(t)]
            if self._period:
                points = _averaged(points, self._period)
            if points:
                base = points[0][0]
                rows += [{"timestamp": t - base, "metric_name": metric, "value": v} for t, v in points]
        return pd.DataFrame(rows, columns=["timestamp", "metric_name", "value"])

    def _inside(self, t: float) -> bool:
        return ((self._start is None or t >= _epoch(self._start))
                and (self._end is None or t <= _epoch(self._end)))


def _history(job: str, names: list[str] | None) -> dict[str, list[tuple[float, float]]]:
    """``{metric: [(epoch seconds, value), ...]}`` from the job's MLflow run, in logged order;
    ``names`` None: every metric the run holds."""
    run_id = TrainingJobRecord.load(job).MlflowRunId
    if run_id is None:
        return {}
    client = _tracking.client()
    names = names or sorted(client.get_run(run_id).data.metrics)
    out = {}
    for key in names:
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.timestamp, m.step))
        out[key] = [(m.timestamp / 1000, m.value) for m in points]
    return out


def _epoch(d: datetime) -> float:
    return d.timestamp()  # a naive datetime is local time, as boto3's callers pass them


def _averaged(points: list[tuple[float, float]], period: float) -> list[tuple[float, float]]:
    """The mean of each ``period``-second window that holds values, at the window's start."""
    windows: dict[float, list[float]] = {}
    for t, v in points:
        windows.setdefault(t - t % period, []).append(v)
    return [(start, sum(vs) / len(vs)) for start, vs in sorted(windows.items())]


__all__ = ["HyperparameterTuningJobAnalytics", "TrainingJobAnalytics"]
