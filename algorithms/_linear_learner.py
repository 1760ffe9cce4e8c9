"""Linear Learner with SageMaker's names: a linear model for ``predictor_type``
binary_classifier, multiclass_classifier or regressor, trained by mini-batch SGD / Adam /
RMSProp on ``loss`` (logistic, hinge_loss, softmax_loss, squared_loss, absolute_loss,
eps_insensitive_squared_loss, eps_insensitive_absolute_loss, quantile_loss, huber_loss).

As in SageMaker, ``num_models`` models train side by side, each with its own learning rate
and L2 weight (where those are ``auto``), and the best one on the validation channel (the
train channel without one) is kept. They are one batched layer: weights ``[num_models, d, k]``
(``k`` = 1, or ``num_classes``), one forward pass for all of them per mini-batch.

Data parallel: every worker takes the same number of steps per epoch (its batch is its share
divided by the agreed step count), and each step's gradients are summed across workers in one
all-reduce and divided by the step's total rows: the gradient of the global mini-batch.

``normalize_data`` standardises features (and ``normalize_label`` the regressor's label) from
the first ``num_point_for_scaler`` rows; the statistics are folded into the saved weights, so a
prediction is ``X @ weights + bias``. A binary classifier's decision threshold is chosen on the
validation rows for ``binary_classifier_model_selection_criteria`` (0.5 for loss_function).
``l1`` is ``auto`` -> 0 here (SageMaker tunes it); ``num_models`` ``auto`` -> 8.
"""

from __future__ import annotations

import math

import numpy as np

from algorithms._amazon import structured
from algorithms._hyperparameters import HP
from algorithms._sgd import average_gradients, dense, steps_per_epoch

NAME = "linear-learner"
AUTO_MODELS = 8
LR_GRID = {"adam": (0.1, 0.03, 0.01, 0.003), "rmsprop": (0.1, 0.03, 0.01, 0.003),
           "sgd": (1.0, 0.3, 0.1, 0.03)}
WD_GRID = (0.0, 1e-4, 1e-3, 1e-2)
BINARY_LOSSES = ("logistic", "hinge_loss")
REGRESSION_LOSSES = ("squared_loss", "absolute_loss", "eps_insensitive_squared_loss",
                     "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss")
AUTO_LOSS = {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss",
             "regressor": "squared_loss"}
CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision",
            "loss_function")


def _or_auto(kind):
    def convert(raw):
        return "auto" if str(raw).lower() == "auto" else kind(raw)

    convert.kind = f"'auto' or {'an integer' if kind is int else 'a number'}"
    return convert


def _auto_bool(raw):
    text = str(raw).lower()
    if text not in ("auto", "true", "false", "1", "0"):
        raise ValueError
    return "auto" if text == "auto" else text in ("true", "1")


def _weight_mult(raw):
    text = str(raw).lower()
    if text in ("auto", "balanced"):
        return text
    value = float(raw)
    if value <= 0:
        raise ValueError
    return value


_auto_bool.kind = "'auto', true or false"
_weight_mult.kind = "'auto', 'balanced' or a number > 0"
auto_int, auto_float = _or_auto(int), _or_auto(float)

