"""Script mode on the driver: check the script and its distribution before any worker starts,
ship the code, and publish the script's model folder as the job's model."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

from mlcore import _instances, _storage, constants
from mlcore._specs import TrainingJob
from mlcore.errors import SpecError

log = logging.getLogger("mlcore")


@dataclass
class ScriptJob:
    """Stands where a built-in ``Algorithm`` stands in the runner."""

    entry_point: str      # relative to source_dir
    source_dir: str       # local folder shipped to every worker
    plan: object          # parallel.Plan
    only_file: bool       # no source_dir given: ship the entry point alone
    trainer: str = "torch"
    mlflow_flavor: str = "pyfunc"
    channels: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"script:{self.entry_point}"


def prepare(spec: TrainingJob) -> ScriptJob:
    """Everything knowable without a cluster: files exist, distribution is runnable."""
    from parallel import plan

    entry, src = spec.entry_point, spec.source_dir
    if src is not None:
        if _storage.is_remote(src):
            raise SpecError(f"source_dir: {src} is remote; point it at a local folder (mlcore "
                            "ships it to the workers)", [("source_dir", "remote")])
        if not os.path.isdir(src):
            raise SpecError(f"source_dir: folder {src!r} does not exist; pass the folder that "
                            "holds your training script", [("source_dir", "not found")])
        path = os.path.join(src, entry)
    else:
        path = entry
    if not os.path.isfile(path):
        where = f"in source_dir {src!r}" if src else "(relative to the working directory or the YAML file)"
        raise SpecError(f"entry_point: {entry!r} not found {where}; pass the path of your "
                        "training script", [("entry_point", "not found")])
    itype = _instances.lookup(spec.instance_type)
    accelerator = itype.accelerator if itype else "cpu"
    p = plan(spec.distribution, spec.instance_count, accelerator,
             base_dir=src or os.path.dirname(os.path.abspath(path)))
    if src is None:
        return ScriptJob(os.path.basename(path), os.path.dirname(os.path.abspath(path)), p, True)
    return ScriptJob(entry, os.path.abspath(src), p, False)


def ship_source(job: ScriptJob, dest_uri: str) -> str:
    """Commit the code workers run (SageMaker's sourcedir.tar.gz) under the job's output."""
    if not job.only_file:
        ignore = shutil.ignore_patterns("__pycache__", ".git", ".venv", "*.pyc")
        with tempfile.TemporaryDirectory(prefix="mlcore-src-") as tmp:
            shutil.copytree(job.source_dir, tmp, dirs_exist_ok=True, ignore=ignore)
            return _storage.commit_dir(tmp, dest_uri, {"entry_point": job.entry_point})
    with tempfile.TemporaryDirectory(prefix="mlcore-src-") as tmp:
        shutil.copy2(os.path.join(job.source_dir, job.entry_point), tmp)
        return _storage.commit_dir(tmp, dest_uri, {"entry_point": job.entry_point})


def worker_environment(spec: TrainingJob, job: ScriptJob) -> dict[str, str]:
    env = dict(spec.environment)
    if job.plan.kind == "deepspeed":
        env.setdefault("TORCH_EXTENSIONS_DIR", constants.torch_extensions_dir())
        if job.plan.backend == "gloo":
            env.setdefault("DS_ACCELERATOR", "cpu")
    return env


def train_config(spec: TrainingJob, job: ScriptJob, job_name: str, source_uri: str,
                 output: str) -> dict:
    itype = _instances.lookup(spec.instance_type)
    return {
        "job_name": job_name, "entry_point": job.entry_point, "source_uri": source_uri,
        "hyperparameters": spec.hyperparameters, "plan": job.plan.to_dict(),
        "channels": {k: c.model_dump() for k, c in spec.inputs.items()},
        "distribution": spec.distribution, "instance_type": spec.instance_type,
        "neuron_cores": itype.neuron_cores if itype else 0,
        "checkpoint_frequency": spec.checkpoint_frequency,
        "checkpoint_min_interval_s": spec.checkpoint_min_interval_s,
        "checkpoint_local_path": spec.checkpoint_local_path,
        "metric_definitions": [m.model_dump() for m in spec.metric_definitions],
        "output_uri": _storage.join(output, job_name, "output", "data"),
    }


def datasets(spec: TrainingJob) -> dict:
    """Ray Datasets for the channels declared ``input_mode: Pipe``."""
    import ray
    import ray.data

    from mlcore._storage import pyarrow_filesystem

    pipes = {n: ch for n, ch in spec.inputs.items() if ch.input_mode == "Pipe"}
    if not pipes:
        return {}
    # Ray Data reads with CPUs of its own; when the training workers hold every CPU of the
    # cluster it would wait for them forever, so it then reads without reserving one.
    spare = ray.cluster_resources().get("CPU", 0) - (
        _instances.worker_resources(spec.instance_type)["CPU"] * spec.instance_count)
    args = {}
    if spare < 1:
        args = {"ray_remote_args": {"num_cpus": 0}}
        log.warning("Pipe channels: the %d training workers take every CPU of the cluster; Ray "
                    "Data reads alongside them without a CPU of its own", spec.instance_count)
    out = {}
    for name, ch in pipes.items():
        fs, path = pyarrow_filesystem(ch.uri)
        ctype = ch.content_type or ("text/csv" if ".csv" in path else "application/x-parquet")
        if "parquet" in ctype:
            out[name] = ray.data.read_parquet(path, filesystem=fs, **args)
        elif "csv" in ctype:
            import pyarrow.csv as pacsv

            out[name] = ray.data.read_csv(path, filesystem=fs, read_options=pacsv.ReadOptions(
                autogenerate_column_names=True), **args)
        else:
            out[name] = ray.data.read_binary_files(path, filesystem=fs, **args)
    return out


def publish(job: ScriptJob, checkpoint, output: str, job_name: str, run_id: str) -> tuple[str, str]:
    """Commit the model folder as ``<output>/<job>/model`` and log it as an MLflow pyfunc
    model that serves through the script's SageMaker inference handlers."""
    from mlcore import _tracking
    from mlcore.sagemaker._script_model import ScriptModel

    with tempfile.TemporaryDirectory(prefix="mlcore-model-") as tmp:
        local = checkpoint.to_directory(tmp)
        model_uri = _storage.commit_dir(local, _storage.join(output, job_name, "model"),
                                        {"job": job_name, "entry_point": job.entry_point})
        code = os.path.join(tmp, "..", f"{os.path.basename(tmp)}-code")
        if job.only_file:
            os.makedirs(code)
            shutil.copy2(os.path.join(job.source_dir, job.entry_point), code)
        else:
            shutil.copytree(job.source_dir, code, ignore=shutil.ignore_patterns(
                "__pycache__", ".git", ".venv", "*.pyc"))
        try:
            mlflow_uri = _tracking.log_python_model(
                run_id, ScriptModel(job.entry_point), {"model": local, "code": code})
        finally:
            shutil.rmtree(code, ignore_errors=True)
    return model_uri, mlflow_uri
