"""Running a transform plan: shards of the files not yet committed scored by one Ray Data actor
pool, each file committed as soon as its shards are in, progress printed and recorded, the job
tracked in MLflow, stops and stalls answered."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import asdict

from mlcore import _session, _storage, _tracking
from mlcore.errors import root_cause
from mlcore.records import Status, TransformJobRecord
from mlcore.services._lifecycle import finish
from mlcore.services.transform._plan import TransformPlan

log = logging.getLogger("mlcore")
EXPERIMENT = "mlcore-transform-jobs"
_PROGRESS_EVERY_S = 5.0


def execute(plan: TransformPlan, logs: bool = True, say=print) -> TransformJobRecord:
    """Score ``plan``; the final record (Completed, Failed or Stopped)."""
    from serving import _transform as engine

    t0 = time.time()
    rec = TransformJobRecord.load(plan.name, liveness=False)
    s = plan.settings
    run_id = rec.MlflowRunId
    if run_id:
        _tracking.reopen_run(run_id)
    else:
        run_id = _tracking.start_run(plan.name, _params(plan), {"mlcore.kind": "TransformJob"},
                                     experiment=EXPERIMENT)
    rec = rec.update(MlflowRunId=run_id, TransformStartTime=rec.TransformStartTime or t0)
    try:
        _storage_remove(_storage.child(s.parts, engine.STOP_MARKER))
        todo = [f for f in plan.files if not engine.output_exists(plan.output, f[1])]
        skipped = len(plan.files) - len(todo)
        if plan.resumed:
            say(f"resuming transform job {plan.name}: {skipped} of {len(plan.files)} files "
                "already committed")
        shards = engine.plan_shards(todo, s, plan.actors)
        result = _score(plan, shards, rec, say if logs else (lambda *_: None), t0, skipped)
    except Exception as e:  # noqa: BLE001 (the job fails with the reason)
        reason = root_cause(e)
        log.debug("transform job %s failed", plan.name, exc_info=True)
        return finish(TransformJobRecord.load(plan.name, liveness=False), Status.FAILED, reason,
                      TransformEndTime=time.time())
    status, reason, progress, failed = result
    elapsed = time.time() - t0
    _tracking.log_metrics(run_id, [(k, float(v), 0) for k, v in progress.items()
                                   if isinstance(v, int | float)] +
                          [("seconds", elapsed, 0),
                           ("records_per_second", progress["records"] / max(elapsed, 1e-9), 0)])
    if status != Status.STOPPED:
        _remove_tree(s.parts)
    rec = TransformJobRecord.load(plan.name, liveness=False)
    return finish(rec, status, reason, TransformEndTime=time.time(), Progress=progress,
                  FailedFiles=failed, PhaseTimings={"Total": round(elapsed, 3)})


def _params(plan: TransformPlan) -> dict:
    spec = plan.spec
    return {"model": json.dumps(plan.model_info, sort_keys=True), "data": spec.data,
            "content_type": plan.settings.content_type, "split_type": plan.settings.split,
            "strategy": spec.strategy or "MultiRecord", "max_payload_mb": spec.max_payload,
            "accept": spec.accept or "", "assemble_with": spec.assemble_with or "None",
            "output_path": plan.output, "actors": plan.actors, "files": len(plan.files),
            "input_filter": spec.input_filter or "", "output_filter": spec.output_filter or "",
            "join_source": spec.join_source or "None"}


def _score(plan: TransformPlan, shards, rec, say, t0: float, skipped: int):
    """Run the pool over ``shards``; ``(status, reason, progress, failed files)``."""
    from serving import _transform as engine

    s = plan.settings
    expected = {}  # rel -> shard count
    for sh in shards:
        expected[sh.rel] = sh.count
    got: dict[str, list[dict]] = {}
    todo = []
    for sh in shards:  # resumed shards: their parts are complete
        summary = engine.read_summary(s, sh)
        if summary is None:
            todo.append(sh)
        else:
            got.setdefault(sh.rel, []).append(summary)
    sizes = {rel: size for _, rel, size in plan.files}
    progress = {"files": len(plan.files), "files_done": skipped, "files_failed": 0,
                "records": 0, "errors": 0, "bytes": sum(sizes.values()),
                "bytes_done": sum(size for _, rel, size in plan.files if rel not in expected),
                "actors": plan.actors, "concurrency": plan.actors // max(plan.spec.instance_count, 1)}
    failed: list[dict] = []

    def commit_ready() -> None:
        for rel in [r for r, parts in got.items() if len(parts) == expected[r]]:
            outcome = engine.commit_file(s, plan.output, rel, got.pop(rel))
            progress["files_done"] += 1
            progress["bytes_done"] += sizes.get(rel, 0)
            progress["records"] += outcome["records"]
            progress["errors"] += outcome["errors"]
            if outcome["failed"]:
                progress["files_failed"] += 1
                failed.append({k: outcome[k] for k in ("rel", "records", "errors", "reason")})

    commit_ready()
    status, reason = Status.COMPLETED, None
    if todo:
        say(f"transform job {plan.name}: {len(todo)} shards of {len(expected)} files, "
            f"{plan.actors} scoring actor(s)")
        status, reason = _pool(plan, todo, got, expected, commit_ready, progress, rec, say, t0)
    commit_ready()
    if status == Status.COMPLETED and failed:
        status = Status.FAILED
        reason = (f"{len(failed)} of {progress['files']} files failed; first: "
                  f"{failed[0]['reason']}")
    _say_progress(say, progress, t0, final=True)
    return status, reason, progress, failed


def _pool(plan, todo, got, expected, commit_ready, progress, rec, say, t0):
    """Stream ``todo`` through the actor pool, committing files as their shards arrive."""
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    from serving import _transform as engine

    _session.ensure_ray()
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False  # mlcore prints its own progress line
    ctx.print_on_execution_start = False
    ds = ray.data.from_items([asdict(sh) for sh in todo], override_num_blocks=len(todo))
    cpus = plan.actor_resources.get("CPU", 1)
    gpus = plan.actor_resources.get("GPU", 0)
    ds = ds.map(engine.Scorer, fn_constructor_args=(plan.model, plan.settings),
                # One shard in flight per actor: a queued shard waits for a free actor, not
                # behind another shard. A killed actor is restarted and its shard retried.
                compute=ActorPoolStrategy(size=plan.actors, max_tasks_in_flight_per_actor=1),
                num_cpus=cpus, **({"num_gpus": gpus} if gpus else {}))
    results: queue.Queue = queue.Queue()

    def consume():
        try:
            for row in ds.iter_rows():
                results.put(json.loads(row["summary"]))
            results.put(None)
        except BaseException as e:  # noqa: BLE001 (handed to the driver's loop)
            results.put(e)

    threading.Thread(target=consume, name=f"mlcore-{plan.name}", daemon=True).start()
    last_result, last_said, stop_sent = time.monotonic(), time.monotonic(), False
    timeout = plan.spec.invocation_timeout_s
    while True:
        try:
            item = results.get(timeout=1.0)
        except queue.Empty:
            item = ...
        now = time.monotonic()
        if item is None:
            return (Status.STOPPED, "stopped on request") if stop_sent else (Status.COMPLETED, None)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, dict):
            last_result = now
            if item["stopped"]:
                continue
            got.setdefault(item["rel"], []).append(item)
            commit_ready()
        if not stop_sent and _stop_requested(plan.name):
            stop_sent = True
            _write_marker(_storage.child(plan.settings.parts, engine.STOP_MARKER))
            say(f"transform job {plan.name}: stopping (files committed so far are kept)")
        if now - last_result > timeout:
            return Status.FAILED, (
                f"no shard finished for {timeout:g} s (invocation_timeout_s): a scoring actor "
                "is stuck or died and was not replaced; files committed so far are kept, and "
                "running the job again scores the rest")
        if now - last_said > _PROGRESS_EVERY_S:
            last_said = now
            _say_progress(say, progress, t0)
            rec.update(Progress=dict(progress))


def _stop_requested(name: str) -> bool:
    return TransformJobRecord.load(name, liveness=False).status == Status.STOPPING


def _say_progress(say, p: dict, t0: float, final: bool = False) -> None:
    elapsed = max(time.time() - t0, 1e-9)
    rate = p["records"] / elapsed
    line = (f"  {p['files_done']}/{p['files']} files, {p['records']:,} records "
            f"({rate:,.0f}/s), {p['errors']} errors")
    if not final and p["bytes_done"] and p["bytes"] > p["bytes_done"]:
        eta = elapsed * (p["bytes"] - p["bytes_done"]) / p["bytes_done"]
        line += f", ETA {eta:.0f}s"
    say(line + (f" in {elapsed:.1f}s" if final else ""))


def _write_marker(uri: str) -> None:
    fs, path = _storage.filesystem(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "wb") as f:
        f.write(b"stop")


def _storage_remove(uri: str) -> None:
    fs, path = _storage.filesystem(uri)
    if fs.exists(path):
        fs.rm(path)


def _remove_tree(uri: str) -> None:
    """The job's parts folder, and the folder of all jobs' parts once it is empty."""
    fs, path = _storage.filesystem(uri)
    if fs.exists(path):
        fs.rm(path, recursive=True)
    parent = path.rsplit("/", 1)[0]
    try:
        if fs.exists(parent) and not fs.ls(parent):
            fs.rm(parent, recursive=True)
    except OSError:
        pass  # another job's parts are there
