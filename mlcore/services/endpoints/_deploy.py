"""Endpoints from specs: resolve each variant's model (registry version, alias or training
job; approval respected), map instance types, autoscaling and serverless onto Ray Serve, keep
the endpoint's record, and describe endpoints as SageMaker does."""

from __future__ import annotations

import math
import time
from functools import partial

import algorithms
import serving
from mlcore import _instances, _registry, _session, constants
from mlcore.errors import EndpointError, MLCoreError, RegistryError, root_cause
from mlcore.records import EndpointRecord, Status
from mlcore.services._lifecycle import driver
from mlcore.services.endpoints._async import async_config, async_shape
from mlcore.services.endpoints._models import (
    _artifact_model,
    _job_model,
    _pyfunc_load,
    _pyfunc_predict,
    _script_handle,
)
from mlcore.specs import Endpoint, ModelRef, VariantSpec


def approval_required(spec: Endpoint) -> str | None:
    """What demands that only Approved registry versions serve ``spec`` (its
    ``require_approved_model``, or ``MLCORE_REQUIRE_APPROVED_MODEL`` for every endpoint), or
    None. Read here, in the deploying process: the decision is made before anything starts,
    so no Ray process needs the variable."""
    if spec.require_approved_model:
        return "the endpoint's require_approved_model: true"
    if constants.get("MLCORE_REQUIRE_APPROVED_MODEL"):
        return "MLCORE_REQUIRE_APPROVED_MODEL=true"
    return None


def _refuse_unregistered(ref: ModelRef, variant: str, required_by: str) -> None:
    if not ref.name:  # a training job's model or a multi-model prefix: not in the registry
        raise EndpointError(
            f"variant {variant!r} serves {ref.describe()}, which is not a registered model "
            f"version, and {required_by} allows only Approved registry versions: register it "
            "(a training job's register: step, or estimator.register(model_package_group_name="
            "GROUP)), approve it (`mlcore models approve GROUP VERSION`, or "
            "mlcore.registry.approve(GROUP, VERSION)) and serve it as model: {name: GROUP}")


def resolve(ref: ModelRef, allow_unapproved: bool = False, required_by: str | None = None,
            variant: str = "AllTraffic") -> tuple[object, dict]:
    """``(serving.ModelSpec, what was resolved)``; refuses unapproved versions unless
    ``allow_unapproved``. ``required_by`` (see :func:`approval_required`) refuses anything but
    an Approved registry version, whatever ``allow_unapproved`` says."""
    if required_by:
        _refuse_unregistered(ref, variant, required_by)
    if ref.training_job:
        return _job_model(ref.training_job), {"TrainingJobName": ref.training_job}
    if ref.model_data:
        return _artifact_model(ref), {"ModelDataUrl": ref.model_data,
                                      **({"Algorithm": ref.algorithm} if ref.algorithm else
                                         {"EntryPoint": ref.entry_point})}
    if ref.model_data_prefix:
        m = algorithms.get(ref.algorithm)
        return (serving.ModelSpec(ref.model_data_prefix, m.load_model, m.predict, m.feature_count,
                                  multi_model=ref.max_models_per_replica,
                                  container=f"{m.name}-mms" if m.name == "xgboost" else m.name),
                {"ModelDataPrefix": ref.model_data_prefix, "Algorithm": ref.algorithm})
    try:
        pkg = (_registry.describe(ref.name, ref.version) if ref.version
               else _registry.by_alias(ref.name, ref.alias or _registry.APPROVED_ALIAS))
    except RegistryError as e:
        raise EndpointError(str(e)) from None
    if pkg.approval_status != "Approved" and (required_by or not allow_unapproved):
        approve = f"`mlcore models approve {pkg.model_package_group_name} {pkg.version}`"
        if required_by:  # allow_unapproved cannot loosen it
            why, fix = f", and {required_by} serves only Approved versions", "serve an Approved one"
        else:
            why, fix = "", "deploy with allow_unapproved: true"
        raise EndpointError(f"variant {variant!r}: model package {pkg.model_package_arn} is "
                            f"{pkg.approval_status}, not Approved{why}: approve it ({approve}) "
                            f"or {fix}")
    info = {"ModelPackageArn": pkg.model_package_arn, "ApprovalStatus": pkg.approval_status}
    if pkg.model_data_url:  # registered from an Image + ModelDataUrl: the tarball itself serves
        ref = ModelRef(model_data=pkg.model_data_url, **pkg.artifact)
        return _artifact_model(ref), {**info, "ModelDataUrl": pkg.model_data_url}
    if pkg.job_name:
        try:
            return _job_model(pkg.job_name), {**info, "TrainingJobName": pkg.job_name}
        except MLCoreError:  # the job record is elsewhere: load the registered MLflow model
            pass
    return serving.ModelSpec(pkg.model_uri, partial(_pyfunc_load, _session.tracking_uri()),
                             _pyfunc_predict, handle=_script_handle), info


