"""mlcore's batch transform vs the loops a user would write instead: same model, same files.

Three arms score the same generated CSV files (fixed seed; one big file and several smaller
ones) with the same XGBoost model (trained once with bare xgboost, saved as SageMaker's
``xgboost-model`` in a ``model.tar.gz``), interleaved, order rotating, several repetitions:
* mlcore: ``transform.run(TransformJob(...))`` on the benchmark's Ray (2 CPUs, ml.m5.large:
  two scoring actors of 1 CPU each);
* pandas: one process, ``pd.read_csv(chunksize=...)`` -> ``booster.predict(xgb.DMatrix(chunk))``
  -> one prediction per line (``Series.to_csv``), timed after its imports;
* Ray Data by hand: ``ray.data.read_csv(files)`` -> ``map_batches(<class loading the booster
  once>)`` on an actor pool -> ``write_csv``, in the same Ray as mlcore's arm, with the
  resource settings ray#44687 needs on 2 CPUs (see ``ray_data_arm``).
Every arm's output is checked to hold the same predictions (row count and values; per file
and in order for mlcore and pandas, as one sorted column for Ray Data, whose output files
follow no input order). Then mlcore alone on the input repeated 4x and 16x (hard links of the
same files), with the peak resident memory of its job sampled in a thread: the summed RSS of
the driver and every Ray worker process of this Ray session (this process's descendants), minus
the idle baseline before the job and as is. Last, one shard scored in-process by
``serving._transform.Scorer``, timed per request (read, parse, predict, render, write) and
under cProfile, so that a miss can be explained.

Run: ``mlcore run configs/bench/transform.yaml``.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import hashlib
import inspect
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
# Python puts this folder first on sys.path, where benchmarks/serving/ (a folder of scripts)
# would shadow the project's own ``serving`` package as an empty namespace package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.resolve()]
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# -- data and model ---------------------------------------------------------------------------

def _features(rng, n: int, d: int) -> np.ndarray:
    return rng.normal(size=(n, d)).astype(np.float32)


def _label(X: np.ndarray, rng) -> np.ndarray:
    logit = X[:, 0] - 2 * X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3]) + 0.5 * X[:, 4:8].sum(1)
    return (logit + rng.normal(scale=1.0, size=len(X)) > 0).astype(np.float32)


def make_inputs(folder: Path, files: dict[str, int], features: int, seed: int) -> list[Path]:
    """Headerless CSV files of float32 features (no label), as a transform's input."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name, rows in files.items():
        X = _features(rng, rows, features)
        table = pa.table({f"f{j}": X[:, j] for j in range(features)})
        path = folder / name
        pcsv.write_csv(table, path, pcsv.WriteOptions(include_header=False))
        paths.append(path)
    return paths


def repeat_inputs(src: list[Path], folder: Path, times: int) -> list[Path]:
    """The 1x files ``times`` times over, as hard links (no extra disk, same bytes)."""
    folder.mkdir(parents=True)
    out = []
    for k in range(times):
        for p in src:
            dest = folder / f"r{k:02d}-{p.name}"
            os.link(p, dest)
            out.append(dest)
    return out


