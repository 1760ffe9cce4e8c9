"""Tuning: Bayesian search with early stopping vs random search, and per-trial overhead.

1. Search quality for compute. The built-in XGBoost on a generated binary problem (fixed
   seed), the same ranges and budget for both: ``strategy=Bayesian, early_stopping_type=Auto``
   (Optuna's sampler + SageMaker's median stopping rule) vs ``strategy=Random`` (Ray Tune's
   random generator), over several seeds. The target is the objective that 1 in
   ``target_quantile`` random trials reach (pooled over all random runs). Reported per run:
   trials (in start order) and compute seconds (each training job's training time, from
   its Training status to its end, a stopped job's up to when it actually stopped, summed
   over the trials up to and including the first that reaches the target); then the median
   ratio. (Overheads outside training are the second part's subject.)
2. Per-trial overhead. Trials whose training script sleeps ``short_trial_seconds``:
   mlcore (each trial a training job: Ray Train run, MLflow child run, model artifact)
   vs bare Ray Tune running the same sleep as a function trainable, against the theoretical
   minimum ``trials x seconds / parallel``.

Run: ``mlcore run configs/bench/tuning.yaml``. Results land in benchmarks/results/tuning.*.
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

HERE = Path(__file__).parent
ROOT = HERE.parent


def make_data(root: Path, rows: int, features: int, seed: int) -> dict[str, str]:
    """A non-linear binary problem with label noise, SageMaker CSV (label first, no header)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in {"train": rows, "validation": rows // 4}.items():
        X = rng.normal(size=(n, features)).astype(np.float32)
        logit = X[:, 0] - 2 * X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3]) + 0.5 * X[:, 4:8].sum(1)
        y = (logit + rng.normal(scale=1.0, size=n) > 0).astype(np.float32)
        out[name] = str(root / f"{name}.csv")
        np.savetxt(out[name], np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    return out


ARMS = {"Random": ("Random", "Off"), "Bayesian+ES": ("Bayesian", "Auto"), "Bayesian": ("Bayesian", "Off")}


def tune_once(arm: str, seed: int, data: dict, p: dict) -> dict:
    strategy, early_stopping = ARMS[arm]
    from mlcore.sagemaker import Estimator
    from mlcore.sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    est = Estimator(algorithm="xgboost", instance_count=1, checkpoint_min_interval_s=1e9,
                    hyperparameters={"num_round": p["num_round"], "objective": "binary:logistic",
                                     "eval_metric": "logloss", "seed": seed})
    ranges = {"eta": ContinuousParameter(0.005, 0.5, "Logarithmic"),
              "max_depth": IntegerParameter(1, 10),
              "min_child_weight": ContinuousParameter(0.1, 50, "Logarithmic"),
              "subsample": ContinuousParameter(0.3, 1.0),
              "lambda": ContinuousParameter(0.01, 50, "Logarithmic")}
    tuner = HyperparameterTuner(est, "validation:logloss", ranges, objective_type="Minimize",
                                max_jobs=p["max_jobs"], max_parallel_jobs=p["parallel"],
                                strategy=strategy, random_seed=seed, early_stopping_type=early_stopping)
    t0 = time.monotonic()
    tuner.fit(data, logs=False)
    wall = time.monotonic() - t0
    df = tuner.analytics().dataframe()
    from mlcore.records import TrainingJobRecord

    trials = []
    for job, status, value in zip(df.TrainingJobName, df.TrainingJobStatus, df.FinalObjectiveValue, strict=True):
        rec = TrainingJobRecord.load(job)
        t = rec.SecondaryStatusTransitions
        trained = (rec.TrainingEndTime - rec.TrainingStartTime) if rec.TrainingStartTime and rec.TrainingEndTime else 0.0
        trials.append({"job": job, "status": status, "value": None if value != value else value,
                       "seconds": round(trained, 3), "job_seconds": round(t[-1]["StartTime"] - t[0]["StartTime"], 3),
                       "train_seconds": rec.Progress.get("train_seconds")})
    return {"strategy": arm, "seed": seed, "wall_s": round(wall, 2), "trials": trials}


def to_target(run: dict, target: float) -> tuple[int, float, bool]:
    """(trials, compute seconds) until the first trial at or below ``target`` (Minimize); a
    run that never gets there counts all its trials and compute, flagged."""
    spent = 0.0
    for i, t in enumerate(run["trials"], 1):
        spent += t["seconds"]
        if t["value"] is not None and t["value"] <= target:
            return i, spent, True
    return len(run["trials"]), spent, False


def overhead(p: dict, secs: float) -> dict:
    """mlcore trials vs bare Ray Tune trials that each sleep ``secs``."""
    import ray
    from ray import tune

    from mlcore.sagemaker import Estimator
    from mlcore.sagemaker.tuner import CategoricalParameter, HyperparameterTuner

    n, par = p["overhead_trials"], p["parallel"]
    minimum = n * secs / par
    out = {"trial_seconds": secs, "trials": n, "parallel": par, "theoretical_min_s": minimum}

    def sleeper(config):
        time.sleep(secs)
        tune.report({"score": config["x"]})

    t0 = time.monotonic()
    tune.Tuner(tune.with_resources(sleeper, {"cpu": 1}), param_space={"x": tune.grid_search(list(range(n)))},
               tune_config=tune.TuneConfig(max_concurrent_trials=par),
               run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0)).fit()
    out["bare_tune_s"] = round(time.monotonic() - t0, 2)
    est = Estimator(entry_point="curve.py", source_dir=str(ROOT / "tests" / "scripts"), instance_count=1,
                    hyperparameters={"epochs": 1, "epoch_seconds": secs},
                    metric_definitions=[{"Name": "score", "Regex": r"objective=([-0-9.]+)"}])
    tuner = HyperparameterTuner(est, "score", {"quality": CategoricalParameter([0.1 * (i + 1) for i in range(n)])},
                                strategy="Grid", max_jobs=n, max_parallel_jobs=par)
    t0, wall0 = time.monotonic(), time.time()
    tuner.fit({"train": str(ROOT / "tests" / "scripts" / "curve.py")}, logs=False)
    out["mlcore_s"] = round(time.monotonic() - t0, 2)
    out["mlcore_phases_s"] = phases(tuner.latest_tuning_job.name, wall0, wall0 + out["mlcore_s"], par)
    for k in ("bare_tune", "mlcore"):
        out[f"{k}_overhead_pct"] = round(100 * (out[f"{k}_s"] - minimum) / minimum, 1)
    out["mlcore_per_trial_overhead_s"] = round((out["mlcore_s"] - minimum) * par / n, 2)
    del ray
    return out


