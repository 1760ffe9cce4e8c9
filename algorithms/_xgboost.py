"""Built-in XGBoost, with SageMaker's hyperparameter names and data conventions, on
``ray.train.xgboost.XGBoostTrainer``.

Metrics are named as SageMaker names them (``train:auc``, ``validation:rmse``); a model is
saved as ``xgboost-model`` (SageMaker's file name) and registered with MLflow's xgboost flavour.
"""

from __future__ import annotations

import json
import logging
import os
import time

import numpy as np
import xgboost as xgb

# The table, its rules and the metric names (re-exported: tests and tuning read them here).
from algorithms._xgboost_params import (  # noqa: F401
    _JOB,
    EVAL_METRICS,
    HYPERPARAMETERS,
    MODEL_FILE,
    OBJECTIVES,
    _check,
    _custom_metric,
    _early_stopping,
    _validated,
    default_metric,
    default_objective,
    metric_names,
    reported_metrics,
    xgboost_params,
)

log = logging.getLogger("mlcore")


def train_fn(config: dict) -> None:
    """Runs in each Ray Train worker: read this rank's shard, boost, checkpoint, report."""
    import ray.train

    from parallel._reporting import MetricsBuffer, controller_handle, report_checkpoint, worker_cpus

    started = time.time()
    ctx = ray.train.get_context()
    if ctx.get_world_rank() == 0:
        config["metrics_sink"].started.remote(None, controller_handle())
    t0 = time.perf_counter()
    dmats = _load_channels(config, ctx.get_world_rank(), ctx.get_world_size())
    load_s = time.perf_counter() - t0

    import ray

    hp, notes = config["hyperparameters"], []
    params, num_round, early_stop = xgboost_params(hp, gpu=bool(ray.get_gpu_ids()), notes=notes)
    params.setdefault("nthread", worker_cpus())
    buffer = MetricsBuffer(config["metrics_sink"])
    callbacks = [_Report(buffer, num_round, config)]
    if early_stop and "validation" in dmats:  # after _Report: xgboost stops at the first True
        callbacks.append(_early_stopping(_validated(hp), early_stop))
    elif early_stop:
        notes.append("early_stopping_rounds ignored: it watches the validation channel, and "
                     "this job has none")
    if ctx.get_world_rank() == 0:
        for note in notes:
            log.warning("xgboost: %s", note)
    start_model, done = None, 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            start_model = load_model(d)
        done = start_model.num_boosted_rounds()
        if done >= num_round and ctx.get_world_rank() == 0:
            log.warning("xgboost: resumed from a checkpoint with %d rounds boosted (num_round=%d): "
                        "nothing left to train, so no round reports a metric; a new job needs a "
                        "checkpoint_s3_uri of its own", done, num_round)
    t1 = time.perf_counter()
    booster = xgb.train(params, dmats["train"], num_boost_round=max(0, num_round - done),
                        evals=[(dmats[n], n) for n in ("train", "validation") if n in dmats],
                        xgb_model=start_model, custom_metric=_custom_metric(_validated(hp)),
                        callbacks=callbacks, verbose_eval=False)
    final = {"round": booster.num_boosted_rounds(), "worker_start_time": started,
             "data_load_seconds": load_s, "train_seconds": time.perf_counter() - t1,
             "resumed_from_round": done}
    buffer.flush({"round": booster.num_boosted_rounds(), "num_round": num_round})
    report_checkpoint(final, lambda d: save_model(booster, d), final=True)


# The trials of a tuning job read the same channels: a warm worker process (the fast path)
# keeps the last tuning job's parsed DMatrix objects, so each worker parses them once.
_CACHE: dict[tuple, dict] = {}


def _load_channels(config: dict, rank: int, world: int) -> dict:
    """This rank's share of the train/validation channels as DMatrix objects."""
    hp = config["hyperparameters"]
    key = None
    if config.get("data_cache_key"):
        key = (config["data_cache_key"], json.dumps(config["channels"], sort_keys=True, default=str),
               rank, world, str(hp.get("label_column")), str(hp.get("csv_weights", 0)))
        if key in _CACHE:
            return dict(_CACHE[key])
    _CACHE.clear()  # another tuning job's data, or a standalone job: nothing kept for later
    dmats = _read_channels(config, rank, world)
    if key:
        _CACHE[key] = dict(dmats)
    return dmats