def _resolve_variant(v: VariantSpec, allow_unapproved: bool,
                     required_by: str | None = None) -> tuple[object, dict]:
    if v.pipeline:
        stages = [resolve(m, allow_unapproved, required_by, v.variant_name) for m in v.pipeline]
        return [m for m, _ in stages], {"Pipeline": [info for _, info in stages]}
    return resolve(v.model, allow_unapproved, required_by, v.variant_name)


def serverless_autoscaling(max_concurrency: int) -> dict:
    """Serve autoscaling for a serverless variant: no replica until a request comes, one more
    per 2 concurrent requests up to ``max_concurrency``, back to zero after an idle spell."""
    target = 2.0
    return {"min_replicas": 0, "initial_replicas": 0,
            "max_replicas": max(1, math.ceil(max_concurrency / target)),
            "target_ongoing_requests": target, "upscale_delay_s": 0,
            "downscale_delay_s": constants.get("MLCORE_SERVERLESS_IDLE_S")}


def _variant(v: VariantSpec, model) -> object:
    if v.serverless_config:
        s = v.serverless_config
        resources = {"CPU": max(0.25, s.memory_size_in_mb / 4096),
                     "memory": s.memory_size_in_mb * 1024 * 1024}
        return serving.Variant(v.variant_name, model, v.initial_weight, 0,
                               serverless_autoscaling(s.max_concurrency), resources,
                               max_ongoing_requests=min(s.max_concurrency, 64))
    resources = _instances.fitted_resources(v.instance_type, v.initial_instance_count)
    autoscaling = None
    if v.autoscaling:
        a = v.autoscaling
        autoscaling = {"min_replicas": a.min_capacity, "max_replicas": a.max_capacity,
                       "initial_replicas": min(max(v.initial_instance_count, a.min_capacity),
                                               a.max_capacity),
                       "target_ongoing_requests": a.target_ongoing_requests,
                       "upscale_delay_s": a.scale_out_cooldown_s,
                       "downscale_delay_s": a.scale_in_cooldown_s}
    return serving.Variant(v.variant_name, model, v.initial_weight, v.initial_instance_count,
                           autoscaling, resources)


def _settings(spec: Endpoint):
    auth = None
    if spec.auth:
        secret = constants.secret(spec.auth.secret_env)
        if not secret:
            raise EndpointError(f"auth.secret_env names {spec.auth.secret_env}, which is not set "
                                "(or empty) here; export it before deploying")
        auth = (spec.auth.type, serving.secret_hash(secret))
    capture = None
    if spec.data_capture and spec.data_capture.enable_capture:
        capture = serving.CaptureConfig(capture_destination(spec),
                                        spec.data_capture.sampling_percentage)
    return serving.Settings(max_payload_bytes=int(spec.max_payload_mb * 1024 * 1024),
                            timeout_s=spec.timeout_s, auth=auth,
                            batch_size=spec.batching.max_batch_size,
                            batch_wait_ms=spec.batching.max_wait_ms,
                            batch_gap_ms=spec.batching.arrival_gap_ms, capture=capture)


def capture_destination(spec: Endpoint) -> str:
    return (spec.data_capture.destination_s3_uri if spec.data_capture and
            spec.data_capture.destination_s3_uri else str(constants.home() / "data-capture"))


def _existing(name: str) -> EndpointRecord:
    """The record of endpoint ``name``; an EndpointError if there is none."""
    if not EndpointRecord.exists(name):
        raise EndpointError(f"no endpoint {name!r}; `mlcore endpoints list` shows them")
    return EndpointRecord.load(name, liveness=False)


