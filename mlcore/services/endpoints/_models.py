"""What an endpoint's replica loads for a model: a built-in algorithm's artifact, a training
job's model (built-in, or a script's MLflow pyfunc through its inference handlers), or a
``model_data`` artifact (a model.tar.gz or a folder) with the script that serves it, whose code
is shipped once under ``$MLCORE_HOME/code``."""


import hashlib
import os
import shutil
import tempfile
from functools import partial

import algorithms
import serving
from mlcore import _session, _storage, constants
from mlcore.errors import AlgorithmError, EndpointError
from mlcore.records import Status, TrainingJobRecord
from mlcore.specs import ModelRef


def _pyfunc_load(tracking_uri: str, uri: str):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.pyfunc.load_model(uri)


def _pyfunc_predict(model, X):
    import numpy as np

    return np.asarray(model.predict(X))


def _script_handle(model, body: bytes, content_type: str, accept: str):
    """SageMaker's inference handler contract on a raw request: the script's ``input_fn``,
    ``predict_fn`` and ``output_fn`` (or ``transform_fn``) over its framework container's
    defaults (algorithms._script_model). A handler's fault answers with the status it asked
    for (a 4xx), else 500 naming the handler and the exception."""
    script = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
    try:
        return script.handle(body, content_type, accept)
    except AlgorithmError as e:
        if "status" not in e.fields:
            raise
        raise serving.BadRequest(e.fields["status"], e.message) from None


def _script_predict(model, X):
    return model.predict(None, X)


def _script_load(code_uri: str | None, entry_point: str, framework: str | None, env: dict,
                 model_dir: str):
    """A bring-your-own script model in a replica: its code (shipped at deploy time, or the
    artifact's own ``code/`` folder) copied to a folder that outlives the load, as the
    script may import its modules later."""
    from algorithms._script_model import ScriptModel

    code_dir = tempfile.mkdtemp(prefix="mlcore-code-")
    if code_uri:
        fetched = _storage.fetch_committed(code_uri, code_dir)
        if fetched != code_dir:
            shutil.copytree(fetched, code_dir, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(_storage.COMMIT_MARKER))
    elif entry_point:
        if not os.path.isfile(os.path.join(model_dir, "code", entry_point)):
            raise EndpointError(f"entry_point {entry_point!r} is neither a local file nor in the "
                                "model artifact's code/ folder; pass the inference script's path")
        shutil.copytree(os.path.join(model_dir, "code"), code_dir, dirs_exist_ok=True)
    return ScriptModel(entry_point, framework, env).load(code_dir, model_dir)


def _ship_code(ref: ModelRef) -> str | None:
    """Commit a bring-your-own model's inference code (source_dir or the entry point, and its
    dependencies) under $MLCORE_HOME/code/<content hash>, as SageMaker snapshots it at
    CreateModel; None when the artifact carries the script in its own ``code/`` folder."""
    from algorithms._script_model import has_model_fn
    from mlcore.services.training._script import copy_code

    src, entry = ref.source_dir, ref.entry_point
    if src is None:
        if not entry or not os.path.isfile(entry):  # none, or model.tar.gz's code/<entry>
            return None
        src, entry = os.path.dirname(os.path.abspath(entry)), os.path.basename(entry)
    if not os.path.isfile(os.path.join(src, entry)):
        raise EndpointError(f"entry_point {entry!r} not found in source_dir {src!r}; pass the "
                            "inference script's path")
    missing = [d for d in ref.dependencies if not os.path.exists(d)]
    if missing:
        raise EndpointError(f"dependencies {', '.join(map(repr, missing))} not found; list local "
                            "folders or files")
    if ref.framework in ("sklearn", "xgboost") and not has_model_fn(src, entry):
        raise EndpointError(f"{entry} defines no model_fn(model_dir), and the {ref.framework} "
                            "container has no default one; add it to load the saved model")
    with tempfile.TemporaryDirectory(prefix="mlcore-code-") as tmp:
        code = os.path.join(tmp, "code")
        copy_code(code, src, None if ref.source_dir else entry, ref.dependencies)
        digest = hashlib.sha256()
        for d, _, files in sorted(os.walk(code)):
            for f in sorted(files):
                path = os.path.join(d, f)
                digest.update(os.path.relpath(path, code).encode())
                with open(path, "rb") as fh:
                    digest.update(fh.read())
        dest = str(constants.home() / "code" / digest.hexdigest()[:20])
        return dest if _storage.is_committed(dest) else _storage.commit_dir(code, dest)


def _artifact_uri(uri: str) -> str:
    """What a replica fetches for ``model_data``: a model.tar.gz or a committed folder as
    they are; a plain local folder committed as a copy (under $MLCORE_HOME/models/, keyed by
    its path and its files' sizes and times), so the replica never reads a folder in flux."""
    uri = _storage.canonical(uri)  # an S3 https URL, as SageMaker also takes it
    if _storage.is_committed(uri):  # a tarball that exists, or a committed folder
        return uri
    local = None if _storage.is_remote(uri) else _storage.local_path(uri)
    if _storage.is_tarball(uri) or not local or not os.path.isdir(local):
        raise EndpointError(f"model_data {uri} is not an existing model.tar.gz, a local folder or "
                            "a completed job's model; upload the model.tar.gz there, or pass its "
                            "folder")
    digest = hashlib.sha256(os.path.abspath(local).encode())
    for d, _, files in sorted(os.walk(local)):
        for f in sorted(files):
            st = os.stat(os.path.join(d, f))
            digest.update(f"{os.path.relpath(os.path.join(d, f), local)}:{st.st_size}:"
                          f"{st.st_mtime_ns}".encode())
    dest = str(constants.home() / "models" / digest.hexdigest()[:20])
    return dest if _storage.is_committed(dest) else _storage.commit_dir(local, dest)


def _artifact_model(ref: ModelRef):
    """A serving.ModelSpec for a bring-your-own artifact: the built-in's loader, or the
    inference script's handlers."""
    uri = _artifact_uri(ref.model_data)
    if ref.algorithm:
        m = algorithms.get(ref.algorithm)
        return serving.ModelSpec(uri, m.load_model, m.predict, m.feature_count, container=m.name)
    code_uri = _ship_code(ref)
    entry = ref.entry_point if ref.source_dir or not code_uri else os.path.basename(ref.entry_point)
    return serving.ModelSpec(uri, partial(_script_load, code_uri, entry, ref.framework, dict(ref.env)),
                             _script_predict, handle=_script_handle)


def _job_model(job_name: str):
    """A serving.ModelSpec for a completed training job's model: the algorithm's own loader
    for built-ins, the MLflow pyfunc model (the script's model_fn/predict_fn) for scripts."""
    rec = TrainingJobRecord.load(job_name, liveness=False)
    if rec.status != Status.COMPLETED or not rec.ModelArtifacts:
        raise EndpointError(f"training job {job_name} is {rec.status}: only a "
                            "Completed job's model can be served")
    if rec.AlgorithmName and not rec.AlgorithmName.startswith("script:"):
        m = algorithms.get(rec.AlgorithmName)
        return serving.ModelSpec(rec.ModelArtifacts, m.load_model, m.predict, m.feature_count,
                                 container=m.name)  # it answers as SageMaker's container does
    from mlcore.services.training import ensure_mlflow_model

    uri = ensure_mlflow_model(job_name)
    if not uri:
        raise EndpointError(f"training job {job_name} logged no MLflow model to serve")
    return serving.ModelSpec(uri, partial(_pyfunc_load, _session.tracking_uri()),
                             _pyfunc_predict, handle=_script_handle)
