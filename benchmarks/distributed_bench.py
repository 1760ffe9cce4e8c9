"""The distributed runtime against bare Ray Train + torch DDP and against the formulas, on the
reference LM (configs/scripts/tiny_lm), 2 workers. Reports:

* step time: mlcore script mode (DDP, with per-step metrics, checkpoint and preemption
  checks) vs the same loop as a bare ``TorchTrainer`` + DDP function; interleaved, medians;
* per-rank memory for ZeRO 0-3 (parameters and Adam state held per rank, measured) against
  the ZeRO paper's formulas in their fp32 variant (what CPU training uses);
* pipeline efficiency: 2 stages vs one process running the whole model over the same
  micro-batches, against the ideal m/(m+p-1);
* checkpoint overhead: blocking seconds per ZeRO-1 checkpoint and their share of training at
  the default interval (30 s) and at a 2 s interval;
* recovery: SIGKILL of a worker -> first training step after restore, and steps lost, without
  a preemption notice (periodic checkpoints only) - the preemption-notice case is measured by
  tests/test_spot.py (0 lost steps by construction: the workers hold after the notice).

Run: ``mlcore run configs/bench/distributed.yaml``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LM_DIR = ROOT / "configs" / "scripts" / "tiny_lm"


def _results(job_name: str) -> dict:
    from mlcore.jobs import describe

    rec = describe(job_name)
    if rec.TrainingJobStatus != "Completed":
        raise RuntimeError(f"{job_name}: {rec.TrainingJobStatus} {rec.FailureReason}")
    out = Path(rec.OutputPath) / job_name / "output" / "data"
    return {"record": rec, "ranks": [json.loads(p.read_text()) for p in sorted(out.glob("rank-*.json"))]}


def run_mlcore(hp: dict, distribution=None, **kw) -> dict:
    from mlcore.sagemaker.pytorch import PyTorch

    kw.setdefault("checkpoint_frequency", 10**9)
    est = PyTorch(entry_point="train.py", source_dir=str(LM_DIR), instance_count=2,
                  hyperparameters=hp, distribution=distribution, **kw)
    est.fit(logs=False)
    return _results(est.latest_training_job.name)


def _bare_loop(config: dict) -> None:
    """The example script's DDP path with nothing of mlcore: the baseline."""
    import importlib.util
    import statistics
    import time

    import ray.train
    import torch

    from parallel import lm

    spec = importlib.util.spec_from_file_location("lm_train", config["script"])
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    hp = config["hp"]
    cfg = lm.LMConfig.from_hyperparameters(hp)
    inputs, labels = lm.token_data(int(hp["sequences"]), cfg, int(hp["seed"]))
    torch.manual_seed(int(hp["seed"]))
    module = lm.TinyLM(cfg)
    model = torch.nn.parallel.DistributedDataParallel(module)
    opt = torch.optim.Adam(module.parameters(), lr=float(hp["lr"]))
    ctx = ray.train.get_context()
    times = []
    for step in range(int(hp["steps"])):
        t0 = time.perf_counter()
        opt.zero_grad()
        for x, y in script.batches(inputs, labels, step, ctx.get_world_rank(), ctx.get_world_size(),
                                   1, int(hp["micro_batch_size"])):
            lm.loss_fn(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    import tempfile

    # Ray Train V2's Result.metrics are those of the latest checkpoint: report an empty one.
    ckpt = ray.train.Checkpoint.from_directory(tempfile.mkdtemp()) if ctx.get_world_rank() == 0 else None
    ray.train.report({"step_seconds_median": statistics.median(times[5:])}, checkpoint=ckpt)


def run_bare(hp: dict) -> float:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    result = TorchTrainer(_bare_loop, train_loop_config={"hp": hp, "script": str(LM_DIR / "train.py")},
                          scaling_config=ScalingConfig(num_workers=2),
                          run_config=RunConfig(storage_path=tempfile.mkdtemp(prefix="bare-ddp-"))).fit()
    return result.metrics["step_seconds_median"]


def step_time(p: dict) -> dict:
    hp = {**p["hp"], "steps": p["steps"]}
    mine, bare = [], []
    for _ in range(p["repetitions"]):
        bare.append(run_bare(hp))
        mine.append(run_mlcore(hp)["ranks"][0]["step_seconds_median"])
    m, b = statistics.median(mine), statistics.median(bare)
    return {"mlcore_step_s": m, "bare_step_s": b, "ratio": m / b, "mlcore_all": mine, "bare_all": bare}


def zero_memory(p: dict) -> dict:
    from parallel import lm

    hp, n, rows = {**p["hp"], "steps": 5}, 2, []
    psi = sum(q.numel() for q in lm.TinyLM(lm.LMConfig.from_hyperparameters(hp)).parameters())
    for stage in (0, 1, 2, 3):
        got = run_mlcore(hp, {"deepspeed": {"zero_stage": stage}})
        r = got["ranks"][0]
        # fp32 Adam on CPU: weights 4, gradients 4, Adam m+v 8 bytes per parameter; no fp16
        # copies and no fp32 master copy, so K = 8 (not mixed precision's 12).
        formula = {0: 16 * psi, 1: 8 * psi + 8 * psi / n, 2: 4 * psi + 12 * psi / n, 3: 16 * psi / n}[stage]
        measured_model = 4 * r["local_parameters"] + r["optimizer_state_bytes"]
        formula_model = {0: 12 * psi, 1: 4 * psi + 8 * psi / n, 2: 4 * psi + 8 * psi / n, 3: 12 * psi / n}[stage]
        rows.append({"stage": stage, "psi": psi, "params_per_rank": r["local_parameters"],
                     "optimizer_state_bytes": r["optimizer_state_bytes"],
                     "measured_weights_plus_optimizer": measured_model,
                     "formula_weights_plus_optimizer": formula_model,
                     "formula_total_with_gradients": formula})
    return {"ranks": n, "rows": rows}


def pipeline_efficiency(p: dict) -> dict:
    import torch

    from parallel import lm

    rows = []
    for m in p["microbatches"]:
        hp = {**p["hp"], "steps": p["pipeline_steps"]}
        got = run_mlcore(hp, {"deepspeed": {"pipeline_parallel_degree": 2, "microbatches": m}})
        pipe = statistics.median(r["step_seconds_median"] for r in got["ranks"])
        cfg = lm.LMConfig.from_hyperparameters(hp)
        inputs, labels = lm.token_data(int(hp["sequences"]), cfg, 0)
        torch.manual_seed(0)
        torch.set_num_threads(1)  # one core, as each pipeline stage has
        model = lm.TinyLM(cfg)
        opt = torch.optim.Adam(model.parameters())
        times, micro = [], int(hp["micro_batch_size"])
        for step in range(p["pipeline_steps"]):
            t0 = time.perf_counter()
            opt.zero_grad()
            for i in range(m):
                idx = torch.arange((step * m + i) * micro, (step * m + i + 1) * micro) % inputs.shape[0]
                (lm.loss_fn(model(inputs[idx]), labels[idx]) / m).backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        single = statistics.median(times[5:])
        rows.append({"microbatches": m, "stages": 2, "pipeline_step_s": pipe, "single_process_step_s": single,
                     "efficiency": single / (2 * pipe), "ideal": m / (m + 2 - 1)})
    return {"rows": rows}


def checkpoint_overhead(p: dict) -> dict:
    """Training seconds with checkpoints every ``checkpoint_interval_s`` vs none, interleaved;
    and the blocking cost of one checkpoint, scaled to the default 30 s interval."""
    hp = {**p["hp"], "steps": p["checkpoint_steps"]}
    ds = {"deepspeed": {"zero_stage": 1}}
    with_ck, without, costs = [], [], []
    for _ in range(p["checkpoint_repetitions"]):
        without.append(run_mlcore(hp, ds)["ranks"][0]["train_seconds"])
        r = run_mlcore(hp, ds, checkpoint_frequency=1,
                       checkpoint_min_interval_s=p["checkpoint_interval_s"])["ranks"][0]
        with_ck.append(r["train_seconds"])
        costs += r["checkpoint_seconds"]
    per = statistics.median(costs) if costs else 0.0
    a, b = statistics.median(with_ck), statistics.median(without)
    return {"checkpoints_per_run": len(costs) // p["checkpoint_repetitions"],
            "interval_s": p["checkpoint_interval_s"], "train_s_with": a, "train_s_without": b,
            "overhead_at_interval": a / b - 1, "blocking_s_per_checkpoint": per,
            "overhead_at_default_30s": (a / b - 1) * p["checkpoint_interval_s"] / 30.0}


def recovery(p: dict) -> dict:
    import psutil

    from mlcore.jobs import describe
    from mlcore.sagemaker.pytorch import PyTorch

    rows = []
    for rep in range(p["recovery_repetitions"]):
        name = f"bench-recovery-{os.getpid()}-{rep}"
        est = PyTorch(entry_point="train.py", source_dir=str(LM_DIR), instance_count=2,
                      hyperparameters={**p["hp"], "steps": p["recovery_steps"]}, max_retry_attempts=2,
                      distribution={"deepspeed": {"zero_stage": 1}}, checkpoint_frequency=100,
                      checkpoint_min_interval_s=0)
        t = threading.Thread(target=est.fit, kwargs={"logs": False, "job_name": name})
        t.start()
        while True:
            try:
                if describe(name).Progress.get("step", 0) >= p["recovery_kill_step"]:
                    break
            except Exception:
                pass
            time.sleep(0.1)
        workers = sorted(q.pid for q in psutil.process_iter(["cmdline"])
                         if " ".join(q.info["cmdline"] or []).startswith("ray::RayTrainWorker"))
        killed_step = describe(name).Progress.get("step", 0)
        killed_at = time.time()
        os.kill(workers[-1], signal.SIGKILL)
        t.join()
        rec = describe(name)
        i = rec.Interruptions[0]
        # killed_step is what the job record showed (refreshed every 2 s): the true step at
        # the kill is at least that, so lost_steps is a lower bound within ~2 s of steps.
        rows.append({"killed_at_step": killed_step, "resumed_from_step": i["ResumedFromStep"],
                     "lost_steps": killed_step - i["ResumedFromStep"],
                     "kill_to_workers_up_s": i["ResumedAt"] - killed_at,
                     "kill_to_first_step_s": i["FirstStepAt"] - killed_at if "FirstStepAt" in i else None})
    return {"rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="{}")
    p = {"hp": {"lr": 0.003, "seed": 0, "micro_batch_size": 16, "sequences": 1024,
                "d_model": 128, "n_layers": 4, "seq_len": 64},
         "steps": 200, "repetitions": 3, "microbatches": [1, 2, 4, 8], "pipeline_steps": 40,
         "checkpoint_steps": 300, "checkpoint_interval_s": 2.0, "checkpoint_repetitions": 2,
         "recovery_repetitions": 2, "recovery_steps": 900, "recovery_kill_step": 400, **json.loads(ap.parse_args().config)}
    os.environ.setdefault("MLCORE_HOME", tempfile.mkdtemp(prefix="mlcore-bench-"))
    from mlcore import _session

    _session.ensure_ray()
    result = {"params": p, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                       "python": platform.python_version()},
              "command": "mlcore run configs/bench/distributed.yaml" if not p.get("skip") else
              f"python benchmarks/distributed_bench.py --config '{{... \"skip\": {json.dumps(p['skip'])}}}'",
              "versions": _versions(), "commit": _commit()}
    for name, fn in [("step_time", step_time), ("zero_memory", zero_memory),
                     ("pipeline", pipeline_efficiency), ("checkpoint", checkpoint_overhead),
                     ("recovery", recovery)]:
        if name in p.get("skip", []):
            continue
        t0 = time.time()
        result[name] = fn(p)
        print(f"{name} ({time.time() - t0:.0f}s): {json.dumps(result[name])[:600]}", flush=True)
    _write(result, Path(p.get("results_dir", HERE / "results")))


def _commit() -> str:
    import subprocess

    res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def _versions() -> dict:
    from importlib.metadata import version

    return {k: version(k) for k in ("ray", "torch", "deepspeed", "mlflow")}


def _write(r: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "distributed.json"
    if r["params"].get("skip") and previous.exists():  # keep the skipped sections' last results
        old = json.loads(previous.read_text())
        for k in ("step_time", "zero_memory", "pipeline", "checkpoint", "recovery"):
            if k not in r and k in old:
                r[k] = old[k]
                r.setdefault("sections_from_earlier_run", []).append(k)
    (out / "distributed.json").write_text(json.dumps(r, indent=2, default=str))
    lines = ["# Distributed runtime benchmark", "",
             f"Machine: {r['machine']['cpus']} CPUs, {r['machine']['platform']}, Python "
             f"{r['machine']['python']}; versions {r['versions']}", f"Command: `{r['command']}`", ""]
    if r.get("sections_from_earlier_run"):
        lines += [f"Sections {', '.join(r['sections_from_earlier_run'])} are from the previous run of "
                  f"this benchmark (`mlcore run configs/bench/distributed.yaml`, one commit earlier; this run skipped them).", ""]
    if "step_time" in r:
        s = r["step_time"]
        lines += ["## Step time, 2 workers, DDP (median of medians)", "",
                  "| mlcore script mode | bare TorchTrainer + DDP | ratio (target <= 1.05) |",
                  "|---|---|---|", f"| {s['mlcore_step_s'] * 1e3:.2f} ms | {s['bare_step_s'] * 1e3:.2f} ms "
                  f"| {s['ratio']:.3f} |", ""]
    if "zero_memory" in r:
        lines += ["## Per-rank bytes, ZeRO 0-3 (N = 2, fp32 Adam: formulas with K = 8)", "",
                  "| stage | params held | Adam state | weights+Adam measured | formula | total formula incl. gradients |",
                  "|---|---|---|---|---|---|"]
        for z in r["zero_memory"]["rows"]:
            lines.append(f"| {z['stage']} | {z['params_per_rank']} | {z['optimizer_state_bytes']} | "
                         f"{z['measured_weights_plus_optimizer']:.0f} | {z['formula_weights_plus_optimizer']:.0f} | "
                         f"{z['formula_total_with_gradients']:.0f} |")
        lines.append("")
    if "pipeline" in r:
        lines += ["## Pipeline, 2 stages (one CPU each) vs one process on one CPU", "",
                  "| micro-batches m | pipeline step | one-process step | efficiency | ideal m/(m+p-1) |",
                  "|---|---|---|---|---|"]
        for q in r["pipeline"]["rows"]:
            lines.append(f"| {q['microbatches']} | {q['pipeline_step_s'] * 1e3:.1f} ms | "
                         f"{q['single_process_step_s'] * 1e3:.1f} ms | {q['efficiency']:.2f} | {q['ideal']:.2f} |")
        lines.append("")
    if "checkpoint" in r:
        c = r["checkpoint"]
        lines += ["## Checkpoint overhead (ZeRO-1, sharded DeepSpeed checkpoint, async upload)", "",
                  f"Training time with a checkpoint every {c['interval_s']} s ({c['checkpoints_per_run']} per run): "
                  f"{c['train_s_with']:.1f} s vs {c['train_s_without']:.1f} s without: "
                  f"{c['overhead_at_interval'] * 100:+.1f}%; {c['blocking_s_per_checkpoint'] * 1e3:.0f} ms of the "
                  f"training loop blocked per checkpoint. Scaled to the default 30 s interval: "
                  f"{c['overhead_at_default_30s'] * 100:+.2f}% (target <= 5%).", ""]
    if "recovery" in r:
        lines += ["## Recovery after SIGKILL of a worker (no notice; checkpoints every 100 steps)", "",
                  "| killed at step (>=) | resumed from | lost steps (>=) | kill -> new workers restored | "
                  "kill -> first step after restore (target <= 10 s) |", "|---|---|---|---|---|"]
        for q in r["recovery"]["rows"]:
            first = f"{q['kill_to_first_step_s']:.1f} s" if q["kill_to_first_step_s"] is not None else "n/a"
            lines.append(f"| {q['killed_at_step']} | {q['resumed_from_step']} | {q['lost_steps']} | "
                         f"{q['kill_to_workers_up_s']:.1f} s | {first} |")
        lines.append("")
    (out / "distributed.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