def check(spec: Endpoint) -> None:
    """Every variant's model resolves (and is approved), every setting can be applied."""
    required_by = approval_required(spec)
    for v in spec.variants:
        _resolve_variant(v, spec.allow_unapproved, required_by)
    _settings(spec)


def deploy(spec: Endpoint, wait: bool = True, topics: dict | None = None) -> dict:
    """Create or update the endpoint; return its description. Every model is resolved (and
    every refusal raised) before anything starts. ``topics``: an async endpoint's
    notification callables, ``{"success": f, "error": g}`` (the Python API's)."""
    required_by = approval_required(spec)
    resolved = [_resolve_variant(v, spec.allow_unapproved, required_by) for v in spec.variants]
    settings = _settings(spec)
    if spec.auth:  # replicas get its digest (in settings), Ray's processes not the secret
        _session.hide_from_ray(spec.auth.secret_env)
    import ray

    if not ray.is_initialized() and not constants.get("RAY_ADDRESS"):
        _session.claim_serve_port()  # a taken port fails before a local Ray starts
    _session.ensure_ray()
    # after ensure_ray: a replica's resources are fitted to the Ray it runs on
    variants = [_variant(v, m) for v, (m, _) in zip(spec.variants, resolved, strict=True)]
    if spec.async_inference:
        settings.async_config = async_config(spec, resolved[0][0], variants[0].resources, topics)
        if not spec.variants[0].autoscaling:  # SageMaker's async: to zero while the queue is empty
            variants[0].autoscaling = {"min_replicas": 0, "initial_replicas": 0,
                                       "max_replicas": spec.variants[0].initial_instance_count,
                                       "downscale_delay_s": constants.get("MLCORE_SERVERLESS_IDLE_S")}
    name = spec.endpoint_name
    new = EndpointRecord.claim(name)  # False: an update of an existing endpoint
    record = EndpointRecord.load(name, liveness=False)
    fields = {"LastModifiedTime": time.time(), "Spec": spec.model_dump(mode="json"),
              "CaptureDestination": capture_destination(spec) if spec.data_capture else None,
              "AsyncInferenceConfig": async_shape(settings.async_config),
              "AsyncQueue": settings.async_config.queue if settings.async_config else None,
              "Models": {v.variant_name: info for v, (_, info) in
                         zip(spec.variants, resolved, strict=True)}, **driver()}
    record.update(EndpointStatus=Status.CREATING if new else Status.UPDATING)
    try:
        serving.deploy(name, variants, settings, wait=wait)
    except BaseException as e:
        if new:  # a new endpoint that did not start leaves nothing behind
            serving.delete(name)
            EndpointRecord.delete(name)
        else:
            record.update(EndpointStatus=Status.FAILED, FailureReason=f"update failed: {root_cause(e)}")
        raise
    record.update(EndpointStatus=Status.IN_SERVICE, FailureReason=None, **fields)
    return describe(name)


def _connected() -> bool:
    """Connected to the Ray that may host endpoints: this process's, or ``RAY_ADDRESS``'s.
    (A fresh local Ray would host none, so none is started just to look.)"""
    import ray

    if not ray.is_initialized() and constants.get("RAY_ADDRESS"):
        _session.ensure_ray()
    return ray.is_initialized()


_STATUS = {"RUNNING": Status.IN_SERVICE, "DEPLOYING": Status.CREATING,
           "DEPLOY_FAILED": Status.FAILED, "UNHEALTHY": Status.FAILED, "DELETING": Status.DELETING,
           "NOT_STARTED": Status.CREATING}


