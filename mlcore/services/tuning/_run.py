"""Running a tuning job on Ray Tune: each trial is a training job of the estimator.

spec -> checks (ranges against the algorithm, the objective it reports) -> tuning record and
MLflow parent run -> Ray Tune ``Tuner`` (OptunaSearch / random / grid; SageMaker's median
rule when early stopping, ASHA for Hyperband) whose trials run training jobs -> best job,
results table, plots, registered model -> record (Completed | Failed | Stopped).

A trial runs its training job from a Tune trial actor that holds no CPU (the job's workers
hold them); the actor is reused for the next trial. The job's metrics reach the trial
through the side channel every training job has; the trial passes the objective on to Tune
only at the decision rounds (where early stopping may stop it, the same for every trial)
and at the end, since each report waits for Tune's controller. When early stopping stops a
trial, its job is stopped before the actor takes the next trial (or goes), and ends Stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from pathlib import Path

import algorithms
from mlcore import _instances, _session, _storage, _tracking, constants
from mlcore.errors import AlgorithmError, MLCoreError, SpecError
from mlcore.records import Status, TrainingJobRecord, TuningJobRecord
from mlcore.services import training
from mlcore.services._lifecycle import claim_name, driver, finish
from mlcore.services.tuning import _results as _tuning_results
from mlcore.services.tuning import _search_space, _strategy, _warm_start
from mlcore.services.tuning._static import TUNING_OBJECTIVE, log_overrides, static_hyperparameters
from mlcore.services.tuning._trial import OBJECTIVE, TrialNamer, job_of, trainable, trial_job
from mlcore.specs import CategoricalRange, TuningJob, check_name

log = logging.getLogger("mlcore")

EXPERIMENT = "tune"  # Ray Tune's experiment folder under <output>/<tuning job>
STUDIES = "tuning-jobs"  # $MLCORE_HOME/<this>/<tuning job>/study.db: the Optuna studies
MAX_NAME = 32  # SageMaker's limit for tuning job names


# --- checks before any trial ------------------------------------------------------------
def check(spec: TuningJob) -> None:
    """Refuse, before any trial starts, what every trial would refuse: a range end the
    algorithm refuses, an objective it never reports (with ``_tuning_objective_metric``
    passed, as each trial gets it), and the estimator's own problems at the low end of
    every range (channels missing or unreadable, content types, output folders)."""
    size = _search_space.grid_size(spec.hyperparameter_ranges) if spec.strategy == "Grid" else 0
    if size > spec.max_jobs:
        raise SpecError(f"max_jobs: the grid has {size} combinations but max_jobs is "
                        f"{spec.max_jobs}; raise max_jobs or shrink the ranges",
                        [("max_jobs", "smaller than the grid")])
    algo = _estimator_errors(lambda: _algorithm(spec.estimator))
    static = static_hyperparameters(spec, algo)
    problems = _range_problems(algo, static, spec.hyperparameter_ranges)
    if problems:
        raise SpecError("\n".join([f"{len(problems)} problem(s) with the hyperparameter ranges:"]
                                  + [f"  - {p}: {m}" for p, m in problems]), problems)
    first = trial_spec(spec, algo, _corners(spec.hyperparameter_ranges)[0])
    job = _estimator_errors(lambda: training.check_job(first))
    _check_objective(spec, algo, static)
    _estimator_errors(lambda: (job.check_data(first), training.check_outputs(first)))


def trial_spec(spec: TuningJob, algo, point: dict, name: str = "trial-001"):
    """The training job a trial named ``name`` with ``point``'s tuned values runs (built as
    the trial builds it, checkpoint folder included, so the checks see the job that runs)."""
    est = spec.estimator.model_copy(update={"hyperparameters": static_hyperparameters(spec, algo)})
    return trial_job(est, name, point)


def _algorithm(est):
    """The estimator's algorithm, its hyperparameters not checked yet."""
    return algorithms.get(est.algorithm) if not est.entry_point else training.check_job(est).algorithm


def _estimator_errors(fn):
    """``fn()``, its SpecError's fields named as the tuning spec names them (estimator.*)."""
    try:
        return fn()
    except SpecError as e:
        lead = e.problems[0][0] if e.problems else ""
        raise SpecError(f"estimator.{e.message}" if lead and e.message.startswith(lead)
                        else f"estimator: {e.message}",
                        [(f"estimator.{path}", msg) for path, msg in e.problems]) from None


