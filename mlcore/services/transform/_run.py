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
_SAY_EVERY_S = 2.0      # a progress line at most this often, when something moved
_RECORD_EVERY_S = 5.0   # the record's Progress at most this often


def execute(plan: TransformPlan, logs: bool = True, say=print) -> TransformJobRecord:
    """Score ``plan``; the final record (Completed, Failed or Stopped)."""
    from serving import _transform as engine

    job = _Job(plan, say if logs else (lambda *_: None))
    rec = TransformJobRecord.load(plan.name, liveness=False)
    run_id = rec.MlflowRunId
    if run_id:
        _tracking.reopen_run(run_id)
    else:
        run_id = _tracking.start_run(plan.name, _params(plan), {"mlcore.kind": "TransformJob"},
                                     experiment=EXPERIMENT)
    rec.update(MlflowRunId=run_id, TransformStartTime=rec.TransformStartTime or job.t0)
    try:
        _remove(_storage.child(plan.settings.parts, engine.STOP_MARKER))
        status, reason = job.run()
    except Exception as e:  # noqa: BLE001 (the job fails with the reason)
        log.debug("transform job %s failed", plan.name, exc_info=True)
        return finish(TransformJobRecord.load(plan.name, liveness=False), Status.FAILED,
                      root_cause(e), TransformEndTime=time.time(), Progress=job.progress,
                      PhaseTimings=job.timings())
    p, timings = job.progress, job.timings()
    _tracking.log_metrics(run_id, [(k, float(v), 0) for k, v in p.items()] +
                          [(f"seconds_{k.lower()}", float(v), 0) for k, v in timings.items()] +
                          [("records_per_second", p["records"] / max(timings["Total"], 1e-9), 0)])
    if status != Status.STOPPED:
        _remove_tree(plan.settings.parts)
    return finish(TransformJobRecord.load(plan.name, liveness=False), status, reason,
                  TransformEndTime=time.time(), Progress=p, FailedFiles=job.failed,
                  PhaseTimings=timings)


def _params(plan: TransformPlan) -> dict:
    spec = plan.spec
    return {"model": json.dumps(plan.model_info, sort_keys=True), "data": spec.data,
            "content_type": plan.settings.content_type, "split_type": plan.settings.split,
            "strategy": spec.strategy or "MultiRecord", "max_payload_mb": spec.max_payload,
            "accept": spec.accept or "", "assemble_with": spec.assemble_with or "None",
            "output_path": plan.output, "actors": plan.actors, "files": len(plan.files),
            "input_filter": spec.input_filter or "", "output_filter": spec.output_filter or "",
            "join_source": spec.join_source or "None"}


