"""Factorization Machines with SageMaker's names: ``y = w0 + <w, x> + sum_{i<j} <v_i, v_j> x_i
x_j`` with ``num_factors``-long factors ``v_i``, for ``predictor_type`` regressor (squared
loss) or binary_classifier (logistic loss; labels 0/1).

The pairwise term is computed in O(d k) per row as ``0.5 * sum_f ((x V)_f^2 - (x^2 V^2)_f)``.
Training is Adam (``eps``) with a learning rate and weight decay per term (``bias_lr``,
``linear_lr``, ``factors_lr``, ``*_wd``, SageMaker's defaults), gradients multiplied by
``rescale_grad`` and clipped to ``[-clip_gradient, clip_gradient]`` where those are set, and
each term initialised as ``*_init_method`` says (normal: ``*_init_sigma``; uniform:
``*_init_scale``; constant: ``*_init_value``).

Data parallel as Linear Learner: the same step count on every worker, one all-reduce of the
gradients per step. SageMaker's channels are ``train`` and ``test``; the test metrics are
SageMaker's (``test:rmse``; ``test:binary_classification_accuracy``,
``test:binary_classification_cross_entropy``, ``test:binary_f_beta``).

SageMaker's Factorization Machines read RecordIO-protobuf only; this one also reads CSV (the
label first) and Parquet. Rows are dense here, so ``feature_dim`` is the column count.
"""

from __future__ import annotations

import math

import numpy as np

from algorithms._amazon import structured
from algorithms._hyperparameters import HP
from algorithms._sgd import average_gradients, dense, steps_per_epoch

NAME = "factorization-machines"
TERMS = ("bias", "linear", "factors")
# SageMaker's defaults: learning rate, weight decay, init sigma (init method normal)
DEFAULTS = {"bias": (0.1, 0.01, 0.01), "linear": (0.001, 0.001, 0.01),
            "factors": (0.0001, 0.00001, 0.001)}
SEED = 0  # SageMaker's FM takes no seed: a fixed one, the same init on every rank

HYPERPARAMETERS = {
    "feature_dim": HP(int, low=1, required=True),
    "num_factors": HP(int, low=1, required=True),
    "predictor_type": HP(str, choices=("binary_classifier", "regressor"), required=True),
    "epochs": HP(int, low=1),
    "mini_batch_size": HP(int, low=1),
    "clip_gradient": HP(float),
    "eps": HP(float),
    "rescale_grad": HP(float),
    **{f"{t}_{name}": spec for t in TERMS for name, spec in (
        ("lr", HP(float, low=0)), ("wd", HP(float, low=0)),
        ("init_method", HP(str, choices=("normal", "uniform", "constant"))),
        ("init_scale", HP(float, low=0)), ("init_sigma", HP(float, low=0)),
        ("init_value", HP(float)))},
    "_tuning_objective_metric": HP(str),
}
CHANNELS, REQUIRED_CHANNELS = ("train", "test"), ("train",)
LABELLED = {"train": True, "test": True}
EXAMPLE = {"predictor_type": "binary_classifier", "num_factors": 4, "feature_dim": 6,
           "epochs": 3, "mini_batch_size": 50}


def check(hp: dict) -> list[tuple[str, str]]:
    """A uniform init needs its scale and a constant one its value (SageMaker has no default
    for either)."""
    problems = []
    for t in TERMS:
        method = hp.get(f"{t}_init_method", "normal")
        needed = {"uniform": f"{t}_init_scale", "constant": f"{t}_init_value"}.get(method)
        if needed and needed not in hp:
            problems.append((needed, f"{t}_init_method={method} needs {needed}; set it, or use "
                                     f"{t}_init_method=normal"))
    if hp.get("clip_gradient") is not None and hp["clip_gradient"] <= 0:
        problems.append(("clip_gradient", f"clip_gradient must be > 0; got {hp['clip_gradient']}"))
    return problems


def metric_names(hp: dict, channels) -> list[str]:
    """``train:objective_loss`` each epoch (squared or logistic loss), and SageMaker's test
    metrics with a test channel."""
    test = (["test:rmse"] if hp.get("predictor_type") == "regressor" else
            ["test:binary_classification_accuracy", "test:binary_classification_cross_entropy",
             "test:binary_f_beta"])
    return ["train:objective_loss"] + (test if "test" in channels else [])