def phases(name: str, start: float, end: float, par: int) -> dict:
    """Where a tuning job's wall time went: before the first training job, each training
    job's statuses (medians), the time between a job's end and the next one's start in the
    same slot, and after the last job (results, plots, the best model logged and registered)."""
    from mlcore.records import TrainingJobRecord, TuningJobRecord

    rec = TuningJobRecord.load(name)
    jobs = [TrainingJobRecord.load(j).SecondaryStatusTransitions for j in rec.TrainingJobs]
    spans = sorted((t[0]["StartTime"], t[-1]["StartTime"]) for t in jobs)
    status: dict[str, list[float]] = {}
    for t in jobs:
        for a, b in zip(t, t[1:], strict=False):
            status.setdefault(a["Status"], []).append(b["StartTime"] - a["StartTime"])
    ends, gaps = sorted(e for _, e in spans[:par]), []  # slot by slot: the earliest free slot
    for s, e in spans[par:]:
        gaps.append(s - ends.pop(0))
        ends = sorted([*ends, e])
    out = {"before_first_job": spans[0][0] - start, "after_last_job": end - max(e for _, e in spans),
           "between_jobs_median": statistics.median(gaps) if gaps else 0.0,
           **{f"job_{k}_median": statistics.median(v) for k, v in status.items()}}
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="{}")
    p = {"rows": 40000, "features": 20, "num_round": 150, "max_jobs": 12, "parallel": 2,
         "seeds": [0, 1, 2, 3, 4], "target_quantile": 10, "trial_seconds": [2.0, 20.0],
         "overhead_trials": 6, **json.loads(ap.parse_args().config)}
    home = tempfile.mkdtemp(prefix="mlcore-tuning-bench-")
    os.environ["MLCORE_HOME"] = home
    os.environ.setdefault("MLCORE_NUM_CPUS", str(os.cpu_count()))
    from mlcore import _session

    _session.ensure_ray(log_to_driver=False)
    data = make_data(Path(home), p["rows"], p["features"], 0)
    runs = []
    for seed in p["seeds"]:  # interleaved: the machine's noise hits both strategies alike
        for arm in ARMS:
            runs.append(tune_once(arm, seed, data, p))
            print(f"seed {seed} {arm}: {runs[-1]['wall_s']} s", file=sys.stderr, flush=True)
    overheads = [overhead(p, secs) for secs in p["trial_seconds"]]
    if not runs:  # seeds: [] measures the overhead only
        print(json.dumps(overheads, indent=2))
        return
    pool = sorted(t["value"] for r in runs if r["strategy"] == "Random" for t in r["trials"] if t["value"] is not None)
    target = pool[max(0, len(pool) // p["target_quantile"] - 1)]
    per = {}
    for r in runs:
        n, secs, hit = to_target(r, target)
        r.update(trials_to_target=n, compute_to_target_s=round(secs, 2), reached=hit)
        per.setdefault(r["strategy"], []).append(r)
    med = {s: {"trials": statistics.median(r["trials_to_target"] for r in rs),
               "compute_s": statistics.median(r["compute_to_target_s"] for r in rs),
               "reached": sum(r["reached"] for r in rs)} for s, rs in per.items()}
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": _versions(), "params": p, "target_validation_logloss": target,
        "median": med,
        "ratio_over_random": {arm: {"trials": round(med[arm]["trials"] / med["Random"]["trials"], 3),
                                    "compute": round(med[arm]["compute_s"] / med["Random"]["compute_s"], 3)}
                              for arm in ARMS if arm != "Random"},
        "overhead": overheads, "runs": runs,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                 cwd=ROOT).stdout.strip(), "note": p.get("note", ""),
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "tuning.json").write_text(json.dumps(result, indent=2))
    (out / "tuning.md").write_text(_markdown(result))
    print(_markdown(result))


