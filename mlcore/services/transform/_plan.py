"""A TransformJob spec checked and resolved once, before anything runs: the model (approval
respected), the input files, the content type against what the model reads, the filters, the
output location, the scoring actors; then the job's name claimed (or an unfinished job of that
name resumed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from mlcore import _instances, _session, _storage
from mlcore.errors import EndpointError, MLCoreError, SpecError, StorageError
from mlcore.records import Status, TransformJobRecord
from mlcore.services._lifecycle import claim_name, driver
from mlcore.specs import TransformJob
from mlcore.specs.transform import SUFFIX_TYPES, media_type

MAX_PAYLOAD_MB = 100  # SageMaker's largest request; max_payload 0 ("no limit") means this
PARTS = ".mlcore-transform"  # under output_path: each job's part files, removed at its end


@dataclass
class TransformPlan:
    spec: TransformJob
    name: str
    model: object                       # serving.ModelSpec
    model_info: dict                    # what the model resolved to (the record's Model)
    files: list[tuple[str, str, int]]   # (uri, path under data, size in bytes)
    settings: object                    # serving.transform.Settings
    output: str
    actors: int
    actor_resources: dict
    resumed: bool = False


def _input_files(spec: TransformJob) -> list[tuple[str, str, int]]:
    """``(uri, relative path, size)`` of every input file, sorted."""
    data = _storage.canonical(spec.data)
    if spec.data_type == "ManifestFile":
        return _manifest_files(data)
    fs, root = _storage.filesystem(data)
    paths = _storage.list_files(data)  # StorageError naming the URI when it does not exist
    if not paths:
        raise StorageError(f"data {data} holds no files; point it at a file, folder or prefix of "
                           "input files", uri=data)
    single = fs.isfile(root)
    out = []
    for p in paths:
        rel = os.path.basename(p) if single else os.path.relpath(p, root.rstrip("/"))
        out.append((_uri(data, fs, p), rel, int(fs.size(p))))
    return out


def _uri(data: str, fs, path: str) -> str:
    if not _storage.is_remote(data):
        return path  # a local path (an s3:// URI of the local store maps to one)
    return f"s3://{path}" if data.startswith(("s3://", "s3a://")) else fs.unstrip_protocol(path)


def _manifest_files(manifest: str) -> list[tuple[str, str, int]]:
    """SageMaker's manifest: ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]``."""
    fs, path = _storage.filesystem(manifest)
    try:
        with fs.open(path, "rb") as f:
            entries = json.loads(f.read())
    except (OSError, ValueError) as e:
        raise StorageError(f"cannot read manifest {manifest}: {e}; it must be JSON: "
                           '[{"prefix": "s3://bucket/prefix/"}, "key1", "key2", ...]',
                           uri=manifest) from None
    if not (isinstance(entries, list) and entries and isinstance(entries[0], dict)
            and isinstance(entries[0].get("prefix"), str)
            and all(isinstance(e, str) for e in entries[1:])):
        raise StorageError(f"manifest {manifest} must be [{{\"prefix\": \"s3://bucket/prefix/\"}}, "
                           '"key1", "key2", ...]', uri=manifest)
    prefix, out = entries[0]["prefix"].rstrip("/"), []
    for rel in entries[1:]:
        uri = f"{prefix}/{rel.lstrip('/')}"
        pfs, p = _storage.filesystem(uri)
        if not pfs.isfile(p):
            raise StorageError(f"manifest {manifest} lists {uri}, which does not exist", uri=uri)
        out.append((_uri(uri, pfs, p), rel.lstrip("/"), int(pfs.size(p))))
    return out


def _content_type(spec: TransformJob, files) -> str:
    if spec.content_type:
        return media_type(spec.content_type)
    name = files[0][1].lower().removesuffix(".gz")
    return SUFFIX_TYPES.get(os.path.splitext(name)[1], "text/csv")


def _resolve_model(spec: TransformJob):
    from mlcore.services import endpoints

    try:
        return endpoints.resolve(spec.model, allow_unapproved=spec.allow_unapproved,
                                 variant="transform")
    except EndpointError as e:
        message = str(e).removeprefix("variant 'transform': ")
        raise SpecError(f"model: {message}", [("model", message)]) from None


def _check_types(model, content_type: str, accept: str | None, spec: TransformJob) -> None:
    from serving import _payload

    if model.handle is None:  # a built-in reads what its endpoint reads (plus Parquet rows)
        readable = (*_payload.CONTENT_TYPES, "application/x-parquet")
        if content_type not in readable:
            raise SpecError(f"content_type {content_type} is not read by the model "
                            f"({model.container or 'mlcore'}); use one of {', '.join(readable)}",
                            [("content_type", "unsupported")])
        if accept:
            supported = _payload.ACCEPTS.get(model.container, _payload.ACCEPTS[None])
            if media_type(accept) not in supported:
                raise SpecError(f"accept {accept} is not answered by the model "
                                f"({model.container or 'mlcore'}); use one of "
                                f"{', '.join(supported)}", [("accept", "unsupported")])
    if spec.input_filter or spec.output_filter or spec.join_source == "Input":
        from serving._dataproc import DataProcessing

        try:
            DataProcessing(spec.input_filter, spec.output_filter, spec.join_source,
                           content_type, media_type(accept) or _default_accept(model))
        except ValueError as e:
            raise SpecError(str(e), [("data_processing", str(e))]) from None


