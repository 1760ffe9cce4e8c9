"""Serving: the same XGBoost model behind a bare uvicorn + FastAPI app, an mlcore endpoint
and ``mlflow models serve``; dynamic batching on a vectorised MLP; cold starts.

Each server runs in its own process; the load generator (``benchmarks/serving/loadgen.py``)
in another, sending ``n`` requests of one CSV row (JSON for MLflow, its own format) at 1, 8
and 64 connections. The servers of a group run side by side, measured in short interleaved
segments (``benchmarks/serving/arms.py``). Reported: throughput, p50/p99 latency, and the
ratios the targets name.

Run: ``mlcore run configs/bench/serving.yaml``. Results land in benchmarks/results/serving.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

HERE = Path(__file__).parent
ROOT = HERE.parent
PY = sys.executable
sys.path.insert(0, str(HERE / "serving"))
from arms import Server, load, measure, stop  # noqa: E402

# The MLP's batching arms: the default (serving._batch: the wait adapts to the arrivals) and
# two that wait up to a fixed time for as many requests as the replica held lately.
MLP_DEFAULT = "MLP: mlcore, batching on (the default: 32 rows, adaptive wait up to 10 ms)"
MLP_2MS = "MLP: mlcore, batching on (32 rows, 2 ms wait: the old default's)"
MLP_10MS = "MLP: mlcore, batching on (32 rows, 10 ms wait: Ray Serve's default)"


def free_port() -> int:
    """A free port between Ray's worker ports (10002-19999) and the kernel's ephemeral range
    (and Serve's replica ports, 30000 up): a group's ports are taken before its servers start,
    one after another, and a starting Ray's many port-0 servers must not take them meanwhile."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 20000-29999")


def train(root: Path, features: int, rounds: int) -> tuple[str, np.ndarray, object]:
    """A committed XGBoost artifact (the built-in's format) and one feature row."""
    import xgboost as xgb

    from mlcore import _storage

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, features)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=5000) > 0).astype(np.float32)
    booster = xgb.train({"max_depth": 6, "eta": 0.1, "objective": "binary:logistic", "seed": 0},
                        xgb.DMatrix(X, y), num_boost_round=rounds)
    staging = root / "staging"
    staging.mkdir()
    booster.save_model(str(staging / "model.json"))
    (staging / "model.json").rename(staging / "xgboost-model")
    return _storage.commit_dir(str(staging), str(root / "model")), X[:1], booster


def raw_load_ms(model_dir: str) -> float:
    """Fetching and loading the artifact in-process: what any server must pay once."""
    from algorithms import _xgboost

    times = []
    for _ in range(5):
        t = time.perf_counter()
        _xgboost.load_model(model_dir)
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[2]


def fresh_load_ms(model_dir: str, env: dict) -> float:
    """Importing XGBoost and loading the artifact in a fresh interpreter, the median of 3: what
    a new replica pays for the model itself (xgboost imports scikit-learn and SciPy)."""
    code = ("import sys, time; t = time.perf_counter(); from algorithms import _xgboost; "
            "_xgboost.load_model(sys.argv[1]); print((time.perf_counter() - t) * 1000)")
    return statistics.median(float(subprocess.run([PY, "-c", code, model_dir], env=env, check=True,
                                                  capture_output=True, text=True).stdout)
                             for _ in range(3))