def make_model(root: Path, p: dict) -> tuple[Path, Path]:
    """Bare xgboost, trained once; SageMaker's artifact: ``xgboost-model`` in ``model.tar.gz``."""
    import xgboost as xgb

    rng = np.random.default_rng(p["seed"] + 1)
    X = _features(rng, p["train_rows"], p["features"])
    y = _label(X, rng)
    params = {"objective": "binary:logistic", "max_depth": p["max_depth"], "eta": p["eta"],
              "tree_method": "hist", "seed": 0, "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), p["num_round"])
    folder = root / "model"
    folder.mkdir()
    model_file = folder / "xgboost-model"
    model_file.write_bytes(booster.save_raw("ubj"))
    tarball = root / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(model_file, arcname="xgboost-model")
    return model_file, tarball


# -- memory sampling and phase watching -------------------------------------------------------

class Sampler(threading.Thread):
    """Every ``interval`` s: the summed RSS of this process (the driver) and of every Ray
    worker process of this Ray session (this process's descendants whose command line is a
    Ray worker's: actors, tasks, idle pooled workers), Ray's own daemons (GCS, raylet,
    dashboard and runtime-env agents) counted apart; optionally the first
    times files of given suffixes appear under a folder (the job's phases)."""

    def __init__(self, interval: float, watch: Path | None = None, exclude: set[int] | None = None):
        super().__init__(daemon=True)
        import psutil

        self.psutil, self.me = psutil, psutil.Process()
        self.interval, self.watch, self.exclude = interval, watch, exclude or set()
        self.samples: list[tuple[float, float, float, float, float]] = []
        self.seen: dict[str, float] = {}
        self.outs: dict[str, float] = {}
        self._kinds: dict[int, str] = {}
        self._halt = threading.Event()
        self.t0 = time.perf_counter()

    def _kind(self, proc) -> str:
        kind = self._kinds.get(proc.pid)
        if kind is None:
            try:
                cmd = " ".join(proc.cmdline())
            except self.psutil.Error:
                return "gone"
            agent = cmd.startswith(("ray::DashboardAgent", "ray::RuntimeEnvAgent"))  # Ray's own
            kind = ("worker" if ("default_worker.py" in cmd or cmd.startswith("ray::")) and not agent
                    else "daemon")
            self._kinds[proc.pid] = kind
        return kind

    def sample(self) -> tuple[float, float, float, float]:
        """(driver+workers RSS, same without file-backed/shared pages, daemons RSS, workers)"""
        mi = self.me.memory_info()
        rss, anon, daemons, workers = mi.rss, mi.rss - mi.shared, 0, 0
        for child in self.me.children(recursive=True):
            if child.pid in self.exclude:
                continue
            try:
                kind = self._kind(child)
                m = child.memory_info()
            except self.psutil.Error:
                continue
            if kind == "worker":
                rss, anon, workers = rss + m.rss, anon + m.rss - m.shared, workers + 1
            elif kind == "daemon":
                daemons += m.rss
        mb = 1024 * 1024
        return rss / mb, anon / mb, daemons / mb, workers

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.perf_counter() - self.t0
            self.samples.append((now, *self.sample()))
            if self.watch is not None:
                self._look(now)
            self._halt.wait(self.interval)

    def _look(self, now: float) -> None:
        for folder, _, names in os.walk(self.watch):
            for name in names:
                for tag, test in (("part_started", lambda n: ".part.tmp-" in n),
                                  ("shard_done", lambda n: n.endswith(".summary.json")),
                                  ("file_committed", lambda n: n.endswith(".out")),
                                  ("output_file", lambda n: n.endswith(".csv"))):
                    if test(name) and tag not in self.seen:
                        self.seen[tag] = now
                if name.endswith(".out") and name not in self.outs:
                    self.outs[os.path.join(folder, name)] = now

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _lingering(me, psutil) -> int:
    """Scoring or map actors of an earlier dataset still alive (they exit a few seconds after
    their job has returned)."""
    n = 0
    for child in me.children(recursive=True):
        try:
            n += child.cmdline()[0].startswith("ray::MapWorker")
        except (psutil.Error, IndexError):
            pass
    return n


def baseline(seconds: float = 1.0, settle_s: float = 20.0) -> dict:
    """The idle figure before a job: once the actors of the job before have exited (at most
    ``settle_s``), the median of samples over ``seconds``."""
    s = Sampler(0.1)
    end = time.perf_counter() + settle_s
    while time.perf_counter() < end and _lingering(s.me, s.psutil):
        time.sleep(0.2)
    vals = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        vals.append(s.sample())
        time.sleep(0.1)
    return {"rss_mb": statistics.median(v[0] for v in vals),
            "anon_mb": statistics.median(v[1] for v in vals),
            "workers": max(v[3] for v in vals)}


def _memory(sampler: Sampler, base: dict) -> dict:
    peak = max(sampler.samples, key=lambda v: v[1])
    return {"peak_rss_mb": round(peak[1], 1), "baseline_rss_mb": round(base["rss_mb"], 1),
            "peak_minus_baseline_mb": round(peak[1] - base["rss_mb"], 1),
            "peak_anon_mb": round(max(v[2] for v in sampler.samples), 1),
            "peak_anon_minus_baseline_mb": round(max(v[2] for v in sampler.samples)
                                                 - base["anon_mb"], 1),
            "peak_ray_daemons_mb": round(max(v[3] for v in sampler.samples), 1),
            "max_workers": max(v[4] for v in sampler.samples), "samples": len(sampler.samples)}


# -- the arms ---------------------------------------------------------------------------------

def mlcore_arm(data: Path, tarball: Path, out: Path, p: dict) -> dict:
    from mlcore.services import transform
    from mlcore.specs import TransformJob

    said: list[tuple[float, str]] = []
    base = baseline()
    sampler = Sampler(p["sample_interval_s"], watch=out)
    spec = TransformJob(model={"model_data": str(tarball), "algorithm": "xgboost"}, data=str(data),
                        content_type="text/csv", split_type="Line", accept="text/csv",
                        assemble_with="Line", output_path=str(out),
                        instance_type=p["instance_type"], max_payload=p["max_payload_mb"])
    sampler.start()
    t0 = time.perf_counter()
    rec = transform.run(spec, logs=True, say=lambda line: said.append((time.perf_counter() - t0, line)))
    seconds = time.perf_counter() - t0
    sampler.stop()
    if str(rec.status) != "Completed":
        raise RuntimeError(f"mlcore transform ended {rec.status}: {rec.FailureReason}")
    offset = sampler.t0 - t0  # sampler times are from its own start
    seen = {k: round(v + offset, 3) for k, v in sampler.seen.items() if k != "output_file"}
    planned = next((t for t, line in said if "shard" in line), None)
    outs = sorted(v + offset for v in sampler.outs.values())
    phases = {"planned_s": round(planned, 3) if planned is not None else None,
              "first_shard_started_s": seen.get("part_started"),
              "first_shard_done_s": seen.get("shard_done"),
              "first_file_committed_s": seen.get("file_committed"),
              "last_file_committed_seen_s": round(outs[-1], 3) if outs else None,
              "returned_s": round(seconds, 3)}
    rows = rec.Progress["records"]
    started = phases["first_shard_started_s"]
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds,
            "scoring_rows_per_s": (rows / (seconds - started)) if started else None,
            "phases": phases, "phase_timings": rec.PhaseTimings, "progress": rec.Progress,
            "name": rec.TransformJobName, "said": [f"{t:.2f}s {line}" for t, line in said
                                                   if line.strip()][:12],
            "memory": _memory(sampler, base)}


