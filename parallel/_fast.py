"""The fast path: a single-worker job as one Ray task on a warm worker process.

A Ray Train run costs about seven new processes (controller, placement-group cleaner, sync
actor, worker, preemption watcher, metrics sink) before the first step: 10-18 s on 2 CPUs,
more than many jobs train. A job with one worker, no retries and no spot capacity needs none
of them. It runs here as one task holding the job's CPUs / GPUs on one of Ray's pooled
workers (warm: its imports stay loaded for the next job), with the same training function:

* ``ray.train.get_context()`` / ``report`` / ``get_checkpoint`` work as under Ray Train
  (rank 0 of 1); checkpoints are persisted to the job's checkpoint folder as Ray Train lays
  them out (``checkpoint_<time>``, the newest ``keep`` kept) and resumed from;
* the metrics sink is an object in the task's own process, drained every ~0.1 s into the
  task's stream of results (a streaming generator), so metrics reach the driver within a
  fraction of a second instead of a second or more;
* a script (its ``os.environ``, working directory, imported modules) runs in a process of
  its own that exits after the job (``max_calls=1``); built-ins reuse the process, their
  environment variables set for the job and restored after it.

A stop (``should_stop``) cancels the task: the training thread gets :class:`Aborted` at its
next Python step; a thread that does not end in time takes its process with it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable

import ray

from mlcore import constants
from mlcore.errors import MLCoreError

log = logging.getLogger("mlcore")

STREAM_INTERVAL_S = 0.1  # how often the task hands new metric rows to the driver
INDEX = ".mlcore-checkpoints.json"  # the persisted checkpoints, oldest first


class Aborted(MLCoreError):
    """The driver stopped the run (``should_stop``) before it finished."""


class _Stop(BaseException):
    """Raised into the training thread of a cancelled task (a BaseException: a script's
    ``except Exception`` must not swallow it)."""


def eligible(scaling_config, max_failures: int, max_preemption_failures: int,
             datasets: dict | None, backend: str | None) -> bool:
    """One worker, nothing to retry, no Ray Data shards to split, no NCCL / XLA group to set
    up: no need for Ray Train. ``MLCORE_FAST_PATH=0`` sends every job through Ray Train."""
    return bool(constants.get("MLCORE_FAST_PATH") and scaling_config.num_workers == 1
                and max_failures == 0 and max_preemption_failures == 0 and not datasets
                and backend in (None, "gloo"))


# --- inside the task ---------------------------------------------------------------------
class _Call:
    def __init__(self, fn):
        self._fn = fn

    def remote(self, *args, **kwargs):
        return ray.put(self._fn(*args, **kwargs))  # what ray.get on an actor call expects


class LocalSink:
    """The task-side stand-in of :class:`parallel._reporting.MetricsSink`: the same methods,
    called in-process (``sink.push.remote(...)`` returns a ready ObjectRef), and a stop flag
    that the next push or event turns into :class:`_Stop` in the training thread."""

    push_interval_s = 0.0  # read by MetricsBuffer: pushing here is a function call

    def __init__(self):
        from parallel._reporting import Sink

        self._impl = Sink()
        self.stop_reason: str | None = None

    def __getattr__(self, name):
        method = getattr(self._impl, name)

        def call(*args, **kwargs):
            if self.stop_reason and name in ("push", "event"):
                raise _Stop(self.stop_reason)
            return method(*args, **kwargs)
        return _Call(call)


def _persist(local_dir: str, storage: tuple, keep: int) -> tuple[str, object]:
    """Upload a checkpoint folder as ``<run>/checkpoint_<time>``, list it in the run's index,
    drop the oldest beyond ``keep``; returns ``(path, filesystem)``."""
    import pyarrow.fs as pafs

    run_path, fs = storage
    name = time.strftime("checkpoint_%Y-%m-%d_%H-%M-%S.") + f"{time.time() % 1:.6f}"[2:]
    dest = f"{run_path}/{name}"
    fs.create_dir(dest, recursive=True)
    pafs.copy_files(local_dir, dest, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    index = _index(run_path, fs) + [name]
    for old in index[:-keep] if keep and keep > 0 else []:
        try:
            fs.delete_dir(f"{run_path}/{old}")
        except OSError:
            pass
    index = index[-keep:] if keep and keep > 0 else index
    with fs.open_output_stream(f"{run_path}/{INDEX}") as f:  # after the upload: complete ones only
        f.write(json.dumps(index).encode())
    return dest, fs


def _index(run_path: str, fs) -> list[str]:
    try:
        with fs.open_input_stream(f"{run_path}/{INDEX}") as f:
            return json.loads(f.read())
    except (FileNotFoundError, OSError, ValueError):
        return []


def _utils(name: str, storage: tuple, keep: int):
    """Ray Train's local-mode function utilities, with checkpoints persisted and resumed."""
    import shutil

    from ray.train import Checkpoint

    from parallel._ray_compat import local_train_fn_utils

    class FastTrainFnUtils(local_train_fn_utils()):
        def __init__(self):
            super().__init__(experiment_name=name)
            index = _index(*storage)
            self._last_checkpoint = (Checkpoint(f"{storage[0]}/{index[-1]}", filesystem=storage[1])
                                     if index else None)

        def report(self, metrics, checkpoint=None, checkpoint_dir_name=None,
                   checkpoint_upload_mode=None, delete_local_checkpoint_after_upload=None,
                   checkpoint_upload_fn=None, validation=False):
            self._last_metrics = metrics
            if checkpoint is not None:
                path, fs = _persist(checkpoint.path, storage, keep)
                if delete_local_checkpoint_after_upload:
                    shutil.rmtree(checkpoint.path, ignore_errors=True)
                self._last_checkpoint = Checkpoint(path, filesystem=fs)

    return FastTrainFnUtils()


