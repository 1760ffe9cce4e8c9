"""Built-in XGBoost, with SageMaker's hyperparameter names and data conventions, on
``ray.train.xgboost.XGBoostTrainer``.

Metrics are named as SageMaker names them (``train:auc``, ``validation:rmse``); a model is
saved as ``xgboost-model`` (SageMaker's file name) and registered with MLflow's xgboost flavour.
"""

from __future__ import annotations

import os
import time

import numpy as np
import xgboost as xgb

from algorithms._hyperparameters import HP, validate
from mlcore.errors import AlgorithmError

MODEL_FILE = "xgboost-model"
OBJECTIVES = (
    "reg:squarederror", "reg:squaredlogerror", "reg:logistic", "reg:pseudohubererror",
    "reg:absoluteerror", "reg:quantileerror", "reg:gamma", "reg:tweedie", "binary:logistic",
    "binary:logitraw", "binary:hinge", "count:poisson", "survival:cox", "survival:aft",
    "multi:softmax", "multi:softprob", "rank:ndcg", "rank:map", "rank:pairwise", "reg:linear",
)
EVAL_METRICS = ("rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss",
                "auc", "aucpr", "ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik",
                "gamma-deviance", "tweedie-nloglik", "aft-nloglik", "interval-regression-accuracy",
                "pre")
UNIT = dict(low=0.0, high=1.0)

HYPERPARAMETERS: dict[str, HP] = {
    "num_round": HP(int, low=1, required=True),
    "num_class": HP(int, low=2),
    "early_stopping_rounds": HP(int, low=1),
    "eta": HP(float, **UNIT), "gamma": HP(float, low=0.0), "max_depth": HP(int, low=0),
    "min_child_weight": HP(float, low=0.0), "max_delta_step": HP(float, low=0.0),
    "subsample": HP(float, low=0.0, high=1.0, low_open=True),
    "colsample_bytree": HP(float, low=0.0, high=1.0, low_open=True),
    "colsample_bylevel": HP(float, low=0.0, high=1.0, low_open=True),
    "colsample_bynode": HP(float, low=0.0, high=1.0, low_open=True),
    "lambda": HP(float, low=0.0), "alpha": HP(float, low=0.0),
    "tree_method": HP(str, choices=("auto", "exact", "approx", "hist")),
    "sketch_eps": HP(float, low=0.0, high=1.0, low_open=True),
    "scale_pos_weight": HP(float, low=0.0), "max_leaves": HP(int, low=0),
    "max_bin": HP(int, low=2), "num_parallel_tree": HP(int, low=1),
    "grow_policy": HP(str, choices=("depthwise", "lossguide")),
    "sampling_method": HP(str, choices=("uniform", "gradient_based")),
    "objective": HP(str, choices=OBJECTIVES), "eval_metric": HP(str),
    "base_score": HP(float), "seed": HP(int), "tweedie_variance_power": HP(float, low=1.0, high=2.0),
    "interaction_constraints": HP(str), "monotone_constraints": HP(str),
    "max_cat_to_onehot": HP(int, low=1), "verbosity": HP(int, low=0, high=3),
    "nthread": HP(int, low=1), "deterministic_histogram": HP(bool),
    "label_column": HP(str),  # Parquet channels: name of the label column (default "label")
}
# Hyperparameters that steer mlcore, not xgboost.params
_NOT_PARAMS = {"num_round", "early_stopping_rounds", "label_column", "eval_metric",
               "deterministic_histogram"}


def _check(v: dict) -> list[tuple[str, str]]:
    """Rules across hyperparameters (values already converted)."""
    problems = []
    objective = v.get("objective", "reg:squarederror")
    if objective.startswith("multi:") and "num_class" not in v:
        problems.append(("num_class", f"num_class is required with objective {objective}; set "
                                      "it to the number of classes (labels 0 .. num_class-1)"))
    bad = [m for m in _eval_metrics(v) if m.split("@")[0] not in EVAL_METRICS]
    if bad:
        problems.append(("eval_metric", f"eval_metric {', '.join(bad)} unknown; choose from "
                                        f"{', '.join(EVAL_METRICS)}"))
    return problems


