"""A script-mode model: SageMaker's inference-handler contract (``model_fn``, ``input_fn``,
``predict_fn``, ``output_fn``) taken from the training script, and its MLflow pyfunc wrapper.

Imported on use only: it imports MLflow, which takes seconds.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import mlflow.pyfunc

from mlcore.errors import AlgorithmError


def load_handlers(code_dir: str, entry_point: str):
    """Import the entry point as a module (its ``__main__`` block does not run)."""
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    name = f"mlcore_entry_{os.path.splitext(entry_point)[0].replace('/', '_')}"
    spec = importlib.util.spec_from_file_location(name, os.path.join(code_dir, entry_point))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ScriptModel(mlflow.pyfunc.PythonModel):
    """``model_fn(model_dir)`` loads; ``predict_fn(data, model)`` predicts (default: call the
    model on a float32 tensor of the input)."""

    def __init__(self, entry_point: str):
        self.entry_point = entry_point

    def load_context(self, context):
        self.load(context.artifacts["code"], context.artifacts["model"])

    def load(self, code_dir: str, model_dir: str) -> ScriptModel:
        self._handlers = load_handlers(code_dir, self.entry_point)
        model_fn = getattr(self._handlers, "model_fn", None)
        if model_fn is None:
            raise AlgorithmError(f"{self.entry_point} defines no model_fn(model_dir); add it to "
                                 "load the model it saved (SageMaker's inference handler contract)")
        self._model = model_fn(model_dir)
        return self

    def predict(self, context, model_input, params=None):
        import numpy as np

        data = model_input.to_numpy() if hasattr(model_input, "to_numpy") else np.asarray(model_input)
        predict_fn = getattr(self._handlers, "predict_fn", None)
        if predict_fn is not None:
            out = predict_fn(data, self._model)
        else:
            import torch

            with torch.no_grad():
                out = self._model(torch.as_tensor(data, dtype=torch.float32))
        return out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