def _check_objective(spec: TuningJob, algo, static: dict) -> None:
    est = spec.estimator
    channels = list(est.inputs) or list(algo.required_channels)
    reported = set()
    for point in _corners(spec.hyperparameter_ranges):
        reported |= set(algo.metric_names({**static, **point}, channels))
    if est.entry_point and not reported:
        return  # the script logs its own metrics (context.log_metrics): nothing to check against
    if spec.objective_metric_name in reported:
        return
    if est.entry_point:
        msg = (f"{spec.objective_metric_name!r} is not among the estimator's metric_definitions "
               f"({', '.join(sorted(reported))}); add a definition for it or pick one of those")
    else:
        msg = (f"{algo.name} never reports {spec.objective_metric_name!r} with these inputs and "
               f"hyperparameters; it reports {', '.join(sorted(reported))}")
    raise SpecError(f"objective_metric_name: {msg}", [("objective_metric_name", "never reported")])


def check_capacity(spec: TuningJob) -> None:
    """The training service's capacity check of one trial, against the connected cluster."""
    _estimator_errors(lambda: training.check_capacity(spec.estimator))


def _corners(ranges: dict) -> list[dict]:
    """Every range at its low end, then each range's other values one at a time."""
    low = {n: (r.values[0] if isinstance(r, CategoricalRange) else r.min_value) for n, r in ranges.items()}
    points = [low]
    for n, r in ranges.items():
        others = r.values[1:] if isinstance(r, CategoricalRange) else [r.max_value]
        points += [{**low, n: v} for v in others]
    return points


def _range_problems(algo, fixed: dict, ranges: dict) -> list[tuple[str, str]]:
    problems = []
    for point in _corners(ranges):
        try:
            algo.validate({**fixed, **point})
        except AlgorithmError as e:
            for name, msg in e.fields.get("problems") or [(None, str(e))]:
                path = (f"hyperparameter_ranges.{name}" if name in ranges else
                        "objective_metric_name" if name == TUNING_OBJECTIVE else "estimator.hyperparameters")
                if (path, msg) not in problems:
                    problems.append((path, msg))
    return problems


def prepare(spec: TuningJob, name: str | None, base: str | None, resume: bool = False) -> str:
    """Check the spec and claim the tuning job's name (a new job), or check ``name`` can
    resume. Raises before anything runs; returns the name."""
    if resume:
        check_resumable(name)
        return name
    missing = [] if spec.estimator.entry_point else [c for c in ("train",) if c not in spec.estimator.inputs]
    if missing:
        raise SpecError("estimator.inputs: the training jobs need the channel train; pass "
                        "fit({'train': uri, 'validation': uri}) or estimator.inputs in the spec",
                        [("estimator.inputs", "missing train")])
    check(spec)
    log_overrides(spec)
    if name:
        check_name(name, "name", MAX_NAME)
        if not TuningJobRecord.claim(name):
            status = TuningJobRecord.load(name).HyperParameterTuningJobStatus
            hint = (f"resume it with `mlcore tune --resume {name}` / HyperparameterTuner.attach("
                    f"{name!r}).fit(), or choose another name" if status == Status.IN_PROGRESS else
                    f"choose another name (or warm-start from it: warm_start_config parents: [{name}])")
            raise SpecError(f"name: a tuning job named {name!r} exists ({status}); {hint}",
                            [("name", "duplicate")])
        return name
    return claim_name(TuningJobRecord, None, base or spec.estimator.algorithm or "tuning", MAX_NAME)


def check_resumable(name: str) -> None:
    rec = TuningJobRecord.load(name)
    status = rec.HyperParameterTuningJobStatus
    if status == Status.IN_PROGRESS and rec.driver_alive() and rec.DriverPid != os.getpid():
        raise MLCoreError(f"tuning job {name} is running (driver pid {rec.DriverPid}); wait for "
                          "it, or stop it with HyperparameterTuner.attach(name).stop()")
    if status == Status.COMPLETED:
        raise MLCoreError(f"tuning job {name} already completed (best: "
                          f"{(rec.BestTrainingJob or {}).get('TrainingJobName')}); to search on from "
                          f"its trials, start a new one with warm_start_config parents: [{name}]")




