"""The runtime SageMaker's first-party algorithms share (Linear Learner, K-Means, PCA, Random
Cut Forest, Factorization Machines, k-NN): one Ray Train worker function, one model format,
one way to answer.

An algorithm module provides::

    HYPERPARAMETERS: dict[str, HP]          # SageMaker's names, types, ranges, defaults
    LABELLED: dict[str, bool]               # channel -> its rows carry a label (CSV: first)
    CHANNELS, REQUIRED_CHANNELS             # the channels it reads
    check(hp) -> [(name, message)]          # rules across hyperparameters
    metric_names(hp, channels) -> [str]     # what it reports (validation:objective_loss, ...)
    default_objective(hp) -> str
    fit(worker: Worker, data: {channel: Shard}, hp) -> (arrays: {name: ndarray}, meta: dict)
    load(arrays, meta) -> model             # what predict takes
    predict(model, X) -> structured ndarray # fields named as SageMaker's response keys
    feature_count(model) -> int
    EXAMPLE: dict                           # trains in seconds on the conformance data

Workers run under ``TorchTrainer`` (a gloo group when there are several): each reads its own
share of every channel (:mod:`algorithms._data`), computes what it can alone, and combines
with the others through :class:`Worker`'s collectives (sums, gathers, rank 0's decision).
Rank 0 reports metrics through the side channel and writes the model: ``model.npz`` (the
arrays) and ``model.json`` (algorithm, hyperparameters, meta).

Predictions are structured arrays whose fields are the keys of SageMaker's answers
(``score`` / ``predicted_label``, ``closest_cluster`` / ``distance_to_cluster``,
``projection``); :mod:`serving._payload` renders them as the algorithm's container does (JSON
``{"predictions": [{...}]}``, JSON Lines, CSV, RecordIO-protobuf ``Record.label``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

log = logging.getLogger("mlcore")

ARRAYS, META = "model.npz", "model.json"


@dataclass
class Shard:
    """One channel's rows on this worker: ``X`` float32 ``[n, d]`` (sparse RecordIO rows
    expanded), ``y`` float32 ``[n]`` or None (an unlabelled channel)."""

    X: Any
    y: np.ndarray | None

    def __len__(self) -> int:
        return self.X.shape[0]


class Worker:
    """This worker's rank and the collectives across the job's workers (identity with one)."""

    def __init__(self, config: dict, rank: int, world: int):
        from parallel._reporting import MetricsBuffer, worker_cpus

        self.rank, self.world, self.config = rank, world, config
        self.cpus = worker_cpus()
        self.buffer = MetricsBuffer(config["metrics_sink"])
        self.deadline = (config.get("deadline") or (None, None))[0]
        self._policy = None
        self._jit_done = False

    # -- collectives ------------------------------------------------------------------------
    @property
    def distributed(self) -> bool:
        import torch.distributed as dist

        return self.world > 1 and dist.is_available() and dist.is_initialized()

    def sum(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """Element-wise sums over the workers (float64), in one message."""
        flat = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays]) if arrays \
            else np.zeros(0)
        if self.distributed:
            import torch
            import torch.distributed as dist

            t = torch.from_numpy(flat.copy())
            dist.all_reduce(t)
            flat = t.numpy()
        out, at = [], 0
        for a in arrays:
            size = np.asarray(a).size
            out.append(flat[at:at + size].reshape(np.shape(a)))
            at += size
        return out

    def gather(self, value) -> list:
        """Every worker's ``value`` (any picklable object), in rank order."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def agreed(self, decision):
        """Rank 0's ``decision`` on every rank (checkpoints and stops must be collective)."""
        if not self.distributed:
            return decision
        import torch.distributed as dist

        box = [decision]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    # -- progress ---------------------------------------------------------------------------
    def report(self, step: int, metrics: dict[str, float], progress: dict | None = None) -> None:
        """Metrics under SageMaker's names (``train:objective_loss``) at ``step``; rank 0's
        only (every rank's values must already be combined)."""
        if self.rank == 0:
            self.buffer.add(step, {k: float(v) for k, v in metrics.items()}, progress or {})

    def say(self, message: str, *args) -> None:
        if self.rank == 0:
            log.info(message, *args)

    def warn(self, message: str, *args) -> None:
        if self.rank == 0:
            log.warning(message, *args)

    def out_of_time(self) -> bool:
        """``max_run`` / ``max_wait`` reached (rank 0 decides for all)."""
        return bool(self.agreed(bool(self.deadline and time.time() > self.deadline)))

    # -- checkpoints ------------------------------------------------------------------------
    def restored(self) -> dict | None:
        """The arrays and meta of the job's last checkpoint (a resumed or retried job), or
        None: ``{"arrays": {...}, "meta": {...}}``."""
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if not checkpoint:
            return None
        with checkpoint.as_directory() as d:
            arrays, meta = read(d)
        return {"arrays": arrays, "meta": meta}

    def epoch_done(self, epoch: int, epochs: int, state) -> None:
        """After ``epoch`` of ``epochs``: a checkpoint of ``state()`` (``(arrays, meta)``) when
        the job's checkpoint policy asks for one, or a spot notice arrived."""
        import ray.train

        from parallel import CheckpointPolicy
        from parallel._reporting import report_checkpoint

        if self._policy is None:
            self._policy = CheckpointPolicy(self.config["checkpoint_frequency"],
                                            self.config["checkpoint_min_interval_s"])
            self._policy.started(time.monotonic())
        policy = self._policy
        if not policy.candidate(epoch, epochs):
            return
        due = self.agreed(policy.due(epoch, epochs, time.monotonic()))
        if not due and not self._jit_done and ray.train.get_preemption_info() is not None:
            self._jit_done = due = True  # a node of this job is being drained: save now
        if due:
            self.buffer.flush({"epoch": epoch, "epochs": epochs})
            arrays, meta = state()
            report_checkpoint({"epoch": epoch}, partial(write, arrays=arrays,
                                                        meta={**meta, "epoch": epoch}))


