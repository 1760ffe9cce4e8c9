"""The HTTP entry of an endpoint: SageMaker's ``POST .../invocations`` and ``GET .../ping``.

One :class:`Ingress` deployment per endpoint (a Serve application mounted at
``/endpoints/<name>``) does auth, the payload limit, parsing, the variant choice, the timeout
and the per-variant counts:

* one variant: the ingress replica holds the model itself (no extra hop per request);
* several: it picks a variant by weight (or the ``X-Amzn-SageMaker-Target-Variant``
  header) and calls that variant's deployment through its handle;
* a multi-model endpoint: it loads the named model on first use, LRU-cached by Serve's
  multiplexing (:func:`multi_model_ingress`).

Traffic weights come from the endpoint's state actor (``serving._state``), read about once
a second, so a weight change needs no redeploy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import random
import time
import traceback

import numpy as np
from ray import serve
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mlcore import _storage
from serving._batch import Batcher
from serving._capture import Capture, new_inference_id
from serving._errors import BadRequest
from serving._log import replica_log as log
from serving._model import ModelSpec, _load
from serving._payload import features_of, parse, read_body, render
from serving._state import _state
from serving._types import Settings, secret_hash

VARIANT_HEADER = "x-amzn-sagemaker-target-variant"
INVOKED_HEADER = "X-Amzn-Invoked-Production-Variant"
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
TARGET_MODEL_HEADER = "x-amzn-sagemaker-target-model"


def _response(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


def authorized(auth: tuple[str, str], headers) -> bool:
    """Whether ``headers`` carry the secret whose hash ``auth`` (Settings.auth) holds."""
    kind, expected = auth
    if kind == "bearer":
        scheme, _, token = headers.get("authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else ""
    else:
        given = headers.get("x-api-key", "")
    # Constant-time, on hashes: the replica never holds the secret itself.
    return hmac.compare_digest(secret_hash(given), expected)


def refusal(name: str, auth: tuple[str, str] | None, headers) -> Response | None:
    """The 401 for a request without the endpoint's secret; None if it may go on."""
    if not auth or authorized(auth, headers):
        return None
    bearer = auth[0] == "bearer"
    how = "an 'Authorization: Bearer <token>' header" if bearer else "an 'X-Api-Key: <key>' header"
    return _response(401, {"error": f"endpoint {name!r} needs {how}; the one sent is missing or "
                                    "wrong"}, {"WWW-Authenticate": "Bearer"} if bearer else None)


