"""A completed job's MLflow model, logged from its committed artifact when it is needed.

Every job commits its model (``<output>/<job>/model`` and ``model.tar.gz``); the MLflow
model in the job's run is what the registry versions and what a script's endpoint serves.
A standalone job logs it at once; a tuning trial does not (1-3 s each, and only the best
trial's is ever used): its model is logged here when it is registered, deployed or picked.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import algorithms
from mlcore import _storage, _tracking
from mlcore.records import Status, TrainingJobRecord


def log(record: TrainingJobRecord) -> str:
    """Log ``record``'s committed model to its MLflow run; return the model URI."""
    with tempfile.TemporaryDirectory(prefix="mlcore-model-") as tmp:
        model_dir = os.path.join(tmp, "model")
        shutil.copytree(_storage.fetch_committed(record.ModelArtifacts, os.path.join(tmp, "fetched")),
                        model_dir, ignore=shutil.ignore_patterns(_storage.COMMIT_MARKER))
        spec = record.Spec or {}
        if not spec.get("entry_point"):
            algo = algorithms.get(record.AlgorithmName)
            if algo.mlflow_flavor == "pyfunc":  # a first-party algorithm: its own PythonModel
                from algorithms._amazon import pyfunc_model

                return _tracking.log_python_model(record.MlflowRunId, pyfunc_model(algo.name),
                                                  {"model": model_dir})
            return _tracking.log_model(record.MlflowRunId, algo.mlflow_flavor, algo.load_model(model_dir))
        from algorithms._script_model import ScriptModel

        code = _storage.fetch_committed(_storage.join(record.OutputPath, record.TrainingJobName, "source"),
                                        os.path.join(tmp, "code"))
        entry = spec["entry_point"] if spec.get("source_dir") else os.path.basename(spec["entry_point"])
        return _tracking.log_python_model(record.MlflowRunId, ScriptModel(entry, spec.get("framework")),
                                          {"model": model_dir, "code": code})


def ensure(name: str) -> str | None:
    """The MLflow model URI of completed job ``name``, logged first if it was not (None for a
    job that did not complete)."""
    record = TrainingJobRecord.load(name, liveness=False)
    if record.status != Status.COMPLETED or not record.ModelArtifacts:
        return None
    if not record.MlflowModelUri:
        record.update(MlflowModelUri=log(record))
    return record.MlflowModelUri
