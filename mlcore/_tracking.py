"""Experiment tracking on MLflow: one run per job, metrics logged in batches.

``import mlflow`` takes seconds, so it happens inside these functions, never at import time.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from functools import lru_cache

from mlcore import _session, constants
from mlcore.errors import TrackingError, root_cause

log = logging.getLogger("mlcore")

DEFAULT_EXPERIMENT = "mlcore-training-jobs"


def client(uri: str | None = None):
    """An MLflow client for ``uri``; also points MLflow's fluent API (used by log_model) at it."""
    import os

    import mlflow

    uri = uri or _session.tracking_uri()
    # mlflow.set_tracking_uri also writes MLFLOW_TRACKING_URI into os.environ, which would pin
    # this process (and every process it starts) to the URI of the moment: a later
    # MLCORE_HOME would be ignored. Keep the environment as the user set it.
    before = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return _client(uri)


@lru_cache(maxsize=4)
def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(name: str = DEFAULT_EXPERIMENT) -> str:
    uri = _session.tracking_uri()
    c = client(uri)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    # (Compared by value: mlflow.set_tracking_uri also writes MLFLOW_TRACKING_URI to os.environ.)
    if uri == _session.default_tracking_uri():
        # A SQLite store's default artifact root is ./mlruns in the current directory (runs
        # and logged models would land in the user's working tree); keep them beside the DB.
        location = (constants.home() / "mlartifacts").as_uri()
    try:
        return c.create_experiment(name, artifact_location=location)
    except Exception:
        exp = c.get_experiment_by_name(name)  # created concurrently by another job?
        if exp is None:
            raise
        return exp.experiment_id


def start_run(job_name: str, params: dict, tags: dict, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """A job's MLflow run; TrackingError saying what is wrong when the store is locked or
    unreachable."""
    uri = _session.tracking_uri()
    try:
        _wait_unlocked(uri)
        c = client(uri)
        run = c.create_run(experiment_id(experiment), run_name=job_name,
                           tags={"mlcore.job_name": job_name, **tags})
        log_params(run.info.run_id, params)
    except Exception as e:
        raise TrackingError(store_error(uri, e), tracking_uri=_session.redact(uri)) from e
    return run.info.run_id


def store_error(uri: str, error: BaseException) -> str:
    """One sentence for a tracking store that failed a job's start: which store (its
    password redacted), the root cause, the fix."""
    where = f"MLflow tracking store {_session.redact(uri)}"
    cause = root_cause(error)
    if "database is locked" in cause or "database table is locked" in cause:
        return (f"{where} is locked ({cause.split(': ', 1)[-1]}); another process holds it: "
                "retry, or set MLFLOW_TRACKING_URI to a server")
    return (f"{where} could not start the job's run ({cause}); check that it is reachable "
            "and writable, or set MLFLOW_TRACKING_URI to one that is")


def _wait_unlocked(uri: str) -> None:
    """Wait up to MLCORE_TRACKING_LOCK_TIMEOUT_S for a SQLite store that another process
    holds locked, then raise sqlite3's "database is locked".

    Why: MLflow waits 20 s on each statement (its busy_timeout), and a process that has not
    opened the store yet retries creating its engine for minutes; this fails a job's start
    in bounded time with the cause. A lock taken later (mid-run) still gets MLflow's waits.
    """
    if not uri.startswith("sqlite:"):
        return
    from sqlalchemy.engine import make_url

    path = make_url(uri).database
    if not path or path == ":memory:" or not os.path.exists(path):
        return  # MLflow creates it
    conn = sqlite3.connect(path, timeout=constants.get("MLCORE_TRACKING_LOCK_TIMEOUT_S"),
                           isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")  # a write lock, as create_run needs; released at once
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def log_params(run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    c = client(_session.tracking_uri())
    items = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
    for i in range(0, len(items), 100):
        c.log_batch(run_id, params=items[i:i + 100])


def log_metrics(run_id: str, rows: list[tuple[str, float, int]]) -> None:
    """Log ``(key, value, step)`` rows in batches of 1,000 (MLflow's per-call limit)."""
    from mlflow.entities import Metric

    c = client(_session.tracking_uri())
    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, int(s)) for k, v, s in rows]
    for i in range(0, len(metrics), 1000):
        c.log_batch(run_id, metrics=metrics[i:i + 1000])


def set_tags(run_id: str, tags: dict) -> None:
    from mlflow.entities import RunTag

    client(_session.tracking_uri()).log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def close_run(run_id: str | None, status, reason: str | None = None) -> None:
    """Tag and end a job's MLflow run (the job's ``status``, and ``reason`` when it did not
    complete); tracking trouble is logged, never raised over the job's own outcome."""
    if not run_id:
        return
    tags = {"mlcore.status": str(status)}
    if reason:
        tags["mlcore.failure_reason"] = reason
    try:
        set_tags(run_id, tags)
        end_run(run_id, str(status))
    except Exception:
        log.exception("could not mark MLflow run %s as %s", run_id, status)


def reopen_run(run_id: str) -> None:
    """A resumed job's run is RUNNING again (a reader may have closed it as FAILED when its
    driver died)."""
    client(_session.tracking_uri()).update_run(run_id, status="RUNNING")


def end_run(run_id: str, status) -> None:
    """``status``: the job status; mapped onto MLflow's FINISHED / FAILED / KILLED."""
    from mlcore.records import Status

    mlflow_status = {Status.COMPLETED: "FINISHED", Status.FAILED: "FAILED",
                     Status.STOPPED: "KILLED"}[Status(status)]
    client(_session.tracking_uri()).set_terminated(run_id, status=mlflow_status)


def log_model(run_id: str, flavor: str, model, name: str = "model") -> str:
    """Log ``model`` with an MLflow flavour (``xgboost``, ...) to the run; return its model URI."""
    import importlib

    import mlflow

    client(_session.tracking_uri())
    module = importlib.import_module(f"mlflow.{flavor}")
    # The flavour's own requirement list: MLflow's inference would spawn a subprocess that
    # re-imports the model's modules (~2 s per job) to find the same answer.
    reqs = module.get_default_pip_requirements() if hasattr(module, "get_default_pip_requirements") else None
    with mlflow.start_run(run_id=run_id):
        info = module.log_model(model, name=name, pip_requirements=reqs)
    return info.model_uri


def log_python_model(run_id: str, python_model, artifacts: dict[str, str], name: str = "model") -> str:
    """Log a pyfunc ``PythonModel`` with its artifact folders; return its model URI."""
    import warnings

    import mlflow

    client(_session.tracking_uri())
    reqs = [f"mlflow=={mlflow.__version__}", "torch", "numpy"]  # no inference subprocess
    # MLflow's advice on type hints and on pickled python_model objects, and its artifact
    # progress bars, are about its own serving; they would be the user's terminal's only noise.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
        info = mlflow.pyfunc.log_model(name=name, python_model=python_model, artifacts=artifacts,
                                       pip_requirements=reqs)
    return info.model_uri