def _torch_group() -> Callable[[], None]:
    """A one-process gloo group, as Ray Train's TorchTrainer sets one up for its worker (a
    script's ``dist.get_world_size()``, DDP wrappers and barriers work); returns its teardown."""
    import socket

    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                      NODE_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if not dist.is_initialized():
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    return lambda: dist.is_initialized() and dist.destroy_process_group()


def _job(train_fn, config: dict, name: str, storage: tuple, keep: int,
         environment: dict[str, str], trainer: str):
    """The task: run ``train_fn`` in a thread, stream ``("rows", rows, progress)`` items, end
    with ``("result", metrics, checkpoint, history)``."""
    from parallel._ray_compat import set_train_fn_utils

    saved_env, cwd = dict(os.environ), os.getcwd()
    sink = LocalSink()
    utils = _utils(name, storage, keep)
    outcome: dict = {}

    def target():
        teardown = None
        try:
            if trainer == "torch":
                teardown = _torch_group()
            set_train_fn_utils(utils)
            train_fn({**config, "metrics_sink": sink})
        except BaseException as e:  # handed to the driver below
            outcome["error"] = e
        finally:
            if teardown:
                teardown()

    os.environ.update(environment)
    thread = threading.Thread(target=target, name="mlcore-train", daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            thread.join(STREAM_INTERVAL_S)
            rows, progress = sink._impl.drain()
            if rows:
                yield ("rows", rows, progress)
        rows, progress = sink._impl.drain()
        yield ("rows", rows, progress)
        if "error" in outcome:
            raise outcome["error"]
        checkpoint = utils.get_checkpoint()
        yield ("result", utils._get_last_metrics() or {}, checkpoint, sink._impl.history())
    except (KeyboardInterrupt, GeneratorExit):  # ray.cancel: stop the training thread
        sink.stop_reason = "stopped by the driver"
        _raise_in(thread, _Stop)
        thread.join(constants.get("MLCORE_ABORT_TIMEOUT_S"))
        if thread.is_alive():  # stuck in native code: this process must not keep training
            log.error("training thread did not stop; ending its worker process")
            os._exit(1)
        raise
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(cwd)


def _raise_in(thread: threading.Thread, exc: type[BaseException]) -> None:
    """Raise ``exc`` in ``thread`` at its next Python bytecode (CPython's public C API)."""
    import ctypes

    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))


# --- the driver side -----------------------------------------------------------------------
_WARM = ray.remote(num_returns="streaming", max_retries=0)(_job)
# a script's changes to its process (environment, cwd, modules) end with the process
_FRESH = ray.remote(num_returns="streaming", max_retries=0, max_calls=1)(_job)


def run(train_fn, config: dict, *, trainer: str, scaling_config, storage: tuple, keep: int,
        environment: dict[str, str], on_progress, should_stop, script: bool):
    """Run the job as one task; returns ``(metrics, checkpoint, history)``. Raises the
    training function's own error, or :class:`Aborted` with ``should_stop``'s reason."""
    res = dict(scaling_config.resources_per_worker or {"CPU": 1})
    cpus, gpus = res.pop("CPU", 0), res.pop("GPU", 0)
    res.pop("memory", None)
    task = (_FRESH if script else _WARM).options(
        num_cpus=cpus, num_gpus=gpus, resources=res or None, name=f"mlcore-job:{config.get('job_name', '')}",
        # not in the caller's placement group: a Tune trial actor's bundle holds no CPU
        # (Tune captures child tasks into it)
        scheduling_strategy="DEFAULT")
    stream = task.remote(train_fn, config, storage[0].split("/")[-1], storage, keep, environment, trainer)
    done = threading.Event()
    reason: list[str] = []

    def watch():
        while not done.wait(0.25):
            try:
                why = should_stop() if should_stop else None
            except Exception as e:  # never let the watcher kill the job
                log.debug("stop check failed: %s", e)
                continue
            if why:
                reason.append(why)
                ray.cancel(stream)
                return

    watcher = threading.Thread(target=watch, name="mlcore-stop-watch", daemon=True)
    watcher.start()
    try:
        for ref in stream:
            item = ray.get(ref)
            if item[0] == "rows":
                on_progress(item[1], item[2])
            else:
                return item[1], item[2], item[3]
        raise MLCoreError("the training task ended without a result")
    except Exception:
        if reason:
            raise Aborted(reason[0]) from None
        raise
    finally:
        done.set()
        watcher.join()