# --- the driver ---------------------------------------------------------------------------
def _searcher(spec: TuningJob, study_uri: str | None, parallel: int):
    if spec.strategy != "Bayesian":
        from ray.tune.search import BasicVariantGenerator

        # (Tune's max_concurrent_trials only caps a Searcher; this generator caps itself.)
        return BasicVariantGenerator(random_state=spec.random_seed, max_concurrent=parallel)
    from mlcore.services.tuning._callbacks import OptunaSearch

    return OptunaSearch(space=_search_space.optuna_distributions(spec.hyperparameter_ranges),
                        metric=OBJECTIVE, mode="max" if spec.maximize() else "min",
                        sampler=_strategy.sampler(spec), study_name=spec.name,
                        storage=_search_space.study_storage(study_uri) if study_uri else None)


def concurrency(spec: TuningJob) -> int:
    """max_parallel_jobs, lowered to what the cluster holds at once (a trial whose workers
    cannot be placed would wait and time out)."""
    # fitted as each trial's job will be (scaled to this machine on mlcore's local Ray)
    need = _instances.fitted_resources(spec.estimator.instance_type, spec.estimator.instance_count)
    total = {}
    for node in _session.cluster_nodes():
        for k, v in node.items():
            total[k] = total.get(k, 0) + v
    fits = min((int(total.get(k, 0) // (v * spec.estimator.instance_count))
                for k, v in need.items() if v), default=spec.max_parallel_jobs)
    n = max(1, min(spec.max_parallel_jobs, fits))
    if n < spec.max_parallel_jobs:
        log.warning("max_parallel_jobs=%d but the cluster holds %d such training jobs at once "
                    "(%s x %d each); running %d at a time", spec.max_parallel_jobs, fits,
                    spec.estimator.instance_type, spec.estimator.instance_count, n)
    return n


def run(spec: TuningJob, name: str, resume: bool = False, logs: bool = True) -> TuningJobRecord:
    """Run (or resume) the tuning job ``name``; return its final record."""
    spec = spec.model_copy(update={"name": name})
    output = spec.estimator.output_path or _session.default_output_path()
    folder = _storage.join(output, name)
    if resume:
        record = TuningJobRecord.load(name)
        record.update(**driver(), Resumes=record.Resumes + 1, StopRequested=False,
                      HyperParameterTuningJobStatus=Status.IN_PROGRESS, FailureReason=None)
    else:
        record = TuningJobRecord.load(name, liveness=False).update(
            Strategy=spec.strategy, OutputPath=folder, ExperimentPath=_storage.join(folder, EXPERIMENT),
            Spec=spec.model_dump(mode="json"), **driver())
    try:
        _session.ensure_ray(log_to_driver=False)
        check_capacity(spec)  # before the first trial: one that can never be placed fails at once
        static = static_hyperparameters(spec, _algorithm(spec.estimator))
        if resume and record.MlflowRunId:
            _tracking.reopen_run(record.MlflowRunId)
        if record.MlflowRunId is None:
            record.update(MlflowRunId=_tracking.start_run(
                name, {**static, **_range_params(spec)},
                {"mlcore.kind": "TuningJob", "mlcore.strategy": spec.strategy,
                 "mlcore.objective": spec.objective_metric_name, **spec.tags}))
        if spec.strategy == "Bayesian" and record.StudyUri is None:
            study_dir = Path(_storage.child(str(constants.home()), STUDIES, name))
            study_dir.mkdir(parents=True, exist_ok=True)
            record.update(StudyUri=f"sqlite:///{study_dir / 'study.db'}")
        with _tune_environment():
            _tuner(spec, static, record, resume, logs).fit()
        _close_leftovers(name)
        return _tuning_results.finish(spec, TuningJobRecord.load(name))
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt)
        reason = "stopped by the user" if stopped else (str(exc) if isinstance(exc, MLCoreError)
                                                        else f"{type(exc).__name__}: {exc}")
        log.error("tuning job %s %s: %s", name, "stopped" if stopped else "failed", reason)
        record = finish(TuningJobRecord.load(name), Status.STOPPED if stopped else Status.FAILED,
                        reason, HyperParameterTuningEndTime=time.time())
        if stopped:
            raise
        return record