def describe(name: str, apps: dict | None = None) -> dict:
    """SageMaker's DescribeEndpoint fields, from the record and Serve's live state (``apps``:
    :func:`serving.statuses`, when the caller already has it)."""
    record = _existing(name).to_dict()
    if apps is None:
        apps = serving.statuses() if _connected() else {}
    live = apps.get(name)
    stats = serving.variant_stats(name) if live else {}
    weights = stats.get("weights", {})
    variants = []
    for v in record["Spec"]["variants"]:
        vn = v["variant_name"]
        if v.get("pipeline"):
            deployment = f"{vn}-stage-0"
        elif record["Spec"].get("async_inference"):
            deployment = f"variant-{vn}"
        else:
            deployment = "ingress" if len(record["Spec"]["variants"]) == 1 else f"variant-{vn}"
        replicas = ((live or {}).get("deployments", {}).get(deployment) or {}).get("replicas", {})
        variants.append({
            "VariantName": vn, "Model": record["Models"].get(vn, {}),
            "CurrentWeight": weights.get(vn), "DesiredWeight": v["initial_weight"],
            "CurrentInstanceCount": replicas.get("RUNNING", 0),
            "DesiredInstanceCount": v["initial_instance_count"],
            "CurrentServerlessConfig": v.get("serverless_config"),
            "Autoscaling": v.get("autoscaling"),
            **stats.get("variants", {}).get(vn, {})})
    if live is None:
        status, reason = Status.OUT_OF_SERVICE, "not running on this Ray cluster (it stopped with it)"
    else:
        status = _STATUS.get(live["status"].rsplit(".", 1)[-1], live["status"])
        reason = live["message"] or None
    return {"EndpointName": name, "EndpointStatus": status, "FailureReason": reason,
            "Url": serving.endpoint_url(name), "CreationTime": record["CreationTime"],
            "LastModifiedTime": record["LastModifiedTime"], "ProductionVariants": variants,
            "Auth": (record["Spec"].get("auth") or {}).get("type"),
            "DataCaptureConfig": _capture_info(record),
            **({"AsyncInferenceConfig": record["AsyncInferenceConfig"]}
               if record.get("AsyncInferenceConfig") else {})}


def capture_uri(name: str) -> str | None:
    """Where endpoint ``name`` writes its data capture (from its record; the endpoint need
    not be running), or None without capture."""
    info = _capture_info(_existing(name).to_dict())
    return info["DestinationS3Uri"] if info else None


def _capture_info(record: dict) -> dict | None:
    dc = record["Spec"].get("data_capture")
    if not dc or not dc.get("enable_capture"):
        return None
    return {"EnableCapture": True, "CurrentSamplingPercentage": dc["sampling_percentage"],
            "DestinationS3Uri": record.get("CaptureDestination")}


def list_endpoints() -> list[dict]:
    names = sorted(r.name for r in EndpointRecord.list())
    apps = serving.statuses() if names and _connected() else {}
    return [describe(n, apps) for n in names]


def delete(name: str) -> None:
    record = _existing(name)
    record.update(EndpointStatus=Status.DELETING)
    if _connected():
        serving.delete(name)
    if record.AsyncQueue:  # its queued requests go with it, as SageMaker's do
        from serving._queue import open_queue

        open_queue(record.AsyncQueue).drop()
    EndpointRecord.delete(name)


def update_weights(name: str, weights: dict[str, float]) -> dict:
    _existing(name)
    if not _connected():
        raise EndpointError(f"endpoint {name!r} is not running here; set RAY_ADDRESS to the "
                            "Ray cluster that hosts it")
    serving.set_weights(name, weights)
    return describe(name)


def model_ref(model: str) -> ModelRef:
    """``group/3`` (a registered version), ``group@alias``, the same as a ``models:/`` URI
    (``models:/group`` is its approved version), SageMaker's model package ARN, or a training
    job name."""
    arn = _registry.parse_arn(model)
    if arn:
        return ModelRef(name=arn[0], version=arn[1])
    if model.startswith("models:/"):  # a registry URI is never a training job's name
        model = model.removeprefix("models:/")
        if "/" not in model and "@" not in model:
            return ModelRef(name=model)
    if "/" in model:
        group, _, version = model.rpartition("/")
        if not version.isdigit():
            raise EndpointError(f"model {model!r}: the part after '/' must be a version number")
        return ModelRef(name=group, version=int(version))
    if "@" in model:
        group, _, alias = model.partition("@")
        return ModelRef(name=group, alias=alias)
    return ModelRef(training_job=model)


def deploy_model(ref: ModelRef | list[ModelRef], name: str, instance_type: str = "local",
                 initial_instance_count: int = 1, wait: bool = True, **fields) -> dict:
    """Deploy one model (or a pipeline of models) as endpoint ``name``; ``fields``: the
    Endpoint spec's own fields. Returns the description."""
    one, stages = (None, ref) if isinstance(ref, list) else (ref, None)
    variant = VariantSpec(model=one, pipeline=stages, instance_type=instance_type,
                          initial_instance_count=initial_instance_count,
                          serverless_config=fields.pop("serverless_config", None))
    return deploy(Endpoint(endpoint_name=name, variants=[variant], **fields), wait=wait)