def default_objective(hp: dict) -> str:
    # SageMaker's tuning objectives, on the test channel: test:rmse for a regressor,
    # test:binary_classification_accuracy for a binary classifier
    return ("test:rmse" if hp.get("predictor_type") == "regressor"
            else "test:binary_classification_accuracy")


def _setting(hp: dict, term: str, name: str):
    lr, wd, sigma = DEFAULTS[term]
    return hp.get(f"{term}_{name}", {"lr": lr, "wd": wd, "init_sigma": sigma,
                                      "init_method": "normal"}.get(name))


def _initial(hp: dict, d: int):
    import torch

    gen = torch.Generator().manual_seed(SEED)
    out = []
    for term, shape in zip(TERMS, ((1,), (d,), (d, hp["num_factors"])), strict=False):
        method = _setting(hp, term, "init_method")
        if method == "normal":
            p = torch.randn(shape, generator=gen) * _setting(hp, term, "init_sigma")
        elif method == "uniform":
            scale = _setting(hp, term, "init_scale")
            p = (torch.rand(shape, generator=gen) * 2 - 1) * scale
        else:
            p = torch.full(shape, float(_setting(hp, term, "init_value")))
        out.append(p.requires_grad_())
    return out


def _forward(X, w0, w, V):
    """[B] raw outputs; the pairwise term without the d x d matrix of interactions."""
    XV = X @ V  # [B, k]
    return w0 + X @ w + 0.5 * (XV ** 2 - (X ** 2) @ (V ** 2)).sum(dim=1)


def _loss(kind: str, z, y):
    import torch.nn.functional as F

    if kind == "regressor":
        return (z - y) ** 2
    return F.binary_cross_entropy_with_logits(z, y, reduction="none")


def _labels_ok(worker, kind: str, data: dict) -> None:
    from mlcore.errors import DataError

    mine = None
    for name, shard in data.items():
        if kind == "binary_classifier" and not np.isin(shard.y, (0, 1)).all():
            mine = f"channel {name!r}: binary_classifier labels must be 0 or 1"
    problems = [p for p in worker.gather(mine) if p]
    if problems:
        raise DataError(problems[0] + "; fix the labels (the first CSV column) or use "
                        "predictor_type=regressor")


class _Adam:
    """Adam with a learning rate and an L2 weight decay per term (added to the gradient, as
    MXNet's optimisers do). Plain tensors: ``torch.optim`` imports the compiler stack, seconds
    on every fresh worker."""

    def __init__(self, hp: dict, params: list):
        import torch

        self.params, self.t, self.eps = params, 0, hp.get("eps", 1e-8)
        self.rates = [(_setting(hp, t, "lr"), _setting(hp, t, "wd")) for t in TERMS]
        self.slots = [torch.zeros_like(p) for p in params for _ in range(2)]

    def step(self, b1: float = 0.9, b2: float = 0.999) -> None:
        import torch

        self.t += 1
        with torch.no_grad():
            for i, (p, (lr, wd)) in enumerate(zip(self.params, self.rates, strict=False)):
                m, v = self.slots[2 * i], self.slots[2 * i + 1]
                g = p.grad + wd * p
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.sub_(lr * (m / (1 - b1 ** self.t)) / ((v / (1 - b2 ** self.t)).sqrt() + self.eps))


def _epoch(worker, hp, params, opt, X, y, steps: int, epoch: int) -> float:
    import torch

    n = len(X)
    per = math.ceil(n / steps) if n else 0
    order = torch.from_numpy(np.random.default_rng([SEED, worker.rank, epoch]).permutation(n))
    total, rows = 0.0, 0
    for i in range(steps):
        idx = order[i * per:(i + 1) * per]
        loss = _loss(hp["predictor_type"], _forward(X[idx], *params), y[idx]).sum()
        for p in params:
            p.grad = None
        loss.backward()
        average_gradients(worker, params, len(idx))
        for p in params:
            if hp.get("rescale_grad") is not None:
                p.grad.mul_(hp["rescale_grad"])
            if hp.get("clip_gradient") is not None:
                p.grad.clamp_(-hp["clip_gradient"], hp["clip_gradient"])
        opt.step()
        total, rows = total + float(loss.detach()), rows + len(idx)
    total, rows = worker.sum(np.array([total]), np.array([rows]))
    return float(total[0] / max(rows[0], 1))