HYPERPARAMETERS = {
    "predictor_type": HP(str, choices=("binary_classifier", "multiclass_classifier",
                                       "regressor"), required=True),
    "feature_dim": HP(int, low=1),  # checked against the data by the training service
    "num_classes": HP(int, low=3, high=1_000_000),
    "num_models": HP(auto_int, low=1),
    "epochs": HP(int, low=1),
    "mini_batch_size": HP(int, low=1),
    "loss": HP(str, choices=("auto", "softmax_loss", *BINARY_LOSSES, *REGRESSION_LOSSES)),
    "optimizer": HP(str, choices=("auto", "sgd", "adam", "rmsprop")),
    "learning_rate": HP(auto_float, low=0, low_open=True),
    "wd": HP(auto_float, low=0),
    "l1": HP(auto_float, low=0),
    "momentum": HP(auto_float, low=0, high=1, high_open=True),
    "beta_1": HP(auto_float, low=0, high=1, high_open=True),
    "beta_2": HP(auto_float, low=0, high=1, high_open=True),
    "bias_lr_mult": HP(auto_float, low=0, low_open=True),
    "bias_wd_mult": HP(auto_float, low=0),
    "use_bias": HP(bool),
    "use_lr_scheduler": HP(bool),
    "lr_scheduler_step": HP(auto_int, low=1),
    "lr_scheduler_factor": HP(auto_float, low=0, high=1, low_open=True, high_open=True),
    "lr_scheduler_minimum_lr": HP(auto_float, low=0, low_open=True),
    "init_method": HP(str, choices=("uniform", "normal")),
    "init_scale": HP(float, low=0, low_open=True),
    "init_sigma": HP(float, low=0, low_open=True),
    "init_bias": HP(float),
    "normalize_data": HP(_auto_bool),
    "normalize_label": HP(_auto_bool),
    "unbias_data": HP(_auto_bool),
    "unbias_label": HP(_auto_bool),
    "num_point_for_scaler": HP(int, low=1),
    "binary_classifier_model_selection_criteria": HP(str, choices=CRITERIA),
    "target_recall": HP(float, low=0, high=1, low_open=True, high_open=True),
    "target_precision": HP(float, low=0, high=1, low_open=True, high_open=True),
    "f_beta": HP(float, low=0, low_open=True),
    "positive_example_weight_mult": HP(_weight_mult),
    "num_calibration_samples": HP(int, low=1),
    "balance_multiclass_weights": HP(bool),
    "accuracy_top_k": HP(int, low=1, high=1_000_000),
    "margin": HP(float, low=0),
    "quantile": HP(float, low=0, high=1, low_open=True, high_open=True),
    "loss_insensitivity": HP(float, low=0, low_open=True),
    "huber_delta": HP(float, low=0),
    "early_stopping_patience": HP(int, low=1),
    "early_stopping_tolerance": HP(float, low=0, low_open=True),
    "_tuning_objective_metric": HP(str),
}
CHANNELS, REQUIRED_CHANNELS = ("train", "validation", "test"), ("train",)
LABELLED = {"train": True, "validation": True, "test": True}
EXAMPLE = {"predictor_type": "binary_classifier", "feature_dim": 6, "epochs": 3,
           "mini_batch_size": 50, "num_models": 4}


def loss_of(hp: dict) -> str:
    loss = hp.get("loss", "auto")
    return AUTO_LOSS[hp["predictor_type"]] if loss == "auto" else loss


def check(hp: dict) -> list[tuple[str, str]]:
    kind, problems = hp.get("predictor_type"), []
    if kind is None:
        return problems
    if kind == "multiclass_classifier" and "num_classes" not in hp:
        problems.append(("num_classes", "num_classes (3 to 1000000) is required for "
                                        "predictor_type multiclass_classifier"))
    allowed = {"binary_classifier": BINARY_LOSSES, "multiclass_classifier": ("softmax_loss",),
               "regressor": REGRESSION_LOSSES}[kind]
    if loss_of(hp) not in allowed:
        problems.append(("loss", f"loss {hp['loss']} does not fit predictor_type {kind}; use "
                                 f"auto or one of {', '.join(allowed)}"))
    for name in ("unbias_data", "unbias_label"):
        if hp.get(name) is True and hp.get("use_bias") is False:
            problems.append((name, f"{name}=true needs use_bias=true (the mean goes into the "
                                   "bias); set use_bias=true or drop " + name))
    return problems


def _channel_metrics(kind: str, channel: str) -> list[str]:
    names = {"binary_classifier": ["binary_classification_accuracy", "precision", "recall",
                                   "binary_f_beta", "roc_auc_score"],
             "multiclass_classifier": ["multiclass_accuracy", "multiclass_top_k_accuracy"],
             "regressor": ["mse", "rmse", "absolute_loss"]}[kind]
    return [f"{channel}:objective_loss"] + [f"{channel}:{n}" for n in names]


