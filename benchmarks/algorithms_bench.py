"""SageMaker's first-party algorithms in mlcore against their reference libraries run bare.

For each algorithm (one module each under ``benchmarks/algorithms/``: its data, its
hyperparameters, the bare reference run and the quality measure), on the same generated data
(fixed seed):

* **bare**: the reference library (scikit-learn, faiss, krcf, a bare torch loop) in this
  process, limited to one thread, reading the same files;
* **mlcore, 1 worker**: the training service on a warm local Ray (one unrecorded job first
  warms the pooled worker process), one worker of 1 CPU
  (``instance_type: local``): tracking, checks, the worker, data load, training, model commit,
  MLflow model;
* **mlcore, 2 workers**: the same on two workers of 1 CPU each (Ray Train).

Rounds are interleaved (the order rotates each round); each figure is the median over rounds
and each ratio is taken within a round, then the median. Times: ``fit`` is the training alone
(bare: the library's fit; mlcore: the job's Train phase measured in the worker), ``total`` is
reading + training for bare and the whole job (warm Ray) for mlcore. Quality is measured on
the same held-out rows for all three by the module's own measure.

Run: ``mlcore run configs/bench/algorithms.yaml``; results land in
``benchmarks/results/algorithms.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
# benchmarks/serving/ (a folder of scripts) would shadow the project's ``serving`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.resolve()]
sys.path.insert(0, str(HERE / "algorithms"))

ARMS = ("bare", "mlcore-1", "mlcore-2")


def run_mlcore(bench, data: dict, hp: dict, workers: int, name: str) -> dict:
    import algorithms
    from mlcore import _storage
    from mlcore.records import Status
    from mlcore.services import training
    from mlcore.specs import TrainingJob

    spec = TrainingJob(algorithm=bench.NAME, hyperparameters=hp, instance_type="local",
                       instance_count=workers, inputs=data["channels"])
    t = time.perf_counter()
    record = training.execute(training.prepare(spec, name, name), logs=False)
    total = time.perf_counter() - t
    if record.status != Status.COMPLETED:
        raise SystemExit(f"{name}: {record.status}: {record.FailureReason}")
    algo = algorithms.get(bench.NAME)
    with tempfile.TemporaryDirectory() as tmp:
        model = algo.load_model(_storage.fetch_committed(record.ModelArtifacts, tmp))
    quality = bench.quality(lambda X: algo.predict(model, X), data)
    metrics = record.FinalMetrics
    return {"fit_s": metrics["train_seconds"], "read_s": metrics["data_load_seconds"],
            "total_s": total, "quality": quality, "phases": record.PhaseTimings}


def run_bare(bench, data: dict, hp: dict) -> dict:
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            res = bench.bare(data, hp)
    finally:
        torch.set_num_threads(before)
    return {**res, "total_s": res["read_s"] + res["fit_s"]}


def bench_one(module: str, p: dict, work: Path) -> dict:
    bench = importlib.import_module(module)
    rows = p.get("rows", {}).get(bench.NAME, bench.ROWS)
    root = work / bench.NAME
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    data = bench.make_data(root, rows, p.get("seed", 0))
    print(f"{bench.NAME}: {rows} rows written in {time.perf_counter() - t:.1f}s", flush=True)
    hp = bench.hyperparameters(rows)
    runs = {arm: [] for arm in ARMS}
    if p.get("warmup", True):  # the pooled worker process and the algorithm's imports, unrecorded
        run_mlcore(bench, data, hp, 1, f"bench-{bench.NAME}-warmup")
    for r in range(p["rounds"]):
        order = ARMS[r % 3:] + ARMS[:r % 3]
        for arm in order:
            if arm == "bare":
                res = run_bare(bench, data, hp)
            else:
                workers = int(arm[-1])
                res = run_mlcore(bench, data, hp, workers, f"bench-{bench.NAME}-{workers}-{r}")
            runs[arm].append(res)
            print(f"  round {r} {arm}: fit {res['fit_s']:.2f}s total {res['total_s']:.2f}s "
                  f"{bench.QUALITY[0]} {res['quality']:.5g}", flush=True)
    med = statistics.median

    def ratio(a: str, b: str, key: str) -> float:
        return med(x[key] / y[key] for x, y in zip(runs[a], runs[b], strict=True))

    metric, better, tolerance = bench.QUALITY
    q = {arm: med(x["quality"] for x in runs[arm]) for arm in ARMS}
    gap = (q["mlcore-1"] - q["bare"]) / abs(q["bare"]) if q["bare"] else q["mlcore-1"]
    worse = -gap if better == "higher" else gap
    return {
        "algorithm": bench.NAME, "rows": rows, "hyperparameters": hp,
        "reference": getattr(bench, "REFERENCE", "?"),
        "median_seconds": {arm: {k: med(x[k] for x in runs[arm]) for k in ("read_s", "fit_s", "total_s")}
                           for arm in ARMS},
        "ratios": {"fit_1_worker_vs_bare": ratio("mlcore-1", "bare", "fit_s"),
                   "total_1_worker_vs_bare": ratio("mlcore-1", "bare", "total_s"),
                   "speedup_2_workers_fit": ratio("mlcore-1", "mlcore-2", "fit_s"),
                   "speedup_2_workers_total": ratio("mlcore-1", "mlcore-2", "total_s")},
        "quality": {"metric": metric, "better": better, "tolerance": tolerance, **q,
                    "relative_gap_1_worker": gap,
                    "within_tolerance": worse <= tolerance},
        "runs": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON of the benchmark's params")
    ap.add_argument("--render", help="write the markdown again from this results JSON")
    args = ap.parse_args()
    if args.render:
        result = json.loads(Path(args.render).read_text())
        _markdown(result, Path(args.render).with_suffix(".md"))
        return
    p = json.loads(args.config)
    work = Path(tempfile.mkdtemp(prefix="mlcore-bench-algorithms-"))
    os.environ["MLCORE_HOME"] = str(work / "home")
    os.environ["MLCORE_NUM_CPUS"] = str(p["num_cpus"])
    from mlcore import _session, _tracking

    _session.ensure_ray()
    _tracking.experiment_id()  # warm: Ray running, MLflow imported, its database migrated
    results = [bench_one(m, p, work) for m in p["algorithms"]]
    import ray

    ray.shutdown()
    result = {"benchmark": "first-party algorithms: mlcore vs the reference library run bare",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(),
                          "load_at_start": os.getloadavg()[0]},
              "command": "mlcore run configs/bench/algorithms.yaml", "params": p,
              "time_target": p["time_target"], "algorithms": results}
    out = Path(p.get("results_dir", HERE / "results"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "algorithms.json").write_text(json.dumps(result, indent=2, default=str))
    _markdown(result, out / "algorithms.md")
    print((out / "algorithms.md").read_text())


def _markdown(result: dict, path: Path) -> None:
    target = result["time_target"]
    lines = [f"# {result['benchmark']}", "",
             f"Machine: {result['machine']['cpus']} CPUs, {result['machine']['platform']}, Python "
             f"{result['machine']['python']}; 1-minute load at start {result['machine']['load_at_start']:.2f}",
             f"Command: `{result['command']}`; {result['params']['rounds']} interleaved rounds; "
             "bare runs limited to 1 thread, mlcore workers to their 1 CPU each.", "",
             f"Time target: mlcore's 1-worker job ≤ {target}× the bare library (total: reading and "
             "training; fit: training alone). Quality: the 1-worker model against the bare one.", "",
             "| algorithm | rows | reference | bare read + fit (s) | mlcore 1 worker: job (fit) (s) "
             "| total ratio | fit ratio | 2 workers: job (fit) (s) | speed-up, 2 workers (total / fit) "
             "| quality bare / mlcore-1 / mlcore-2 | quality verdict | time verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in result["algorithms"]:
        m, r, q = a["median_seconds"], a["ratios"], a["quality"]
        time_ok = r["total_1_worker_vs_bare"] <= target
        lines.append(
            f"| {a['algorithm']} | {a['rows']:,} | {a['reference']} | {m['bare']['read_s']:.2f} + "
            f"{m['bare']['fit_s']:.2f} | {m['mlcore-1']['total_s']:.2f} ({m['mlcore-1']['fit_s']:.2f}) | "
            f"{r['total_1_worker_vs_bare']:.2f}× | {r['fit_1_worker_vs_bare']:.2f}× | "
            f"{m['mlcore-2']['total_s']:.2f} ({m['mlcore-2']['fit_s']:.2f}) | "
            f"{r['speedup_2_workers_total']:.2f}× / {r['speedup_2_workers_fit']:.2f}× | "
            f"{q['metric']} {q['bare']:.4g} / {q['mlcore-1']:.4g} / {q['mlcore-2']:.4g} | "
            f"{'met' if q['within_tolerance'] else 'missed'} (gap {q['relative_gap_1_worker']:+.2%}, "
            f"tolerance {q['tolerance']:.0%}) | {'met' if time_ok else 'missed'} |")
    lines += ["", "Where each mlcore job's time went (median PhaseTimings of the 1-worker job, s):", "",
              "| algorithm | " + " | ".join(_PHASES) + " |", "|---|" + "---|" * len(_PHASES)]
    for a in result["algorithms"]:
        phases = [x.get("phases") or {} for x in a["runs"]["mlcore-1"]]
        lines.append(f"| {a['algorithm']} | " + " | ".join(
            f"{statistics.median(p.get(k, 0) for p in phases):.2f}" for k in _PHASES) + " |")
    path.write_text("\n".join(lines) + "\n")


_PHASES = ("Setup", "WorkerStartup", "DataLoad", "Train", "WorkerShutdown", "Commit", "MlflowModel")

if __name__ == "__main__":
    main()