def _state(params, opt) -> tuple[dict, dict]:
    arrays = {t: p.detach().numpy().copy() for t, p in zip(TERMS, params, strict=False)}
    arrays.update({f"slot{i}": v.numpy().copy() for i, v in enumerate(opt.slots)})
    return arrays, {"t": opt.t}


def _restore(params, opt, arrays: dict, t: int) -> None:
    import torch

    with torch.no_grad():
        for name, tensor in [*zip(TERMS, params, strict=False), *((f"slot{i}", v) for i, v in enumerate(opt.slots))]:
            tensor.copy_(torch.from_numpy(arrays[name]))
    opt.t = t


def fit(worker, data: dict, hp: dict):
    import torch

    torch.set_num_threads(worker.cpus)
    kind, epochs = hp["predictor_type"], hp.get("epochs", 1)
    _labels_ok(worker, kind, data)
    X = dense(data["train"].X)
    y = torch.from_numpy(np.asarray(data["train"].y, np.float32))
    params = _initial(hp, X.shape[1])
    opt = _Adam(hp, params)
    start = 1
    saved = worker.restored()
    if saved:
        start = saved["meta"]["epoch"] + 1
        _restore(params, opt, saved["arrays"], saved["meta"]["t"])
        worker.say("factorization-machines: resuming after epoch %d", saved["meta"]["epoch"])
    steps = steps_per_epoch(worker, len(X), hp.get("mini_batch_size", 1000))
    epoch = start - 1
    for epoch in range(start, epochs + 1):
        loss = _epoch(worker, hp, params, opt, X, y, steps, epoch)
        worker.report(epoch, {"train:objective_loss": loss})
        worker.epoch_done(epoch, epochs, lambda: _state(params, opt))
        if worker.out_of_time():
            break
    if "test" in data:
        worker.report(epoch, _test_metrics(worker, kind, data["test"], params))
    arrays = {t: p.detach().numpy().astype(np.float32) for t, p in zip(TERMS, params, strict=False)}
    return arrays, {"predictor_type": kind, "epochs_run": epoch}


def _test_metrics(worker, kind: str, shard, params) -> dict:
    import torch

    with torch.no_grad():
        z = _forward(dense(shard.X), *params).double().numpy()
    y = np.asarray(shard.y, np.float64)
    if kind == "regressor":
        sq, n = worker.sum(np.array([((z - y) ** 2).sum()]), np.array([len(y)]))
        return {"test:rmse": math.sqrt(sq[0] / max(n[0], 1))}
    p = 1 / (1 + np.exp(-z))
    ce = np.logaddexp(0, z) - y * z  # -log p(y), stable
    hit = (p >= 0.5)
    tp, fp, fn, right, total, n = worker.sum(
        *[np.array([v]) for v in (float((hit & (y == 1)).sum()), float((hit & (y == 0)).sum()),
                                  float((~hit & (y == 1)).sum()), float((hit == (y == 1)).sum()),
                                  float(ce.sum()), float(len(y)))])
    f1 = 2 * tp[0] / max(2 * tp[0] + fp[0] + fn[0], 1)
    return {"test:binary_classification_accuracy": right[0] / max(n[0], 1),
            "test:binary_classification_cross_entropy": total[0] / max(n[0], 1),
            "test:binary_f_beta": f1}


def load(arrays: dict, meta: dict):
    return {**{t: arrays[t] for t in TERMS}, "kind": meta["predictor_type"]}


def predict(model, X) -> np.ndarray:
    X = np.asarray(X, np.float32)
    XV = X @ model["factors"]
    z = model["bias"][0] + X @ model["linear"] + 0.5 * (XV ** 2 - (X ** 2) @ model["factors"] ** 2).sum(1)
    if model["kind"] == "regressor":
        return structured(len(z), score=z)
    score = 1 / (1 + np.exp(-z))
    return structured(len(z), score=score, predicted_label=(score >= 0.5).astype(np.int32))


def feature_count(model) -> int:
    return int(model["linear"].shape[0])
