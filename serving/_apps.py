"""Endpoints as Ray Serve applications: deploy, delete, status, URL.

An endpoint is one Serve application named after it, mounted at ``/endpoints/<name>``. Its
graph, built here from :class:`~serving._types.Variant` and :class:`~serving._types.Settings`:

* one single-model variant: the ingress deployment alone; it holds the model;
* otherwise: the ingress (one replica, no CPU of its own) bound to a ``variant-<name>``
  deployment per variant, or ``<name>-stage-<i>`` deployments for a pipeline variant.

The endpoint's state actor (traffic weights, per-variant counts) is created before the
application and removed with it.
"""

from __future__ import annotations

from mlcore import _session, _storage, constants
from serving._errors import ServingError
from serving._ingress import Ingress, multi_model_ingress
from serving._model import ModelSpec, VariantServer, _mlflow_uri
from serving._state import _state
from serving._types import Settings, Variant


def _quiet() -> dict:
    """Serve's logging config for mlcore's deployments: Ray's level, no access log line per
    request (on a busy endpoint it costs more than the request)."""
    return {"log_level": constants.ray_log_level(), "enable_access_log": False}


def _serve_address() -> str:
    return f"http://{constants.get('MLCORE_SERVE_HOST')}:{_session.serve_port()}"


def endpoint_url(name: str) -> str:
    return f"{_serve_address()}/endpoints/{name}"


def start_serve() -> None:
    """Start Serve on the connected cluster (a no-op where it runs) on mlcore's host/port."""
    from ray import serve

    # On this process's own Ray, Serve starts here: the port must be free (or be replaced).
    port = _session.claim_serve_port() if _session.started_local_ray() else _session.serve_port()
    serve.start(http_options={"host": constants.get("MLCORE_SERVE_HOST"), "port": port},
                logging_config=_quiet())


# -- validation ---------------------------------------------------------------------------------


def _check(name: str, variants: list[Variant], settings: Settings) -> list[ModelSpec]:
    """Every model of the endpoint, once its variants are known to be deployable."""
    names = [v.name for v in variants]
    if not variants or len(set(names)) != len(names):
        raise ServingError(f"endpoint {name!r} needs variants with distinct names; got {names}")
    specs = [m for v in variants for m in v.stages]
    for m in specs:
        if not (_mlflow_uri(m.model_data) or m.multi_model or _storage.is_committed(m.model_data)):
            raise ServingError(f"cannot deploy {m.model_data}: it is not a committed model "
                               "artifact (the job that wrote it did not complete)")
    if settings.async_config is not None and (len(variants) > 1 or len(specs) > 1
                                              or specs[0].multi_model):
        raise ServingError(f"endpoint {name!r}: an async endpoint serves one model in one "
                           "variant (not a pipeline, several variants or a multi-model one)")
    if any(m.multi_model for m in specs) and len(specs) > 1:
        raise ServingError(f"endpoint {name!r}: a multi-model variant must be the only one "
                           "(and not a pipeline)")
    return specs


# -- the application graph ----------------------------------------------------------------------


def _actor_options(resources: dict[str, float]) -> dict:
    """A variant's ``resources`` ({"CPU", "GPU", "memory", custom...}) as Ray actor options."""
    res = dict(resources)
    options = {"num_cpus": res.pop("CPU", 0), "num_gpus": res.pop("GPU", 0)}
    if "memory" in res:
        options["memory"] = res.pop("memory")
    if res:
        options["resources"] = res
    return options


# A variant that may scale to zero reports its load this often (Serve's default: 10 s).
# At zero replicas Serve's router does push at once when a request arrives, but it pushes the
# queue lengths it recorded before (zeros: the new request is not among them), so the
# controller learned of the request only at the next regular push: a first request took
# ~11 s, of which ~1.3 s starting the replica. The short look-back keeps the
# record interval (a fifth of it) short as well. The cost: a few small messages a second to
# the controller per such variant, from its handles and replicas.
WAKE_METRICS = {"metrics_interval_s": 0.25, "look_back_period_s": 2.0}


def _scale(variant: Variant) -> dict:
    if variant.autoscaling:
        config = dict(variant.autoscaling)
        if config.get("min_replicas", 1) == 0:  # can scale to zero (Serve's default: 1)
            config = {**WAKE_METRICS, **config}
        return {"autoscaling_config": config}
    return {"num_replicas": variant.replicas}


def _variant_server(variant: Variant, spec: ModelSpec, deployment: str, settings: Settings,
                    share: int = 1):
    """A deployment serving ``spec`` for ``variant``, with ``1/share`` of its resources."""
    from ray import serve

    resources = {k: r / share for k, r in variant.resources.items()}
    return serve.deployment(
        VariantServer, name=deployment, **_scale(variant),
        ray_actor_options=_actor_options(resources),
        # at least a full batch in flight per replica, or batching could never fill one
        max_ongoing_requests=max(variant.max_ongoing_requests, settings.batch_size),
        logging_config=_quiet(),
    ).bind(spec, settings.batch_size, settings.batch_wait_ms, settings.batch_gap_ms)