def start_mlcore(model_dir: str, batch: int, mode: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([PY, str(HERE / "serving" / "serve_mlcore.py"), model_dir, str(port),
                             str(batch), mode], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "ready", f"{mode} did not start"
    return proc, f"http://127.0.0.1:{port}/endpoints/bench/invocations"


def timed_post(url: str, body: bytes, headers: dict) -> float:
    t = time.perf_counter()
    r = requests.post(url, data=body, headers={"Content-Type": "text/csv", **headers}, timeout=300)
    assert r.status_code == 200, r.text
    return (time.perf_counter() - t) * 1000


def cold_starts(model_dir: str, root: Path, csv: Path, env: dict, warm_n: int,
                wakes_n: int) -> dict:
    """Scale from zero (the median of ``wakes_n`` first requests, each from zero replicas),
    and multi-model cold loads and warm latency, against raw load time."""
    from mlcore import _storage

    body, raw = csv.read_bytes(), raw_load_ms(model_dir)
    out = {"raw_load_ms": round(raw, 2)}
    # Idle 2 s: the endpoint is back at zero replicas within seconds, to be woken again.
    proc, url = start_mlcore(model_dir, 32, "serverless", {**env, "MLCORE_SERVERLESS_IDLE_S": "2"})
    try:
        wakes = []
        for _ in range(wakes_n):
            proc.stdin.write("zero?\n")  # answered once no replica runs
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "zero"
            wakes.append(round(timed_post(url, body, {}), 1))
        first = statistics.median(wakes)
        out["scale_from_zero_first_request_ms_each"] = wakes
        out["scale_from_zero_first_request_ms"] = first
        out["scale_from_zero_minus_raw_load_ms"] = round(first - raw, 1)
        out["fresh_process_load_ms"] = round(fresh_load_ms(model_dir, env), 1)
        out["scale_from_zero_minus_fresh_load_ms"] = round(first - out["fresh_process_load_ms"], 1)
    finally:
        stop(proc)
    prefix = root / "mme"
    for i in range(12):
        with tempfile.TemporaryDirectory() as tmp:
            _storage.commit_dir(_storage.fetch_committed(model_dir, tmp), str(prefix / f"m{i:02d}"))
    proc, url = start_mlcore(model_dir, 32, f"mme:{prefix}", env)
    try:
        cold = [timed_post(url, body, {"X-Amzn-SageMaker-Target-Model": f"m{i:02d}",
                                       "serve-multiplexed-model-id": f"m{i:02d}"}) for i in range(1, 12)]
        out["mme_cold_first_request_ms_median"] = round(sorted(cold)[len(cold) // 2], 1)
        out["mme_cold_minus_raw_load_ms"] = round(sorted(cold)[len(cold) // 2] - raw, 1)
        out["mme_warm"] = load(url, csv, "text/csv", warm_n, 1, {
            "X-Amzn-SageMaker-Target-Model": "m01", "serve-multiplexed-model-id": "m01"})
    finally:
        stop(proc)
    proc, url = start_mlcore(model_dir, 32, "plain", env)
    try:
        out["single_warm"] = load(url, csv, "text/csv", warm_n, 1)
    finally:
        stop(proc)
    out["mme_warm_p50_over_single"] = round(out["mme_warm"]["p50_ms"] / out["single_warm"]["p50_ms"], 3)
    print(f"[cold starts] {out}", flush=True)
    return out


def train_mlp(root: Path, features: int) -> str:
    """The vectorised model (benchmarks/serving/models.py), committed like any artifact."""
    import models

    from mlcore import _storage

    staging = root / "mlp-staging"
    staging.mkdir()
    models.save_mlp(models.build_mlp(features), str(staging))
    return _storage.commit_dir(str(staging), str(root / "mlp"))


def main(cfg: dict) -> None:
    load_start = round(os.getloadavg()[0], 2)
    levels = {int(k): int(v) for k, v in cfg["requests"].items()}
    with tempfile.TemporaryDirectory(prefix="mlcore-bench-serving-") as tmp:
        root = Path(tmp)
        os.environ["MLCORE_HOME"] = str(root / "home")
        model_dir, row, booster = train(root, cfg["features"], cfg["rounds"])
        mlp_dir = train_mlp(root, cfg["features"])
        csv = root / "row.csv"
        csv.write_text(",".join(f"{v:.6g}" for v in row[0]))
        js = root / "row.json"
        js.write_text(json.dumps({"inputs": row.tolist()}))
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{HERE / 'serving'}:{os.environ.get('PYTHONPATH', '')}"}
        env.pop("MLCORE_SERVE_INGRESS", None)  # the default ingress, unless an arm names one
        # mlflow models serve on the same booster, logged as an MLflow xgboost model.
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        with mlflow.start_run() as run:
            mlflow.xgboost.log_model(booster, name="model")
        menv = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
                "PATH": f"{Path(PY).parent}:{env.get('PATH', '')}"}  # it starts `uvicorn`
        mlflow_cmd = [str(Path(PY).parent / "mlflow"), "models", "serve", "-m",
                      f"runs:/{run.info.run_id}/model", "--env-manager", "local", "-h", "127.0.0.1"]
        # The machine's speed drifts by tens of percent within minutes: every arm runs in each
        # round, interleaved with its group's, and each ratio is taken within a round, then
        # the median over rounds.
        runs = [one_round(model_dir, mlp_dir, csv, js, levels, env, mlflow_cmd, menv,
                          cfg["segments"]) for _ in range(cfg["repeat"])]
        cold = cold_starts(model_dir, root, csv, env, levels[1], cfg["repeat"])
    report(runs, cfg, cold, load_start)


def one_round(model_dir: str, mlp_dir: str, csv: Path, js: Path, levels: dict, env: dict,
              mlflow_cmd: list[str], menv: dict, segments: int) -> dict:
    def bare(label: str, model: str, how: str) -> Server:
        port = free_port()
        return Server(label, [PY, str(HERE / "serving" / "bare_app.py"), model, str(port), how],
                      f"http://127.0.0.1:{port}/ping", f"http://127.0.0.1:{port}/invocations",
                      csv, "text/csv", levels, env)

    def mlcore(label: str, model: str, batch: str, **extra: str) -> Server:
        port = free_port()
        base = f"http://127.0.0.1:{port}/endpoints/bench"
        return Server(label, [PY, str(HERE / "serving" / "serve_mlcore.py"), model, str(port), batch],
                      f"{base}/ping", f"{base}/invocations", csv, "text/csv", levels,
                      {**env, **extra}, ready_line=True)

    port = free_port()
    mlflow = Server("mlflow models serve", [*mlflow_cmd, "-p", str(port)],
                    f"http://127.0.0.1:{port}/ping", f"http://127.0.0.1:{port}/invocations", js,
                    "application/json", {c: n for c, n in levels.items() if c <= 8}, menv)
    results = measure([bare("bare FastAPI", model_dir, "loop"), mlcore("mlcore", model_dir, "32"),
                       mlcore("mlcore, Serve proxy ingress", model_dir, "32",
                              MLCORE_SERVE_INGRESS="proxy"), mlflow], segments)
    # Dynamic batching on the vectorised MLP, against both ways of writing the bare app.
    results.update(measure([
        bare("MLP: bare FastAPI, predict in the event loop", mlp_dir, "loop"),
        bare("MLP: bare FastAPI, predict in the thread pool", mlp_dir, "threads"),
        mlcore(MLP_DEFAULT, mlp_dir, "32"), mlcore(MLP_2MS, mlp_dir, "32:2:2"),
        mlcore(MLP_10MS, mlp_dir, "32:10:10"), mlcore("MLP: mlcore, batching off", mlp_dir, "1")],
        segments))
    return results


def ratios_of(results: dict) -> dict:
    """The named ratios, within one round."""
    bare, ml, px, mf = (results[k] for k in ("bare FastAPI", "mlcore", "mlcore, Serve proxy ingress",
                                             "mlflow models serve"))
    mlp_bares = [results[k] for k in results if k.startswith("MLP: bare")]
    mlp_bare = {c: max(b[c]["rps"] for b in mlp_bares) for c in (8, 64)}
    mlp_bare_p50 = min(b[1]["p50_ms"] for b in mlp_bares)
    mlp_def, mlp_on, mlp_10 = results[MLP_DEFAULT], results[MLP_2MS], results[MLP_10MS]
    mlp_off = results["MLP: mlcore, batching off"]
    return {
        "throughput at 8 connections, mlcore / bare FastAPI (target >= 0.5)":
            ml[8]["rps"] / bare[8]["rps"],
        "p50 at 1 connection, mlcore - bare FastAPI, ms (target <= +2)":
            ml[1]["p50_ms"] - bare[1]["p50_ms"],
        "throughput at 8 connections, mlcore / mlflow models serve (target >= 2)":
            ml[8]["rps"] / mf[8]["rps"],
        "MLP, 64 connections: mlcore batched (the default) / the better bare FastAPI (target >= 1.5)":
            mlp_def[64]["rps"] / mlp_bare[64],
        "MLP, 8 connections: mlcore batched (the default) / the better bare FastAPI":
            mlp_def[8]["rps"] / mlp_bare[8],
        "MLP, p50 at 1 connection, mlcore batched (the default) - the better bare FastAPI, ms (target <= +2)":
            mlp_def[1]["p50_ms"] - mlp_bare_p50,
        "MLP, 64 connections: mlcore batched (the default) / mlcore unbatched":
            mlp_def[64]["rps"] / mlp_off[64]["rps"],
        "MLP, 64 connections: mlcore batched (2 ms wait) / the better bare FastAPI":
            mlp_on[64]["rps"] / mlp_bare[64],
        "MLP, 64 connections: mlcore batched (10 ms wait) / the better bare FastAPI":
            mlp_10[64]["rps"] / mlp_bare[64],
        "MLP, 8 connections: mlcore batched (2 ms wait) / the better bare FastAPI":
            mlp_on[8]["rps"] / mlp_bare[8],
        "MLP, 8 connections: mlcore batched (10 ms wait) / the better bare FastAPI":
            mlp_10[8]["rps"] / mlp_bare[8],
        "MLP, 64 connections: mlcore batched (2 ms wait) / mlcore unbatched":
            mlp_on[64]["rps"] / mlp_off[64]["rps"],
        "XGBoost, 64 connections: mlcore batched / bare FastAPI":
            ml[64]["rps"] / bare[64]["rps"],
        "Serve proxy ingress: throughput at 8 connections, mlcore / bare FastAPI":
            px[8]["rps"] / bare[8]["rps"],
        "Serve proxy ingress: p50 at 1 connection, mlcore - bare FastAPI, ms":
            px[1]["p50_ms"] - bare[1]["p50_ms"],
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # xgboost-cpu: the CPU-only build
        return version(f"{package}-cpu")


def report(runs: list[dict], cfg: dict, cold: dict, load_start: float) -> None:
    per_round = [ratios_of(r) for r in runs]
    ratios = {k: {"median": round(statistics.median(r[k] for r in per_round), 3),
                  "min": round(min(r[k] for r in per_round), 3),
                  "max": round(max(r[k] for r in per_round), 3)} for k in per_round[0]}
    for k, key in (("multi-model warm p50 / single-model warm p50, 1 connection (target <= 1.2)",
                    "mme_warm_p50_over_single"),
                   ("multi-model cold first request minus raw model load, ms", "mme_cold_minus_raw_load_ms"),
                   ("scale-from-zero first request minus raw model load, ms (median of "
                    f"{len(cold['scale_from_zero_first_request_ms_each'])} wakes; target <= 3000)",
                    "scale_from_zero_minus_raw_load_ms"),
                   ("scale-from-zero first request minus importing XGBoost and loading the model "
                    "in a fresh process, ms", "scale_from_zero_minus_fresh_load_ms")):
        ratios[k] = {"median": cold[key], "min": cold[key], "max": cold[key]}
    # The table: per arm and level, the round with the median throughput.
    results = {name: {c: sorted((r[name][c] for r in runs), key=lambda x: x["rps"])[len(runs) // 2]
                      for c in runs[0][name]} for name in runs[0]}
    versions = {p: _version(p) for p in ("ray", "mlflow", "xgboost", "torch", "fastapi", "uvicorn")}
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       # other work on the machine: the 1-minute load average, start and end
                       "load_average": [load_start, round(os.getloadavg()[0], 2)]},
           "versions": versions, "command": "mlcore run configs/bench/serving.yaml",
           "config": cfg, "rounds": runs,
           "cold_starts": cold, "ratios": ratios, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    dest = ROOT / "benchmarks" / "results"
    (dest / "serving.json").write_text(json.dumps(out, indent=1))
    lines = [f"# Serving benchmark ({os.cpu_count()} CPUs, {out['when']})", "",
             "One CSV row per request (JSON for MLflow). XGBoost: "
             f"{cfg['rounds']} trees of depth 6, {cfg['features']} features. MLP: "
             f"{cfg['features']} -> 2048 x 3 -> 1 in PyTorch. mlcore uses its default ingress "
             "(HAProxy) unless the arm names the Serve proxy; server and load generator share "
             "the machine.", "",
             f"Command: `{out['command']}`; " + ", ".join(f"{p} {v}" for p, v in versions.items())
             + f"; Python {out['machine']['python']}. The machine's 1-minute load average (other "
             f"work on it): {out['machine']['load_average'][0]} at the start, "
             f"{out['machine']['load_average'][1]} at the end.", "",
             f"Each arm ran once in each of {len(runs)} rounds; the table shows the round with the "
             "median throughput.", "",
             "| server | connections | requests | req/s | p50 ms | p99 ms | errors |",
             "|---|---|---|---|---|---|---|"]
    for name, arm in results.items():
        for c, r in arm.items():
            lines.append(f"| {name} | {c} | {r['requests']} | {r['rps']} | {r['p50_ms']} | "
                         f"{r['p99_ms']} | {r['errors']} |")
    lines += ["", f"| ratio (within each of {len(runs)} rounds) | median | min | max |",
              "|---|---|---|---|"]
    lines += [f"| {k} | {v['median']} | {v['min']} | {v['max']} |" for k, v in ratios.items()]
    (dest / "serving.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="{}")
    cfg = {"features": 30, "rounds": 100, "repeat": 3, "segments": 4,
           "requests": {"1": 1000, "8": 3000, "64": 4000}, **json.loads(p.parse_args().config)}
    main(cfg)