def _close_leftovers(name: str) -> None:
    """Close training jobs a trial left InProgress: at the end of a run Ray Tune gives a
    stopping trial 10 s before it kills it, which can come before its job recorded the stop."""
    from mlcore.services.tuning._callbacks import close

    for job in TuningJobRecord.load(name).TrainingJobs:
        if TrainingJobRecord.exists(job) and TrainingJobRecord.load(job, liveness=False).TrainingJobStatus == Status.IN_PROGRESS:
            close(job, Status.STOPPED, "stopped by the tuner: the tuning job ended before this "
                  "training job finished stopping")


@contextlib.contextmanager
def _tune_environment():
    """Ray Tune's settings that only its environment sets, for one tuning job (Tune reads
    them when the run starts), then the caller's values back."""
    wanted = {
        "RAY_AIR_NEW_OUTPUT": "0",  # Tune's own tables: we print a line per trial
        # Tune's CSV / JSON / TensorBoard files per trial: the records and MLflow hold it all
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
        "TUNE_GLOBAL_CHECKPOINT_S": str(constants.get("MLCORE_TUNE_STATE_SAVE_S")),
    }
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update({k: v for k, v in wanted.items() if saved[k] is None})
    # Without those files Tune's result grid warns that it found no metrics for any trial.
    analysis = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = analysis.level
    analysis.setLevel(logging.ERROR)
    try:
        yield
    finally:
        analysis.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _range_params(spec: TuningJob) -> dict:
    return {f"range.{n}": (r.values if isinstance(r, CategoricalRange)
                           else f"[{r.min_value}, {r.max_value}] {r.scaling_type}")
            for n, r in spec.hyperparameter_ranges.items()}


def _tuner(spec: TuningJob, static: dict, record, resume: bool, logs: bool):
    from ray import tune

    from mlcore.services.tuning._callbacks import Recorder, Stopper

    estimator = spec.estimator.model_copy(update={"hyperparameters": static})
    rule, rounds = _strategy.early_stopping(spec, static)
    context = {"tuning": record.name, "estimator": estimator.model_dump(mode="json", by_alias=True),
               "objective": spec.objective_metric_name, "parent_run_id": record.MlflowRunId,
               "session": _session.environment(), "early_stopping": rule,
               "decision_rounds": rounds}
    # The trial holds no CPU: its training job's Ray Train workers do (Tune refuses an empty
    # resource request, hence one byte of memory).
    wrapped = tune.with_resources(tune.with_parameters(trainable(), context=context), {"memory": 1})
    grid = spec.strategy == "Grid"
    param_space = _search_space.tune_domains(spec.hyperparameter_ranges, grid=grid) if spec.strategy != "Bayesian" else {}
    storage_fs, storage_path = _storage.pyarrow_filesystem(record.OutputPath)
    if resume and tune.Tuner.can_restore(record.ExperimentPath, storage_filesystem=storage_fs):
        log.info("tuning job %s: resuming from %s", record.name, record.ExperimentPath)
        return tune.Tuner.restore(f"{storage_path.rstrip('/')}/{EXPERIMENT}", wrapped,
                                  resume_unfinished=True, resume_errored=False,
                                  param_space=param_space or None, storage_filesystem=storage_fs)
    if spec.warm_start_config and not record.WarmStartNotes:
        record.update(WarmStartNotes=_warm_start.seed(spec, record.StudyUri))
    parallel = concurrency(spec)
    searcher = _searcher(spec, record.StudyUri, parallel)
    samples = 1 if grid else spec.max_jobs
    return tune.Tuner(
        wrapped, param_space=param_space,
        tune_config=tune.TuneConfig(
            # metric and mode are set on the searcher and the scheduler themselves
            search_alg=searcher, scheduler=_strategy.scheduler(spec, static),
            num_samples=samples, max_concurrent_trials=parallel if spec.strategy == "Bayesian" else None,
            time_budget_s=spec.max_runtime_in_seconds, reuse_actors=True,
            trial_name_creator=TrialNamer(record.name, len(record.TrainingJobs)),
            trial_dirname_creator=job_of),
        run_config=tune.RunConfig(
            name=EXPERIMENT, storage_path=storage_path, storage_filesystem=storage_fs,
            stop=Stopper(record.name, spec.completion_criteria_config, spec.maximize()),
            callbacks=[Recorder(record.name, spec.objective_metric_name, spec.max_jobs, logs, rule)],
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            verbose=0, log_to_file=True))


def say(msg: str, logs: bool = True) -> None:
    if logs:
        print(msg, file=sys.stderr, flush=True)


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
