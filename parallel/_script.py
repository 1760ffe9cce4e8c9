"""Script mode inside a Ray Train worker: give a user's script what SageMaker gives it (SM_*
variables, command-line hyperparameters, channel and model folders), run it, then commit
its model folder as the job's final checkpoint.

Checkpoints go through ``ray.train.report``: every rank reports its own folder (DeepSpeed
shards have per-rank names) into one storage folder, and Ray registers the checkpoint only
once every rank has reported, so a checkpoint torn by a crash is never resumed from.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

from parallel._distribution import Plan
from parallel._environment import _MetricTee, _stage_channel, cli_args, sm_environment
from parallel._torch_groups import group_owned_by_runtime

log = logging.getLogger("mlcore")

META_FILE = "mlcore-checkpoint.json"
PREEMPTION_CHECK_S = 1.0  # how often ranks agree to ask Ray about preemption notices
_STATE: _State | None = None


def state() -> _State:
    if _STATE is None:
        raise RuntimeError("parallel.context is only available inside a script run by mlcore "
                           "(Estimator(entry_point=...).fit() or `mlcore run`)")
    return _STATE


class MaxRuntimeExceeded(BaseException):
    """Raised into the script at its next context call once max_run has passed; a
    BaseException so that a script's ``except Exception`` does not swallow it."""

    def __init__(self, step: int):
        super().__init__(step)
        self.step = step


@dataclass
class _State:
    hyperparameters: dict
    channels: dict[str, str]
    model_dir: str
    output_data_dir: str
    checkpoint_dir: str
    plan: Plan
    rank: int
    world_size: int
    policy: object
    buffer: object
    restored_step: int | None = None
    sink: object = None  # rank 0: the driver's MetricsSink
    jit_step: int | None = None
    last_step: int = 0
    deadline: float | None = None  # epoch seconds: max_run / max_wait
    _last_preemption_check: float = field(default_factory=time.monotonic)
    restored_files: dict = field(default_factory=dict)  # relative path -> (size, mtime_ns)
    _first_step_sent: bool = False
    _next_check: int = 0  # the next step at which ranks compare notes, agreed at the last one
    _check_step: int = 0
    _check_time: float = field(default_factory=time.monotonic)

    # --- collective decisions ---------------------------------------------------------
    def _agree(self, flags: list[int]) -> list[int]:
        """Rank 0's flags on every rank (torch.distributed is up under TorchTrainer)."""
        import torch
        import torch.distributed as dist

        if self.world_size <= 1 or not dist.is_initialized():
            return flags
        t = torch.tensor(flags, dtype=torch.int64,
                         device="cuda" if self.plan.backend == "nccl" else "cpu")
        dist.broadcast(t, 0)
        return [int(x) for x in t.tolist()]

    def first_step_seen(self, step: int) -> None:
        """Rank 0 tells the driver when this attempt's first step is done (recovery time)."""
        if self.sink is not None and not self._first_step_sent:
            self._first_step_sent = True
            self.sink.event.remote("first_step", {"step": step})

    def checkpoint_due(self, step: int) -> bool:
        """Ranks talk only at checkpoint candidates and at agreed check steps (about one a
        second, spaced by rank 0's step rate); every other call is free."""
        import ray.train

        self.first_step_seen(step)
        if not self.policy.candidate(step, None) and step < self._next_check:
            return False
        now = time.monotonic()
        rate = (step - self._check_step) / max(now - self._check_time, 1e-6)
        # about one check a second; the gap at most doubles, so a slowdown is noticed soon
        gap = min(max(1, int(PREEMPTION_CHECK_S * rate)), 2 * max(1, step - self._check_step), 1000)
        late = int(bool(self.deadline) and time.time() > self.deadline)
        due, ask, gap, late = self._agree([int(self.policy.due(step, None, now)),
                                           int(now - self._last_preemption_check >= PREEMPTION_CHECK_S),
                                           gap, late])
        self._next_check, self._check_step, self._check_time = step + gap, step, now
        if late:  # rank 0's clock decides, so every rank stops at the same step
            raise MaxRuntimeExceeded(step)
        if ask:
            self._last_preemption_check = now
            info = ray.train.get_preemption_info()  # a barrier; rank 0's answer everywhere
            if info is not None and self.jit_step is None:
                log.warning("preemption notice for node(s) %s (ranks %s, deadline %s ms): "
                            "just-in-time checkpoint at step %d", info.preempted_node_ids,
                            info.preempted_ranks, info.deadline_ms, step)
                self.jit_step = step
                if self.sink is not None:
                    self.sink.event.remote("preemption", {"step": step, "ranks": info.preempted_ranks,
                                                          "deadline_ms": info.deadline_ms})
                return True
        return bool(due)

    def _snapshot(self, dest: str) -> None:
        """Copy the files this rank wrote since the restore; rank 0 also carries the restored
        files nobody rewrote. (Every rank restores every rank's files, as SageMaker syncs one
        checkpoint prefix to every host, so a plain copy would re-upload other ranks' stale
        files over their new ones.)"""
        for rel, sig in _listing(self.checkpoint_dir).items():
            if self.rank == 0 or self.restored_files.get(rel) != sig:
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                shutil.copy2(os.path.join(self.checkpoint_dir, rel), os.path.join(dest, rel))

    def _hold(self) -> None:
        """After the just-in-time checkpoint, run no further step: Ray Train restarts the
        group at the preemption deadline, and any step run until then would be lost."""
        log.warning("rank %d: holding at step %d until the preempted node goes; training "
                    "resumes from this step on the new worker group", self.rank, self.last_step)
        while True:
            time.sleep(1.0)

    def save_checkpoint(self, step: int, engine, metrics: dict) -> None:
        from ray.train import Checkpoint, CheckpointUploadMode

        tmp = tempfile.mkdtemp(prefix="mlcore-ckpt-")
        if engine is not None:
            engine.save_checkpoint(tmp, tag=f"step-{step}")
        elif os.path.isdir(self.checkpoint_dir):  # a snapshot: the script may keep writing
            self._snapshot(tmp)
        if self.rank == 0:
            with open(os.path.join(tmp, META_FILE), "w") as f:
                json.dump({"step": step, "world_size": self.world_size, "time": time.time()}, f)
        self.buffer.flush({"step": step})
        ckpt = Checkpoint.from_directory(tmp) if os.listdir(tmp) else None
        # A just-in-time checkpoint is uploaded before report returns: the node may go soon.
        mode = CheckpointUploadMode.SYNC if self.jit_step == step else CheckpointUploadMode.ASYNC
        ray_report({"step": step, **metrics}, ckpt, mode)
        self.last_step = step
        if self.jit_step == step:
            self._hold()


