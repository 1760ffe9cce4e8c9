"""The built-in XGBoost's hyperparameters as SageMaker's XGBoost container has them (its
hyperparameter_validation.py, with types, ranges and cross-field rules), their translation to
xgboost 3.2's parameters, and the metric names a job reports."""

from __future__ import annotations

import logging

import numpy as np
import xgboost as xgb

from algorithms._hyperparameters import HP, comma_list, int_tuple, nested_int_list, validate
from mlcore.errors import AlgorithmError

log = logging.getLogger("mlcore")

MODEL_FILE = "xgboost-model"
# The container's objective list (hyperparameter_validation.py) as xgboost 3.2 takes it
OBJECTIVES = (
    "reg:squarederror", "reg:squaredlogerror", "reg:logistic", "reg:pseudohubererror",
    "reg:absoluteerror", "reg:gamma", "reg:tweedie", "binary:logistic", "binary:logitraw",
    "binary:hinge", "count:poisson", "survival:cox", "survival:aft", "multi:softmax",
    "multi:softprob", "rank:ndcg", "rank:map", "rank:pairwise", "reg:linear",
)
# xgb_constants.XGB_MAXIMIZE_METRICS / XGB_MINIMIZE_METRICS: what eval_metric and a tuning
# objective may name. CUSTOM ones are computed by the container itself (custom_metrics.py).
MAXIMIZE = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map",
            "ndcg", "precision", "r2", "recall", "precision_macro", "precision_micro",
            "recall_macro", "recall_micro")
MINIMIZE = ("aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
            "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe",
            "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik")
EVAL_METRICS = MAXIMIZE + MINIMIZE
CUSTOM = ("accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "mse", "precision",
          "precision_macro", "precision_micro", "r2", "recall", "recall_macro", "recall_micro")
# What xgboost 3.2 reports when no eval_metric is given (measured); anything else: rmse
DEFAULT_METRIC = {
    "reg:squaredlogerror": "rmsle", "reg:pseudohubererror": "mphe", "reg:absoluteerror": "mae",
    "reg:gamma": "gamma-deviance", "binary:logistic": "logloss", "binary:logitraw": "logloss",
    "binary:hinge": "error", "count:poisson": "poisson-nloglik", "survival:cox": "cox-nloglik",
    "survival:aft": "aft-nloglik", "multi:softmax": "mlogloss", "multi:softprob": "mlogloss",
    "rank:ndcg": "ndcg@32", "rank:map": "map@32", "rank:pairwise": "ndcg@32",
}
TREE_UPDATERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh",
                 "prune", "grow_quantile_histmaker")
GROW_UPDATERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_quantile_histmaker")
LINEAR_UPDATERS = ("shotgun", "coord_descent")
UNIT = dict(low=0.0, high=1.0)
OPEN_UNIT = dict(low=0.0, high=1.0, low_open=True)  # (0, 1]