class Ingress:
    """The endpoint's HTTP entry: auth, payload limit, parsing, variant choice, timeout.

    ``backends`` maps variant name to a :class:`ModelSpec` (loaded here: the one-variant fast
    path) or to the variant deployment's handle (a list of handles for a pipeline)."""

    def __init__(self, name: str, settings: Settings, backends: dict,
                 weights: dict[str, float]):
        self.name, self.settings = name, settings
        self._local, self._handles, self._features, self._multi = None, {}, {}, None
        self._containers = {v: b.container for v, b in backends.items() if isinstance(b, ModelSpec)}
        self._handle = None
        for variant, backend in backends.items():
            if isinstance(backend, ModelSpec) and backend.multi_model:
                self._multi = backend  # models load on first use (_load_model)
            elif isinstance(backend, ModelSpec):  # loaded here
                model, n = _load(backend)
                self._local = (variant, model, backend.predict)
                self._handle = backend.handle
                self._features[variant] = n
            else:
                self._handles[variant] = backend
        self._weights = dict(weights)
        self._batcher = Batcher(self._predict_one, settings.batch_size,
                                settings.batch_wait_ms / 1000, settings.batch_gap_ms / 1000)
        # per variant: invocations, errors, latency ms, model loads (multi-model)
        self._pending = {v: [0, 0, 0.0, 0] for v in backends}
        self._state, self._syncing = _state(name), None
        self._capture = Capture(name, settings.capture) if settings.capture else None

    def __del__(self):  # Serve's graceful replica shutdown: write what is still buffered
        if getattr(self, "_capture", None) is not None:
            self._capture.close()

    async def __call__(self, request) -> Response:
        headers, variant, start = request.headers, None, time.perf_counter()
        try:
            refused = self._refuse(request)
            if refused is not None:
                return refused
            self._check_length(headers)
            if self._syncing is None:  # a replica's event loop runs only from its first request
                self._syncing = asyncio.create_task(self._sync())
            variant = self._choose(headers)
            # Read as a stream and stop at the limit: a chunked body declares no length.
            raw = await read_body(request.stream(), self.settings.max_payload_bytes)
            ctype = headers.get("content-type", "")
            body, media = await self._answer(variant, raw, ctype, headers)
        except BadRequest as e:
            self._count(variant, start, error=e.status >= 500)
            return _response(e.status, {"error": e.message})
        except ClientDisconnect:  # gone before its body was read: nobody to answer, no fault here
            self._count(variant, start)
            return _response(499, {"error": "the client disconnected before sending its body"})
        except Exception as e:  # a model failure or a bug: no stack trace over HTTP, one in the log
            # The traceback in the message: Serve's file handler mangles exc_info into tuples.
            log.error("endpoint %s, variant %s: request failed with %s: %s\n%s", self.name,
                      variant, type(e).__name__, e, traceback.format_exc())
            self._count(variant, start, error=True)
            return _response(500, {"error": f"prediction failed: {type(e).__name__} (the "
                                            "replica's log has the details)"})
        self._count(variant, start)
        out = {INVOKED_HEADER: variant}
        if self._capture is not None and self._capture.sampled():
            inference_id = headers.get(INFERENCE_ID_HEADER) or new_inference_id()
            self._capture.record(variant, inference_id, raw, ctype, body, media)
            out[INFERENCE_ID_HEADER] = inference_id
        return Response(body, media_type=media, headers=out)

    # -- before the body is read ------------------------------------------------------------

    def _refuse(self, request) -> Response | None:
        """The answer to anything but an authorized ``POST .../invocations``: the health
        check (open to all, as SageMaker's), a 401, or a 404; None to go on."""
        path = request.scope["path"].rstrip("/").rsplit("/", 1)[-1]  # not .url: built per call
        if path == "ping" and request.method == "GET":
            return _response(200, {"status": "Healthy"})
        denied = refusal(self.name, self.settings.auth, request.headers)
        if denied is not None:
            return denied
        if path != "invocations" or request.method != "POST":
            return _response(404, {"error": f"no route {request.method} {request.url.path}; use "
                                            "POST .../invocations or GET .../ping"})
        return None

    def _check_length(self, headers) -> None:
        """Refuse an oversized payload from its Content-Length, before reading the body."""
        limit = self.settings.max_payload_bytes
        declared = headers.get("content-length") or "0"
        if not declared.isdigit():
            raise BadRequest(400, f"Content-Length must be a number of bytes; got {declared!r}")
        if int(declared) > limit:
            raise BadRequest(413, f"payload is {declared} bytes; the limit is {limit}")

    def _choose(self, headers) -> str:
        target = headers.get(VARIANT_HEADER)
        if target:
            if target not in self._weights:
                raise BadRequest(400, f"no variant {target!r} on endpoint {self.name!r}; "
                                      f"variants: {', '.join(self._weights)}")
            return target
        names = [v for v, w in self._weights.items() if w > 0]
        if not names:
            raise BadRequest(503, f"every variant of endpoint {self.name!r} has weight 0; "
                                  "give one a positive weight")
        if len(names) == 1:
            return names[0]
        return random.choices(names, weights=[self._weights[v] for v in names])[0]

    # -- answering ----------------------------------------------------------------------------

    async def _answer(self, variant: str, raw: bytes, ctype: str, headers) -> tuple[bytes, str]:
        """The response body and media type: the model's own handlers if it has them, else
        parse, predict (here, on a variant's deployment, or on a multi-model's model), render."""
        accept, limit = headers.get("accept", ""), self.settings.max_payload_bytes
        if self._handle is not None and self._local and self._local[0] == variant:
            handled = await self._handled(raw, ctype, accept)
            if handled is not None:
                return handled
        if self._multi is not None:
            model, n_features = await self._target_model(headers)
            X = parse(raw, ctype, n_features, limit)
            work = asyncio.to_thread(self._multi.predict, model, X)
        else:
            X = parse(raw, ctype, await self._n_features(variant), limit)
            work = self._route(variant, X)
        return render(await self._timed(work), accept, await self._container(variant))

    async def _timed(self, work):
        try:  # asyncio.timeout, not wait_for: no extra task per request
            async with asyncio.timeout(self.settings.timeout_s):
                return await work
        except TimeoutError:
            raise BadRequest(504, f"the model did not answer within {self.settings.timeout_s} s "
                                  "(the endpoint's timeout_s)") from None

    async def _handled(self, raw: bytes, ctype: str, accept: str):
        """The model's own request handlers (a script's input_fn / output_fn), if it has them
        (None if not). They raise BadRequest for the request's faults."""
        _, model, _ = self._local
        return await self._timed(asyncio.to_thread(self._handle, model, raw, ctype, accept))

    def _predict_one(self, X):  # what the batcher calls, alone or on a batch
        _, model, predict = self._local
        return predict(model, X)

    async def _n_features(self, variant: str) -> int | None:
        if variant not in self._features:
            first = self._handles[variant]
            first = first[0] if isinstance(first, list) else first
            self._features[variant] = await first.features.remote()
        return self._features[variant]

    async def _container(self, variant: str) -> str | None:
        """Whose responses the variant gives: its (last) model's ``ModelSpec.container``."""
        if variant not in self._containers:
            last = self._handles[variant]
            last = last[-1] if isinstance(last, list) else last
            self._containers[variant] = await last.container.remote()
        return self._containers[variant]

    async def _route(self, variant: str, X: np.ndarray) -> np.ndarray:
        if self._local and self._local[0] == variant:
            return await self._batcher(X)
        backend = self._handles[variant]
        if isinstance(backend, list):  # an inference pipeline: stage by stage
            for stage in backend:
                X = await stage.predict.remote(features_of(X))
            return X
        return await backend.predict.remote(X)

    # -- multi-model endpoints ----------------------------------------------------------------

    async def _target_model(self, headers):
        model_id = headers.get(TARGET_MODEL_HEADER) or serve.get_multiplexed_model_id()
        if not model_id:
            raise BadRequest(400, f"{self.name!r} is a multi-model endpoint: name the model with "
                                  "the X-Amzn-SageMaker-Target-Model header (its path under the "
                                  "model data prefix)")
        parts = model_id.strip("/").split("/")
        if {"..", ".", ""} & set(parts):  # _storage.child would refuse them: a 400, not a 500
            raise BadRequest(400, f"target model {model_id[:200]!r} must be a relative path "
                                  "without '..' or '.' segments")
        return await self._load_model("/".join(parts))

    async def _load_model(self, model_id: str):
        """Load ``<prefix>/<model_id>``: ``(model, n_features)``. Uncached here;
        :func:`multi_model_ingress` wraps it in Serve's per-replica LRU cache."""
        uri = _storage.join(self._multi.model_data, model_id)
        if not await asyncio.to_thread(_storage.is_committed, uri):
            raise BadRequest(404, f"no model {model_id!r} under {self._multi.model_data}; add it "
                                  "with MultiDataModel.add_model")
        loaded = await asyncio.to_thread(_load, dataclasses.replace(self._multi, model_data=uri))
        for counts in self._pending.values():
            counts[3] += 1
        return loaded

    # -- counts and weights -------------------------------------------------------------------

    def _count(self, variant: str | None, start: float, error: bool = False) -> None:
        if variant is None:  # refused before a variant was chosen
            return
        c = self._pending[variant]
        c[0], c[1], c[2] = c[0] + 1, c[1] + int(error), c[2] + (time.perf_counter() - start) * 1000

    async def _sync(self) -> None:
        """Every second: push this replica's counts and take the current weights."""
        while self._state is not None:
            pending, self._pending = self._pending, {v: [0, 0, 0.0, 0] for v in self._pending}
            try:
                self._weights = await self._state.exchange.remote(pending)
            except Exception as e:  # the endpoint is being deleted; keep serving meanwhile
                log.debug("endpoint state not reachable: %s", e)
            await asyncio.sleep(1.0)


def multi_model_ingress(max_models: int) -> type[Ingress]:
    """The ingress class of a multi-model endpoint that keeps up to ``max_models`` models per
    replica.

    A class made per endpoint, not a module-level one: ``@serve.multiplexed`` fixes the LRU
    size when it decorates, and the size is the endpoint's (``ModelSpec.multi_model``). The
    loader has to be a method of the deployment's class: Serve detects a multiplexed
    deployment from its class at build time, and the wrapper finds its instance (to keep the
    cache on it) only when it sits under the name of the method it wraps. Once loaded, a
    model's id is reported to Serve, which routes its requests to the replicas holding it.
    """
    cached = serve.multiplexed(max_num_models_per_replica=max_models)(Ingress._load_model)
    return type("MultiModelIngress", (Ingress,), {"_load_model": cached})
