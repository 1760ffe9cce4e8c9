"""Embedded defaults: the Ray connection, the storage root and the MLflow tracking URI."""

from __future__ import annotations

import logging
import os

from mlcore import constants

log = logging.getLogger("mlcore")


def default_tracking_uri() -> str:
    """The embedded default: an SQLite database under ``$MLCORE_HOME``."""
    return f"sqlite:///{constants.home() / 'mlflow.db'}"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or the embedded default."""
    return constants.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def redact(uri: str) -> str:
    """A URI fit to print: ``scheme://user:password@host`` loses its user and password."""
    import re

    return re.sub(r"//[^/@]+@", "//***@", uri)


def default_output_path() -> str:
    return str(constants.home() / "output")


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address`` / ``RAY_ADDRESS``, or start a local Ray once per process."""
    import ray

    if ray.is_initialized():
        return
    address = address or constants.get("RAY_ADDRESS")
    if address:
        # A driver started by `ray job submit` already runs inside the job's runtime env.
        inside_job = "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ
        env = {k: os.environ[k] for k in constants.FORWARDED_TO_WORKERS if os.environ.get(k)}
        env.setdefault("MLCORE_HOME", str(constants.home()))
        runtime_env = None if inside_job else {"env_vars": env}
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
        log.info("connected to Ray at %s", address)
        return
    num_cpus = constants.get("MLCORE_NUM_CPUS") or os.cpu_count()
    # Workers inherit this process's environment, so AWS_* and MLCORE_* reach them.
    # "local": a new Ray even when another one runs on this machine (no silent joining).
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=True,
             configure_logging=False)
    log.info("started a local Ray with %d CPUs", num_cpus)


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of each alive node."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]