PANDAS = r'''
import json, sys, time
import numpy as np, pandas as pd, xgboost as xgb
cfg = json.loads(sys.argv[1])
t0 = time.perf_counter()  # after imports: the other arms run in a warm process
booster = xgb.Booster()
booster.load_model(cfg["model"])
rows = 0
for src, dest in cfg["files"]:
    with open(dest, "w") as out:
        for chunk in pd.read_csv(src, header=None, chunksize=cfg["chunksize"], dtype=np.float32):
            preds = booster.predict(xgb.DMatrix(chunk))
            pd.Series(preds).to_csv(out, header=False, index=False)
            rows += len(chunk)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": rows}))
'''


def pandas_arm(files: list[Path], model_file: Path, out: Path, p: dict) -> dict:
    out.mkdir(parents=True)
    cfg = {"model": str(model_file), "chunksize": p["pandas_chunksize"],
           "files": [(str(f), str(out / f"{f.name}.out")) for f in files]}
    base = baseline()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", PANDAS, json.dumps(cfg)], stdout=subprocess.PIPE,
                            text=True)
    import psutil

    child, peak = psutil.Process(proc.pid), 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss / 1024 / 1024)
        except psutil.Error:
            pass
        time.sleep(p["sample_interval_s"])
    stdout = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError("pandas arm failed")
    res = json.loads(stdout.strip().splitlines()[-1])
    return {"seconds": res["seconds"], "wall_s": time.perf_counter() - t0, "rows": res["rows"],
            "rows_per_s": res["rows"] / res["seconds"],
            "memory": {"peak_rss_mb": round(peak, 1), "driver_baseline_rss_mb": round(base["rss_mb"], 1)}}


class Predictor:
    """The callable class a Ray Data user writes: the booster loaded once per actor."""

    def __init__(self, model_file: str, columns: list[str]):
        import xgboost as xgb

        self.booster = xgb.Booster()
        self.booster.load_model(model_file)
        self.columns = columns

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        X = np.column_stack([batch[c] for c in self.columns])
        return {"prediction": self.booster.inplace_predict(X)}


def ray_data_arm(files: list[Path], model_file: Path, out: Path, p: dict) -> dict:
    """``read_csv`` -> ``map_batches(Predictor)`` on an actor pool -> ``write_csv``.

    Resources (ray#44687: actors taking every CPU leave none for the read and write tasks,
    and the dataset hangs): the pool's actors take ``ray_actor_cpus`` each, and the read and
    write tasks ``ray_io_cpus``, so that both fit in 2 CPUs at once.
    """
    import pyarrow.csv as pcsv
    import ray

    columns = [f"f{j}" for j in range(p["features"])]
    base = baseline()
    sampler = Sampler(p["sample_interval_s"], watch=out)
    sampler.start()
    t0 = time.perf_counter()
    ds = ray.data.read_csv([str(f) for f in files], num_cpus=p["ray_io_cpus"],
                           read_options=pcsv.ReadOptions(column_names=columns),
                           convert_options=pcsv.ConvertOptions(
                               column_types={c: "float32" for c in columns}))
    ds = ds.map_batches(Predictor, fn_constructor_args=(str(model_file), columns),
                        batch_size=p["ray_batch_size"], batch_format="numpy",
                        compute=ray.data.ActorPoolStrategy(size=p["ray_actors"]),
                        num_cpus=p["ray_actor_cpus"])
    ds.write_csv(str(out), ray_remote_args={"num_cpus": p["ray_io_cpus"]})
    seconds = time.perf_counter() - t0
    sampler.stop()
    offset = sampler.t0 - t0
    rows = sum(1 for _ in _ray_predictions(out))
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds,
            "first_output_file_s": (round(sampler.seen["output_file"] + offset, 3)
                                    if "output_file" in sampler.seen else None),
            "memory": _memory(sampler, base)}


# -- checking outputs -------------------------------------------------------------------------

def _read_column(path: Path, header: bool) -> np.ndarray:
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(autogenerate_column_names=not header),
                          convert_options=pcsv.ConvertOptions(
                              column_types={("prediction" if header else "f0"): "float64"}))
    return table.column(0).to_numpy().astype(np.float32)


def _ray_predictions(out: Path):
    for f in sorted(out.glob("*.csv")):
        yield from _read_column(f, header=True)


def check_outputs(files: list[Path], mlcore_out: Path, pandas_out: Path, ray_out: Path) -> dict:
    """All three arms' predictions equal: mlcore's and pandas' per file and in order (float32
    values), Ray Data's as a sorted column of the same length."""
    ours = {f.name: _read_column(mlcore_out / f"{f.name}.out", header=False) for f in files}
    theirs = {f.name: _read_column(pandas_out / f"{f.name}.out", header=False) for f in files}
    diffs = []
    for name in ours:
        if len(ours[name]) != len(theirs[name]):
            raise AssertionError(f"{name}: mlcore wrote {len(ours[name])} predictions, pandas "
                                 f"{len(theirs[name])}")
        diffs.append(float(np.max(np.abs(ours[name] - theirs[name]))) if len(ours[name]) else 0.0)
    everything = np.sort(np.concatenate(list(ours.values())))
    ray_sorted = np.sort(np.fromiter(_ray_predictions(ray_out), dtype=np.float32))
    if len(ray_sorted) != len(everything):
        raise AssertionError(f"Ray Data wrote {len(ray_sorted)} predictions, mlcore {len(everything)}")
    ray_diff = float(np.max(np.abs(ray_sorted - everything)))
    worst = max(max(diffs), ray_diff)
    if worst > 1e-6:
        raise AssertionError(f"predictions differ by up to {worst}")
    return {"rows": int(len(everything)), "max_abs_diff_mlcore_vs_pandas": max(diffs),
            "max_abs_diff_sorted_ray_vs_mlcore": ray_diff,
            "identical": max(diffs) == 0.0 and ray_diff == 0.0}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_scaled(src: list[Path], reference: Path, out: Path, times: int) -> dict:
    """Each repeated file's .out holds the bytes of its 1x file's .out (from a checked run)."""
    want = {f.name: _digest(reference / f"{f.name}.out") for f in src}
    lines = 0
    for k in range(times):
        for f in src:
            got = out / f"r{k:02d}-{f.name}.out"
            if _digest(got) != want[f.name]:
                raise AssertionError(f"{got.name} differs from the 1x output of {f.name}")
            with open(got, "rb") as fh:
                lines += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(8 << 20), b""))
    return {"files": times * len(src), "rows": lines, "identical_to_1x": True}