# SageMaker's XGBoost table (the container's hyperparameter_validation.py, 1.0 to 3.0), same
# types and ranges; booleans take SageMaker's "true"/"false" (and 1/0).
HYPERPARAMETERS: dict[str, HP] = {
    "num_round": HP(int, low=1, required=True),
    "csv_weights": HP(int, low=0, high=1), "early_stopping_rounds": HP(int, low=1),
    "booster": HP(str, choices=("gbtree", "gblinear", "dart")),
    "silent": HP(int, low=0, high=1), "verbosity": HP(int, low=0, high=3),
    "nthread": HP(int, low=1), "eta": HP(float, **UNIT), "gamma": HP(float, low=0.0),
    "max_depth": HP(int, low=0), "min_child_weight": HP(float, low=0.0),
    "max_delta_step": HP(float, low=0.0), "subsample": HP(float, **OPEN_UNIT),
    "colsample_bytree": HP(float, **OPEN_UNIT), "colsample_bylevel": HP(float, **OPEN_UNIT),
    "colsample_bynode": HP(float, **OPEN_UNIT), "lambda": HP(float, low=0.0),
    "alpha": HP(float, low=0.0),
    "tree_method": HP(str, choices=("auto", "exact", "approx", "hist", "gpu_hist")),
    "sketch_eps": HP(float, low=0.0, high=1.0, low_open=True, high_open=True),
    "scale_pos_weight": HP(float, low=0.0, low_open=True),
    "updater": HP(comma_list, choices=TREE_UPDATERS + LINEAR_UPDATERS),
    "dsplit": HP(str, choices=("row", "col")), "refresh_leaf": HP(int, low=0, high=1),
    "process_type": HP(str, choices=("default", "update")),
    "grow_policy": HP(str, choices=("depthwise", "lossguide")), "max_leaves": HP(int, low=0),
    "max_bin": HP(int, low=2),  # the container allows 0 and 1; xgboost refuses them
    "predictor": HP(str, choices=("auto", "cpu_predictor", "gpu_predictor")),
    "monotone_constraints": HP(int_tuple, choices=(-1, 0, 1)),
    # the container says >= 1, which would forbid feature 0; xgboost counts from 0
    "interaction_constraints": HP(nested_int_list, low=0),
    "sample_type": HP(str, choices=("uniform", "weighted")),
    "normalize_type": HP(str, choices=("tree", "forest")), "rate_drop": HP(float, **UNIT),
    "one_drop": HP(int, low=0, high=1), "skip_drop": HP(float, **UNIT),
    "lambda_bias": HP(float, **UNIT),
    "tweedie_variance_power": HP(float, low=1.0, high=2.0, low_open=True, high_open=True),
    "objective": HP(str, choices=OBJECTIVES), "num_class": HP(int, low=2),
    "base_score": HP(float, low=0.0), "_tuning_objective_metric": HP(str),
    "eval_metric": HP(comma_list),
    "seed": HP(int, low=-2**31, high=2**31 - 1, low_open=True, high_open=True),
    "num_parallel_tree": HP(int, low=1), "save_model_on_termination": HP(bool),
    "aft_loss_distribution": HP(str, choices=("normal", "logistic", "extreme")),
    "aft_loss_distribution_scale": HP(float, low=0.0),
    "single_precision_histogram": HP(bool), "deterministic_histogram": HP(bool),
    "sampling_method": HP(str, choices=("uniform", "gradient_based")),
    "prob_buffer_row": HP(int, low=1, low_open=True), "use_dask_gpu_training": HP(bool),
    "gpu_id": HP(int, low=0),
    # aliases (declare_alias in the container)
    "learning_rate": HP(float, alias_of="eta"), "min_split_loss": HP(float, alias_of="gamma"),
    "reg_lambda": HP(float, alias_of="lambda"), "reg_alpha": HP(float, alias_of="alpha"),
    # mlcore's own
    "max_cat_to_onehot": HP(int, low=1),
    "label_column": HP(str),  # Parquet channels: name of the label column (default "label")
}
# Hyperparameters that steer the job, not xgboost.params
_JOB = {"num_round", "early_stopping_rounds", "label_column", "eval_metric", "csv_weights",
        "_tuning_objective_metric", "save_model_on_termination"}
# SageMaker names that xgboost 3.2 no longer takes (it warns "not used", or fails): dropped,
# each with the reason logged once.
_REMOVED = {
    "silent": "xgboost replaced it with verbosity (silent=1 runs as verbosity=0)",
    "dsplit": "xgboost 3.2 has no dsplit; Ray Train workers always split rows",
    "predictor": "xgboost 3.2 has no predictor; prediction runs where the booster trained",
    "lambda_bias": "xgboost 3.2 has no lambda_bias",
    "sketch_eps": "xgboost 3.2 has no sketch_eps; max_bin sets the sketch's accuracy",
    "single_precision_histogram": "xgboost 3.2 has no single_precision_histogram",
    "deterministic_histogram": "xgboost 3.2 has no deterministic_histogram (its histograms "
                               "are deterministic)",
    "gpu_id": "xgboost 3.1 removed gpu_id; Ray gives each worker its own GPU",
    "prob_buffer_row": "xgboost 3.2 has no prob_buffer_row",
    "use_dask_gpu_training": "Ray Train distributes the training (no Dask)",
}
_REMOVED_UPDATERS = ("distcol", "grow_skmaker")  # "Unknown tree updater" in xgboost 3.2


