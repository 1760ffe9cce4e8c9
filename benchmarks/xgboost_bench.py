"""mlcore's built-in XGBoost vs bare ``xgboost.train``: same data, same threads, same rounds.

Reports medians over interleaved repetitions of
* steady-state training time (the boosting loop alone, with mlcore's per-round metrics side
  channel and periodic checkpoints vs bare xgboost with the same eval sets);
* warm end-to-end time (a running Ray and a warm process: ``Estimator.fit`` — tracking, checks,
  workers, data load, training, model commit, MLflow model — vs read + DMatrix + train + save);
* cold end-to-end time (``mlcore run job.yaml`` in a fresh process that starts Ray vs a fresh
  ``python bare.py``);
and the quality delta (validation AUC). Run: ``mlcore run configs/bench/xgboost.yaml``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
# Python puts this folder first on sys.path, where benchmarks/serving/ (a folder of scripts)
# would shadow the project's own ``serving`` package as an empty namespace package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.resolve()]


def make_data(root: Path, rows: int, features: int, seed: int) -> dict[str, str]:
    """A HIGGS-shaped binary problem (non-linear signal plus noise), fixed seed."""
    rng = np.random.default_rng(seed)
    paths = {}
    for name, n in {"train": rows, "validation": max(rows // 10, 1000)}.items():
        X = rng.normal(size=(n, features)).astype(np.float32)
        logit = X[:, 0] - 2 * X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3]) + 0.5 * X[:, 4:8].sum(1)
        y = (logit + rng.normal(scale=1.0, size=n) > 0).astype(np.float32)
        table = pa.table({"label": y, **{f"f{j}": X[:, j] for j in range(features)}})
        paths[name] = str(root / f"{name}.parquet")
        pq.write_table(table, paths[name])
    return paths


BARE = r'''
import json, sys, time
import numpy as np, pyarrow.parquet as pq, xgboost as xgb
from sklearn.metrics import roc_auc_score
t0 = time.perf_counter()  # after imports: the mlcore side runs in a warm process
cfg = json.loads(sys.argv[1])
def load(p):
    t = pq.read_table(p)
    X = np.column_stack([t.column(c).to_numpy() for c in t.column_names if c != "label"])
    return xgb.DMatrix(X, label=t.column("label").to_numpy(), nthread=cfg["threads"])
dtrain, dval = load(cfg["train"]), load(cfg["validation"])
params = dict(cfg["params"], nthread=cfg["threads"])
t1 = time.perf_counter()
bst = xgb.train(params, dtrain, cfg["num_round"], evals=[(dtrain, "train"), (dval, "validation")],
                verbose_eval=False)
train_s = time.perf_counter() - t1
bst.save_model(cfg["out"])
e2e_s = time.perf_counter() - t0
auc = roc_auc_score(dval.get_label(), bst.predict(dval))
print(json.dumps({"train_s": train_s, "e2e_s": e2e_s, "auc": auc}))
'''


def run_bare(cfg: dict) -> dict:
    """Bare xgboost in a fresh interpreter: e2e_s excludes interpreter start, train_s is the loop."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", BARE, json.dumps(cfg)], capture_output=True,
                         text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    res["cold_s"] = time.perf_counter() - t0
    return res


def run_mlcore_warm(cfg: dict, work: Path) -> dict:
    from mlcore.jobs import describe
    from mlcore.sagemaker import Estimator

    est = Estimator(algorithm="xgboost", instance_type=cfg["instance_type"], instance_count=1,
                    hyperparameters={**cfg["params_sm"], "num_round": cfg["num_round"]},
                    output_path=str(work / "out"), checkpoint_frequency=cfg["checkpoint_frequency"])
    t0 = time.perf_counter()
    est.fit({"train": cfg["train"], "validation": cfg["validation"]}, logs=False)
    e2e = time.perf_counter() - t0
    rec = describe(est.latest_training_job.name)
    return {"train_s": rec.FinalMetrics["train_seconds"], "e2e_s": e2e,
            "auc": rec.FinalMetrics["validation:auc"], "load_s": rec.FinalMetrics["data_load_seconds"],
            "phases": rec.PhaseTimings}