# -- profiling one shard in-process -----------------------------------------------------------

def profile_shard(data: Path, tarball: Path, out: Path, p: dict) -> dict:
    """One shard of the big file scored by ``serving._transform.Scorer`` in this process with
    XGBoost on one thread (as in a 1-CPU actor): per request, the seconds spent reading and
    splitting lines, joining the body, parsing, predicting, rendering and writing; then the
    same shard under cProfile."""
    import xgboost as xgb

    from mlcore.services.transform._plan import prepare
    from mlcore.specs import TransformJob
    from serving import _transform as engine
    from serving._payload import parse, render

    spec = TransformJob(model={"model_data": str(tarball), "algorithm": "xgboost"}, data=str(data),
                        content_type="text/csv", split_type="Line", accept="text/csv",
                        assemble_with="Line", output_path=str(out),
                        instance_type=p["instance_type"], max_payload=p["max_payload_mb"])
    plan = prepare(spec)
    shards = engine.plan_shards(plan.files, plan.settings, plan.actors)
    shard = max(shards, key=lambda sh: sh.end - sh.start)  # the big file's first shard
    s = plan.settings
    t = time.perf_counter()
    scorer = engine.Scorer(plan.model, s)
    load_s = time.perf_counter() - t
    booster = scorer.model
    if isinstance(booster, xgb.Booster):
        booster.set_param({"nthread": 1})
    times = {"read_s": 0.0, "join_body_s": 0.0, "parse_s": 0.0, "predict_s": 0.0,
             "render_s": 0.0, "write_s": 0.0}
    requests = rows = 0
    out.mkdir(parents=True, exist_ok=True)
    sink = open(out / "profile.part", "wb")  # noqa: SIM115
    t_total = time.perf_counter()
    count = engine._Count()
    # The engine's own request path: whole-line pieces of the file when it has them.
    kw = ({"whole_lines": scorer.dp is None}
          if "whole_lines" in inspect.signature(engine._requests).parameters else {})
    path = "whole-line pieces" if kw.get("whole_lines") else "line by line"
    it = engine._requests(shard, s, count, **kw)
    while True:
        t = time.perf_counter()
        request = next(it, None)
        times["read_s"] += time.perf_counter() - t
        if request is None:
            break
        requests += 1
        rows += len(request.linenos)
        t = time.perf_counter()
        body = (request.body if getattr(request, "body", None) is not None
                else engine._body(request.records, s.split))
        times["join_body_s"] += time.perf_counter() - t
        t = time.perf_counter()
        X = parse(body, s.content_type, scorer.n_features, limit=len(body) + 1)
        times["parse_s"] += time.perf_counter() - t
        t = time.perf_counter()
        pred = np.asarray(plan.model.predict(booster, X))
        times["predict_s"] += time.perf_counter() - t
        t = time.perf_counter()
        answer, _ = render(pred, s.accept, plan.model.container)
        times["render_s"] += time.perf_counter() - t
        t = time.perf_counter()
        sink.write(answer)
        times["write_s"] += time.perf_counter() - t
    sink.close()
    total = time.perf_counter() - t_total
    # The same shard through Scorer.__call__ (the actor's code path), under cProfile.
    row = {k: getattr(shard, k) for k in engine.Shard.__dataclass_fields__}
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    scorer(row)
    prof.disable()
    call_s = time.perf_counter() - t
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
    tottime = io.StringIO()
    pstats.Stats(prof, stream=tottime).sort_stats("tottime").print_stats(15)
    shutil.rmtree(out, ignore_errors=True)
    return {"shard": {"file": shard.rel, "bytes": shard.end - shard.start, "rows": rows,
                      "requests": requests, "rows_per_request": rows // max(requests, 1)},
            "model_load_s": round(load_s, 4),
            "per_phase_s": {k: round(v, 3) for k, v in times.items()}, "timed_total_s": round(total, 3),
            "rows_per_s_one_thread": rows / total, "scorer_call_s": round(call_s, 3),
            "engine_path": path,
            "cprofile_cumulative": _trim(text.getvalue()), "cprofile_tottime": _trim(tottime.getvalue())}


IMPORTS = ("serving._transform", "serving", "serving._apps", "mlcore", "mlcore.records", "mlcore.specs",
           "algorithms", "algorithms._xgboost")


def import_costs() -> dict:
    """What a fresh scoring actor imports beyond what the hand-written arm's actor imports
    (Ray, Ray Data, xgboost, pyarrow, pandas loaded first): ``python -X importtime``'s
    cumulative seconds of serving._transform, the packages it pulls in, and the algorithm
    module its pickled ModelSpec names."""
    code = ("import ray, ray.data, xgboost, pyarrow.csv, pandas\n"
            "import serving._transform, algorithms._xgboost")
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, text=True,
                         capture_output=True, check=True).stderr
    got = {}
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() in IMPORTS and parts[2].strip() not in got:
            got[parts[2].strip()] = round(int(parts[1]) / 1e6, 3)
    return got