def _listing(root: str) -> dict[str, tuple[int, int]]:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(d, f))
            out[os.path.relpath(os.path.join(d, f), root)] = (st.st_size, st.st_mtime_ns)
    return out


def ray_report(metrics: dict, checkpoint, mode) -> None:
    import ray.train

    ray.train.report(metrics, checkpoint=checkpoint, checkpoint_upload_mode=mode,
                     delete_local_checkpoint_after_upload=True if checkpoint else None)


def train_fn(config: dict) -> None:
    """Runs in each Ray Train worker: stage inputs, restore, run the script, commit the model."""
    global _STATE
    import ray
    import ray.train

    from mlcore import _storage
    from parallel._policy import CheckpointPolicy
    from parallel._reporting import MetricsBuffer, controller_handle

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    scratch = tempfile.mkdtemp(prefix=f"mlcore-{config['job_name']}-r{rank}-")
    source = os.path.join(scratch, "code")  # private: scripts may write next to themselves
    fetched = _storage.fetch_committed(config["source_uri"], source)
    if fetched != source:
        shutil.copytree(fetched, source, ignore=shutil.ignore_patterns(_storage.COMMIT_MARKER))
    ckpt_dir = os.path.join(scratch, "checkpoints")
    if config.get("checkpoint_local_path"):
        # One folder per rank (ranks on one node must not share it), emptied first: it holds
        # exactly the restored checkpoint, as on a fresh SageMaker instance.
        ckpt_dir = os.path.join(config["checkpoint_local_path"], config["job_name"], f"rank-{rank}")
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    for d in ("model", "output/data", ckpt_dir):
        os.makedirs(os.path.join(scratch, d), exist_ok=True)
    st = _State(
        hyperparameters=config["hyperparameters"],
        channels={n: _stage_channel(n, c, scratch) for n, c in config["channels"].items()},
        model_dir=os.path.join(scratch, "model"), output_data_dir=os.path.join(scratch, "output/data"),
        checkpoint_dir=ckpt_dir, plan=Plan.from_dict(config["plan"]), rank=rank, world_size=world,
        policy=CheckpointPolicy(config["checkpoint_frequency"], config["checkpoint_min_interval_s"]),
        buffer=MetricsBuffer(config["metrics_sink"]))
    st.restored_step = _restore(st)
    if rank == 0:
        config["metrics_sink"].started.remote(st.restored_step, controller_handle())
        st.sink = config["metrics_sink"]
    st.last_step = st._check_step = st._next_check = st.restored_step or 0
    st.policy.started(time.monotonic())
    _STATE = st
    num_gpus = int(len(ray.get_gpu_ids()))
    os.environ.update(sm_environment(config, st, source, num_gpus))
    st.deadline, limit = config.get("deadline") or (None, None)
    started = time.time()
    try:
        _run_script(config, st, source)
    except MaxRuntimeExceeded as e:
        st.last_step = e.step
        log.warning("rank %d: %s reached at step %d; stopping", rank, limit, e.step)
        if st.sink is not None:
            ray.get(st.sink.event.remote("stopped", {"step": e.step, "limit": limit}))
    st.buffer.flush({"step": st.last_step})
    _finish(config, st, started)
    shutil.rmtree(scratch, ignore_errors=True)  # code, data copies, model: all committed now