class _Job:
    """One run of a plan: which shards are in, which files committed, the progress."""

    def __init__(self, plan: TransformPlan, say):
        self.plan, self.say, self.t0 = plan, say, time.time()
        self.expected: dict[str, int] = {}         # file -> its shard count
        self.got: dict[str, list[dict]] = {}       # file -> summaries of its shards so far
        self.shard_bytes: dict[tuple[str, int], int] = {}
        self.failed: list[dict] = []
        sizes = [size for _, _, size in plan.files]
        self.progress = {"files": len(plan.files), "files_done": 0, "files_failed": 0,
                         "shards": 0, "shards_done": 0, "records": 0, "errors": 0,
                         "bytes": sum(sizes), "bytes_done": 0, "actors": plan.actors,
                         "concurrency": plan.actors // max(plan.spec.instance_count, 1)}
        # Setup: planning; FirstShard: from the start to the first shard's summary (Ray Data's
        # pool start and the actors' start-up included); Scoring: the pool's whole run;
        # Commit: joining parts into .out files; ModelLoad: the slowest actor's model load.
        self.phase = {"Setup": 0.0, "FirstShard": None, "Scoring": 0.0, "Commit": 0.0,
                      "ModelLoad": 0.0}
        self._said = self._recorded = 0.0

    def timings(self) -> dict:
        out = {k: round(v, 3) for k, v in self.phase.items() if v is not None}
        out["Total"] = round(time.time() - self.t0, 3)
        return out

    def run(self) -> tuple[Status, str | None]:
        from serving import _transform as engine

        plan, p = self.plan, self.progress
        todo_files = []
        for f in plan.files:
            if engine.output_exists(plan.output, f[1]):  # committed by an earlier run
                p["files_done"] += 1
                p["bytes_done"] += f[2]
            else:
                todo_files.append(f)
        if plan.resumed:
            self.say(f"resuming transform job {plan.name}: {p['files_done']} of {p['files']} "
                     "files already committed")
        shards, todo = engine.plan_shards(todo_files, plan.settings, plan.actors), []
        sizes = {rel: size for _, rel, size in todo_files}
        p["shards"] = len(shards)
        for sh in shards:
            self.expected[sh.rel] = sh.count
            self.shard_bytes[(sh.rel, sh.index)] = (sh.end - sh.start if sh.end >= 0 and
                                                    plan.settings.split == "Line" else
                                                    sizes[sh.rel] // sh.count)
            summary = engine.read_summary(plan.settings, sh)  # scored by an earlier run
            if summary is None:
                todo.append(sh)
            else:
                self._arrived(summary)
        self.phase["Setup"] = time.time() - self.t0
        status, reason = Status.COMPLETED, None
        if todo:
            self.say(f"transform job {plan.name}: {len(shards)} shard(s) of "
                     f"{len(self.expected)} file(s), {plan.actors} scoring actor(s)")
            t = time.time()
            status, reason = self._pool(todo)
            self.phase["Scoring"] = time.time() - t
        self._commit_ready()
        if status == Status.COMPLETED and self.failed:
            status = Status.FAILED
            reason = f"{len(self.failed)} of {p['files']} files failed; first: {self.failed[0]['reason']}"
        self._say_progress(final=True)
        return status, reason

    def _arrived(self, summary: dict) -> None:
        p = self.progress
        p["shards_done"] += 1
        p["records"] += summary["records"]
        p["errors"] += summary["errors"]
        p["bytes_done"] += self.shard_bytes.get((summary["rel"], summary["index"]), 0)
        self.phase["ModelLoad"] = max(self.phase["ModelLoad"], summary.get("init_s", 0))
        self.got.setdefault(summary["rel"], []).append(summary)
        self._commit_ready()

    def _commit_ready(self) -> None:
        from serving import _transform as engine

        t = time.time()
        for rel in [r for r, parts in self.got.items() if len(parts) == self.expected[r]]:
            outcome = engine.commit_file(self.plan.settings, self.plan.output, rel,
                                         self.got.pop(rel))
            self.progress["files_done"] += 1
            if outcome["failed"]:
                self.progress["files_failed"] += 1
                self.failed.append({k: outcome[k] for k in ("rel", "records", "errors", "reason")})
        self.phase["Commit"] += time.time() - t

    def _pool(self, todo) -> tuple[Status, str | None]:
        """Stream ``todo`` through the actor pool; files commit as their shards arrive."""
        import ray
        from ray.data import ActorPoolStrategy, DataContext

        from serving import _transform as engine

        plan = self.plan
        _session.ensure_ray()
        _session.route_ray_data_logs()
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False  # mlcore prints its own progress line
        ctx.print_on_execution_start = False
        ds = ray.data.from_items([asdict(sh) for sh in todo], override_num_blocks=len(todo))
        gpus = plan.actor_resources.get("GPU", 0)
        ds = ds.map(engine.scorer_class(plan.model, plan.settings),
                    # One shard in flight per actor: a queued shard waits for a free actor, not
                    # behind another shard. A killed actor is restarted and its shard retried.
                    compute=ActorPoolStrategy(size=min(plan.actors, len(todo)),
                                          max_tasks_in_flight_per_actor=1),
                    num_cpus=plan.actor_resources.get("CPU", 1),
                    **({"num_gpus": gpus} if gpus else {}))
        results: queue.Queue = queue.Queue()

        def consume():
            try:
                for row in ds.iter_rows():
                    results.put(json.loads(row["summary"]))
                results.put(None)
            except BaseException as e:  # noqa: BLE001 (handed to the driver's loop)
                results.put(e)

        threading.Thread(target=consume, name=f"mlcore-{plan.name}", daemon=True).start()
        return self._watch(results)

    def _watch(self, results: queue.Queue) -> tuple[Status, str | None]:
        from serving import _transform as engine

        plan, timeout = self.plan, self.plan.spec.invocation_timeout_s
        last, stop_sent = time.monotonic(), False
        while True:
            try:
                item = results.get(timeout=0.5)
            except queue.Empty:
                item = ...
            now = time.monotonic()
            if item is None:
                return (Status.STOPPED, "stopped on request") if stop_sent else (Status.COMPLETED, None)
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, dict):
                last = now
                if self.phase["FirstShard"] is None:
                    self.phase["FirstShard"] = time.time() - self.t0
                if not item["stopped"]:
                    self._arrived(item)
                self._say_progress()
            if not stop_sent and _stop_requested(plan.name):
                stop_sent = True
                _write_marker(_storage.child(plan.settings.parts, engine.STOP_MARKER))
                self.say(f"transform job {plan.name}: stopping (files committed so far are kept)")
            if now - last > timeout:
                return Status.FAILED, (
                    f"no shard finished for {timeout:g} s (invocation_timeout_s): a scoring "
                    "actor is stuck or died and was not replaced; files committed so far are "
                    "kept, and running the job again scores the rest")
            if now - self._recorded > _RECORD_EVERY_S:
                self._recorded = now
                TransformJobRecord.load(plan.name, liveness=False).update(
                    Progress=dict(self.progress))

    def _say_progress(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._said < _SAY_EVERY_S:
            return
        self._said = now
        p, elapsed = self.progress, max(time.time() - self.t0, 1e-9)
        line = (f"  {p['files_done']}/{p['files']} files ({p['shards_done']}/{p['shards']} "
                f"shards), {p['records']:,} records ({p['records'] / elapsed:,.0f}/s), "
                f"{p['errors']} errors")
        if not final and 0 < p["bytes_done"] < p["bytes"]:
            line += f", ETA {elapsed * (p['bytes'] - p['bytes_done']) / p['bytes_done']:.0f}s"
        self.say(line + (f" in {elapsed:.1f}s" if final else ""))


def _stop_requested(name: str) -> bool:
    return TransformJobRecord.load(name, liveness=False).status == Status.STOPPING


def _write_marker(uri: str) -> None:
    fs, path = _storage.filesystem(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "wb") as f:
        f.write(b"stop")


def _remove(uri: str) -> None:
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