def _trim(report: str) -> list[str]:
    lines = [line.rstrip() for line in report.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
            for line in lines[start:]]


# -- main -------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON of the benchmark's params")
    ap.add_argument("--render", help="only write the markdown (and notes) again from this JSON")
    args = ap.parse_args()
    p = json.loads(args.config)
    if args.render:
        result = json.loads(Path(args.render).read_text())
        result["notes"] = _notes(result)
        _write(result, Path(p.get("results_dir", HERE / "results")))
        return
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    digest_start = engine_digest()
    work = Path(tempfile.mkdtemp(prefix="mlcore-transform-bench-"))
    # Registered before mlcore is imported, so it runs after mlcore's own exit hooks (which
    # write under $MLCORE_HOME/run) and the temporary home goes with everything in it.
    atexit.register(shutil.rmtree, work, True)
    home = work / "home"
    home.mkdir()
    os.environ["MLCORE_HOME"] = str(home)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlflow.db"
    os.environ["MLCORE_NUM_CPUS"] = str(p["num_cpus"])
    os.environ.pop("RAY_ADDRESS", None)
    try:
        result = _run(p, work, load_start, t_start)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    result["load_average"]["end"] = list(os.getloadavg())
    result["source"]["engine_digest"] = {"start": digest_start, "end": engine_digest()}
    result["notes"] = _notes(result)
    result["total_seconds"] = round(time.perf_counter() - t_start, 1)
    _write(result, Path(p.get("results_dir", HERE / "results")))