def write(local_dir: str, arrays: dict, meta: dict) -> None:
    np.savez(os.path.join(local_dir, ARRAYS), **{k: np.asarray(v) for k, v in arrays.items()})
    with open(os.path.join(local_dir, META), "w") as f:
        json.dump(meta, f, default=str)


def read(local_dir: str) -> tuple[dict, dict]:
    with np.load(os.path.join(local_dir, ARRAYS), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    with open(os.path.join(local_dir, META)) as f:
        return arrays, json.load(f)


def _module(name: str):
    return importlib.import_module(f"algorithms.{name}")


def validated(impl, hyperparameters: dict) -> dict:
    """``hyperparameters`` (SageMaker sends strings) converted by ``impl``'s table; the
    defaults are the algorithm's to apply."""
    from algorithms._hyperparameters import validate

    return validate(impl.NAME, impl.HYPERPARAMETERS, hyperparameters)


def train_fn(module: str, config: dict) -> None:
    """Runs in each Ray Train worker: read this rank's shards, fit, write the model."""
    import ray.train

    from parallel._reporting import controller_handle, report_checkpoint

    impl = _module(module)
    started = time.time()
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    if rank == 0:
        config["metrics_sink"].started.remote(None, controller_handle())
    worker = Worker(config, rank, world)
    hp = validated(impl, config["hyperparameters"])
    t0 = time.perf_counter()
    data = read_channels(config, impl, rank, world)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    with _threads(worker.cpus):
        arrays, meta = impl.fit(worker, data, hp)
    final = {"worker_start_time": started, "data_load_seconds": load_s,
             "train_seconds": time.perf_counter() - t1}
    worker.buffer.flush({})
    meta = {"algorithm": impl.NAME, "hyperparameters": {k: str(v) for k, v in hp.items()},
            **meta}
    report_checkpoint(final, partial(write, arrays=arrays, meta=meta), final=True)


@contextlib.contextmanager
def _threads(cpus: int):
    """BLAS, OpenMP (scikit-learn, faiss) and torch use the worker's CPUs, not the machine's."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(cpus)
    try:
        with threadpool_limits(cpus):
            yield
    finally:
        torch.set_num_threads(before)


# The trials of a tuning job read the same channels: a warm worker keeps the last parsed shards.
_CACHE: dict[tuple, dict] = {}


def read_channels(config: dict, impl, rank: int, world: int) -> dict[str, Shard]:
    from algorithms._data import read_shard

    key = None
    if config.get("data_cache_key"):
        key = (config["data_cache_key"], json.dumps(config["channels"], sort_keys=True,
                                                    default=str), rank, world, impl.NAME)
        if key in _CACHE:
            return dict(_CACHE[key])
    _CACHE.clear()
    data = {}
    for name, ch in config["channels"].items():
        if name in impl.CHANNELS:
            X, y = read_shard(ch["uri"], ch.get("content_type"), rank, world, None,
                              ch.get("files"), labelled=impl.LABELLED.get(name, True))
            data[name] = Shard(X, y)
    if key:
        _CACHE[key] = dict(data)
    return data


def load_model(module: str, local_dir: str):
    arrays, meta = read(local_dir)
    return _module(module).load(arrays, meta)


def algorithm(module: str):
    """The Algorithm record of ``algorithms.<module>``."""
    from algorithms._contract import Algorithm
    from algorithms._data import CSV, PARQUET, RECORDIO

    impl = _module(module)
    return Algorithm(
        impl.NAME, impl.HYPERPARAMETERS, partial(train_fn, module), partial(load_model, module),
        impl.predict, impl.metric_names, impl.default_objective, impl.feature_count,
        trainer="torch", mlflow_flavor="pyfunc",
        content_types=getattr(impl, "CONTENT_TYPES", (CSV, PARQUET, RECORDIO)),
        channels=impl.CHANNELS, required_channels=impl.REQUIRED_CHANNELS,
        unlabelled=tuple(c for c in impl.CHANNELS if not impl.LABELLED.get(c, True)),
        check=impl.check, example_hyperparameters=impl.EXAMPLE)


def structured(n: int, **columns) -> np.ndarray:
    """A structured prediction array of ``n`` rows from named columns ([n] or [n, k]):
    float32, or int32 for integer columns (a classifier's ``predicted_label``)."""
    cols = {k: np.asarray(v) for k, v in columns.items()}
    cols = {k: v.astype(np.int32 if np.issubdtype(v.dtype, np.integer) else np.float32)
            for k, v in cols.items()}
    dtype = [(k, v.dtype, v.shape[1:]) if v.ndim > 1 else (k, v.dtype) for k, v in cols.items()]
    out = np.empty(n, dtype=dtype)
    for k, v in cols.items():
        out[k] = v
    return out


def pyfunc_model(name: str):
    """An MLflow ``PythonModel`` serving built-in ``name``'s model from the ``model``
    artifact (:mod:`algorithms._amazon_pyfunc`)."""
    from algorithms._amazon_pyfunc import FirstPartyModel

    return FirstPartyModel(name)
