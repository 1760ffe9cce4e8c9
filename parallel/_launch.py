"""Launching one Ray Train run for a job and watching it from the driver."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import ray

from mlcore import _storage, constants
from parallel import _fast
from parallel._fast import Aborted
from parallel._ray_compat import (
    abort_run,
    quiet_worker_tracebacks,
    user_exception,
    without_placement_group_cleaner,
)

log = logging.getLogger("mlcore")


@dataclass
class LaunchResult:
    checkpoint: object  # ray.train.Checkpoint of the final report
    metrics: dict
    restarts: int
    interruptions: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # what workers told the driver


def interruptions(attempts: list[dict], events: list[dict]) -> list[dict]:
    """One entry per restart: its cause (a preemption notice seen in the previous attempt, or
    a failure), the seconds no worker trained, the step training resumed from, and when the
    first step after the restore finished (script mode)."""
    out = []
    for i in range(1, len(attempts)):
        prev, cur = attempts[i - 1], attempts[i]
        notices = [e for e in events if e["kind"] == "preemption"
                   and prev["start"] <= e["time"] <= cur["start"]]
        end = attempts[i + 1]["start"] if i + 1 < len(attempts) else float("inf")
        first = [e["time"] for e in events if e["kind"] == "first_step" and cur["start"] <= e["time"] < end]
        out.append({"Number": i, "Cause": "preemption" if notices else "failure",
                    "ResumedAt": cur["start"], "ResumedFromStep": cur["restored_step"],
                    "DeadSeconds": round(cur["start"] - prev["last_seen"], 3),
                    **({"FirstStepAt": first[0]} if first else {}),
                    **({"NoticeStep": notices[0].get("step")} if notices else {})})
    return out


def _checkpoint_location(uri: str) -> tuple[str, str, object]:
    """Split a checkpoint URI into Ray's ``(storage_path, name, filesystem)``."""
    fs, path = _storage.pyarrow_filesystem(uri)
    path = path.rstrip("/")
    if "/" not in path:  # a bare bucket: keep Ray's run folder inside it
        path = f"{path}/checkpoints"
    parent, name = path.rsplit("/", 1)
    return parent, name, fs


def run(train_fn: Callable, config: dict, *, trainer: str, scaling_config, checkpoint_uri: str,
        max_failures: int, environment: dict[str, str], on_progress: Callable[[list, dict], None],
        keep_checkpoints: int = 3, max_preemption_failures: int = -1, backend: str | None = None,
        datasets: dict | None = None, should_stop: Callable[[], str | None] | None = None) -> LaunchResult:
    """Run ``train_fn`` on the workers of ``scaling_config`` and return the final report.

    ``on_progress(rows, progress)`` is called from a driver thread about once a second with
    the metric rows rank 0 pushed since the last call. When ``should_stop()`` returns a
    reason, the run is aborted through its controller (workers and their placement group
    released) and :class:`Aborted` is raised with that reason.

    A job with one worker, no retries and no Ray Data shards takes the fast path instead
    (:mod:`parallel._fast`): one task on a warm worker, the same results.
    """
    storage_path, name, fs = _checkpoint_location(checkpoint_uri)
    if _fast.eligible(scaling_config, max_failures, max_preemption_failures, datasets, backend):
        metrics, checkpoint, (attempts, events) = _fast.run(
            _one_line_errors(train_fn), config, trainer=trainer, scaling_config=scaling_config,
            storage=(f"{storage_path}/{name}", fs), keep=keep_checkpoints,
            environment=environment or {}, on_progress=on_progress, should_stop=should_stop,
            script="entry_point" in config)
        return LaunchResult(checkpoint, metrics or {}, 0, interruptions(attempts, events), events)
    from ray.train import CheckpointConfig, FailureConfig, RunConfig
    from ray.train.v2.api.config import LoggingConfig

    from parallel._reporting import MetricsSink

    # Ray Train propagates these variables from the driver to its controller (any cluster).
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S",
                          str(constants.get("MLCORE_TRAIN_POLL_INTERVAL_S")))
    os.environ.setdefault("RAY_TRAIN_PREEMPTION_POLL_INTERVAL_S",
                          str(constants.get("MLCORE_PREEMPTION_POLL_INTERVAL_S")))
    # Ray Train's preemption watcher (an actor per run) serves spot jobs' just-in-time
    # checkpoints: a job that does not run on spot capacity goes without it.
    os.environ["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] = "1" if max_preemption_failures < 0 else "0"
    run_config = RunConfig(
        name=name, storage_path=storage_path, storage_filesystem=fs,
        # Preemptions (a drained node, e.g. a spot reclaim) have their own retry budget.
        failure_config=FailureConfig(max_failures=max_failures,
                                     max_preemption_failures=max_preemption_failures),
        checkpoint_config=CheckpointConfig(num_to_keep=keep_checkpoints),
        worker_runtime_env={"env_vars": environment} if environment else None,
        logging_config=LoggingConfig(log_level=constants.ray_log_level()),
    )
    # On the driver's node: a drained (preempted) worker node must not take the metrics with
    # it. Hard affinity: a soft one lets the raylet spill a 0-CPU actor to another node.
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    sink = MetricsSink.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        ray.get_runtime_context().get_node_id(), soft=False)).remote()
    stop = threading.Event()
    aborted: list[str] = []  # the reason, once should_stop gave one
    sent = threading.Event()

    def watch():
        while not stop.wait(1.0):
            try:
                on_progress(*ray.get(sink.drain.remote()))
            except Exception as e:  # never let the progress thread kill the job
                log.debug("progress poll failed: %s", e)
            if should_stop and not aborted and (reason := should_stop()):
                aborted.append(reason)
            if aborted and not sent.is_set() and _abort(sink):  # retried until it is sent
                sent.set()

    watcher = threading.Thread(target=watch, name="mlcore-progress", daemon=True)
    watcher.start()
    try:
        trainer_cls = _trainer_class(trainer)
        if constants.get("MLCORE_EMBEDDED_RAY"):  # no dashboard: its cleaner cannot work
            trainer_cls = without_placement_group_cleaner(trainer_cls)
        extra = {"datasets": datasets} if datasets else {}
        if trainer == "torch" and backend:
            extra["torch_config"] = _torch_config(backend)
        try:
            result = trainer_cls(_one_line_errors(train_fn),
                                 train_loop_config={**config, "metrics_sink": sink},
                                 scaling_config=scaling_config, run_config=run_config, **extra).fit()
        except Exception:
            if aborted:
                raise Aborted(aborted[0]) from None
            raise
        if aborted:
            raise Aborted(aborted[0])
    finally:
        stop.set()
        watcher.join()
        attempts, events = [], []
        try:  # the last metrics; never let tracking hide the training outcome
            on_progress(*ray.get(sink.drain.remote()))
            attempts, events = ray.get(sink.history.remote())
        except Exception as e:
            log.warning("could not record the last metrics: %s", e)
        finally:
            ray.kill(sink)
    return LaunchResult(result.checkpoint, result.metrics or {}, max(0, len(attempts) - 1),
                        interruptions(attempts, events), events)