def metric_names(hp: dict, channels) -> list[str]:
    """``train:objective_loss`` each epoch; SageMaker's metrics of the chosen model on the
    validation and test channels, where they are given."""
    kind = hp.get("predictor_type", "binary_classifier")
    return ["train:objective_loss"] + [m for c in ("validation", "test") if c in channels
                                       for m in _channel_metrics(kind, c)]


def default_objective(hp: dict) -> str:
    return "validation:objective_loss"


def load(arrays: dict, meta: dict):
    return {"weights": arrays["weights"], "bias": arrays["bias"],
            "threshold": float(meta.get("threshold", 0.5)), "kind": meta["predictor_type"],
            "loss": meta["loss"]}


def predict(model, X) -> np.ndarray:
    z = np.asarray(X, np.float32) @ model["weights"] + model["bias"]  # [n, k]
    n = len(z)
    if model["kind"] == "regressor":
        return structured(n, score=z[:, 0])
    if model["kind"] == "multiclass_classifier":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return structured(n, score=p, predicted_label=p.argmax(axis=1).astype(np.int32))
    score = 1 / (1 + np.exp(-z[:, 0])) if model["loss"] == "logistic" else z[:, 0]
    return structured(n, score=score,
                      predicted_label=(score >= model["threshold"]).astype(np.int32))


def feature_count(model) -> int:
    return int(model["weights"].shape[0])


# -- training -------------------------------------------------------------------------------
SEED = 0  # SageMaker's Linear Learner takes no seed: a fixed one, the same init on every rank


