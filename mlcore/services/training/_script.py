"""A script-mode job: the user's script and its distribution checked before any worker
starts, the code shipped, Pipe channels streamed as Ray Data, and the script's model folder
published as an MLflow pyfunc model that serves through the script's inference handlers."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

import algorithms
from mlcore import _storage, constants
from mlcore.errors import DataError, MLCoreError, SpecError

log = logging.getLogger("mlcore")
_IGNORE = ("__pycache__", ".git", ".venv", "*.pyc")


@dataclass(frozen=True)
class ScriptJob:
    algorithm: algorithms.Algorithm
    entry_point: str      # relative to source_dir
    source_dir: str       # local folder shipped to every worker
    distribution: object  # parallel.Plan
    only_file: bool       # no source_dir given: ship the entry point alone
    dependencies: tuple[str, ...] = ()  # local folders / files shipped next to the code
    framework: str | None = None        # whose serving defaults the model gets

    @property
    def backend(self) -> str:
        return self.distribution.backend

    @classmethod
    def prepare(cls, spec, placement) -> ScriptJob:
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
        dist = plan(spec.distribution, spec.instance_count, placement.accelerator,
                    base_dir=src or os.path.dirname(os.path.abspath(path)))
        missing = [d for d in spec.dependencies if not os.path.exists(d)]
        if missing:
            raise SpecError(f"dependencies: {', '.join(map(repr, missing))} not found; list local "
                            "folders (or files) to ship next to the entry point",
                            [("dependencies", "not found")])
        if src is None:
            entry, src = os.path.basename(path), os.path.dirname(os.path.abspath(path))
        algo = algorithms.script_mode(entry, os.path.abspath(src),
                                      [m["Name"] for m in metric_definitions(spec)], spec.framework)
        return cls(algo, entry, os.path.abspath(src), dist, spec.source_dir is None,
                   tuple(os.path.abspath(d) for d in spec.dependencies), spec.framework)

    def preflight(self, plan) -> None:
        self.check_data(plan.spec)

    def check_data(self, spec) -> None:
        """Every channel has files (the script reads them its own way)."""
        missing = [n for n, c in spec.inputs.items() if not _storage.list_files(c.uri)]
        if missing:
            raise DataError(f"input channel(s) {', '.join(missing)} have no files at "
                            f"{', '.join(spec.inputs[n].uri for n in missing)}; fix the URIs")

    def _copy_code(self, dest: str) -> None:
        copy_code(dest, self.source_dir, self.entry_point if self.only_file else None,
                  self.dependencies)

    def train_config(self, plan) -> dict:
        """Ship the code (SageMaker's sourcedir.tar.gz) under the job's output; the workers'
        configuration."""
        spec = plan.spec
        with tempfile.TemporaryDirectory(prefix="mlcore-src-") as tmp:
            self._copy_code(tmp)
            source = _storage.commit_dir(tmp, plan.job_uri("source"), {"entry_point": self.entry_point})
        return {
            "job_name": plan.name, "entry_point": self.entry_point, "source_uri": source,
            "hyperparameters": spec.hyperparameters, "plan": self.distribution.to_dict(),
            "channels": {k: c.model_dump() for k, c in spec.inputs.items()},
            "distribution": spec.distribution, "instance_type": spec.instance_type,
            "neuron_cores": plan.placement.neuron_cores,
            "checkpoint_frequency": spec.checkpoint_frequency,
            "checkpoint_min_interval_s": spec.checkpoint_min_interval_s,
            "checkpoint_local_path": spec.checkpoint_local_path,
            "metric_definitions": metric_definitions(spec),
            "output_uri": plan.job_uri("output", "data"),
            # the framework container's own modules (sagemaker_xgboost_container, ...)
            "python_path": algorithms.container_path(self.framework),
        }

    def environment(self, plan) -> dict[str, str]:
        env = dict(plan.spec.environment)
        if self.distribution.kind == "deepspeed":
            env.setdefault("TORCH_EXTENSIONS_DIR", constants.torch_extensions_dir())
            if self.distribution.backend == "gloo":
                env.setdefault("DS_ACCELERATOR", "cpu")
        return env

    def datasets(self, plan) -> dict:
        """Ray Datasets for the channels declared ``input_mode: Pipe``."""
        import ray
        import ray.data

        pipes = {n: ch for n, ch in plan.spec.inputs.items() if ch.input_mode == "Pipe"}
        if not pipes:
            return {}
        # Ray Data reads with CPUs of its own; when the training workers hold every CPU of the
        # cluster it would wait for them forever, so it then reads without reserving one.
        spare = ray.cluster_resources().get("CPU", 0) - plan.placement.resources["CPU"] * plan.placement.count
        args = {}
        if spare < 1:
            args = {"ray_remote_args": {"num_cpus": 0}}
            log.warning("Pipe channels: the %d training workers take every CPU of the cluster; "
                        "Ray Data reads alongside them without a CPU of its own", plan.placement.count)
        return {name: _read(ch, args) for name, ch in pipes.items()}

    def check_result(self, plan, timings: dict) -> None:
        if not timings.get("model_files"):
            raise MLCoreError(f"{self.entry_point} finished but wrote nothing to its model folder "
                              "(SM_MODEL_DIR / context.model_dir()); save the model there")

    def commit(self, plan, checkpoint) -> str:
        """Commit the model folder as ``<output>/<job>/model``; return its URI."""
        with tempfile.TemporaryDirectory(prefix="mlcore-model-") as tmp:
            local = checkpoint.to_directory(os.path.join(tmp, "model"))
            return _storage.commit_dir(local, plan.job_uri("model"),
                                       {"job": plan.name, "entry_point": self.entry_point})


def metric_definitions(spec) -> list[dict]:
    """The job's metric definitions; with none, those its framework's image has built in
    (SageMaker's XGBoost metrics, which a tuning job on an XGBoost script reads)."""
    declared = [m.model_dump() for m in spec.metric_definitions]
    return declared or algorithms.framework_metrics(spec.framework)


def copy_code(dest: str, source_dir: str, only_file: str | None = None,
              dependencies=()) -> None:
    """The code folder as SageMaker packs sourcedir.tar.gz: ``source_dir`` (or only the file
    ``only_file`` in it), and each dependency under its own name at the top, where the
    script imports it."""
    os.makedirs(dest, exist_ok=True)
    if only_file:
        shutil.copy2(os.path.join(source_dir, only_file), dest)
    else:
        shutil.copytree(source_dir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_IGNORE))
    for dep in dependencies:
        target = os.path.join(dest, os.path.basename(os.path.normpath(dep)))
        if os.path.isdir(dep):
            shutil.copytree(dep, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_IGNORE))
        else:
            shutil.copy2(dep, target)


def _read(ch, args: dict):
    import ray.data

    fs, path = _storage.pyarrow_filesystem(ch.uri)
    ctype = ch.content_type or ("text/csv" if ".csv" in path else "application/x-parquet")
    if "parquet" in ctype:
        return ray.data.read_parquet(path, filesystem=fs, **args)
    if "csv" in ctype:
        import pyarrow.csv as pacsv

        return ray.data.read_csv(path, filesystem=fs, read_options=pacsv.ReadOptions(
            autogenerate_column_names=True), **args)
    return ray.data.read_binary_files(path, filesystem=fs, **args)