def _default_accept(model) -> str:
    from serving._payload import ACCEPTS

    return ACCEPTS.get(model.container, ACCEPTS[None])[0]


def _actors(spec: TransformJob) -> tuple[int, dict]:
    """Scoring actors (instances x concurrency) and each one's Ray resources."""
    fitted = _instances.placement(spec.instance_type, spec.instance_count).fit(
        _session.cluster_nodes()).resources
    per_instance = spec.max_concurrent_transforms or max(1, int(fitted.get("CPU", 1)))
    resources = {k: v / per_instance for k, v in fitted.items()}
    return spec.instance_count * per_instance, resources


def check(spec: TransformJob) -> dict:
    """Everything :func:`prepare` refuses before work starts; returns what it resolved."""
    model, info = _resolve_model(spec)
    files = _input_files(spec)
    content_type = _content_type(spec, files)
    _check_types(model, content_type, spec.accept, spec)
    if spec.split_type in (None, "None") and content_type not in (
            "application/x-parquet",) and spec.max_payload:
        big = [rel for _, rel, size in files if size > spec.max_payload * 1024 * 1024]
        if big:
            raise SpecError(f"{big[0]} is over max_payload ({spec.max_payload} MB) and split_type "
                            "None sends each file as one request: set split_type Line (or "
                            "RecordIO)", [("split_type", "None with files over max_payload")])
    output = spec.output_path
    if output:
        why = _storage.unwritable(output)
        if why:
            raise SpecError(f"output_path {output} cannot be written: {why}",
                            [("output_path", why)])
    return {"model": model, "info": info, "files": files, "content_type": content_type}


def prepare(spec: TransformJob, name: str | None = None) -> TransformPlan:
    """Check ``spec``, then claim ``name`` (or a generated one). An existing job of that name
    that did not complete (Failed, Stopped, or its driver died) and has the same spec is
    resumed: its committed files are kept and the rest are scored."""
    from serving._transform import Settings

    resolved = check(spec)
    name = name or spec.name
    resumed = False
    existing = TransformJobRecord.load(name) if name and TransformJobRecord.exists(name) else None
    if existing is not None:
        _check_resumable(existing, spec)
        resumed = True
        existing.update(TransformJobStatus=Status.IN_PROGRESS, FailureReason=None,
                        Resumes=existing.Resumes + 1, **driver())
    else:
        base = (spec.model.training_job or spec.model.name or "transform-job")
        name = claim_name(TransformJobRecord, name, base, field="job_name")
    output = spec.output_path or _storage.child(_session.default_output_path(), name)
    _session.ensure_ray()
    actors, resources = _actors(spec)
    accept = media_type(spec.accept)
    settings = Settings(
        content_type=resolved["content_type"], accept=accept, split=spec.split_type or "None",
        gzip=spec.compression_type == "Gzip",
        # A built-in's predictions do not depend on which rows share a request: it is always
        # scored in requests of max_payload (SingleRecord would only be slower).
        single_record=spec.strategy == "SingleRecord" and resolved["model"].handle is not None,
        max_payload=(spec.max_payload or MAX_PAYLOAD_MB) * 1024 * 1024,
        assemble_line=spec.assemble_with == "Line", parts=_storage.child(output, PARTS, name),
        input_filter=spec.input_filter, output_filter=spec.output_filter,
        join_source=spec.join_source, max_error_rate=spec.max_error_rate, env=dict(spec.env))
    TransformJobRecord.load(name, liveness=False).update(
        Spec=spec.model_dump(mode="json"), OutputPath=output, Model=resolved["info"],
        ModelName=_model_name(spec))
    return TransformPlan(spec, name, resolved["model"], resolved["info"], resolved["files"],
                         settings, output, actors, resources, resumed)


def _model_name(spec: TransformJob) -> str:
    ref = spec.model
    if ref.training_job:
        return ref.training_job
    if ref.name:
        return f"{ref.name}-{ref.version}" if ref.version else ref.name
    return os.path.basename(ref.model_data.rstrip("/")).removesuffix(".tar.gz") or "model"


def _check_resumable(rec: TransformJobRecord, spec: TransformJob) -> None:
    name = rec.TransformJobName
    if rec.status == Status.COMPLETED:
        raise SpecError(f"job_name: transform job {name} already completed (its output is at "
                        f"{rec.OutputPath}); choose another name", [("job_name", "completed")])
    if rec.status.is_active:
        raise MLCoreError(f"transform job {name} is running (pid {rec.DriverPid} on "
                          f"{rec.DriverHost}); wait for it, or stop it "
                          f"(`mlcore transform-jobs stop {name}`)")
    before = {k: v for k, v in (rec.Spec or {}).items() if k != "name"}
    now = {k: v for k, v in spec.model_dump(mode="json").items() if k != "name"}
    if before and before != now:
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        raise SpecError(f"job_name: transform job {name} ran with a different spec ({', '.join(changed)} "
                        "changed), so it cannot be resumed; choose another name",
                        [("job_name", "different spec")])