def run_mlcore_cold(cfg: dict, work: Path) -> dict:
    import yaml

    spec = {"kind": "TrainingJob", "algorithm": "xgboost", "instance_type": cfg["instance_type"],
            "hyperparameters": {**cfg["params_sm"], "num_round": cfg["num_round"]},
            "inputs": {"train": cfg["train"], "validation": cfg["validation"]},
            "output_path": str(work / "out"), "checkpoint_frequency": cfg["checkpoint_frequency"]}
    path = work / "cold.yaml"
    path.write_text(yaml.safe_dump(spec))
    env = {**os.environ, "MLCORE_HOME": str(work / "cold-home"), "MLCORE_NUM_CPUS": str(cfg["threads"])}
    env.pop("RAY_ADDRESS", None)
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "mlcore"), "run", str(path), "--quiet"],
                   env=env, check=True, capture_output=True)
    return {"cold_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON of the benchmark's params")
    args = ap.parse_args()
    p = json.loads(args.config)
    rows, features, reps, cold_reps = p["rows"], p["features"], p["repetitions"], p["cold_repetitions"]
    threads = p["threads"]
    work = Path(tempfile.mkdtemp(prefix="mlcore-bench-"))
    os.environ["MLCORE_HOME"] = str(work / "home")
    os.environ["MLCORE_NUM_CPUS"] = str(threads)
    t = time.perf_counter()
    data = make_data(work, rows, features, p.get("seed", 0))
    print(f"data: {rows} x {features} (+{max(rows // 10, 1000)} validation) in {time.perf_counter() - t:.1f}s",
          flush=True)
    params = {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": p["max_depth"],
              "eta": p["eta"], "tree_method": "hist", "seed": 0}
    cfg = {**data, "threads": threads, "num_round": p["num_round"], "params": params,
           "params_sm": {**params, "label_column": "label"}, "out": str(work / "bare.model"),
           "instance_type": p["instance_type"], "checkpoint_frequency": p["checkpoint_frequency"]}

    from mlcore import _session, _tracking

    t = time.perf_counter()
    _session.ensure_ray()
    _tracking.experiment_id()  # warm: Ray running, mlflow imported, database migrated
    print(f"warm-up (Ray start, MLflow) {time.perf_counter() - t:.1f}s", flush=True)

    bare, ours = [], []
    for i in range(reps):  # interleaved, order alternating
        pair = [("bare", lambda: run_bare(cfg)), ("mlcore", lambda: run_mlcore_warm(cfg, work))]
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            res = fn()
            (bare if name == "bare" else ours).append(res)
            print(f"rep {i} {name}: " + " ".join(f"{k}={v:.4g}" for k, v in res.items() if k != "phases")
                  + (f" phases={res['phases']}" if "phases" in res else ""), flush=True)

    import ray
    ray.shutdown()
    bare_cold, ours_cold = [], []
    for i in range(cold_reps):
        pair = [("bare", lambda: run_bare(cfg)), ("mlcore", lambda: run_mlcore_cold(cfg, work))]
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            res = fn()
            (bare_cold if name == "bare" else ours_cold).append(res["cold_s"])
            print(f"cold rep {i} {name}: {res['cold_s']:.2f}s", flush=True)

    med = statistics.median
    result = {
        "benchmark": "xgboost: mlcore built-in vs bare xgboost.train",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": _versions(),
        "command": "mlcore run configs/bench/xgboost.yaml",
        "params": p,
        "median_seconds": {
            "bare_train": med(r["train_s"] for r in bare), "mlcore_train": med(r["train_s"] for r in ours),
            "bare_e2e_warm": med(r["e2e_s"] for r in bare), "mlcore_e2e_warm": med(r["e2e_s"] for r in ours),
            "bare_e2e_cold": med(bare_cold) if bare_cold else None,
            "mlcore_e2e_cold": med(ours_cold) if ours_cold else None,
            "mlcore_data_load": med(r["load_s"] for r in ours),
        },
        "runs": {"bare": bare, "mlcore": ours, "bare_cold": bare_cold, "mlcore_cold": ours_cold},
    }
    m = result["median_seconds"]
    result["ratios"] = {
        "steady_state_train": m["mlcore_train"] / m["bare_train"],
        "e2e_warm": m["mlcore_e2e_warm"] / m["bare_e2e_warm"],
        "e2e_cold": (m["mlcore_e2e_cold"] / m["bare_e2e_cold"]) if bare_cold else None,
    }
    result["quality"] = {"bare_auc": med(r["auc"] for r in bare), "mlcore_auc": med(r["auc"] for r in ours)}
    result["quality"]["auc_delta"] = result["quality"]["mlcore_auc"] - result["quality"]["bare_auc"]
    _write(result, Path(p.get("results_dir", HERE / "results")))


def _versions() -> dict:
    import mlflow
    import ray
    import xgboost

    return {"ray": ray.__version__, "xgboost": xgboost.__version__, "mlflow": mlflow.__version__}


def _write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "xgboost.json").write_text(json.dumps(result, indent=2))
    m, r, q = result["median_seconds"], result["ratios"], result["quality"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [
        f"# {result['benchmark']}", "",
        f"Machine: {result['machine']['cpus']} CPUs, {result['machine']['platform']}, Python "
        f"{result['machine']['python']}; " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
        f"Command: `{result['command']}`; params: `{json.dumps(result['params'])}`", "",
        "| measure (median s) | bare xgboost | mlcore | ratio | target |", "|---|---|---|---|---|",
        f"| steady-state training | {fmt(m['bare_train'])} | {fmt(m['mlcore_train'])} | "
        f"{fmt(r['steady_state_train'])}x | <= 1.10x |",
        f"| end to end, warm (Ray running) | {fmt(m['bare_e2e_warm'])} | {fmt(m['mlcore_e2e_warm'])} | "
        f"{fmt(r['e2e_warm'])}x | <= 1.25x |",
        f"| end to end, cold (Ray start-up included) | {fmt(m['bare_e2e_cold'])} | "
        f"{fmt(m['mlcore_e2e_cold'])} | {fmt(r['e2e_cold'])}x | - |", "",
        f"Validation AUC: bare {q['bare_auc']:.5f}, mlcore {q['mlcore_auc']:.5f}, delta {q['auc_delta']:+.5f}.",
        "",
    ]
    phases = [r.get("phases") or {} for r in result["runs"]["mlcore"]]
    names = [k for k in (phases[0] if phases else {})]
    if names:  # the job record's PhaseTimings: where each warm run's seconds went
        lines += ["Where mlcore's warm end-to-end time goes (the job record's PhaseTimings, s):", "",
                  "| run | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [f"| {i} | " + " | ".join(f"{p.get(k, 0):.2f}" for k in names) + " |"
                  for i, p in enumerate(phases)]
        lines.append("")
    (out / "xgboost.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