def _check(v: dict) -> list[tuple[str, str]]:
    """Rules across hyperparameters (values already converted), as the container's
    dependency validators state them."""
    problems = []
    objective = v.get("objective", "reg:squarederror")
    if objective.startswith("multi:") and "num_class" not in v:
        problems.append(("num_class", f"num_class is required with objective {objective}; set "
                                      "it to the number of classes (labels 0 .. num_class-1)"))
    bad = [m for m in v.get("eval_metric", []) if not _known_metric(m)]
    if bad:
        problems.append(("eval_metric", f"eval_metric {', '.join(bad)} unknown; choose from "
                                        f"{', '.join(EVAL_METRICS)} (error, ndcg and map also "
                                        "as name@threshold)"))
    tuning = v.get("_tuning_objective_metric")
    if tuning is not None and (":" not in tuning or not _known_metric(tuning.split(":", 1)[1])):
        problems.append(("_tuning_objective_metric", f"_tuning_objective_metric must be "
                         f"'validation:<metric>' with a metric of {', '.join(EVAL_METRICS)}; "
                         f"got {tuning!r}"))
    metrics = _union(v)
    if "auc" in metrics and not objective.startswith(("binary:", "rank:")):
        problems.append(("eval_metric", "metric 'auc' needs a binary: or rank: objective; got "
                                        f"{objective}"))
    if "aft-nloglik" in metrics and objective != "survival:aft":
        problems.append(("eval_metric", "metric 'aft-nloglik' needs objective survival:aft"))
    for name, methods in (("monotone_constraints", ("exact", "hist")),
                          ("interaction_constraints", ("exact", "hist", "approx"))):
        if name in v and v.get("tree_method") not in methods:
            problems.append((name, f"{name} needs tree_method {' or '.join(methods)}; got "
                                   f"{v.get('tree_method', 'none')}"))
    problems += _check_updater(v)
    return problems


def _check_updater(v: dict) -> list[tuple[str, str]]:
    updater = v.get("updater")
    if not updater:
        return []
    if v.get("booster") == "gblinear":
        ok = len(updater) == 1 and updater[0] in LINEAR_UPDATERS
        return [] if ok else [("updater", "updater for booster gblinear must be one of "
                                          f"{', '.join(LINEAR_UPDATERS)}")]
    if v.get("process_type") == "update":
        ok = all(u in ("refresh", "prune") for u in updater)
        return [] if ok else [("updater", "process_type 'update' takes updater refresh and "
                                          "prune only")]
    if not all(u in TREE_UPDATERS for u in updater):
        return [("updater", f"tree updaters are {', '.join(TREE_UPDATERS)}; got "
                            f"{','.join(updater)}")]
    if sum(u in GROW_UPDATERS for u in updater) > 1:
        return [("updater", f"only one tree grow updater ({', '.join(GROW_UPDATERS)}) at a time")]
    return []


def _known_metric(metric: str) -> bool:
    name, at, threshold = metric.partition("@")
    if not at:
        return metric in EVAL_METRICS
    try:
        float(threshold)
    except ValueError:
        return False
    return name.strip() in ("error", "ndcg", "map")


def _union(v: dict) -> list[str]:
    """eval_metric with the tuning objective's metric added, as the container's
    get_union_metrics does (sorted when both are given)."""
    given = list(v.get("eval_metric") or [])
    tuning = v.get("_tuning_objective_metric")
    if not tuning:
        return given
    metric = tuning.split(":", 1)[-1]
    return sorted(set(given) | {metric}) if given else [metric]


def default_metric(v: dict) -> str:
    objective = v.get("objective", "reg:squarederror")
    if objective == "reg:tweedie":
        return f"tweedie-nloglik@{v.get('tweedie_variance_power', 1.5):g}"
    return DEFAULT_METRIC.get(objective, "rmse")


def xgboost_params(hp: dict, gpu: bool = False,
                   notes: list | None = None) -> tuple[dict, int, int | None]:
    """Validate SageMaker-named hyperparameters into ``(xgboost params, num_round,
    early_stopping_rounds)``; what had to be mapped or dropped for xgboost 3.2 (and why) is
    appended to ``notes``. ``gpu``: this worker has a GPU (``gpu_hist`` runs on it)."""
    v = _validated(hp)
    notes = [] if notes is None else notes
    params = {k: val for k, val in v.items() if k not in _JOB and k not in _REMOVED}
    params["objective"] = v.get("objective", "reg:squarederror")
    native = [m for m in _union(v) if m not in CUSTOM]
    if native:
        params["eval_metric"] = native
    for name in sorted(set(v) & set(_REMOVED)):
        notes.append(f"{name}={v[name]} dropped: {_REMOVED[name]}")
    if v.get("silent") == 1 and "verbosity" not in v:
        params["verbosity"] = 0
    if v.get("tree_method") == "gpu_hist":
        params["tree_method"] = "hist"
        notes.append("tree_method=gpu_hist is tree_method=hist" + (" with device=cuda" if gpu else
                     " on CPU (this worker has no GPU)"))
    if gpu and (v.get("tree_method") == "gpu_hist" or v.get("predictor") == "gpu_predictor"):
        params["device"] = "cuda"
    if "interaction_constraints" in v:  # xgboost takes the nested list as its string form
        params["interaction_constraints"] = str(v["interaction_constraints"])
    if "updater" in v:
        params["updater"] = _updater(v, notes)
        if not params["updater"]:
            del params["updater"]
    return params, v["num_round"], v.get("early_stopping_rounds")


