"""Every environment variable mlcore reads, declared once: name, type, default and why.

Nothing else in the code base reads ``os.environ``; it calls :func:`get` (or :func:`present`
for variables passed on to other processes). Code that sets variables for Ray's processes,
and restores them after, writes ``os.environ`` itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EnvVar:
    name: str
    type: type
    default: object
    doc: str


ENV_VARS: dict[str, EnvVar] = {
    v.name: v
    for v in [
        EnvVar("MLCORE_HOME", str, str(Path.home() / ".mlcore"),
               "Storage root: jobs, models, checkpoints and the MLflow database live under it."),
        EnvVar("RAY_ADDRESS", str, "",
               "Ray cluster to connect to; empty starts a local Ray for this process."),
        EnvVar("MLCORE_NUM_CPUS", int, 0,
               "CPUs given to a local Ray started by mlcore; 0 means all of this machine's."),
        EnvVar("MLFLOW_TRACKING_URI", str, "",
               "MLflow tracking/registry backend; empty means sqlite:///$MLCORE_HOME/mlflow.db."),
        EnvVar("MLCORE_RECORDS_URI", str, "",
               "Where job, tuning-job and endpoint records live: any SQLAlchemy URL, e.g. "
               "postgresql+psycopg://user@host/db so several machines share records; empty "
               "means sqlite:///$MLCORE_HOME/records.db."),
        EnvVar("AWS_ENDPOINT_URL", str, "",
               "S3-compatible endpoint for s3:// URIs (MinIO, moto, ...); empty means AWS."),
        EnvVar("MLCORE_S3_STORE", str, "auto",
               "Where s3:// URIs live: s3 (AWS or AWS_ENDPOINT_URL), local (a folder per "
               "bucket under $MLCORE_HOME/s3, for a machine with no object store), or auto "
               "(local when neither AWS_ENDPOINT_URL nor AWS credentials are configured)."),
        EnvVar("MLCORE_DEFAULT_BUCKET", str, "",
               "Session().default_bucket()'s name; empty means sagemaker-<region>-<account> "
               "on AWS (as SageMaker names it) and mlcore-default elsewhere."),
        EnvVar("MLCORE_SERVE_HOST", str, "127.0.0.1",
               "Interface Ray Serve's HTTP proxy binds to; loopback unless told otherwise."),
        EnvVar("MLCORE_SERVE_PORT", int, 8000,
               "Port of Ray Serve's HTTP ingress. Unset: 8000, or a free port (printed) when "
               "another process holds 8000; set: that port or a clear error."),
        EnvVar("MLCORE_SERVE_READ_TIMEOUT_S", int, 10,
               "Seconds the HAProxy ingress gives a client for its request headers and the "
               "first 16 KB of its body; slower clients are cut off (they would hold a "
               "connection slot)."),
        EnvVar("MLCORE_RAY_METRICS", bool, False,
               "Let a local Ray started by mlcore export its Prometheus metrics (its exporters "
               "listen on every interface without auth, so they are off by default)."),
        EnvVar("MLCORE_SERVE_INGRESS", str, "auto",
               "HTTP ingress of a local Ray started by mlcore: haproxy (Ray Serve's HAProxy "
               "ingress: requests go straight to the replica's own HTTP server, about as fast as "
               "a bare FastAPI app), proxy (Serve's Python proxy actor, several times slower) or "
               "auto (haproxy when its binary is installed, else proxy)."),
        EnvVar("MLCORE_SERVERLESS_IDLE_S", float, 60.0,
               "Idle seconds before a serverless variant (or an async endpoint's workers) "
               "scales to zero."),
        EnvVar("MLCORE_ASYNC_LEASE_S", float, 30.0,
               "Lease of an async request on the replica working on it: a dead replica's "
               "requests are taken up again this long after its last renewal."),
        EnvVar("MLCORE_FAST_PATH", bool, True,
               "Run a training job with one worker, no retries and no spot capacity as one Ray "
               "task on a warm worker process instead of a whole Ray Train run (same record, "
               "MLflow run, checkpoints and model; about a second instead of 10-18 s of "
               "start-up). 0 sends every job through Ray Train."),
        EnvVar("MLCORE_TRAIN_POLL_INTERVAL_S", float, 0.25,
               "How often Ray Train's controller polls workers (Ray's default, 2 s, delays every "
               "report and checkpoint hand-off by up to 2 s)."),
        EnvVar("MLCORE_RAY_LOG_LEVEL", str, "WARNING",
               "Level of Ray Train's and Ray Serve's own console logs (INFO shows each report, "
               "checkpoint and request)."),
        EnvVar("MLCORE_SKIP_CAPACITY_CHECK", bool, False,
               "Skip the 'can this cluster ever run the job' check (autoscaling clusters)."),
        EnvVar("MLCORE_STRICT_RESOURCES", bool, False,
               "On the local Ray mlcore starts, refuse an instance type bigger than the machine "
               "instead of running it on what the machine has (a cluster is always strict)."),
        EnvVar("MLCORE_EMBEDDED_RAY", bool, False,
               "Set by mlcore in the processes of a local Ray it started (a tuning trial's "
               "training job fits its instance type to the machine like its driver)."),
        EnvVar("MLCORE_VERBOSE", bool, False,
               "Show Ray's, Serve's and Train's own output on the terminal (the CLI's -v sets "
               "it); otherwise it goes to $MLCORE_HOME/logs/ray-<date>.log."),
        EnvVar("MLCORE_PREEMPTION_POLL_INTERVAL_S", float, 1.0,
               "How often Ray Train looks for drained (preempted) nodes; Ray's default, 5 s, "
               "eats into the notice a just-in-time checkpoint has to fit in."),
        EnvVar("MLCORE_TUNE_STATE_SAVE_S", float, 2.0,
               "Seconds between saves of a tuning job's Ray Tune state (what a resume starts "
               "from); Tune's default adapts to up to minutes."),
        EnvVar("MLCORE_TRIAL_STOP_TIMEOUT_S", float, 120.0,
               "Seconds a stopped tuning trial waits for its training job to abort cleanly."),
        EnvVar("MLCORE_ABORT_TIMEOUT_S", float, 5.0,
               "Seconds Ray Train's graceful abort of a stopped job may take before its "
               "controller is killed and its placement group removed (Ray Tune kills a stopping "
               "trial after 10 s at the end of a tuning job)."),
        EnvVar("MLCORE_REQUIRE_APPROVED_MODEL", bool, False,
               "Every endpoint deployed from this process serves only Approved registry "
               "versions (an Endpoint's require_approved_model: true for all); read by the "
               "deploying process, which makes the decision before anything starts."),
        EnvVar("MLCORE_DEPLOY_SERVE_S", float, float("inf"),
               "Seconds `mlcore deploy` on an embedded Ray serves before it deletes the endpoint "
               "and exits; unset serves until Ctrl-C."),
        EnvVar("RAY_JOB_CONFIG_JSON_ENV_VAR", str, "",
               "Set by Ray in a driver that `ray job submit` started (it already runs in the "
               "job's runtime env)."),
        EnvVar("LOCAL_RANK", int, 0, "Set by Ray Train in each worker: its rank on its node."),
        EnvVar("MLCORE_TORCH_EXTENSIONS_DIR", str, "",
               "Where DeepSpeed caches the C++ ops it compiles (~25 s each on first use) for "
               "workers; empty means $MLCORE_HOME/torch_extensions."),
        EnvVar("MLCORE_TRACKING_LOCK_TIMEOUT_S", float, 20.0,
               "Seconds a job starting waits for a SQLite MLflow store that another process "
               "holds locked before it fails saying so (MLflow's own busy timeout is 20 s)."),
    ]
}

# Variables a Ray job needs in its workers, forwarded when mlcore connects to a cluster
# (workers do not see variables set in the driver after the cluster started). Credentials are
# deliberately absent: a runtime env is visible in Ray's job table and dashboard, so the
# cluster's nodes must carry their own (environment, instance profile, ~/.aws).
FORWARDED_TO_WORKERS = (
    "MLCORE_HOME", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "MLCORE_S3_STORE",
)
# (MLFLOW_TRACKING_URI stays in the driver, which does all tracking; it may hold a password.)


def get(name: str):
    """Value of a declared variable, converted to its type, or its default."""
    var = ENV_VARS[name]
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return var.default
    if var.type is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        return var.type(raw)
    except ValueError:
        from mlcore.errors import MLCoreError

        raise MLCoreError(f"environment variable {name} must be a {var.type.__name__}; got "
                          f"{raw!r} ({var.doc})") from None


def present(names) -> dict[str, str]:
    """The variables among ``names`` that are set (and not empty), to pass on to a process
    that works for this one."""
    return {k: os.environ[k] for k in names if os.environ.get(k)}


def secret(name: str) -> str | None:
    """The value of a variable the user named to hold a secret (an endpoint's auth token);
    read only where it is needed, never logged."""
    return os.environ.get(name) or None


def ray_log_level() -> str:
    level = str(get("MLCORE_RAY_LOG_LEVEL")).upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def home() -> Path:
    """The storage root, created on first use."""
    path = Path(os.path.expanduser(get("MLCORE_HOME")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def torch_extensions_dir() -> str:
    return get("MLCORE_TORCH_EXTENSIONS_DIR") or str(home() / "torch_extensions")
