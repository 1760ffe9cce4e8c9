"""What each ``mlcore`` subcommand does."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

from mlcore import _jobs, _registry, _session
from mlcore._endpoint_spec import Endpoint
from mlcore._specs import SPEC_KINDS, TrainingJob
from mlcore._tuning_spec import TuningJob
from mlcore._yaml import load_file
from mlcore.errors import MLCoreError, SpecError


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def validate(files: list[str]) -> int:
    bad = 0
    for f in files:
        try:
            spec = load_file(f)
            if isinstance(spec, TrainingJob):
                _check_runnable(spec)
            if isinstance(spec, TuningJob):
                from mlcore.sagemaker import _tuning

                _tuning.check(spec)
            if isinstance(spec, Endpoint):  # every model resolves (and is approved)
                from mlcore.sagemaker import _deploy

                for v in spec.variants:
                    _deploy.resolve(v.model, spec.allow_unapproved)
            _say(f"{f}: valid {spec.kind}")
        except MLCoreError as e:
            bad += 1
            print(f"{f}: {e}", file=sys.stderr)
    return 2 if bad else 0


def _check_runnable(spec: TrainingJob) -> None:
    """What `run` would reject before training: the algorithm, its hyperparameters, files."""
    import os

    import algorithms

    if spec.algorithm:
        algorithms.get(spec.algorithm).module.validate_hyperparameters(spec.hyperparameters)
    else:
        from mlcore.sagemaker import _script_mode

        _script_mode.prepare(spec)  # the script exists; the distribution is runnable
    sample = spec.deploy.sample_input if spec.deploy else None
    if sample and "://" not in sample and not os.path.isfile(sample):
        raise SpecError(f"deploy.sample_input: {sample} does not exist; point it at a CSV of "
                        "feature rows", [("deploy.sample_input", "not found")])


def schema(kind: str) -> dict:
    if kind not in SPEC_KINDS:
        raise SpecError(f"no spec kind {kind!r}; choose one of {', '.join(SPEC_KINDS)}", [("kind", "unknown")])
    return SPEC_KINDS[kind].model_json_schema()


def run(path: str, job_name: str | None, quiet: bool = False) -> int:
    spec = load_file(path)
    if isinstance(spec, TuningJob):
        return _run_tuning(spec, job_name, None, quiet)
    if isinstance(spec, TrainingJob):
        return _run_training(spec, job_name, quiet)
    if isinstance(spec, Endpoint):
        return deploy(spec)
    import subprocess  # a Benchmark: its script with its params

    return subprocess.call([sys.executable, spec.script, "--config", json.dumps(spec.params)])


def _run_training(spec: TrainingJob, job_name: str | None, quiet: bool) -> int:
    from mlcore.sagemaker import Estimator

    _check_runnable(spec)
    est = Estimator.from_spec(spec)
    t0 = time.time()
    try:
        est.fit(logs=not quiet, job_name=job_name or spec.name)
    finally:
        if est.latest_training_job is not None and _jobs.exists(est.latest_training_job.name):
            rec = _jobs.load(est.latest_training_job.name)
            _say(f"\ntraining job {rec.TrainingJobName}: {rec.TrainingJobStatus} in {time.time() - t0:.1f}s")
            if rec.FailureReason:
                _say(f"  FailureReason: {rec.FailureReason}")
    rec = _jobs.load(est.latest_training_job.name)
    for k, v in sorted(rec.FinalMetrics.items()):
        _say(f"  {k} = {v:.6g}")
    _say(f"  model artifact: {rec.ModelArtifacts}")
    if spec.registration:
        pkg = est.register(model_package_group_name=spec.registration.model_package_group_name,
                           approval_status=spec.registration.approval_status,
                           description=spec.registration.description)
        _say(f"registered {pkg.model_package_group_name} version {pkg.version} "
             f"({pkg.approval_status}): {pkg.model_uri}")
    if spec.deploy:
        _deploy_and_predict(est, spec)
    _say("\nnext:")
    _say(f"  mlcore jobs describe {rec.TrainingJobName}")
    _say(f"  mlflow ui --backend-store-uri {_session.redact(_session.tracking_uri())}")
    if spec.registration:
        _say(f"  mlcore models list {spec.registration.model_package_group_name}")
    return 0


def tune(path: str | None, job_name: str | None, resume: str | None, quiet: bool = False) -> int:
    if resume:
        from mlcore import _tuning_record

        spec = TuningJob.model_validate(_tuning_record.load(resume).Spec)
        return _run_tuning(spec, resume, resume, quiet)
    spec = load_file(path)
    if not isinstance(spec, TuningJob):
        raise SpecError(f"{path} is a {spec.kind} spec; mlcore tune runs kind: TuningJob "
                        "(use mlcore run for other kinds)", [("kind", "not TuningJob")])
    return _run_tuning(spec, job_name, None, quiet)


def _run_tuning(spec: TuningJob, job_name: str | None, resume: str | None, quiet: bool) -> int:
    from mlcore import _tuning_record
    from mlcore.sagemaker import _tuning

    name = resume or job_name or spec.name
    if not resume and name and _tuning_record.exists(name):
        rec = _tuning_record.load(name)
        if rec.HyperParameterTuningJobStatus == "InProgress" and not rec.driver_alive():
            _say(f"tuning job {name} exists and its driver (pid {rec.DriverPid}) is gone: resuming it")
            resume = name
    t0 = time.time()
    name = _tuning.prepare(spec, name, None, resume=bool(resume))
    _say(f"tuning job {name}: {spec.strategy} search, {spec.max_jobs} training jobs, "
         f"{spec.max_parallel_jobs} at a time, {spec.objective_type} {spec.objective_metric_name}")
    rec = _tuning.run(spec, name, resume=bool(resume), logs=not quiet)
    _say(f"\ntuning job {name}: {rec.HyperParameterTuningJobStatus} in {time.time() - t0:.1f}s "
         f"({', '.join(f'{v} {k}' for k, v in sorted(rec.TrainingJobStatusCounters.items()))})")
    if rec.FailureReason:
        _say(f"  FailureReason: {rec.FailureReason}")
    if rec.CompletionReason:
        _say(f"  ended early: {rec.CompletionReason}")
    if rec.BestTrainingJob:
        b = rec.BestTrainingJob
        _say(f"  best: {b['TrainingJobName']} {spec.objective_metric_name}={b['FinalObjectiveValue']:.6g} "
             f"with {json.dumps(b['TunedHyperParameters'])}")
    if rec.RegisteredModel:
        m = rec.RegisteredModel
        _say(f"  registered {m['ModelPackageGroupName']} version {m['Version']} ({m['ApprovalStatus']})")
    for label, uri in sorted(rec.Artifacts.items()):
        _say(f"  {label}: {uri}")
    _say("\nnext:")
    _say(f"  mlcore tuning-jobs results {name}")
    _say(f"  mlflow ui --backend-store-uri {_session.redact(_session.tracking_uri())}")
    return 0 if rec.HyperParameterTuningJobStatus != "Failed" else 1


def tuning_jobs(action: str, name: str | None) -> int:
    from mlcore import _tuning_record

    if action == "list":
        recs = _tuning_record.list_records()
        if not recs:
            _say("no tuning jobs yet")
        for r in recs:
            best = (r.BestTrainingJob or {}).get("FinalObjectiveValue")
            _say(f"{r.name:34} {r.HyperParameterTuningJobStatus:11} {len(r.TrainingJobs):>4} jobs  "
                 f"best {best if best is not None else '-'}")
        return 0
    if action == "stop":
        _tuning_record.request_stop(name)
        _say(f"asked tuning job {name} to stop")
        return 0
    if action == "results":
        from mlcore.sagemaker.tuner import HyperparameterTuningJobAnalytics

        df = HyperparameterTuningJobAnalytics(name).dataframe()
        _say(df.drop(columns=["FailureReason"]).to_string(index=False))
        return 0
    rec = asdict(_tuning_record.load(name))
    rec.pop("Spec", None)
    _say(json.dumps(rec, indent=2, default=str))
    return 0


def deploy(spec: Endpoint | str, serve_seconds: float | None = None) -> int:
    """Deploy an Endpoint spec. On an embedded (local) Ray the endpoint lives as long as this
    process, so it keeps serving until Ctrl-C; with RAY_ADDRESS it stays on the cluster."""
    import os

    from mlcore import constants
    from mlcore.sagemaker import _deploy

    spec = load_file(spec) if isinstance(spec, str) else spec
    if not isinstance(spec, Endpoint):
        raise SpecError(f"mlcore deploy takes an Endpoint spec; this one is a {spec.kind}",
                        [("kind", "not Endpoint")])
    d = _deploy.deploy(spec)
    _say(f"endpoint {d['EndpointName']} {d['EndpointStatus']}: POST {d['Url']}/invocations")
    for v in d["ProductionVariants"]:
        m = v["Model"]
        model = (m.get("ModelPackageArn") or m.get("TrainingJobName") or m.get("ModelDataPrefix")
                 or " -> ".join(s.get("ModelPackageArn") or s.get("TrainingJobName", "?")
                                for s in m.get("Pipeline", [])))
        _say(f"  variant {v['VariantName']}: {model}, weight {v['DesiredWeight']}, "
             f"{v['CurrentInstanceCount']} replica(s) running")
    if constants.get("RAY_ADDRESS") and serve_seconds is None:
        return 0
    _say("serving from this process (embedded Ray); Ctrl-C stops the endpoint")
    seconds = serve_seconds if serve_seconds is not None else float(os.environ.get(
        "MLCORE_DEPLOY_SERVE_S", "inf"))
    end = time.monotonic() + seconds
    try:
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 3600))  # time.sleep(inf) overflows
    except KeyboardInterrupt:
        pass
    _deploy.delete(spec.endpoint_name)
    _say(f"endpoint {spec.endpoint_name} deleted")
    return 0


def endpoints(action: str, name: str | None, weights: list[str] | None = None) -> int:
    from mlcore.sagemaker import _deploy

    if action == "list":
        rows = _deploy.list_endpoints()
        if not rows:
            _say("no endpoints")
        for d in rows:
            variants = ", ".join(f"{v['VariantName']}({v['CurrentInstanceCount']})"
                                 for v in d["ProductionVariants"])
            _say(f"{d['EndpointName']:32} {d['EndpointStatus']:12} {variants}")
        return 0
    if action == "delete":
        _deploy.delete(name)
        _say(f"endpoint {name} deleted")
        return 0
    if action == "update-weights":
        parsed = {}
        for w in weights or []:
            variant, _, value = w.partition("=")
            try:
                parsed[variant] = float(value)
            except ValueError:
                raise SpecError(f"weights are VARIANT=NUMBER; got {w!r}", [("weights", w)]) from None
        if not parsed:
            raise SpecError("give at least one VARIANT=WEIGHT", [("weights", "none")])
        d = _deploy.update_weights(name, parsed)
        _say(json.dumps({v["VariantName"]: v["CurrentWeight"] for v in d["ProductionVariants"]}))
        return 0
    d = _deploy.describe(name)
    for key in ("CreationTime", "LastModifiedTime"):
        d[key] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(d[key]))
    _say(json.dumps(d, indent=2, default=str))
    return 0


def _deploy_and_predict(est, spec: TrainingJob) -> None:
    import numpy as np

    d = spec.deploy
    predictor = est.deploy(initial_instance_count=d.initial_instance_count,
                           instance_type=d.instance_type, endpoint_name=d.endpoint_name)
    _say(f"endpoint {predictor.endpoint_name}: POST {predictor.url}/invocations")
    try:
        if d.sample_input:
            try:
                rows = np.loadtxt(d.sample_input, delimiter=",", ndmin=2)
            except ValueError as e:
                raise SpecError(f"deploy.sample_input: {d.sample_input} is not numeric CSV: {e}",
                                [("deploy.sample_input", "not numeric CSV")]) from None
            preds = np.asarray(predictor.predict(rows)["predictions"])
            _say(f"predictions for {len(rows)} rows of {d.sample_input}:")
            for row, p in zip(rows[:5], preds[:5], strict=False):
                shown = np.array2string(np.atleast_1d(p), precision=4)
                _say(f"  {np.array2string(row[:4], precision=3)}... -> {shown}")
    finally:
        if d.delete_after:
            predictor.delete_endpoint()
            _say(f"endpoint {predictor.endpoint_name} deleted")


def jobs_list() -> int:
    recs = _jobs.list_jobs()
    if not recs:
        _say("no training jobs yet")
        return 0
    _say(f"{'NAME':45} {'STATUS':11} {'CREATED':20} {'SECONDS':>7}")
    for r in recs:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.CreationTime))
        _say(f"{r.TrainingJobName:45} {r.TrainingJobStatus:11} {created:20} "
             f"{r.TrainingTimeInSeconds if r.TrainingTimeInSeconds is not None else '-':>7}")
    return 0


def jobs_describe(name: str) -> int:
    rec = asdict(_jobs.load(name))
    rec.pop("Spec", None)
    for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime"):
        if rec.get(key):
            rec[key] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(rec[key]))
    _say(json.dumps(rec, indent=2))
    return 0


def models_list(group: str | None) -> int:
    if group is None:
        groups = _registry.list_groups()
        _say("\n".join(groups) if groups else "no model package groups yet")
        return 0
    _say(f"{'VERSION':>7} {'STATUS':22} {'JOB':40} SOURCE")
    for p in _registry.list_versions(group):
        _say(f"{p.version:>7} {p.approval_status:22} {p.job_name or '-':40} {p.source}")
    return 0


def models_action(action: str, group: str, version: int) -> int:
    if action == "describe":
        pkg = _registry.describe(group, version)
    else:
        pkg = _registry.set_approval(group, version, "Approved" if action == "approve" else "Rejected")
    _say(json.dumps({**asdict(pkg), "model_uri": pkg.model_uri}, indent=2))
    return 0


def instances() -> int:
    from mlcore._instances import CATALOG

    _say(f"{'TYPE':20} {'CPU':>4} {'MEM GiB':>8} {'GPU':>4} {'NEURON':>6}")
    _say(f"{'local':20} {1:>4} {'-':>8} {0:>4} {0:>6}   (one CPU per worker)")
    for t in CATALOG.values():
        _say(f"{t.name:20} {t.cpus:>4} {t.memory_gib:>8g} {t.gpus:>4} {t.neuron_cores:>6}")
    return 0