def _updater(v: dict, notes: list) -> str:
    """The updater list without the plugins xgboost 3.2 lost; empty when no tree grower is
    left (xgboost refuses refresh/prune alone outside process_type=update): then tree_method
    picks the updaters."""
    kept = [u for u in v["updater"] if u not in _REMOVED_UPDATERS]
    if len(kept) == len(v["updater"]):
        return ",".join(kept)
    growing = v.get("process_type") == "update" or any(
        u in GROW_UPDATERS + LINEAR_UPDATERS for u in kept)
    notes.append(f"updater {', '.join(u for u in v['updater'] if u not in kept)} dropped: "
                 "xgboost 3.2 has no such updater" + ("" if growing else
                 f"; tree_method {v.get('tree_method', 'auto')} picks the updaters"))
    return ",".join(kept) if growing else ""


def _validated(hp: dict) -> dict:
    v = validate("xgboost", HYPERPARAMETERS, hp)
    problems = _check(v)
    if problems:
        raise AlgorithmError("invalid hyperparameters for xgboost:\n  - "
                             + "\n  - ".join(m for _, m in problems), problems=problems)
    return v


def reported_metrics(v: dict) -> list[str]:
    """Metric names xgboost reports per channel, in its order: the native ones (its default
    when none is left), then the container-defined ones."""
    union = _union(v)
    native = [m for m in union if m not in CUSTOM] or [default_metric(v)]
    return native + [m for m in union if m in CUSTOM]


def metric_names(hp: dict, channels) -> list[str]:
    """Metric names this job reports, e.g. ``validation:auc``."""
    metrics = reported_metrics(_validated(hp))
    return [f"{ch}:{m}" for ch in channels if ch in ("train", "validation") for m in metrics]


def default_objective(hp: dict) -> str:
    """SageMaker's default tuning objective for these hyperparameters."""
    v = _validated(hp)
    return v.get("_tuning_objective_metric") or f"validation:{(_union(v) or [default_metric(v)])[0]}"


def _early_stopping(v: dict, rounds: int):
    """The container's early stopping: on the validation channel, watching the tuning
    objective's metric, else the last eval_metric (here, else the default metric)."""
    tuning = v.get("_tuning_objective_metric")
    metric = tuning.split(":", 1)[-1] if tuning else (list(v.get("eval_metric") or [])
                                                       or [default_metric(v)])[-1]
    return xgb.callback.EarlyStopping(rounds=rounds, metric_name=metric, data_name="validation",
                                      maximize=metric.split("@")[0] in MAXIMIZE, save_best=True)


def _custom_metric(v: dict):
    """The container-defined metrics (custom_metrics.py) as one xgboost custom_metric, or None.
    xgboost hands it transformed predictions (probabilities, or classes for multi:softmax)."""
    names = [m for m in _union(v) if m in CUSTOM]
    if not names:
        return None
    from functools import partial

    from sklearn import metrics as sk

    fns = {"accuracy": sk.accuracy_score, "balanced_accuracy": sk.balanced_accuracy_score,
           "f1": partial(sk.f1_score, average="macro"), "f1_macro": partial(sk.f1_score, average="macro"),
           "f1_binary": partial(sk.f1_score, average="binary"), "precision": sk.precision_score,
           "precision_macro": partial(sk.precision_score, average="macro"),
           "precision_micro": partial(sk.precision_score, average="micro"),
           "recall": sk.recall_score, "recall_macro": partial(sk.recall_score, average="macro"),
           "recall_micro": partial(sk.recall_score, average="micro"),
           "mse": sk.mean_squared_error, "r2": sk.r2_score}
    objective = v.get("objective", "reg:squarederror")

    def classes(preds):
        if preds.ndim == 2:
            return preds.argmax(axis=1)
        if objective == "multi:softmax":
            return preds
        return (preds > (0.0 if objective == "binary:logitraw" else 0.5)).astype(int)

    def metric(preds, dmatrix):
        y, out = dmatrix.get_label(), []
        for name in names:
            p = preds if name in ("mse", "r2") else classes(preds)
            value = float(fns[name](y, p)) if len(y) else 0.0
            world = xgb.collective.get_world_size()
            if world > 1:  # each rank scores its shard; the mean keeps early stopping in step
                value = float(xgb.collective.allreduce(np.array([value]), xgb.collective.Op.SUM)[0]) / world
            out.append((name, value))
        return out

    return metric