def _eval_metrics(v: dict) -> list[str]:
    return [m.strip() for m in str(v.get("eval_metric", "")).split(",") if m.strip()]


def xgboost_params(hp: dict) -> tuple[dict, int, int | None]:
    """Validate SageMaker-named hyperparameters into ``(xgboost params, num_round, early_stop)``."""
    v = validate("xgboost", HYPERPARAMETERS, hp)
    problems = _check(v)
    if problems:
        raise AlgorithmError("invalid hyperparameters for xgboost:\n  - "
                             + "\n  - ".join(m for _, m in problems), problems=problems)
    params = {k: val for k, val in v.items() if k not in _NOT_PARAMS}
    params["objective"] = v.get("objective", "reg:squarederror")
    if _eval_metrics(v):
        params["eval_metric"] = _eval_metrics(v)
    return params, v["num_round"], v.get("early_stopping_rounds")


def metric_names(hp: dict, channels) -> list[str]:
    """Metric names this job reports, e.g. ``validation:auc``."""
    params, _, _ = xgboost_params(hp)
    metrics = params.get("eval_metric") or [_default_metric(params["objective"])]
    return [f"{ch}:{m}" for ch in channels if ch in ("train", "validation") for m in metrics]


def default_objective(hp: dict) -> str:
    """SageMaker's default tuning objective for these hyperparameters."""
    params, _, _ = xgboost_params(hp)
    return f"validation:{(params.get('eval_metric') or [_default_metric(params['objective'])])[0]}"


def _default_metric(objective: str) -> str:
    if objective.startswith("binary:"):
        return "logloss"
    if objective.startswith("multi:"):
        return "mlogloss"
    if objective.startswith("rank:"):
        return "map"
    return "rmse"


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

    params, num_round, early_stop = xgboost_params(config["hyperparameters"])
    params.setdefault("nthread", worker_cpus())
    start_model, done = None, 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            start_model = load_model(d)
        done = start_model.num_boosted_rounds()
    buffer = MetricsBuffer(config["metrics_sink"])
    t1 = time.perf_counter()
    booster = xgb.train(params, dmats["train"], num_boost_round=max(0, num_round - done),
                        evals=[(dmats[n], n) for n in ("train", "validation") if n in dmats],
                        xgb_model=start_model, early_stopping_rounds=early_stop,
                        callbacks=[_Report(buffer, num_round, config)], verbose_eval=False)
    final = {"round": booster.num_boosted_rounds(), "worker_start_time": started,
             "data_load_seconds": load_s, "train_seconds": time.perf_counter() - t1,
             "resumed_from_round": done}
    buffer.flush({"round": booster.num_boosted_rounds(), "num_round": num_round})
    report_checkpoint(final, lambda d: save_model(booster, d), final=True)


def _load_channels(config: dict, rank: int, world: int) -> dict:
    """This rank's share of the train/validation channels as DMatrix objects."""
    from algorithms._data import read_shard

    label_column = config["hyperparameters"].get("label_column")
    dmats = {}
    for name, ch in config["channels"].items():
        if name in ("train", "validation"):
            X, y = read_shard(ch["uri"], ch.get("content_type"), rank, world, label_column,
                              ch.get("files"))
            dmats[name] = xgb.DMatrix(X, label=y, nthread=-1)
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
    # SageMaker's extension-less file name: write UBJSON bytes explicitly.
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

    return Algorithm("xgboost", HYPERPARAMETERS, train_fn, load_model, predict, metric_names,
                     default_objective, feature_count, trainer="xgboost", mlflow_flavor="xgboost",
                     check=_check, example_hyperparameters={
                         "num_round": 5, "max_depth": 3, "objective": "binary:logistic",
                         "eval_metric": "auc"})
