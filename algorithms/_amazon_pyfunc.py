"""The MLflow pyfunc model of a first-party algorithm (a module-level class, so MLflow pickles
it by reference): a DataFrame of feature rows in, a DataFrame of its answer's fields out."""

from __future__ import annotations

import numpy as np

from mlcore._mlflow_compat import PythonModel


class FirstPartyModel(PythonModel):
    def __init__(self, algorithm: str):
        self.algorithm = algorithm

    def load_context(self, context):
        from algorithms import get

        self._algo = get(self.algorithm)
        self._model = self._algo.load_model(context.artifacts["model"])

    def predict(self, context, model_input, params=None):
        import pandas as pd

        out = self._algo.predict(self._model, np.asarray(model_input, dtype=np.float32))
        return pd.DataFrame({k: list(out[k]) if out[k].ndim > 1 else out[k]
                             for k in out.dtype.names})