def _restore(st: _State) -> int | None:
    import ray.train

    ckpt = ray.train.get_checkpoint()
    if ckpt is None:
        return None
    ckpt.to_directory(st.checkpoint_dir)
    st.restored_files = _listing(st.checkpoint_dir)
    meta = os.path.join(st.checkpoint_dir, META_FILE)
    if not os.path.exists(meta):
        raise RuntimeError(f"checkpoint {ckpt.path} has no {META_FILE}: it was not written by "
                           "parallel.context.save_checkpoint and cannot be resumed from")
    with open(meta) as f:
        step = json.load(f)["step"]
    log.info("rank %d resumed from the checkpoint of step %d", st.rank, step)
    return step


def _run_script(config: dict, st: _State, source: str) -> None:
    entry = os.path.join(source, config["entry_point"])
    argv, path, cwd = sys.argv, list(sys.path), os.getcwd()
    stdout, stderr = sys.stdout, sys.stderr
    sys.argv = [entry, *cli_args(config["hyperparameters"])]
    sys.path.insert(0, source)
    sys.path[1:1] = config.get("python_path", [])  # the container's modules, after the script's
    os.chdir(source)
    if st.rank == 0 and config.get("metric_definitions"):
        # stdout only: Ray Train's print patch repeats every print() as a log record on
        # stderr, so scanning both would count each metric twice.
        sys.stdout = _MetricTee(stdout, config["metric_definitions"], st.buffer, st.restored_step or 0)
    try:
        with group_owned_by_runtime():
            runpy.run_path(entry, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            raise RuntimeError(f"{config['entry_point']} exited with status {e.code}") from None
    finally:
        sys.stdout.flush()
        sys.argv, sys.path[:], sys.stdout, sys.stderr = argv, path, stdout, stderr
        os.chdir(cwd)


def _finish(config: dict, st: _State, started: float) -> None:
    """Commit the union of the ranks' model folders (a lower rank wins a name clash) as the
    final checkpoint; every rank uploads its output data folder (name files per host)."""
    import torch.distributed as dist
    from ray.train import Checkpoint, CheckpointUploadMode

    from mlcore import _storage

    mine = sorted(os.path.relpath(os.path.join(d, f), st.model_dir)
                  for d, _, fs in os.walk(st.model_dir) for f in fs)
    listings = [mine]
    if st.world_size > 1 and dist.is_initialized():
        listings = [None] * st.world_size
        dist.all_gather_object(listings, mine)
    taken = {f for lst in listings[:st.rank] for f in lst}
    keep = [f for f in mine if f not in taken]
    tmp = tempfile.mkdtemp(prefix="mlcore-model-")
    for f in keep:
        os.makedirs(os.path.dirname(os.path.join(tmp, f)), exist_ok=True)
        shutil.copy2(os.path.join(st.model_dir, f), os.path.join(tmp, f))
    if os.listdir(st.output_data_dir):  # every host's files, as SageMaker uploads them
        _storage.upload_dir(st.output_data_dir, config["output_uri"])
    final = {"step": st.last_step, "worker_start_time": started, "final": 1,
             "model_files": sum(len(lst) for lst in listings)}
    ray_report(final, Checkpoint.from_directory(tmp) if keep else None, CheckpointUploadMode.SYNC)
