"""Getting metrics and checkpoints out of Ray Train workers without stalling them.

Each ``ray.train.report`` after the first blocks until the controller polls (~2 s here), so
reporting every boosting round makes a fast job many times slower. Instead:

* metrics go through a side channel: rank 0 buffers ``(key, value, step)`` rows and pushes
  them, about once a second and fire-and-forget, to a :class:`MetricsSink` actor the driver
  drains into MLflow and the progress line;
* periodic checkpoints use ``CheckpointUploadMode.ASYNC``: the upload and the hand-off to the
  controller run on Ray's upload thread while training continues.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable

import ray


class Sink:
    """Collects metric rows from rank 0; the driver drains them. Steps seen twice (a worker
    restarted from an earlier checkpoint recomputes them) keep their latest value."""

    def __init__(self):
        self._rows: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        self._progress: dict = {}
        self._attempts: list[dict] = []
        self._events: list[dict] = []
        self._controller = None

    def started(self, restored_step: int | None = None, controller=None) -> int:
        """Called by rank 0 each time the worker group (re)starts; returns the count.
        ``controller``: the run's Ray Train controller, kept so the driver can abort it."""
        now = time.time()
        self._controller = controller or self._controller  # (actor handle, placement group id)
        self._attempts.append({"start": now, "last_seen": now, "restored_step": restored_step})
        return len(self._attempts)

    def controller(self):
        return self._controller

    def starts(self) -> int:
        return len(self._attempts)

    def history(self) -> tuple[list[dict], list[dict]]:
        """``(attempts, events)``: when each attempt started and was last heard from, and the
        preemption notices seen."""
        return list(self._attempts), list(self._events)

    def event(self, kind: str, info: dict) -> None:
        self._events.append({"kind": kind, "time": time.time(), **info})
        self._seen()

    def _seen(self) -> None:
        if self._attempts:
            self._attempts[-1]["last_seen"] = time.time()

    def push(self, rows: list[tuple[str, float, int]], progress: dict) -> None:
        with self._lock:
            for key, value, step in rows:
                self._rows[(key, step)] = value
            self._progress.update(progress)
            self._seen()

    def drain(self) -> tuple[list[tuple[str, float, int]], dict]:
        with self._lock:
            rows = [(k, v, s) for (k, s), v in self._rows.items()]
            self._rows.clear()
            return rows, dict(self._progress)


MetricsSink = ray.remote(num_cpus=0, max_concurrency=4)(Sink)  # the actor (Ray Train runs)


class MetricsBuffer:
    """Worker side: buffer rows, push at most every ``interval_s`` seconds (rank 0 only)."""

    def __init__(self, sink, interval_s: float = 1.0):
        self._sink = sink if ray.train.get_context().get_world_rank() == 0 else None
        self._rows: list[tuple[str, float, int]] = []
        # an in-process sink (the fast path) takes every push at no cost
        self._interval = getattr(sink, "push_interval_s", interval_s)
        self._last = 0.0

    def add(self, step: int, metrics: dict[str, float], progress: dict | None = None) -> None:
        if self._sink is None:
            return
        self._rows.extend((k, float(v), step) for k, v in metrics.items())
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._sink.push.remote(self._rows, progress or {})
            self._rows, self._last = [], now

    def flush(self, progress: dict | None = None) -> None:
        if self._sink is not None:
            # Blocking on the last push orders it before the driver's final drain.
            ray.get(self._sink.push.remote(self._rows, progress or {}))
            self._rows = []


def controller_handle():
    """``(controller, placement group id)`` of this run, from a worker. Ray Train V2 aborts a
    run gracefully (worker group and placement group released) only through its controller,
    and hands the controller to the driver only in a SIGINT handler; the worker's context has
    it. The placement group is the fallback: removed by hand when the abort does not finish."""
    from parallel._ray_compat import train_controller

    return train_controller(), ray.get_runtime_context().get_placement_group_id()


def report_checkpoint(metrics: dict, write: Callable[[str], None], final: bool = False) -> None:
    """Report a checkpoint from every rank (Ray requires all ranks to call ``report``).

    Rank 0 writes it with ``write(dir)``; the others report none. Periodic checkpoints upload
    asynchronously; the final one synchronously, so ``fit`` returns it.
    """
    from ray.train import Checkpoint, CheckpointUploadMode

    checkpoint = None
    if ray.train.get_context().get_world_rank() == 0:
        path = tempfile.mkdtemp(prefix="mlcore-ckpt-")
        write(path)
        checkpoint = Checkpoint.from_directory(path)
    mode = CheckpointUploadMode.SYNC if final else CheckpointUploadMode.ASYNC
    ray.train.report(metrics, checkpoint=checkpoint, checkpoint_upload_mode=mode,
                     delete_local_checkpoint_after_upload=True if checkpoint else None)


def worker_cpus() -> int:
    """CPUs reserved for this worker (what a thread pool inside it should use)."""
    ids = ray.get_runtime_context().get_assigned_resources().get("CPU")
    return max(1, int(ids or os.cpu_count() or 1))