def _run(p: dict, work: Path, load_start, t_start) -> dict:
    t = time.perf_counter()
    files = make_inputs(work / "data-1x", p["files"], p["features"], p["seed"])
    total_rows = sum(p["files"].values())
    size = sum(f.stat().st_size for f in files)
    model_file, tarball = make_model(work, p)
    scaled = {k: repeat_inputs(files, work / f"scale-{k}x", k) for k in p["scales"]}
    print(f"data: {total_rows:,} rows x {p['features']} in {len(files)} files ({size / 1e6:.0f} MB), "
          f"model trained, in {time.perf_counter() - t:.1f}s", flush=True)

    from mlcore import _session, _tracking

    t = time.perf_counter()
    _session.ensure_ray()
    _tracking.experiment_id()
    ray_start_s = time.perf_counter() - t
    import ray

    print(f"Ray started with {ray.cluster_resources().get('CPU')} CPUs in {ray_start_s:.1f}s",
          flush=True)
    # Warm-up, untimed: page cache, imports, Ray Data's first use, one of each arm.
    for f in files:
        f.read_bytes()
    small = work / "data-warm"
    small.mkdir()
    (small / "warm.csv").write_bytes(b"".join(files[-1].read_bytes().splitlines(True)[:2000]))
    t = time.perf_counter()
    mlcore_arm(small, tarball, work / "out" / "warm-mlcore", p)
    ray_data_arm(list(small.glob("*.csv")), model_file, work / "out" / "warm-ray", p)
    pandas_arm(list(small.glob("*.csv")), model_file, work / "out" / "warm-pandas", p)
    print(f"warm-up {time.perf_counter() - t:.1f}s", flush=True)

    arms = {"mlcore": lambda out: mlcore_arm(work / "data-1x", tarball, out, p),
            "pandas": lambda out: pandas_arm(files, model_file, out, p),
            "ray_data": lambda out: ray_data_arm(files, model_file, out, p)}
    names = list(arms)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    checks, reference = [], None
    for i in range(p["repetitions"]):
        order = names[i % 3:] + names[:i % 3]
        outs = {}
        for name in order:
            outs[name] = work / "out" / f"{name}-{i}"
            res = arms[name](outs[name])
            runs[name].append(res)
            print(f"rep {i} {name}: {res['rows']:,} rows in {res['seconds']:.2f}s = "
                  f"{res['rows_per_s']:,.0f} rows/s; memory {res['memory']}"
                  + (f"; phases {res['phases']}" if "phases" in res else ""), flush=True)
        checks.append(check_outputs(files, outs["mlcore"], outs["pandas"], outs["ray_data"]))
        print(f"rep {i} check: {checks[-1]}", flush=True)
        if reference is None:
            reference = outs["mlcore"]
        for name in names:
            if outs[name] != reference:
                shutil.rmtree(outs[name])

    # The memory series on its own, 1x included, each run after an mlcore job (the untimed small
    # one first), so that every baseline is taken in the same state: the interleaved rounds'
    # baselines follow the other arms, whose idle worker processes linger for a while.
    mlcore_arm(small, tarball, work / "out" / "warm-mlcore-2", p)
    scale_runs, scale_checks, scale_times = {}, {}, {}
    for k in scaled:
        out = work / "out" / f"mlcore-{k}x"
        res = mlcore_arm(work / f"scale-{k}x", tarball, out, p)
        scale_runs[k] = [res["memory"]]
        scale_times[k] = [res["seconds"]]
        scale_checks[k] = check_scaled(files, reference, out, k)
        print(f"{k}x mlcore: {res['rows']:,} rows in {res['seconds']:.1f}s; memory {res['memory']}; "
              f"check {scale_checks[k]}", flush=True)
        shutil.rmtree(out)

    prof = profile_shard(work / "data-1x", tarball, work / "out" / "profile", p)
    prof["import_cumulative_s"] = import_costs()
    print(f"profile: {json.dumps({k: v for k, v in prof.items() if not k.startswith('cprofile')})}",
          flush=True)

    med = statistics.median
    rate = {n: [r["rows_per_s"] for r in runs[n]] for n in names}

    def ratio(a: str, b: str) -> dict:
        per_round = [x / y for x, y in zip(rate[a], rate[b], strict=True)]
        return {"median": med(rate[a]) / med(rate[b]), "min": min(per_round), "max": max(per_round),
                "per_round": per_round}

    mem = {}
    for k, figures in scale_runs.items():
        mem[f"{k}x"] = {"peak_rss_mb": med(f["peak_rss_mb"] for f in figures),
                        "peak_minus_baseline_mb": med(f["peak_minus_baseline_mb"] for f in figures),
                        "peak_anon_mb": med(f["peak_anon_mb"] for f in figures),
                        "baseline_rss_mb": med(f["baseline_rss_mb"] for f in figures),
                        "rows": total_rows * k, "seconds": med(scale_times[k]), "runs": len(figures)}
    one = mem["1x"]
    for k in mem:
        mem[k]["peak_rss_vs_1x"] = mem[k]["peak_rss_mb"] / one["peak_rss_mb"]
        mem[k]["peak_minus_baseline_vs_1x"] = (mem[k]["peak_minus_baseline_mb"]
                                               / max(one["peak_minus_baseline_mb"], 1e-9))
    import pandas
    import psutil

    return {
        "benchmark": "transform: mlcore batch transform vs a pandas loop and hand-written Ray Data",
        "machine": {"cpus": os.cpu_count(), "ray_cpus": p["num_cpus"], "platform": platform.platform(),
                    "python": platform.python_version(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "versions": {**_versions(), "pandas": pandas.__version__},
        "command": "mlcore run configs/bench/transform.yaml",
        "source": _source(),
        "params": p,
        "load_average": {"start": list(load_start)},
        "input": {"rows_1x": total_rows, "bytes_1x": size, "files": {f.name: n for f, n in
                                                                      zip(files, p["files"].values(), strict=True)}},
        "ray_start_s": round(ray_start_s, 2),
        "median_rows_per_s": {n: med(rate[n]) for n in names},
        "min_max_rows_per_s": {n: [min(rate[n]), max(rate[n])] for n in names},
        "ratios": {"mlcore_vs_pandas": ratio("mlcore", "pandas"),
                   "mlcore_vs_ray_data": ratio("mlcore", "ray_data")},
        "targets": {"mlcore_vs_pandas": 1.5, "mlcore_vs_ray_data": 0.9, "memory_16x_vs_1x": 1.25},
        "memory": mem,
        "memory_in_rounds": {n: [r["memory"] for r in runs[n]] for n in names},
        "checks": {"rounds": checks, "scaled": {f"{k}x": v for k, v in scale_checks.items()}},
        "mlcore_phases": [r["phases"] for r in runs["mlcore"]],
        "profile": prof,
        "runs": runs,
    }


ENGINE = ("serving", "mlcore/services/transform", "algorithms/_xgboost.py", "mlcore/_storage.py")


def engine_digest() -> str:
    """A digest of the engine's source files as they are on disk now (actors import them
    when they start, so a change during the run would mix versions)."""
    h = hashlib.sha256()
    for entry in ENGINE:
        path = ROOT / entry
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(f.relative_to(ROOT)).encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _source() -> dict:
    """The commit measured, and whether the engine's files differ from it (a digest of the diff)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    engine = ["serving/_transform.py", "serving/_payload.py", "mlcore/services/transform"]
    diff = git("diff", "HEAD", "--", *engine)
    return {"commit": git("rev-parse", "HEAD"),
            "engine_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else None}


def _notes(result: dict) -> list[str]:
    """What the figures say, from the figures (a miss explained)."""
    med = statistics.median
    p, runs, prof = result["params"], result["runs"], result["profile"]
    ph = [r["phases"] for r in runs["mlcore"]]
    start_share = med(x["first_shard_started_s"] / x["returned_s"] for x in ph if x["first_shard_started_s"])
    steady = med(r["scoring_rows_per_s"] for r in runs["mlcore"] if r["scoring_rows_per_s"])
    pandas_rate = result["median_rows_per_s"]["pandas"]
    imp, per = prof["import_cumulative_s"], prof["per_phase_s"]
    per100k = 1e5 / max(prof["shard"]["rows"], 1)
    serve = imp.get("serving._apps")  # present when serving/__init__.py imports Ray Serve
    notes = []
    if result["source"].get("engine_digest", {}).get("start") != result["source"].get(
            "engine_digest", {}).get("end"):
        notes.append("WARNING: the engine's source files changed during this run, so its figures "
                     "mix two versions of the engine; run it again.")
    notes += [
        f"Ray Data by hand: read_csv (float32 column types) -> map_batches(Predictor, "
        f"batch_format='numpy', batch_size={p['ray_batch_size']}, "
        f"compute=ActorPoolStrategy(size={p['ray_actors']}), num_cpus={p['ray_actor_cpus']}) -> "
        f"write_csv; read and write tasks num_cpus={p['ray_io_cpus']}. Ray Data's defaults (actors of "
        "1 CPU each, read and write tasks of 1 CPU) leave no CPU for the read tasks on 2 CPUs and the "
        "dataset hangs (ray#44687).",
        f"Start-up: mlcore's first shard starts a median {med(x['first_shard_started_s'] for x in ph):.1f} s "
        f"after transform.run is called ({start_share:.0%} of the job): Ray Data's start, two scoring "
        "actors (a worker process each, importing the engine and unpickling the job's Scorer class) "
        "and the model loaded. PhaseTimings' ActorStartup "
        f"({med(r['phase_timings'].get('ActorStartup', 0) for r in runs['mlcore']):.3f} s) counts "
        "Scorer.__init__ only (the model's load), and Scoring includes the start-up; the imports come "
        f"before __init__: serving._transform costs {imp.get('serving._transform', 0):.2f} s to import "
        "in a process that has Ray, Ray Data, xgboost and pyarrow already, "
        + (f"{imp.get('serving', 0) - imp.get('mlcore', 0):.2f} s of it serving/__init__.py pulling in "
           f"Ray Serve and FastAPI (serving._apps {serve:.2f} s) and " if serve else "")
        + f"{imp.get('mlcore', 0):.2f} s of it mlcore/__init__.py (mlcore.records "
        f"{imp.get('mlcore.records', 0):.2f} s: SQLAlchemy; mlcore.specs {imp.get('mlcore.specs', 0):.2f} s: "
        "pydantic), which a scoring actor does not use.",
        f"Steady state: from its first shard started to the end mlcore scored a median {steady:,.0f} "
        f"rows/s, {steady / pandas_rate:.2f}x the pandas loop's whole-job figure"
        + (": the 1.5x target is out of reach here even without start-up."
           if steady / pandas_rate < 1.5 else ": start-up is what the whole-job figure loses."),
        f"Per 100k rows of one actor's work (the in-process profile, XGBoost on 1 thread, requests "
        f"read {prof.get('engine_path', '?')}): read {per['read_s'] * per100k:.2f} s, body "
        f"{per['join_body_s'] * per100k:.2f} s, parse {per['parse_s'] * per100k:.2f} s, predict "
        f"{per['predict_s'] * per100k:.2f} s, render {per['render_s'] * per100k:.2f} s, write "
        f"{per['write_s'] * per100k:.2f} s: {prof['rows_per_s_one_thread']:,.0f} rows/s per actor at "
        f"best, {2 * prof['rows_per_s_one_thread'] / pandas_rate:.2f}x pandas for two.",
        "Memory: each baseline is taken once the previous job's map actors have exited (they "
        "linger a few seconds after a job returns, ~300 MB each); what stays is the driver, Ray "
        "Data's own actors started on its first use, and idle pooled workers. Peak minus baseline "
        "is the job's own memory: its two scoring actors and what the driver holds.",
    ]
    return notes


def _versions() -> dict:
    import mlflow
    import pyarrow
    import ray
    import xgboost

    return {"ray": ray.__version__, "xgboost": xgboost.__version__, "pyarrow": pyarrow.__version__,
            "mlflow": mlflow.__version__, "numpy": np.__version__}


def _write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "transform.json").write_text(json.dumps(result, indent=2, default=str))
    m, mm, r, mem = (result["median_rows_per_s"], result["min_max_rows_per_s"], result["ratios"],
                     result["memory"])
    p = result["params"]
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    la = result["load_average"]
    lines = [
        f"# {result['benchmark']}", "",
        f"Machine: {result['machine']['cpus']} CPUs (Ray given {result['machine']['ray_cpus']}), "
        f"{result['machine']['memory_gb']} GB, {result['machine']['platform']}, Python "
        f"{result['machine']['python']}; " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
        f"Command: `{result['command']}`; params: `{json.dumps(p)}`",
        f"Source: commit {result['source']['commit'][:12]}, engine digest "
        f"{result['source']['engine_digest']['start']}"
        + (f", engine files changed since (diff {result['source']['engine_diff_sha256']})"
           if result["source"]["engine_diff_sha256"] else ""),
        f"Load average (1, 5, 15 min) at start {', '.join(f'{v:.2f}' for v in la['start'])}; at end "
        f"{', '.join(f'{v:.2f}' for v in la['end'])}"
        + (" (above the 2 CPUs: the machine was shared and busy, figures are noisy)"
           if max(la["start"][0], la["end"][0]) > result["machine"]["cpus"] else ""), "",
        f"Input (1x): {result['input']['rows_1x']:,} rows x {p['features']} float32 features, "
        f"{result['input']['bytes_1x'] / 1e6:.0f} MB of CSV in {len(result['input']['files'])} files "
        f"({', '.join(f'{k}: {v:,}' for k, v in result['input']['files'].items())}). Model: XGBoost, "
        f"{p['num_round']} trees of depth {p['max_depth']}.", "",
        f"| arm (median of {p['repetitions']} rounds) | rows/s | min | max |",
        "|---|---|---|---|",
    ]
    for name, label in (("mlcore", "mlcore transform (2 actors x 1 CPU)"),
                        ("pandas", "pandas loop, one process"),
                        ("ray_data", "Ray Data by hand")):
        lines.append(f"| {label} | {m[name]:,.0f} | {mm[name][0]:,.0f} | {mm[name][1]:,.0f} |")
    steady = [x["scoring_rows_per_s"] for x in result["runs"]["mlcore"] if x["scoring_rows_per_s"]]
    if steady:
        lines.append(f"| (mlcore from its first shard started to the end: start-up left out) | "
                     f"{statistics.median(steady):,.0f} | {min(steady):,.0f} | {max(steady):,.0f} |")
    a, b = r["mlcore_vs_pandas"], r["mlcore_vs_ray_data"]
    lines += ["", "| ratio | median | min | max | target | |", "|---|---|---|---|---|---|",
              f"| mlcore / pandas | {a['median']:.2f}x | {a['min']:.2f}x | {a['max']:.2f}x | >= 1.5x | "
              f"{ok(a['median'] >= 1.5)} |",
              f"| mlcore / Ray Data | {b['median']:.2f}x | {b['min']:.2f}x | {b['max']:.2f}x | >= 0.9x | "
              f"{ok(b['median'] >= 0.9)} |", "",
              "Peak resident memory of mlcore's job (driver + this Ray session's worker processes, "
              f"summed RSS sampled every {p['sample_interval_s']} s; Ray's daemons not counted), a series "
              "of its own: the input 1x, 4x, 16x (the same files hard-linked again), one run each, each "
              "after an mlcore job:", "",
              "| input | rows | seconds | peak RSS MB | vs 1x | peak - idle baseline MB | vs 1x | "
              "peak anonymous MB |", "|---|---|---|---|---|---|---|---|"]
    for k, v in mem.items():
        lines.append(f"| {k} | {v['rows']:,} | {v['seconds']:.1f} | {v['peak_rss_mb']:,.0f} | "
                     f"{v['peak_rss_vs_1x']:.2f}x | {v['peak_minus_baseline_mb']:,.0f} | "
                     f"{v['peak_minus_baseline_vs_1x']:.2f}x | {v['peak_anon_mb']:,.0f} |")
    rounds = result.get("memory_in_rounds", {}).get("mlcore", [])
    if rounds:
        lines += ["", "(In the interleaved 1x rounds, after the other arms: peak RSS "
                  + ", ".join(f"{m_['peak_rss_mb']:,.0f}" for m_ in rounds) + " MB; baseline "
                  + ", ".join(f"{m_['baseline_rss_mb']:,.0f}" for m_ in rounds) + " MB.)"]
    last = mem[list(mem)[-1]]
    lines += ["", f"Memory target (16x within 1.25x of 1x): {ok(last['peak_rss_vs_1x'] <= 1.25)} on "
              f"peak RSS ({last['peak_rss_vs_1x']:.2f}x), "
              f"{ok(last['peak_minus_baseline_vs_1x'] <= 1.25)} on peak minus baseline "
              f"({last['peak_minus_baseline_vs_1x']:.2f}x).", ""]
    c = result["checks"]["rounds"]
    lines += [f"Outputs checked every round: {c[0]['rows']:,} predictions per arm; max |mlcore - pandas| "
              f"{max(x['max_abs_diff_mlcore_vs_pandas'] for x in c):g} (per file, in order), max "
              f"|sorted Ray Data - sorted mlcore| {max(x['max_abs_diff_sorted_ray_vs_mlcore'] for x in c):g}; "
              + "; ".join(f"{k}: {v['files']} .out files byte-identical to the 1x outputs, {v['rows']:,} rows"
                          for k, v in result["checks"]["scaled"].items()) + ".", ""]
    lines += ["Where mlcore's seconds go (from the call of `transform.run`; first times files "
              "appear under the output folder):", "",
              "| run | planned | first shard started | first shard done | first file committed | "
              "last file committed | returned | PhaseTimings |", "|---|---|---|---|---|---|---|---|"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for i, (ph, run) in enumerate(zip(result["mlcore_phases"], result["runs"]["mlcore"], strict=True)):
        lines.append(f"| {i} | {fmt(ph['planned_s'])} | {fmt(ph['first_shard_started_s'])} | "
                     f"{fmt(ph['first_shard_done_s'])} | {fmt(ph['first_file_committed_s'])} | "
                     f"{fmt(ph['last_file_committed_seen_s'])} | {fmt(ph['returned_s'])} | "
                     f"{json.dumps(run['phase_timings'])} |")
    ray_first = [x.get("first_output_file_s") for x in result["runs"]["ray_data"]]
    lines += ["", f"Ray Data by hand, first output file after: {', '.join(fmt(v) for v in ray_first)} s. "
              f"Ray start-up (once): {result['ray_start_s']:.1f} s.", ""]
    pr = result["profile"]
    sh = pr["shard"]
    lines += [f"One shard in-process (`Scorer` on {sh['file']}: {sh['bytes'] / 1e6:.0f} MB, {sh['rows']:,} "
              f"rows in {sh['requests']} requests of ~{sh['rows_per_request']:,} rows; XGBoost on 1 thread "
              f"as in a 1-CPU actor): {pr['rows_per_s_one_thread']:,.0f} rows/s; model load "
              f"{pr['model_load_s']:.3f} s.", "",
              "| phase | seconds | share |", "|---|---|---|"]
    total = sum(pr["per_phase_s"].values())
    for k, v in pr["per_phase_s"].items():
        lines.append(f"| {k.removesuffix('_s')} | {v:.3f} | {v / total:.0%} |")
    imp = pr.get("import_cumulative_s") or {}
    if imp:
        lines += ["", "Imports each scoring actor pays beyond the hand-written arm's (Ray, Ray Data, "
                  "xgboost, pyarrow, pandas already loaded; `python -X importtime` cumulative s, "
                  "measured in this run): " + ", ".join(f"`{k}` {v:.2f}" for k, v in imp.items()) + "."]
    lines += ["", "cProfile of `Scorer.__call__` on that shard (top by own time):", "", "```"]
    lines += pr["cprofile_tottime"][:16] + ["```", ""]
    if result.get("notes"):
        lines += ["Notes:", ""] + [f"- {n}" for n in result["notes"]] + [""]
    (out / "transform.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