def _versions() -> dict:
    import optuna
    import ray
    import xgboost

    return {"ray": ray.__version__, "optuna": optuna.__version__, "xgboost": xgboost.__version__}


def _markdown(r: dict) -> str:
    p, m = r["params"], r["median"]
    lines = [
        "# Tuning benchmark", "",
        f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}; "
        f"ray {r['versions']['ray']}, optuna {r['versions']['optuna']}, xgboost {r['versions']['xgboost']}; "
        f"commit {r['commit']}{r.get('note', '')}. Command: `mlcore run configs/bench/tuning.yaml`.", "",
        f"## Bayesian search + early stopping vs random search, {len(p['seeds'])} seeds", "",
        "Three arms per seed, interleaved: Random; Bayesian+ES (`strategy: Bayesian, "
        "early_stopping_type: Auto`: Optuna's TPE, SageMaker's median stopping rule at every "
        "tenth of the rounds); Bayesian alone (ES off: Optuna's GP sampler), to tell the two "
        "effects apart. Compute: each training job's seconds from its Training status to its "
        "end (a stopped job's until it stopped), summed in start order up to the first job "
        "that reaches the target.", "",
        f"Built-in XGBoost, {p['rows']:,} x {p['features']} generated rows (fixed seed), "
        f"{p['num_round']} rounds, 5 ranges, {p['max_jobs']} training jobs per run, {p['parallel']} "
        f"at a time. Target: validation:logloss <= {r['target_validation_logloss']:.5f}, the value "
        f"1 in {p['target_quantile']} random trials reach.", "",
        "| strategy | median trials to target | median compute s to target | runs reaching it |",
        "|---|---:|---:|---:|",
    ]
    for s in ARMS:
        lines.append(f"| {s} | {m[s]['trials']} | {m[s]['compute_s']:.1f} | {m[s]['reached']}/{len(p['seeds'])} |")
    goal = {"Bayesian+ES": 0.5, "Bayesian": 0.8}
    lines += [""] + [f"Ratio {arm}/Random (medians): trials {v['trials']}, compute {v['compute']} "
                     f"(target: compute <= {goal[arm]})." for arm, v in r["ratio_over_random"].items()] + ["",
              "| seed | strategy | trials to target | compute s | stopped early | wall s |", "|---|---|---:|---:|---:|---:|"]
    for run in r["runs"]:
        stopped = sum(t["status"] == "Stopped" for t in run["trials"])
        lines.append(f"| {run['seed']} | {run['strategy']} | {run['trials_to_target']}{'' if run['reached'] else ' (not reached)'} "
                     f"| {run['compute_to_target_s']:.1f} | {stopped} | {run['wall_s']} |")
    lines += ["", f"## Per-trial overhead: {p['overhead_trials']} trials, {p['parallel']} at a time", "",
              "Each trial's script sleeps the given seconds; the minimum is trials x seconds / parallel. "
              "mlcore's trial is a whole training job (its MLflow child run, a task on a fresh "
              "worker process for the script, the model committed; Tune's actor reused); bare "
              "Ray Tune runs the sleep as a function trainable (its defaults: a new actor per trial).", "",
              "| trial s | minimum s | bare Ray Tune s | overhead | mlcore s | overhead | mlcore s/trial over |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for o in r["overhead"]:
        lines.append(f"| {o['trial_seconds']} | {o['theoretical_min_s']:.1f} | {o['bare_tune_s']} | "
                     f"{o['bare_tune_overhead_pct']}% | {o['mlcore_s']} | {o['mlcore_overhead_pct']}% | "
                     f"{o['mlcore_per_trial_overhead_s']} |")
    keys = list(r["overhead"][0]["mlcore_phases_s"])
    lines += ["", "Where mlcore's time went (seconds; job_* are medians over the jobs, a job's "
              "status to its next; between_jobs: a job's end to the next job's start in its slot):", "",
              "| trial s | mlcore / bare Ray Tune | " + " | ".join(keys) + " |",
              "|---:|---:|" + "---:|" * len(keys)]
    for o in r["overhead"]:
        lines.append(f"| {o['trial_seconds']} | {o['mlcore_s'] / o['bare_tune_s']:.2f} | "
                     + " | ".join(str(o["mlcore_phases_s"].get(k, "")) for k in keys) + " |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