def _read_channels(config: dict, rank: int, world: int) -> dict:
    from algorithms._data import read_shard_weighted

    hp = config["hyperparameters"]
    csv_weights = str(hp.get("csv_weights", 0)) == "1"
    dmats = {}
    for name, ch in config["channels"].items():
        if name in ("train", "validation"):
            X, y, w = read_shard_weighted(ch["uri"], ch.get("content_type"), rank, world,
                                          hp.get("label_column"), ch.get("files"), csv_weights)
            dmats[name] = xgb.DMatrix(X, label=y, weight=w, nthread=-1)
    return dmats


class _Report(xgb.callback.TrainingCallback):
    """Per round: metrics to the side channel; periodic checkpoints when the policy agrees."""

    def __init__(self, buffer, num_round: int, config: dict):
        from parallel import CheckpointPolicy

        super().__init__()
        self.buffer, self.num_round = buffer, num_round
        self.policy = CheckpointPolicy(config["checkpoint_frequency"], config["checkpoint_min_interval_s"])
        self.policy.started(time.monotonic())
        self.deadline, self.limit = config.get("deadline") or (None, None)
        self.sink = config["metrics_sink"]
        self.jit_done = False

    def after_iteration(self, model, epoch, evals_log) -> bool:
        from parallel import report_checkpoint

        step = model.num_boosted_rounds()  # `epoch` restarts at 0 when resuming
        last = {f"{ch}:{m}": float(v[-1]) for ch, ms in evals_log.items() for m, v in ms.items()}
        self.buffer.add(step, last, {"round": step, "num_round": self.num_round})
        policy = self.policy
        if policy.candidate(step, self.num_round) and (_agreed(
                policy.due(step, self.num_round, time.monotonic())) or self._preempted(step)):
            # Metrics first: a restart resumes after this round and never recomputes the
            # rounds still buffered here.
            self.buffer.flush({"round": step, "num_round": self.num_round})
            report_checkpoint({"round": step, **last}, lambda d: save_model(model, d))
        # max_run / max_wait, looked at every checkpoint_frequency rounds (a broadcast each round
        # would cost more than it saves)
        if self.deadline and policy.candidate(step, None) and _agreed(time.time() > self.deadline):
            import ray

            if xgb.collective.get_rank() == 0:
                ray.get(self.sink.event.remote("stopped", {"step": step, "limit": self.limit}))
            return True  # stop boosting; the run ends with a Stopped record
        return False


    def _preempted(self, step: int) -> bool:
        """A node of this job is being drained (spot reclaim): checkpoint now, once. Asked at
        checkpoint candidates only: the call is a barrier across ranks."""
        import ray.train

        if self.jit_done or ray.train.get_preemption_info() is None:
            return False
        self.jit_done = True
        if xgb.collective.get_rank() == 0:
            self.sink.event.remote("preemption", {"step": step})
        return True


def save_model(booster, local_dir: str) -> None:
    # What SageMaker's container writes (bst.save_model("xgboost-model")): with no extension
    # xgboost 3 writes UBJSON, and xgboost.Booster().load_model("xgboost-model") reads it back
    # (guessing UBJSON). The bytes are written here directly, without save_model's warning.
    with open(os.path.join(local_dir, MODEL_FILE), "wb") as f:
        f.write(booster.save_raw("ubj"))


def _agreed(decision: bool) -> bool:
    """Rank 0's decision on every rank: ``ray.train.report`` is a barrier across ranks, so a
    rank that checkpoints while another does not would wait for it forever."""
    if xgb.collective.get_world_size() <= 1:
        return decision
    return bool(xgb.collective.broadcast(decision, 0))


def load_model(local_dir: str):
    # Loaded from bytes: SageMaker's extension-less file name makes xgboost guess the format.
    with open(os.path.join(local_dir, MODEL_FILE), "rb") as f:
        return xgb.Booster(model_file=bytearray(f.read()))


def predict(model, X: np.ndarray) -> np.ndarray:
    # In place: no DMatrix per request, and safe to call from several threads at once.
    return model.inplace_predict(X)


def feature_count(model) -> int:
    return model.num_features()


def algorithm():
    """xgboost on the algorithm contract."""
    from algorithms._contract import Algorithm
    from algorithms._data import CSV, LIBSVM, PARQUET, RECORDIO

    return Algorithm("xgboost", HYPERPARAMETERS, train_fn, load_model, predict, metric_names,
                     default_objective, feature_count, trainer="xgboost", mlflow_flavor="xgboost",
                     content_types=(CSV, LIBSVM, PARQUET, RECORDIO),
                     check=_check, example_hyperparameters={
                         "num_round": 5, "max_depth": 3, "objective": "binary:logistic",
                         "eval_metric": "auc"})
