"""What each ``mlcore`` subcommand does."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

from mlcore import _jobs, _registry, _session
from mlcore._specs import SPEC_KINDS, TrainingJob
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
    if isinstance(spec, TrainingJob):
        return _run_training(spec, job_name, quiet)
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