def _abort(sink) -> bool:
    """Ray Train's graceful abort, as its SIGINT handler does it; if that does not finish in
    time, the controller is killed and the worker group's placement group removed (a Train
    run whose controller dies keeps its placement group unless Ray's dashboard runs). False
    if the run is not known yet (no worker has started)."""
    from ray.util.placement_group import PlacementGroup, remove_placement_group

    try:
        controller, pg = ray.get(sink.controller.remote(), timeout=30) or (None, None)
    except Exception as e:
        log.info("aborting the training run: %s", e)
        return True
    if controller is None and pg is None:
        return False
    try:
        abort_run(controller, constants.get("MLCORE_ABORT_TIMEOUT_S"))
        return True
    except Exception as e:  # the run may have ended meanwhile, or the abort hangs
        log.info("aborting the training run: %s; ending it by force", e)
    try:
        if controller is not None:
            ray.kill(controller)
        if pg:
            remove_placement_group(PlacementGroup(ray.PlacementGroupID.from_hex(pg)))
    except Exception as e:
        log.info("ending the training run: %s", e)
    return True


def _torch_config(backend: str):
    """gloo on CPU, nccl on GPU, the XLA backend on Trainium (neuron cores)."""
    if backend == "xla":
        from ray.train.torch.xla import TorchXLAConfig
        return TorchXLAConfig()
    from ray.train.torch import TorchConfig
    return TorchConfig(backend=backend)


def _trainer_class(trainer: str):
    if trainer == "xgboost":
        from ray.train.xgboost import XGBoostTrainer
        return XGBoostTrainer
    if trainer == "torch":
        from ray.train.torch import TorchTrainer
        return TorchTrainer
    raise ValueError(f"unknown trainer {trainer!r}")


def worker_error(exc: BaseException) -> BaseException:
    """The lowest-ranked failed worker's own exception inside Ray Train's wrappers, if there
    is one (else ``exc``): what :func:`mlcore.errors.root_cause` explains."""
    failures = getattr(exc, "worker_failures", None)
    err = failures[min(failures)] if isinstance(failures, dict) and failures else exc
    cause = getattr(err, "cause", None)  # a RayTaskError's own exception
    return user_exception(cause if isinstance(cause, BaseException) else err)


def _one_line_errors(train_fn: Callable[[dict], None]) -> Callable[[dict], None]:
    """``train_fn`` whose failure reaches the driver's terminal as one line (the driver
    reports the reason); the worker's log keeps the traceback."""
    def train_loop_per_worker(config: dict) -> None:
        quiet_worker_tracebacks()
        return train_fn(config)
    return train_loop_per_worker
