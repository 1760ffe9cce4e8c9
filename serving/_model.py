"""The model side of a replica: loading a :class:`ModelSpec` and predicting, one request per
call or batched (:mod:`serving._batch`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlcore import _storage
from serving._batch import Batcher


@dataclass(frozen=True)
class ModelSpec:
    """What a replica loads: ``load(local_dir)`` on the fetched artifact, then
    ``predict(model, X)``; ``n_features(model)`` (optional) is checked on every request.
    ``model_data`` may also be a ``models:/`` or ``runs:/`` URI that ``load`` takes as is."""

    model_data: str
    load: Callable
    predict: Callable
    n_features: Callable | None = None
    multi_model: int = 0  # > 0: model_data is a prefix of models, this many loaded per replica
    # handle(model, body, content_type, accept) -> (bytes, media type), or None when the model
    # has no handlers of its own (a script's input_fn / output_fn); then parse/predict/render.
    handle: Callable | None = None
    # The SageMaker container whose responses the endpoint gives ("xgboost": the built-in
    # XGBoost's CSV / JSON); None: mlcore's {"predictions": [...]} (serving._payload.render).
    container: str | None = None


def _mlflow_uri(uri: str) -> bool:
    return uri.startswith(("models:/", "runs:/"))


def _load(spec: ModelSpec):
    if _mlflow_uri(spec.model_data):
        model = spec.load(spec.model_data)
    else:
        with tempfile.TemporaryDirectory(prefix="mlcore-endpoint-") as tmp:
            model = spec.load(_storage.fetch_committed(spec.model_data, tmp))
    return model, (spec.n_features(model) if spec.n_features else None)


class VariantServer:
    """A variant's replica behind the ingress: loads the model, predicts batches."""

    def __init__(self, model: ModelSpec, batch_size: int = 32, batch_wait_ms: float = 10.0,
                 batch_gap_ms: float = 1.0):
        self.model, self.n_features = _load(model)
        self._predict, self._container = model.predict, model.container
        self._batcher = Batcher(self._predict_one, batch_size, batch_wait_ms / 1000,
                                batch_gap_ms / 1000)

    def _predict_one(self, X):
        return self._predict(self.model, X)

    def features(self) -> int | None:
        return self.n_features

    def container(self) -> str | None:
        return self._container

    async def predict(self, X: np.ndarray) -> np.ndarray:
        return await self._batcher(X)