def _variant_backend(variant: Variant, settings: Settings):
    """The handle (or, for a pipeline, the list of stage handles) the ingress calls."""
    if not isinstance(variant.model, list):
        return _variant_server(variant, variant.model, f"variant-{variant.name}", settings)
    # The stages share the variant's instance, as on SageMaker.
    n = len(variant.model)
    return [_variant_server(variant, spec, f"{variant.name}-stage-{i}", settings, n)
            for i, spec in enumerate(variant.model)]


def _async_app(name: str, variant: Variant, settings: Settings):
    """An async endpoint's application: the ingress (no model, no CPU, always up) bound to
    the worker deployment, which Serve scales on the queue's pending + running work."""
    from ray import serve
    from ray.serve.config import AutoscalingConfig, AutoscalingPolicy

    from serving._async import AsyncWorker, QueueDepthPolicy
    from serving._async_ingress import AsyncIngress

    config = settings.async_config
    scale = dict(variant.autoscaling or {"min_replicas": 0, "max_replicas": variant.replicas})
    scale.setdefault("initial_replicas", scale["min_replicas"])
    policy = AutoscalingPolicy(policy_function=QueueDepthPolicy,
                               policy_kwargs={"queue": config.queue,
                                              "per_replica": config.max_concurrent})
    autoscaling = AutoscalingConfig(
        min_replicas=scale["min_replicas"], max_replicas=scale["max_replicas"],
        initial_replicas=scale["initial_replicas"], policy=policy,
        # queued work starts a replica at once; idle ones go after the scale-in delay
        upscale_delay_s=0, downscale_delay_s=scale.get("downscale_delay_s", 30.0))
    workers = serve.deployment(
        AsyncWorker, name=f"variant-{variant.name}", autoscaling_config=autoscaling,
        ray_actor_options=_actor_options(variant.resources), logging_config=_quiet(),
        # a replica taken away finishes what it runs (AsyncWorker.__del__) before it goes
        graceful_shutdown_timeout_s=min(config.invocation_timeout_s, 120),
    ).bind(variant.model, config)
    return serve.deployment(AsyncIngress, name="ingress", num_replicas=1,
                            ray_actor_options={"num_cpus": 0}, logging_config=_quiet(),
                            max_ongoing_requests=256).bind(name, settings, config, workers)


def _ingress_app(name: str, variants: list[Variant], settings: Settings,
                 specs: list[ModelSpec], weights: dict[str, float]):
    """The endpoint's application: its ingress deployment bound to its backends."""
    from ray import serve

    if settings.async_config is not None:
        return _async_app(name, variants[0], settings)

    ongoing = max(v.max_ongoing_requests for v in variants)
    if len(variants) == 1 and isinstance(variants[0].model, ModelSpec):  # the ingress holds it
        v = variants[0]
        backends = {v.name: v.model}
        options = {**_scale(v), "ray_actor_options": _actor_options(v.resources),
                   "max_ongoing_requests": max(ongoing, settings.batch_size)}
    else:  # the ingress only routes: one replica, no CPU, room for every variant's requests
        backends = {v.name: _variant_backend(v, settings) for v in variants}
        options = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0},
                   "max_ongoing_requests": 4 * ongoing * len(variants)}
    multi = max(m.multi_model for m in specs)
    ingress = multi_model_ingress(multi) if multi else Ingress
    return serve.deployment(ingress, name="ingress", logging_config=_quiet(),
                            **options).bind(name, settings, backends, weights)


# -- lifecycle ----------------------------------------------------------------------------------


def deploy(name: str, variants: list[Variant], settings: Settings | None = None,
           wait: bool = True) -> str:
    """Start (or update in place) endpoint ``name``; return its URL.

    With ``wait``, return once every replica that must run is up (a variant scaled to zero
    has none to wait for)."""
    import ray
    from ray import serve

    settings = settings or Settings()
    specs = _check(name, variants, settings)
    start_serve()
    weights = {v.name: v.weight for v in variants}
    app = _ingress_app(name, variants, settings, specs, weights)
    # The weights are in the state actor before the first ingress replica asks for them.
    ray.get(_state(name, create=True).set_weights.remote(weights))
    try:
        serve.run_many([serve.RunTarget(app, name=name, route_prefix=f"/endpoints/{name}",
                                        logging_config=_quiet())],
                       wait_for_applications_running=wait)
    except RuntimeError as e:  # a replica failed to start (a model that does not load, ...)
        raise ServingError(f"endpoint {name!r} failed to start: {e}") from None
    return endpoint_url(name)


def delete(name: str) -> None:
    """Remove endpoint ``name``: its application, then its state actor."""
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
