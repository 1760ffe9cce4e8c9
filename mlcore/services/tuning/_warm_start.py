"""Warm start: the parents' evaluated trials go into the new job's Optuna study before the
first trial, so TPE models the space from them (they also count as its startup trials).

Unlike SageMaker, the new job may tune other hyperparameters or other ranges than its
parents: what still fits is kept, what does not is dropped, and the notes say which.
"""

from __future__ import annotations

import logging

from mlcore.errors import SpecError
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord
from mlcore.services.tuning import _search_space
from mlcore.specs import TuningJob

log = logging.getLogger("mlcore")


def parent_trials(spec: TuningJob) -> list[_search_space.ParentTrial]:
    """The completed trials of every parent, with the hyperparameters each parent tuned."""
    ws = spec.warm_start_config
    out = []
    for name in ws.parents:
        try:
            parent = TuningJobRecord.load(name)
        except Exception:
            raise SpecError(f"warm_start_config.parents: no tuning job named {name!r}; list them "
                            "with `mlcore tuning-jobs list`", [("warm_start_config.parents", "unknown")]) from None
        pspec = TuningJob.model_validate(parent.Spec)
        _check_compatible(spec, pspec, name)
        tuned = set(pspec.hyperparameter_ranges)
        for job in parent.TrainingJobs:
            if not TrainingJobRecord.exists(job):
                continue
            rec = TrainingJobRecord.load(job)
            value = rec.FinalMetrics.get(spec.objective_metric_name) if rec.TrainingJobStatus == Status.COMPLETED else None
            params = {k: v for k, v in rec.HyperParameters.items() if k in tuned}
            out.append(_search_space.ParentTrial(job, params, value))
    return out


def _check_compatible(spec: TuningJob, parent: TuningJob, name: str) -> None:
    where = [("warm_start_config.parents", name)]
    if parent.objective_metric_name != spec.objective_metric_name:
        raise SpecError(f"warm_start_config: parent {name} optimised {parent.objective_metric_name!r}, "
                        f"this job optimises {spec.objective_metric_name!r}; their values do not "
                        "compare. Use parents with the same objective", where)
    if parent.objective_type != spec.objective_type:
        raise SpecError(f"warm_start_config: parent {name} was {parent.objective_type}, this job "
                        f"is {spec.objective_type}; use parents with the same objective_type", where)
    if spec.warm_start_config.type == "IdenticalDataAndAlgorithm":
        mine, theirs = spec.estimator, parent.estimator
        same_algo = (mine.algorithm, mine.entry_point) == (theirs.algorithm, theirs.entry_point)
        same_data = {k: c.uri for k, c in mine.inputs.items()} == {k: c.uri for k, c in theirs.inputs.items()}
        if not (same_algo and same_data):
            what = "algorithm" if not same_algo else "input data"
            raise SpecError(f"warm_start_config: parent {name} used other {what}; "
                            "IdenticalDataAndAlgorithm needs the same, so use type: "
                            "TransferLearning", where)


def seed(spec: TuningJob, study_uri: str) -> list[str]:
    """Add the parents' fitting trials to the study; return notes on what was changed."""
    import optuna

    trials = parent_trials(spec)
    kept, notes = _search_space.fit_parent_trials(trials, spec.hyperparameter_ranges)
    dists = _search_space.optuna_distributions(spec.hyperparameter_ranges)
    study = optuna.create_study(study_name=spec.name, storage=_search_space.study_storage(study_uri),
                                direction="maximize" if spec.maximize() else "minimize",
                                load_if_exists=True)
    for job, params, value in kept:
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: dists[k] for k in params}, value=value,
            user_attrs={"warm_start_parent_job": job}))
    notes.insert(0, f"warm start: {len(kept)} of {len(trials)} parent trial(s) from "
                    f"{', '.join(spec.warm_start_config.parents)} seed the search")
    for note in notes:
        log.info("tuning job %s: %s", spec.name, note)
    return notes