def _resolved(hp: dict) -> dict:
    """Every setting with its default applied and ``auto`` decided; per-model ``lr`` / ``wd``
    / ``l1`` lists of ``num_models`` values."""
    def pick(name, default):
        value = hp.get(name, "auto")
        return default if value == "auto" else value

    kind, use_bias = hp["predictor_type"], hp.get("use_bias", True)
    optimizer = hp.get("optimizer", "auto")
    optimizer = "adam" if optimizer == "auto" else optimizer
    models = pick("num_models", AUTO_MODELS)
    lrs = LR_GRID[optimizer]
    normalize_data = pick("normalize_data", True)
    normalize_label = pick("normalize_label", kind == "regressor")
    return {
        "kind": kind, "loss": loss_of(hp), "models": models, "optimizer": optimizer,
        "classes": hp.get("num_classes", 3) if kind == "multiclass_classifier" else 1,
        "epochs": hp.get("epochs", 15), "batch": hp.get("mini_batch_size", 1000),
        "lr": [pick("learning_rate", lrs[m % len(lrs)]) for m in range(models)],
        "wd": [pick("wd", WD_GRID[(m // len(lrs)) % len(WD_GRID)]) for m in range(models)],
        "l1": [pick("l1", 0.0)] * models,
        "bias_lr_mult": pick("bias_lr_mult", 1.0), "bias_wd_mult": pick("bias_wd_mult", 0.0),
        "momentum": pick("momentum", 0.0), "beta_1": pick("beta_1", 0.9),
        "beta_2": pick("beta_2", 0.9 if optimizer == "rmsprop" else 0.999),
        "use_bias": use_bias, "scheduler": hp.get("use_lr_scheduler", True),
        "lr_step": pick("lr_scheduler_step", 100), "lr_factor": pick("lr_scheduler_factor", 0.99),
        "lr_min": pick("lr_scheduler_minimum_lr", 1e-5),
        "init": (hp.get("init_method", "uniform"), hp.get("init_scale", 0.07),
                 hp.get("init_sigma", 0.01), hp.get("init_bias", 0.0)),
        "normalize_data": normalize_data, "normalize_label": normalize_label,
        "unbias_data": pick("unbias_data", normalize_data and use_bias),
        "unbias_label": pick("unbias_label", normalize_label and use_bias),
        "scaler_rows": hp.get("num_point_for_scaler", 10000),
        "criterion": hp.get("binary_classifier_model_selection_criteria", "accuracy"),
        "target_recall": hp.get("target_recall", 0.8),
        "target_precision": hp.get("target_precision", 0.8),
        "beta": hp.get("f_beta", 1.0), "positive_weight": hp.get("positive_example_weight_mult", 1.0),
        "calibration": hp.get("num_calibration_samples", 10_000_000),
        "balance": hp.get("balance_multiclass_weights", False), "top_k": hp.get("accuracy_top_k", 3),
        "margin": hp.get("margin", 1.0), "quantile": hp.get("quantile", 0.5),
        "insensitivity": hp.get("loss_insensitivity", 0.01), "huber": hp.get("huber_delta", 1.0),
        "patience": hp.get("early_stopping_patience", 3),
        "tolerance": hp.get("early_stopping_tolerance", 0.001),
    }


def _loss(s: dict, out, y):
    """Per-row loss of every model: ``out`` [M, B, k] raw outputs, ``y`` [B] -> [M, B]."""
    import torch
    import torch.nn.functional as F

    loss = s["loss"]
    if loss == "softmax_loss":
        M, B, k = out.shape
        target = y.long().repeat(M)
        return F.cross_entropy(out.reshape(M * B, k), target, reduction="none").view(M, B)
    z = out[..., 0]
    if loss == "logistic":
        return F.binary_cross_entropy_with_logits(z, y.expand_as(z), reduction="none")
    if loss == "hinge_loss":
        return torch.relu(s["margin"] - (2 * y - 1) * z)
    r = y - z
    if loss == "squared_loss":
        return r ** 2
    if loss == "absolute_loss":
        return r.abs()
    if loss == "eps_insensitive_squared_loss":
        return torch.relu(r.abs() - s["insensitivity"]) ** 2
    if loss == "eps_insensitive_absolute_loss":
        return torch.relu(r.abs() - s["insensitivity"])
    if loss == "quantile_loss":
        q = s["quantile"]
        return torch.maximum(q * r, (q - 1) * r)
    delta = s["huber"]  # huber_loss
    return torch.where(r.abs() <= delta, 0.5 * r ** 2, delta * (r.abs() - 0.5 * delta))


def _label_problem(s: dict, y: np.ndarray) -> str | None:
    if y is None:
        return "the rows carry no label"
    if s["kind"] == "binary_classifier" and not np.isin(y, (0, 1)).all():
        bad = y[~np.isin(y, (0, 1))][0]
        return f"binary_classifier labels must be 0 or 1; found {bad:g}"
    if s["kind"] == "multiclass_classifier":
        ok = (y == np.round(y)) & (y >= 0) & (y < s["classes"])
        if not ok.all():
            return (f"multiclass_classifier labels must be integers 0..{s['classes'] - 1} "
                    f"(num_classes={s['classes']}); found {y[~ok][0]:g}")
    return None


def _check_labels(worker, s: dict, data: dict) -> None:
    """Every rank raises the same error (a rank that raised alone would leave the others
    waiting in an all-reduce)."""
    from mlcore.errors import DataError

    mine = next((f"channel {name!r}: {why}" for name, shard in data.items()
                 if (why := _label_problem(s, shard.y))), None)
    problems = [p for p in worker.gather(mine) if p]
    if problems:
        raise DataError(problems[0] + "; fix the labels (the first CSV column) or "
                        "predictor_type/num_classes")


def _moments(worker, A, rows: int, centre: bool):
    """(mean or 0, std) of the columns of ``A``'s first ``rows`` rows over all workers."""
    head = np.asarray(A[:math.ceil(rows / worker.world)], np.float64).reshape(-1, A.shape[1]
                                                                            if A.ndim > 1 else 1)
    n, total, squares = worker.sum(np.array([len(head)]), head.sum(0), (head ** 2).sum(0))
    mean = total / max(n[0], 1)
    std = np.sqrt(np.maximum(squares / max(n[0], 1) - mean ** 2, 0))
    std[std < 1e-8] = 1.0  # a constant column is left as it is
    return (mean if centre else np.zeros_like(mean)), std


def _scaler(worker, s: dict, X, y) -> dict:
    d = X.shape[1]
    mu, sd = (_moments(worker, X, s["scaler_rows"], s["unbias_data"]) if s["normalize_data"]
              else (np.zeros(d), np.ones(d)))
    ymu, ysd = (_moments(worker, y, s["scaler_rows"], s["unbias_label"])
                if s["normalize_label"] and s["kind"] == "regressor" else (np.zeros(1), np.ones(1)))
    return {"mu": mu, "sd": sd, "ymu": ymu, "ysd": ysd}


def _row_weights(worker, s: dict, y: np.ndarray) -> np.ndarray:
    w = np.ones(len(y), np.float32)
    if s["kind"] == "binary_classifier":
        mult = s["positive_weight"]
        if mult in ("auto", "balanced"):  # auto: balanced here
            (pos, n) = worker.sum(np.array([y.sum()]), np.array([len(y)]))
            mult = float((n[0] - pos[0]) / max(pos[0], 1))
        w[y == 1] = mult
    elif s["kind"] == "multiclass_classifier" and s["balance"]:
        (counts,) = worker.sum(np.bincount(y.astype(int), minlength=s["classes"]))
        w = (counts.sum() / (s["classes"] * np.maximum(counts, 1)))[y.astype(int)].astype(np.float32)
    return w


class _Optimizer:
    """SGD (momentum), Adam or RMSProp with a learning rate, L2 (``wd``) and L1 weight per
    model: each parameter's first axis is the model. ``slots`` is its state, for checkpoints."""

    def __init__(self, s: dict, params: list, lr: list, wd: list, l1: list):
        import torch

        def per_model(values, p):
            return torch.tensor(values, dtype=torch.float32).view(-1, *[1] * (p.dim() - 1))

        self.s, self.t = s, 0
        self.groups = [(p, per_model(r, p), per_model(w, p), per_model(a, p))
                       for p, r, w, a in zip(params, lr, wd, l1, strict=False)]
        self.slots = [torch.zeros_like(p) for p in params for _ in range(2)]

    def step(self) -> None:
        import torch

        s = self.s
        self.t += 1
        decay = s["lr_factor"] ** (self.t // s["lr_step"]) if s["scheduler"] else 1.0
        b1, b2 = s["beta_1"], s["beta_2"]
        with torch.no_grad():
            for i, (p, lr, wd, l1) in enumerate(self.groups):
                m, v = self.slots[2 * i], self.slots[2 * i + 1]
                g = p.grad + wd * p + l1 * torch.sign(p)
                if s["optimizer"] == "adam":
                    m.mul_(b1).add_(g, alpha=1 - b1)
                    v.mul_(b2).addcmul_(g, g, value=1 - b2)
                    update = (m / (1 - b1 ** self.t)) / ((v / (1 - b2 ** self.t)).sqrt() + 1e-8)
                elif s["optimizer"] == "rmsprop":
                    v.mul_(b2).addcmul_(g, g, value=1 - b2)
                    update = g / (v.sqrt() + 1e-8)
                else:
                    update = m.mul_(s["momentum"]).add_(g)
                p.sub_(torch.maximum(lr * decay, torch.minimum(lr, torch.tensor(s["lr_min"])))
                       * update)


def _initial(s: dict, d: int):
    import torch

    method, scale, sigma, bias = s["init"]
    gen = torch.Generator().manual_seed(SEED)
    shape = (s["models"], d, s["classes"])
    W = (torch.rand(shape, generator=gen) * 2 - 1) * scale if method == "uniform" else \
        torch.randn(shape, generator=gen) * sigma
    b = torch.full((s["models"], s["classes"]), float(bias) if s["use_bias"] else 0.0)
    return W.requires_grad_(), b.requires_grad_(s["use_bias"])


def _folded(W, b, scaler: dict):
    """Weights on the raw features and label: [M, d, k], [M, k] (numpy float64)."""
    W, b = W.detach().double().numpy(), b.detach().double().numpy()
    ratio = scaler["mu"] / scaler["sd"]
    Wf = W / scaler["sd"][None, :, None] * scaler["ysd"][0]
    bf = (b - np.einsum("d,mdk->mk", ratio, W)) * scaler["ysd"][0] + scaler["ymu"][0]
    return Wf, bf


def _outputs(X, Wf, bf, chunk: int = 65536):
    """Raw outputs of every model, [M, n, k] float32, in row chunks."""
    import torch

    Wt, bt = torch.from_numpy(Wf.astype(np.float32)), torch.from_numpy(bf.astype(np.float32))
    parts = [torch.einsum("bd,mdk->mbk", X[lo:lo + chunk], Wt) + bt[:, None, :]
             for lo in range(0, len(X), chunk)]
    return torch.cat(parts, dim=1) if parts else torch.zeros(len(Wf), 0, Wf.shape[2])


def _mean_loss(worker, s: dict, X, y, Wf, bf) -> np.ndarray:
    """Every model's mean loss on a channel over all workers, on the label's own scale: [M]."""
    import torch

    with torch.no_grad():
        total = _loss(s, _outputs(X, Wf, bf), y).sum(dim=1).double().numpy()
    total, n = worker.sum(total, np.array([len(X)]))
    return total / max(n[0], 1)


def _epoch(worker, s, W, b, opt, Xn, yn, w, steps: int, epoch: int) -> np.ndarray:
    """One pass over this worker's rows in ``steps`` steps; every model's mean training loss."""
    import torch

    params = [W, b] if s["use_bias"] else [W]
    n = len(Xn)
    per = math.ceil(n / steps) if n else 0
    order = torch.from_numpy(np.random.default_rng([SEED, worker.rank, epoch]).permutation(n))
    total, rows = torch.zeros(s["models"], dtype=torch.float64), 0
    for i in range(steps):
        idx = order[i * per:(i + 1) * per]
        out = torch.einsum("bd,mdk->mbk", Xn[idx], W) + b[:, None, :]  # [M, B, k]
        per_row = _loss(s, out, yn[idx]) * w[idx]                      # [M, B]
        for p in params:
            p.grad = None
        per_row.sum().backward()  # a sum over models: each model gets its own gradient
        average_gradients(worker, params, len(idx))
        opt.step()
        total += per_row.detach().sum(dim=1).double()
        rows += len(idx)
    total, rows = worker.sum(total.numpy(), np.array([rows]))
    return total / max(rows[0], 1)


# -- choosing the model and its threshold; SageMaker's metrics --------------------------------
def _gathered(worker, s: dict, *arrays):
    """Every worker's first rows of ``arrays`` joined (at most ``num_calibration_samples`` in
    all): what a threshold, the AUC and the accuracies are computed on, the same on every rank."""
    share = math.ceil(s["calibration"] / worker.world)
    parts = worker.gather([np.asarray(a)[:share] for a in arrays])
    return [np.concatenate([p[i] for p in parts]) for i in range(len(arrays))]


def _binary_score(s: dict, z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z)) if s["loss"] == "logistic" else z


def _cuts(score: np.ndarray, y: np.ndarray):
    """Every threshold that changes a prediction (predict 1 when score >= it), with the true
    and false positives it gives: (thresholds, tp, fp, positives, negatives)."""
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]  # the end of each run of tied scores
    tp, fp = np.cumsum(t)[last], np.cumsum(1 - t)[last]
    top = (s[0] + 1.0) if len(s) else 1.0
    return (np.r_[top, s[last]], np.r_[0, tp], np.r_[0, fp], t.sum(), len(t) - t.sum())


def _rates(tp, fp, P, N, beta):
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / max(P, 1)
    f = (1 + beta ** 2) * precision * recall / np.maximum(beta ** 2 * precision + recall, 1e-12)
    return (tp + N - fp) / max(P + N, 1), precision, recall, f


def _threshold(s: dict, score: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(the criterion's value, the threshold that reaches it) on these rows."""
    thresholds, tp, fp, P, N = _cuts(score, y)
    accuracy, precision, recall, f = _rates(tp, fp, P, N, s["beta"])
    value = {"accuracy": accuracy, "f_beta": f,
             "precision_at_target_recall": np.where(recall >= s["target_recall"], precision, -1),
             "recall_at_target_precision": np.where(precision >= s["target_precision"], recall, -1),
             }[s["criterion"]]
    best = int(np.argmax(value))
    return float(value[best]), float(thresholds[best])


def _choose(worker, s: dict, X, y, Wf, bf) -> tuple[int, float]:
    """The model kept (its index) and its decision threshold, on the selection channel."""
    loss = _mean_loss(worker, s, X, y, Wf, bf)
    fixed = 0.5 if s["loss"] == "logistic" else 0.0
    if s["kind"] != "binary_classifier" or s["criterion"] == "loss_function":
        return int(np.argmin(loss)), fixed
    z = _outputs(X, Wf, bf)[..., 0].T.numpy()  # [n, M]
    z, labels = _gathered(worker, s, z, y.numpy())
    found = [_threshold(s, _binary_score(s, z[:, m]), labels) for m in range(s["models"])]
    best = max(range(s["models"]), key=lambda m: (found[m][0], -loss[m]))
    return best, found[best][1]


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    P, N = y.sum(), len(y) - y.sum()
    if P == 0 or N == 0:
        return float("nan")
    return float((rankdata(score)[y == 1].sum() - P * (P + 1) / 2) / (P * N))


def _evaluate(worker, s: dict, channel: str, X, y, Wf, bf, threshold: float) -> dict:
    """SageMaker's metrics of one model (``Wf`` [1, d, k]) on ``channel``."""
    metrics = {f"{channel}:objective_loss": float(_mean_loss(worker, s, X, y, Wf, bf)[0])}
    out = _outputs(X, Wf, bf)[0].numpy()  # [n, k]
    if s["kind"] == "regressor":
        r = out[:, 0] - y.numpy()
        sq, ab, n = worker.sum(np.array([(r.astype(np.float64) ** 2).sum()]),
                               np.array([np.abs(r).sum()]), np.array([len(r)]))
        mse = sq[0] / max(n[0], 1)
        return {**metrics, f"{channel}:mse": mse, f"{channel}:rmse": math.sqrt(mse),
                f"{channel}:absolute_loss": ab[0] / max(n[0], 1)}
    if s["kind"] == "multiclass_classifier":
        truth = y.numpy().astype(int)
        top = np.argsort(-out, axis=1)[:, :min(s["top_k"], out.shape[1])]
        right, in_top, n = worker.sum(np.array([(top[:, 0] == truth).sum()]),
                                      np.array([(top == truth[:, None]).any(axis=1).sum()]),
                                      np.array([len(truth)]))
        return {**metrics, f"{channel}:multiclass_accuracy": right[0] / max(n[0], 1),
                f"{channel}:multiclass_top_k_accuracy": in_top[0] / max(n[0], 1)}
    score, labels = _gathered(worker, s, _binary_score(s, out[:, 0]), y.numpy())
    predicted = score >= threshold
    tp, fp = (predicted & (labels == 1)).sum(), (predicted & (labels == 0)).sum()
    accuracy, precision, recall, f = _rates(np.array([tp]), np.array([fp]), labels.sum(),
                                            len(labels) - labels.sum(), s["beta"])
    return {**metrics, f"{channel}:binary_classification_accuracy": accuracy[0],
            f"{channel}:precision": precision[0], f"{channel}:recall": recall[0],
            f"{channel}:binary_f_beta": f[0], f"{channel}:roc_auc_score": _auc(score, labels)}


# -- the worker's fit -------------------------------------------------------------------------
def _tensors(shard):
    import torch

    return dense(shard.X), torch.from_numpy(np.asarray(shard.y, np.float32))


def fit(worker, data: dict, hp: dict):
    import torch

    s = _resolved(hp)
    torch.set_num_threads(worker.cpus)
    _check_labels(worker, s, data)
    X, y = _tensors(data["train"])
    scaler = _scaler(worker, s, X.numpy(), y.numpy())
    Xn = (X - torch.from_numpy(scaler["mu"]).float()) / torch.from_numpy(scaler["sd"]).float()
    yn = (y - float(scaler["ymu"][0])) / float(scaler["ysd"][0])
    w = torch.from_numpy(_row_weights(worker, s, data["train"].y))
    W, b = _initial(s, X.shape[1])
    params = [W, b] if s["use_bias"] else [W]
    opt = _Optimizer(s, params, [s["lr"], [r * s["bias_lr_mult"] for r in s["lr"]]],
                     [s["wd"], [v * s["bias_wd_mult"] for v in s["wd"]]],
                     [s["l1"], [0.0] * s["models"]])
    chosen = "validation" if "validation" in data else "train"
    Xs, ys = _tensors(data[chosen]) if chosen != "train" else (X, y)
    start, best, stale = 1, math.inf, 0
    saved = worker.restored()
    if saved:  # resume: the weights, the optimiser's state and the early-stopping count
        a, meta = saved["arrays"], saved["meta"]
        with torch.no_grad():
            for p, name in zip([W, b], ("W", "b"), strict=False):
                p.copy_(torch.from_numpy(a[name]))
            for i, slot in enumerate(opt.slots):
                slot.copy_(torch.from_numpy(a[f"slot{i}"]))
        opt.t, best, stale, start = meta["t"], meta["best"], meta["stale"], meta["epoch"] + 1
        worker.say("linear-learner: resuming after epoch %d", meta["epoch"])
    steps = steps_per_epoch(worker, len(Xn), s["batch"])
    epoch = start - 1
    for epoch in range(start, s["epochs"] + 1):
        train_loss = _epoch(worker, s, W, b, opt, Xn, yn, w, steps, epoch)
        loss = float(_mean_loss(worker, s, Xs, ys, *_folded(W, b, scaler)).min())
        metrics = {"train:objective_loss": float(train_loss.min())}
        if chosen == "validation":
            metrics["validation:objective_loss"] = loss
        worker.report(epoch, metrics)
        if loss < best - s["tolerance"] * abs(best) or best == math.inf:
            best, stale = loss, 0
        else:
            stale += 1
        stop = worker.agreed(stale >= s["patience"]) or worker.out_of_time()

        def state(best=best, stale=stale):
            slots = {f"slot{i}": t.numpy().copy() for i, t in enumerate(opt.slots)}
            return ({"W": W.detach().numpy().copy(), "b": b.detach().numpy().copy(), **slots},
                    {"t": opt.t, "best": best, "stale": stale})

        worker.epoch_done(epoch, s["epochs"], state)
        if stop:
            worker.say("linear-learner: stopping after epoch %d (%s)", epoch,
                       f"no improvement of {chosen} loss for {stale} epochs" if stale >= s["patience"]
                       else "out of time")
            break
    return _finish(worker, s, data, scaler, W, b, (Xs, ys), epoch)


def _finish(worker, s, data, scaler, W, b, selection, epoch: int):
    Wf, bf = _folded(W, b, scaler)
    m, threshold = _choose(worker, s, *selection, Wf, bf)
    worker.say("linear-learner: kept model %d of %d (learning_rate %g, wd %g), threshold %g",
               m, s["models"], s["lr"][m], s["wd"][m], threshold)
    for channel in ("validation", "test"):
        if channel in data:
            metrics = _evaluate(worker, s, channel, *_tensors(data[channel]), Wf[m:m + 1],
                                bf[m:m + 1], threshold)
            worker.report(epoch, {k: v for k, v in metrics.items() if math.isfinite(v)})
    return ({"weights": Wf[m].astype(np.float32), "bias": bf[m].astype(np.float32)},
            {"predictor_type": s["kind"], "loss": s["loss"], "threshold": threshold,
             "model": m, "learning_rate": s["lr"][m], "wd": s["wd"][m], "epochs_run": epoch})
