"""The benchmark's two models, each a committed folder with (load, predict, feature_count):

- XGBoost in the built-in's format: per-row cost dominates and a call costs ~0.1 ms, so HTTP
  is most of a request and batching has little to win;
- a vectorised MLP in PyTorch (30 -> 2048 -> 2048 -> 2048 -> 1, 8.5M parameters): per-call
  cost dominates (one row ~1.4 ms, 32 rows ~8 ms on one core), the case dynamic batching is for.
"""

from __future__ import annotations

import json
import os

import numpy as np

MLP_FILE = "mlp.pt"


def build_mlp(features: int, width: int = 2048, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    layers, n = [], features
    for _ in range(3):
        layers += [torch.nn.Linear(n, width), torch.nn.ReLU()]
        n = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(n, 1)).eval()


def save_mlp(model, local_dir: str) -> None:
    import torch

    torch.save(model.state_dict(), os.path.join(local_dir, MLP_FILE))
    dims = {"features": model[0].in_features, "width": model[0].out_features}
    with open(os.path.join(local_dir, "mlp.json"), "w") as f:
        json.dump(dims, f)


def load_mlp(local_dir: str):
    import torch

    with open(os.path.join(local_dir, "mlp.json")) as f:
        dims = json.load(f)
    model = build_mlp(dims["features"], dims["width"])
    model.load_state_dict(torch.load(os.path.join(local_dir, MLP_FILE)))
    return model


def predict_mlp(model, X: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))[:, 0].numpy()


def feature_count_mlp(model) -> int:
    return model[0].in_features


def functions(model_dir: str):
    """(load, predict, feature_count) for the model committed in ``model_dir``."""
    if os.path.exists(os.path.join(model_dir, MLP_FILE)):  # the benchmark's folders are local
        return load_mlp, predict_mlp, feature_count_mlp
    from algorithms import _xgboost

    return _xgboost.load_model, _xgboost.predict, _xgboost.feature_count
