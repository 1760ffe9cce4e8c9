"""The model side of a replica: loading a :class:`ModelSpec` and predicting, one request per
call or batched with ``@serve.batch``."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlcore import _storage


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


class _Batched:
    """Mixin: ``self._infer(X)`` runs ``self._predict_one(X)`` directly when it is the only
    request in the replica (no wait), else coalesced with the requests arriving within
    ``batch_wait_ms`` into one model call."""

    def _set_batching(self, size: int, wait_ms: float) -> None:
        self._batching, self._inflight = size > 1, 0
        if self._batching:
            self._batch.set_max_batch_size(size)
            self._batch.set_batch_wait_timeout_s(wait_ms / 1000)

    async def _infer(self, X: np.ndarray) -> np.ndarray:
        # The model runs in a thread: the event loop keeps taking (and batching) requests,
        # and a timeout can answer while a slow call is still running.
        self._inflight += 1
        try:
            if not self._batching or self._inflight == 1:
                return np.asarray(await asyncio.to_thread(self._predict_one, X))
            return await self._batch(X)
        finally:
            self._inflight -= 1

    async def _batch_impl(self, Xs: list[np.ndarray]) -> list[np.ndarray]:
        if len(Xs) > 1 and len({x.shape[1] for x in Xs}) == 1:
            out = np.asarray(await asyncio.to_thread(self._predict_one, np.concatenate(Xs)))
            return np.split(out, np.cumsum([len(x) for x in Xs])[:-1])
        return [np.asarray(await asyncio.to_thread(self._predict_one, x)) for x in Xs]


def _batch_method():
    from ray import serve

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _batch(self, Xs):
        return await self._batch_impl(Xs)

    return _batch


class VariantServer(_Batched):
    """A variant's replica behind the ingress: loads the model, predicts batches."""

    def __init__(self, model: ModelSpec, batch_size: int = 32, batch_wait_ms: float = 2.0):
        self.model, self.n_features = _load(model)
        self._predict, self._container = model.predict, model.container
        self._set_batching(batch_size, batch_wait_ms)

    def _predict_one(self, X):
        return self._predict(self.model, X)

    def features(self) -> int | None:
        return self.n_features

    def container(self) -> str | None:
        return self._container

    async def predict(self, X: np.ndarray) -> np.ndarray:
        return await self._infer(X)


VariantServer._batch = _batch_method()
