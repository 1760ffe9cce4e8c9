"""Serving: the same XGBoost model behind a bare uvicorn + FastAPI app, an mlcore endpoint
(with and without dynamic batching) and ``mlflow models serve``.

Each server runs in its own process; the load generator (``benchmarks/serving/loadgen.py``)
in another, sending ``n`` requests of one CSV row (JSON for MLflow, its own format) at 1, 8
and 64 connections. Reported: throughput, p50/p99 latency, and the ratios the targets name.

Run: ``mlcore run configs/bench/serving.yaml``. Results land in benchmarks/results/serving.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} never answered")


def load(url: str, body_file: Path, content_type: str, n: int, concurrency: int,
         headers: dict | None = None) -> dict:
    extra = [a for k, v in (headers or {}).items() for a in ("--header", f"{k}={v}")]
    out = subprocess.run([PY, str(HERE / "serving" / "loadgen.py"), "--url", url, "--body-file",
                          str(body_file), "--content-type", content_type, "-n", str(n), "-c",
                          str(concurrency), *extra], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def raw_load_ms(model_dir: str) -> float:
    """Fetching and loading the artifact in-process: what any server must pay once."""
    from algorithms import _xgboost

    times = []
    for _ in range(5):
        t = time.perf_counter()
        _xgboost.load_model(model_dir)
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[2]


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


def cold_starts(model_dir: str, root: Path, csv: Path, env: dict, warm_n: int) -> dict:
    """Scale from zero, and multi-model cold loads and warm latency, against raw load time."""
    from mlcore import _storage

    body, raw = csv.read_bytes(), raw_load_ms(model_dir)
    out = {"raw_load_ms": round(raw, 2)}
    proc, url = start_mlcore(model_dir, 32, "serverless", env)
    try:
        first = timed_post(url, body, {})
        out["scale_from_zero_first_request_ms"] = round(first, 1)
        out["scale_from_zero_minus_raw_load_ms"] = round(first - raw, 1)
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


def stop(proc: subprocess.Popen) -> None:
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=30)


def run_arm(name: str, cmd: list[str], ready_url: str, url: str, body: Path, ctype: str,
            levels: dict[int, int], env: dict, ready_line: bool = False) -> dict:
    print(f"[{name}] starting", flush=True)
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE if ready_line
                            else subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        if ready_line:
            assert proc.stdout.readline().strip() == "ready", f"{name} did not start"
        wait_http(ready_url, proc)
        out = {}
        for c, n in levels.items():
            out[c] = load(url, body, ctype, n, c)
            print(f"[{name}] c={c}: {out[c]}", flush=True)
        return out
    finally:
        stop(proc)


def train_mlp(root: Path, features: int) -> str:
    """The vectorised model (benchmarks/serving/models.py), committed like any artifact."""
    sys.path.insert(0, str(HERE / "serving"))
    import models

    from mlcore import _storage

    staging = root / "mlp-staging"
    staging.mkdir()
    models.save_mlp(models.build_mlp(features), str(staging))
    return _storage.commit_dir(str(staging), str(root / "mlp"))


def main(cfg: dict) -> None:
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
        # The machine's speed drifts by tens of percent within minutes: every arm runs once per
        # round, and each ratio is taken within a round, then the median over rounds.
        runs = [one_round(model_dir, mlp_dir, csv, js, levels, env, mlflow_cmd, menv)
                for _ in range(cfg["repeat"])]
        cold = cold_starts(model_dir, root, csv, env, levels[1])
    report(runs, cfg, cold)


def one_round(model_dir: str, mlp_dir: str, csv: Path, js: Path, levels: dict, env: dict,
              mlflow_cmd: list[str], menv: dict) -> dict:
    results = {}

    def bare(label: str, model: str, how: str, lv: dict) -> None:
        port = free_port()
        results[label] = run_arm(
            label, [PY, str(HERE / "serving" / "bare_app.py"), model, str(port), how],
            f"http://127.0.0.1:{port}/ping", f"http://127.0.0.1:{port}/invocations", csv,
            "text/csv", lv, env)

    def mlcore(label: str, model: str, batch: str, lv: dict, **extra: str) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}/endpoints/bench"
        results[label] = run_arm(
            label, [PY, str(HERE / "serving" / "serve_mlcore.py"), model, str(port), batch],
            f"{base}/ping", f"{base}/invocations", csv, "text/csv", lv, {**env, **extra},
            ready_line=True)

    bare("bare FastAPI", model_dir, "loop", levels)
    mlcore("mlcore", model_dir, "32", levels)
    mlcore("mlcore, Serve proxy ingress", model_dir, "32", levels, MLCORE_SERVE_INGRESS="proxy")
    port = free_port()
    results["mlflow models serve"] = run_arm(
        "mlflow", [*mlflow_cmd, "-p", str(port)], f"http://127.0.0.1:{port}/ping",
        f"http://127.0.0.1:{port}/invocations", js, "application/json",
        {c: n for c, n in levels.items() if c <= 8}, menv)
    # Dynamic batching on the vectorised MLP, against both ways of writing the bare app.
    mlp_levels = {c: n for c, n in levels.items() if c >= 8}
    bare("MLP: bare FastAPI, predict in the event loop", mlp_dir, "loop", mlp_levels)
    bare("MLP: bare FastAPI, predict in the thread pool", mlp_dir, "threads", mlp_levels)
    mlcore("MLP: mlcore, batching on (32 rows, 2 ms: the default)", mlp_dir, "32", mlp_levels)
    mlcore("MLP: mlcore, batching on (32 rows, 10 ms: Ray Serve's default wait)", mlp_dir,
           "32:10", mlp_levels)
    mlcore("MLP: mlcore, batching off", mlp_dir, "1", mlp_levels)
    return results


def ratios_of(results: dict) -> dict:
    """The named ratios, within one round."""
    bare, ml, px, mf = (results[k] for k in ("bare FastAPI", "mlcore", "mlcore, Serve proxy ingress",
                                             "mlflow models serve"))
    mlp_bare = {c: max(results[k][c]["rps"] for k in results if k.startswith("MLP: bare"))
                for c in (8, 64)}
    mlp_on = results["MLP: mlcore, batching on (32 rows, 2 ms: the default)"]
    mlp_10 = results["MLP: mlcore, batching on (32 rows, 10 ms: Ray Serve's default wait)"]
    mlp_off = results["MLP: mlcore, batching off"]
    return {
        "throughput at 8 connections, mlcore / bare FastAPI (target >= 0.5)":
            ml[8]["rps"] / bare[8]["rps"],
        "p50 at 1 connection, mlcore - bare FastAPI, ms (target <= +2)":
            ml[1]["p50_ms"] - bare[1]["p50_ms"],
        "throughput at 8 connections, mlcore / mlflow models serve (target >= 2)":
            ml[8]["rps"] / mf[8]["rps"],
        "MLP, 64 connections: mlcore batched (2 ms wait) / the better bare FastAPI (target >= 1.5)":
            mlp_on[64]["rps"] / mlp_bare[64],
        "MLP, 64 connections: mlcore batched (10 ms wait) / the better bare FastAPI (target >= 1.5)":
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


def report(runs: list[dict], cfg: dict, cold: dict) -> None:
    per_round = [ratios_of(r) for r in runs]
    ratios = {k: {"median": round(statistics.median(r[k] for r in per_round), 3),
                  "min": round(min(r[k] for r in per_round), 3),
                  "max": round(max(r[k] for r in per_round), 3)} for k in per_round[0]}
    for k, key in (("multi-model warm p50 / single-model warm p50, 1 connection (target <= 1.2)",
                    "mme_warm_p50_over_single"),
                   ("multi-model cold first request minus raw model load, ms", "mme_cold_minus_raw_load_ms"),
                   ("scale-from-zero first request minus raw model load, ms",
                    "scale_from_zero_minus_raw_load_ms")):
        ratios[k] = {"median": cold[key], "min": cold[key], "max": cold[key]}
    # The table: per arm and level, the round with the median throughput.
    results = {name: {c: sorted((r[name][c] for r in runs), key=lambda x: x["rps"])[len(runs) // 2]
                      for c in runs[0][name]} for name in runs[0]}
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "config": cfg, "rounds": runs, "cold_starts": cold, "ratios": ratios,
           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    dest = ROOT / "benchmarks" / "results"
    (dest / "serving.json").write_text(json.dumps(out, indent=1))
    lines = [f"# Serving benchmark ({os.cpu_count()} CPUs, {out['when']})", "",
             "One CSV row per request (JSON for MLflow). XGBoost: "
             f"{cfg['rounds']} trees of depth 6, {cfg['features']} features. MLP: "
             f"{cfg['features']} -> 2048 x 3 -> 1 in PyTorch. mlcore uses its default ingress "
             "(HAProxy) unless the arm names the Serve proxy; server and load generator share "
             "the machine.", "",
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
    cfg = {"features": 30, "rounds": 100, "repeat": 3, "requests": {"1": 1000, "8": 3000, "64": 4000},
           **json.loads(p.parse_args().config)}
    main(cfg)
