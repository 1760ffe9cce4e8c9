"""A realtime endpoint: one Ray Serve application per endpoint, SageMaker's HTTP contract.

``POST /endpoints/<name>/invocations`` (text/csv or application/json in, JSON or CSV out by
``Accept``) and ``GET /endpoints/<name>/ping``. The model is loaded from a committed artifact
by a ``load(dir)`` function and called by ``predict(model, X)``; both are injected by the
caller, so this module knows nothing of any particular algorithm.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable

from mlcore import _storage, constants
from mlcore.errors import EndpointError

log = logging.getLogger("mlcore")


def _response(status: int, body: dict):
    from starlette.responses import Response

    return Response(json.dumps(body), status_code=status, media_type="application/json")


class ModelServer:
    """Serve replica: holds one loaded model."""

    def __init__(self, model_data: str, load: Callable, predict: Callable,
                 n_features: Callable | None = None):
        with tempfile.TemporaryDirectory(prefix="mlcore-endpoint-") as tmp:
            self.model = load(_storage.fetch_committed(model_data, tmp))
        self.predict = predict
        self.n_features = n_features(self.model) if n_features else None

    async def __call__(self, request):
        from serving._payload import MAX_PAYLOAD_BYTES, BadRequest, parse, render

        path = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if path == "ping" and request.method == "GET":
            return _response(200, {"status": "Healthy"})
        if path != "invocations" or request.method != "POST":
            return _response(404, {"error": f"no route {request.method} {request.url.path}; use "
                                            "POST .../invocations or GET .../ping"})
        try:
            declared = request.headers.get("content-length") or "0"
            if not declared.isdigit():
                raise BadRequest(400, f"Content-Length must be a number of bytes; got {declared!r}")
            if int(declared) > MAX_PAYLOAD_BYTES:  # refuse before reading the body
                raise BadRequest(413, f"payload is {declared} bytes; the limit is {MAX_PAYLOAD_BYTES}")
            X = parse(await request.body(), request.headers.get("content-type", ""), self.n_features)
            body, media = render(self.predict(self.model, X), request.headers.get("accept", ""))
        except BadRequest as e:
            return _response(e.status, {"error": e.message})
        except Exception as e:  # a model failure: no stack trace over HTTP
            log.exception("prediction failed")
            return _response(500, {"error": f"prediction failed: {type(e).__name__}"})
        from starlette.responses import Response

        return Response(body, media_type=media)


def _serve_address() -> str:
    return f"http://{constants.get('MLCORE_SERVE_HOST')}:{constants.get('MLCORE_SERVE_PORT')}"


def endpoint_url(name: str) -> str:
    return f"{_serve_address()}/endpoints/{name}"


def deploy(name: str, model_data: str, load: Callable, predict: Callable,
           n_features: Callable | None = None, replicas: int = 1,
           resources: dict[str, float] | None = None) -> str:
    """Start (or replace) endpoint ``name`` serving ``model_data``; return its URL."""
    from ray import serve

    if not _storage.is_committed(model_data):
        raise EndpointError(f"cannot deploy {model_data}: it is not a committed model artifact "
                            "(the job that wrote it did not complete)")
    quiet = {"log_level": constants.ray_log_level()}
    serve.start(http_options={"host": constants.get("MLCORE_SERVE_HOST"),
                              "port": constants.get("MLCORE_SERVE_PORT")}, logging_config=quiet)
    res = dict(resources or {"CPU": 1})
    options = {"num_cpus": res.pop("CPU", 1), "num_gpus": res.pop("GPU", 0)}
    if res:
        options["resources"] = res
    app = serve.deployment(ModelServer, name=name, num_replicas=replicas,
                           ray_actor_options=options).bind(model_data, load, predict, n_features)
    serve.run(app, name=name, route_prefix=f"/endpoints/{name}", blocking=False, logging_config=quiet)
    return endpoint_url(name)


def delete(name: str) -> None:
    from ray import serve

    serve.delete(name)


def list_endpoints() -> list[str]:
    from ray import serve

    return sorted(serve.status().applications)
