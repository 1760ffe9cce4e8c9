"""Realtime endpoints: one Ray Serve application per endpoint, SageMaker's HTTP contract.

``POST /endpoints/<name>/invocations`` (text/csv or application/json in, JSON or CSV out by
``Accept``) and ``GET /endpoints/<name>/ping``. An endpoint has one or more production
variants, each a model with its own replicas and autoscaling:

* one variant: the ingress replica holds the model itself (no extra hop per request);
* several: the ingress picks a variant by weight (or the ``X-Amzn-SageMaker-Target-Variant``
  header) and calls that variant's deployment through its handle.

Requests are batched into one model call with ``@serve.batch``. Traffic weights and
per-variant counts live in a small detached actor per endpoint (``serving._state``): every
ingress replica reads the weights and pushes its counts about once a second, so a weight
change needs no redeploy and no restart. Models come in as :class:`ModelSpec`: a committed artifact plus the ``load`` and
``predict`` functions the caller injects, so this module knows nothing of any algorithm.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass, field

import numpy as np

from mlcore import _storage, constants
from mlcore.errors import EndpointError
from serving._capture import Capture, CaptureConfig, new_inference_id
from serving._model import ModelSpec, VariantServer, _batch_method, _Batched, _load, _mlflow_uri
from serving._state import _state

log = logging.getLogger("mlcore")
VARIANT_HEADER = "x-amzn-sagemaker-target-variant"
INVOKED_HEADER = "X-Amzn-Invoked-Production-Variant"
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
TARGET_MODEL_HEADER = "x-amzn-sagemaker-target-model"


@dataclass
class Variant:
    """One production variant (SageMaker's ``ProductionVariant``). ``model`` may be a list:
    an inference pipeline, each stage its own deployment sharing the variant's resources, the
    output of one stage the input of the next."""

    name: str
    model: ModelSpec | list[ModelSpec]
    weight: float = 1.0
    replicas: int = 1
    autoscaling: dict | None = None  # Serve autoscaling_config (min/max_replicas, ...)
    resources: dict[str, float] = field(default_factory=lambda: {"CPU": 1})
    max_ongoing_requests: int = 256  # per replica; beyond it Serve queues (and backs off)


@dataclass
class Settings:
    """Per-endpoint request handling; ``auth`` holds only a SHA-256 of the secret."""

    max_payload_bytes: int = 6 * 1024 * 1024
    timeout_s: float = 60.0
    auth: tuple[str, str] | None = None  # ("bearer" | "api_key", sha256 hex of the secret)
    batch_size: int = 32  # 1 turns batching off
    batch_wait_ms: float = 2.0
    capture: CaptureConfig | None = None  # data capture (sampled requests and responses)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _response(status: int, body: dict, headers: dict | None = None):
    from starlette.responses import Response

    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


class Ingress(_Batched):
    """The endpoint's HTTP entry: auth, payload limit, parsing, variant choice, timeout.

    ``backends`` maps variant name to a :class:`ModelSpec` (loaded here: the one-variant fast
    path) or to the variant deployment's handle."""

    def __init__(self, name: str, settings: Settings, backends: dict,
                 weights: dict[str, float]):
        self.name, self.settings = name, settings
        self._local, self._handles, self._features, self._multi = None, {}, {}, None
        self._handle = None
        for variant, backend in backends.items():
            if isinstance(backend, ModelSpec) and backend.multi_model:
                self._multi = backend  # models load on first use (_multi_model)
            elif isinstance(backend, ModelSpec):  # loaded here
                model, n = _load(backend)
                self._local = (variant, model, backend.predict)
                self._handle = backend.handle
                self._features[variant] = n
            else:
                self._handles[variant] = backend
        self._weights = dict(weights)
        self._set_batching(settings.batch_size, settings.batch_wait_ms)
        # per variant: invocations, errors, latency ms, model loads (multi-model)
        self._pending = {v: [0, 0, 0.0, 0] for v in backends}
        self._state, self._syncing = _state(name), None
        self._capture = Capture(name, settings.capture) if settings.capture else None

    def __del__(self):  # Serve's graceful replica shutdown: write what is still buffered
        if getattr(self, "_capture", None) is not None:
            self._capture.close()

    async def _sync(self) -> None:
        """Every second: push this replica's counts and take the current weights. Started by
        the first request (a replica's event loop runs only then)."""
        while self._state is not None:
            pending, self._pending = self._pending, {v: [0, 0, 0.0, 0] for v in self._pending}
            try:
                self._weights = await self._state.exchange.remote(pending)
            except Exception as e:  # the endpoint is being deleted; keep serving meanwhile
                log.debug("endpoint state not reachable: %s", e)
            await asyncio.sleep(1.0)

    def _predict_one(self, X):
        _, model, predict = self._local
        return predict(model, X)

    async def _n_features(self, variant: str) -> int | None:
        if variant not in self._features:
            first = self._handles[variant]
            first = first[0] if isinstance(first, list) else first
            self._features[variant] = await first.features.remote()
        return self._features[variant]

    def _authorized(self, headers) -> bool:
        kind, expected = self.settings.auth
        if kind == "bearer":
            scheme, _, token = headers.get("authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else ""
        else:
            given = headers.get("x-api-key", "")
        return hmac.compare_digest(secret_hash(given), expected)

    def _choose(self, headers) -> str:
        from serving._payload import BadRequest

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

    async def __call__(self, request):
        from serving._payload import BadRequest, parse, render

        path = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if path == "ping" and request.method == "GET":
            return _response(200, {"status": "Healthy"})
        if self.settings.auth and not self._authorized(request.headers):
            how = ("an 'Authorization: Bearer <token>' header" if self.settings.auth[0] == "bearer"
                   else "an 'X-Api-Key: <key>' header")
            return _response(401, {"error": f"endpoint {self.name!r} needs {how}; the one sent is "
                                            "missing or wrong"},
                             {"WWW-Authenticate": "Bearer"} if self.settings.auth[0] == "bearer" else None)
        if path != "invocations" or request.method != "POST":
            return _response(404, {"error": f"no route {request.method} {request.url.path}; use "
                                            "POST .../invocations or GET .../ping"})
        variant, start = None, time.perf_counter()
        try:
            limit = self.settings.max_payload_bytes
            declared = request.headers.get("content-length") or "0"
            if not declared.isdigit():
                raise BadRequest(400, f"Content-Length must be a number of bytes; got {declared!r}")
            if int(declared) > limit:  # refuse before reading the body
                raise BadRequest(413, f"payload is {declared} bytes; the limit is {limit}")
            if self._syncing is None:
                self._syncing = asyncio.create_task(self._sync())
            variant = self._choose(request.headers)
            raw, ctype = await request.body(), request.headers.get("content-type", "")
            accept = request.headers.get("accept", "")
            handled = None
            if self._handle is not None and self._local and self._local[0] == variant:
                handled = await self._handled(raw, ctype, accept)
            if handled is not None:
                body, media = handled
            else:
                if self._multi is not None:
                    model, n_features = await self._target_model(request.headers)
                    X = parse(raw, ctype, n_features, limit)
                    work = asyncio.to_thread(self._multi.predict, model, X)
                else:
                    X = parse(raw, ctype, await self._n_features(variant), limit)
                    work = self._route(variant, X)
                body, media = render(await self._timed(work), accept)
        except BadRequest as e:
            self._count(variant, start, error=e.status >= 500)
            return _response(e.status, {"error": e.message})
        except Exception as e:  # a model failure: no stack trace over HTTP
            log.exception("prediction failed")
            self._count(variant, start, error=True)
            return _response(500, {"error": f"prediction failed: {type(e).__name__}"})
        from starlette.responses import Response

        self._count(variant, start)
        headers = {INVOKED_HEADER: variant}
        if self._capture is not None and self._capture.sampled():
            inference_id = request.headers.get(INFERENCE_ID_HEADER) or new_inference_id()
            self._capture.record(variant, inference_id, raw, ctype, body, media)
            headers[INFERENCE_ID_HEADER] = inference_id
        return Response(body, media_type=media, headers=headers)

    async def _timed(self, work):
        from serving._payload import BadRequest

        try:
            return await asyncio.wait_for(work, self.settings.timeout_s)
        except asyncio.TimeoutError:
            raise BadRequest(504, f"the model did not answer within {self.settings.timeout_s} s "
                                  "(the endpoint's timeout_s)") from None

    async def _handled(self, raw: bytes, ctype: str, accept: str):
        """The model's own request handlers (a script's input_fn / output_fn), if it has them
        (None if not). They raise BadRequest for the request's faults."""
        _, model, _ = self._local
        return await self._timed(asyncio.to_thread(self._handle, model, raw, ctype, accept))

    async def _target_model(self, headers):
        from ray import serve

        from serving._payload import BadRequest

        model_id = headers.get(TARGET_MODEL_HEADER) or serve.get_multiplexed_model_id()
        if not model_id:
            raise BadRequest(400, f"{self.name!r} is a multi-model endpoint: name the model with "
                                  "the X-Amzn-SageMaker-Target-Model header (its path under the "
                                  "model data prefix)")
        parts = model_id.strip("/").split("/")
        if ".." in parts or "" in parts:
            raise BadRequest(400, f"target model {model_id!r} must be a relative path without '..'")
        return await self._multi_model("/".join(parts))

    async def _load_target(self, model_id: str):
        """Load ``<prefix>/<model_id>``; Serve's multiplexing caches it (LRU per replica)."""
        import dataclasses

        from serving._payload import BadRequest

        uri = _storage.join(self._multi.model_data, model_id)
        if not await asyncio.to_thread(_storage.is_committed, uri):
            raise BadRequest(404, f"no model {model_id!r} under {self._multi.model_data}; add it "
                                  "with MultiDataModel.add_model")
        loaded = await asyncio.to_thread(_load, dataclasses.replace(self._multi, model_data=uri))
        for counts in self._pending.values():
            counts[3] += 1
        return loaded

    async def _route(self, variant: str, X: np.ndarray) -> np.ndarray:
        if self._local and self._local[0] == variant:
            return await self._infer(X)
        backend = self._handles[variant]
        if isinstance(backend, list):  # an inference pipeline: stage by stage
            for stage in backend:
                X = await stage.predict.remote(X)
            return X
        return await backend.predict.remote(X)

    def _count(self, variant: str | None, start: float, error: bool = False) -> None:
        if variant is None:
            return
        c = self._pending[variant]
        c[0], c[1], c[2] = c[0] + 1, c[1] + int(error), c[2] + (time.perf_counter() - start) * 1000


Ingress._batch = _batch_method()


def _serve_address() -> str:
    return f"http://{constants.get('MLCORE_SERVE_HOST')}:{constants.get('MLCORE_SERVE_PORT')}"


def endpoint_url(name: str) -> str:
    return f"{_serve_address()}/endpoints/{name}"


def _actor_options(resources: dict[str, float]) -> dict:
    res = dict(resources)
    options = {"num_cpus": res.pop("CPU", 0), "num_gpus": res.pop("GPU", 0)}
    if "memory" in res:
        options["memory"] = res.pop("memory")
    if res:
        options["resources"] = res
    return options


def _scale(variant: Variant) -> dict:
    if variant.autoscaling:
        return {"autoscaling_config": variant.autoscaling}
    return {"num_replicas": variant.replicas}


def start_serve() -> None:
    from ray import serve

    quiet = {"log_level": constants.ray_log_level(), "enable_access_log": False}
    serve.start(http_options={"host": constants.get("MLCORE_SERVE_HOST"),
                              "port": constants.get("MLCORE_SERVE_PORT")}, logging_config=quiet)


def deploy(name: str, variants: list[Variant], settings: Settings | None = None,
           wait: bool = True) -> str:
    """Start (or update in place) endpoint ``name``; return its URL.

    With ``wait``, return once every replica that must run is up (a variant scaled to zero
    has none to wait for)."""
    from ray import serve

    settings = settings or Settings()
    names = [v.name for v in variants]
    if not variants or len(set(names)) != len(names):
        raise EndpointError(f"endpoint {name!r} needs variants with distinct names; got {names}")
    specs = [m for v in variants for m in (v.model if isinstance(v.model, list) else [v.model])]
    for m in specs:
        if not _mlflow_uri(m.model_data) and not m.multi_model and not _storage.is_committed(m.model_data):
            raise EndpointError(f"cannot deploy {m.model_data}: it is not a committed model "
                                "artifact (the job that wrote it did not complete)")
    start_serve()
    quiet = {"log_level": constants.ray_log_level(), "enable_access_log": False}
    ongoing = max(v.max_ongoing_requests for v in variants)
    ingress = Ingress
    if any(m.multi_model for m in specs):
        if len(specs) > 1:
            raise EndpointError(f"endpoint {name!r}: a multi-model variant must be the only one "
                                "(and not a pipeline)")
        cap = specs[0].multi_model

        async def _multi_model(self, model_id: str):
            return await self._load_target(model_id)

        # Defined on the class, so Serve sees the endpoint is multiplexed and routes each
        # model's requests to replicas that hold it.
        ingress = type("Ingress", (Ingress,), {"_multi_model": serve.multiplexed(
            max_num_models_per_replica=cap)(_multi_model)})
    def server(v: Variant, spec: ModelSpec, name: str, share: int = 1):
        return serve.deployment(
            VariantServer, name=name, **_scale(v),
            ray_actor_options=_actor_options({k: r / share for k, r in v.resources.items()}),
            max_ongoing_requests=max(v.max_ongoing_requests, settings.batch_size),
            logging_config=quiet,
        ).bind(spec, settings.batch_size, settings.batch_wait_ms)

    def pipeline(v: Variant) -> list:  # the stages share the variant's instance, as on SageMaker
        return [server(v, spec, f"{v.name}-stage-{i}", len(v.model)) for i, spec in enumerate(v.model)]

    if len(variants) == 1 and isinstance(variants[0].model, ModelSpec):  # the ingress holds it
        v = variants[0]
        backends = {v.name: v.model}
        ingress_opts = {**_scale(v), "ray_actor_options": _actor_options(v.resources),
                        "max_ongoing_requests": max(ongoing, settings.batch_size)}
    else:
        backends = {v.name: pipeline(v) if isinstance(v.model, list) else server(v, v.model, f"variant-{v.name}")
                    for v in variants}
        ingress_opts = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0},
                        "max_ongoing_requests": 4 * ongoing * len(variants)}
    import ray

    weights = {v.name: v.weight for v in variants}
    ray.get(_state(name, create=True).set_weights.remote(weights))
    app = serve.deployment(ingress, name="ingress", logging_config=quiet,
                           **ingress_opts).bind(name, settings, backends, weights)
    try:
        serve.run_many([serve.RunTarget(app, name=name, route_prefix=f"/endpoints/{name}",
                                        logging_config=quiet)],
                       wait_for_applications_running=wait)
    except RuntimeError as e:  # a replica failed to start (a model that does not load, ...)
        raise EndpointError(f"endpoint {name!r} failed to start: {e}") from None
    return endpoint_url(name)


def delete(name: str) -> None:
    import ray
    from ray import serve

    serve.delete(name)
    state = _state(name)
    if state is not None:
        ray.kill(state)


def statuses() -> dict[str, dict]:
    """Serve's view of every endpoint: ``{name: {"status", "message", "deployments": {name:
    {"status", "replicas": {state: n}}}}}``; empty when Serve is not running."""
    from ray import serve
    from ray.serve.exceptions import RayServeException

    try:
        apps = serve.status().applications
    except RayServeException:  # Serve is not running on this cluster
        return {}
    return {name: {"status": str(app.status), "message": app.message,
                   "deployments": {d: {"status": str(s.status), "replicas": dict(s.replica_states)}
                                   for d, s in app.deployments.items()}}
            for name, app in apps.items()}


def status(name: str) -> dict | None:
    """:func:`statuses` of endpoint ``name``; None if no such application."""
    return statuses().get(name)
