"""Async endpoints (InvokeEndpointAsync) against realtime ones, on the same XGBoost model:
throughput at saturation, accepted-to-done latency below saturation, cold start from zero
workers, and where an async request's time goes.

One server process (``benchmarks/async_bench/bench_server.py``) runs its own local Ray on
``num_cpus`` CPUs and deploys, with ``mlcore.services.endpoints.deploy``, a realtime endpoint
(one replica) and an async endpoint (one worker replica at most, kept warm by a long
scale-in cooldown), each replica of ``instance_type`` (``local``: 1 CPU reserved). The
clients (``bench_client.py``) run in this process. Each round measures every phase on both
endpoints back to back, the order swapped every other round; each ratio is taken within a
round, then the median over rounds. Then both are deleted and two endpoints that scale to
zero after ``cold_cooldown_s`` are deployed for the cold starts.

Run: ``mlcore run configs/bench/async.yaml``. Results land in benchmarks/results/async.*;
``--render benchmarks/results/async.json`` writes the markdown again from the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parent
PY = sys.executable
sys.path.insert(0, str(HERE / "async_bench"))
sys.path.insert(0, str(HERE))
import bench_client as client  # noqa: E402
import bench_cpu as cpu  # noqa: E402
from serving_bench import _version, train  # noqa: E402

ARMS = ("realtime", "async")


# -- the server process --------------------------------------------------------------------------


class Server:
    """``bench_server.py`` in its own session (stopped by its PIDs if it does not exit)."""

    def __init__(self, env: dict, log: Path):
        self.log = open(log, "w")
        self.proc = subprocess.Popen([PY, str(HERE / "async_bench" / "bench_server.py")], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, start_new_session=True)
        self.info = self._read()
        if not self.info.get("ready"):
            raise RuntimeError(f"server did not start: {self.info}")

    def _read(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server exited ({self.proc.poll()}); see {self.log.name}")
            if line.startswith("@@ "):
                return json.loads(line[3:])

    def call(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        out = self._read()
        if "error" in out:
            raise RuntimeError(f"server: {cmd.get('op')}: {out['error']}\n{out.get('traceback', '')}")
        return out

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=120)
        except (subprocess.TimeoutExpired, OSError):
            for pid in _session_pids(self.proc.pid):  # only what this server started
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=30)
        left = _session_pids(self.proc.pid)
        if left:  # Ray's daemons exit on their own shortly after the driver
            time.sleep(5)
            for pid in _session_pids(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def realtime_spec(name: str, model_dir: str, cfg: dict, autoscaling: dict | None = None) -> dict:
    variant = {"model": {"model_data": model_dir, "algorithm": "xgboost"},
               "instance_type": cfg["instance_type"]}
    if autoscaling:
        variant["autoscaling"] = autoscaling
    return {"endpoint_name": name, "variants": [variant]}


def async_spec(name: str, model_dir: str, cfg: dict, out: Path, concurrency: int,
               cooldown_s: float) -> dict:
    spec = realtime_spec(name, model_dir, cfg, {"min_capacity": 0, "max_capacity": 1,
                                                "scale_in_cooldown_s": cooldown_s})
    spec["async_inference"] = {"output_path": str(out / name / "out"),
                               "failure_path": str(out / name / "fail"),
                               "max_concurrent_invocations_per_instance": concurrency}
    return spec


# -- payloads ------------------------------------------------------------------------------------


def payload(rows: int, features: int, seed: int) -> bytes:
    X = np.random.default_rng(seed).normal(size=(rows, features)).astype(np.float32)
    return ("\n".join(",".join(f"{v:.4g}" for v in row) for row in X) + "\n").encode()


def clean(out_dir: str, prefix: str) -> None:
    """Remove a phase's results (this benchmark's own files), so the watcher lists a short folder."""
    try:
        entries = list(os.scandir(out_dir))
    except FileNotFoundError:
        return
    for e in entries:
        if e.name.startswith(prefix):
            os.unlink(e.path)


# -- one round -----------------------------------------------------------------------------------


SERVER_SID = 0  # the server's session: whose processes' CPU time is counted


def saturation(arm: str, size: str, i: int, urls: dict, out_dir: str, bodies: dict,
               cfg: dict, tag: str) -> dict:
    body, k = bodies[size], cfg["concurrency"][size]
    marks = []

    def mark():
        marks.append((time.perf_counter(), cpu.snapshot(SERVER_SID)))

    if arm == "realtime":
        mark()  # (includes the client's few warm-up requests)
        r = asyncio.run(client.realtime_saturated(urls["realtime"] + "/invocations", body,
                                                  cfg["realtime_requests"][size], k))
        mark()
    else:
        prefix = f"{tag}r{i}-{size}-sat-"
        asyncio.run(client.async_one(urls["async"], body, out_dir, prefix + "warm",
                                     cfg["poll_s"], 120))
        mark()
        r = asyncio.run(client.async_saturated(urls["async"], body, cfg["async_requests"][size],
                                               k, out_dir, prefix + "r", cfg["poll_s"], 600, mark))
        clean(out_dir, prefix)
    (t0, before), (t1, after) = marks
    r["cpu_s"], r["cpu_window_s"] = cpu.delta(before, after), round(t1 - t0, 3)
    return r


def steady(arm: str, size: str, i: int, rate: float, urls: dict, out_dir: str, bodies: dict,
           cfg: dict) -> dict:
    body, duration = bodies[size], cfg["steady_seconds"][size]
    if arm == "realtime":
        return asyncio.run(client.realtime_steady(urls["realtime"] + "/invocations", body, rate,
                                                  duration))
    prefix = f"r{i}-{size}-steady-"
    asyncio.run(client.async_one(urls["async"], body, out_dir, prefix + "warm", cfg["poll_s"], 120))
    r = asyncio.run(client.async_steady(urls["async"], body, rate, duration, out_dir,
                                        prefix + "r", cfg["poll_s"], 300))
    clean(out_dir, prefix)
    return r


def one_round(i: int, urls: dict, out_dir: str, bodies: dict, cfg: dict, primary: bool,
              tag: str) -> dict:
    order = ARMS if i % 2 == 0 else ARMS[::-1]
    res: dict = {"order": list(order), "load_1m": round(os.getloadavg()[0], 2),
                 "saturation": {}, "steady": {}}
    for size in cfg["sizes"]:
        res["saturation"][size] = {}
        for arm in order:
            r = saturation(arm, size, i, urls, out_dir, bodies, cfg, tag)
            res["saturation"][size][arm] = r
            print(f"[{tag}round {i}] saturation {size} {arm}: {r['rps']} req/s "
                  f"({r['requests']} requests, {r['concurrency']} clients, {r['seconds']} s)",
                  flush=True)
    if primary:
        for size in cfg["sizes"]:
            rate = cfg["steady_fraction"] * res["saturation"][size]["async"]["rps"]
            res["steady"][size] = {}
            for arm in order:
                r = steady(arm, size, i, rate, urls, out_dir, bodies, cfg)
                res["steady"][size][arm] = r
                lat = (r["latency_ms"] if arm == "realtime" else
                       r["phases"]["accepted_to_done_ms"])
                print(f"[round {i}] steady {size} {arm} at {r['rate']} req/s: p50 {lat['p50']} ms, "
                      f"p99 {lat['p99']} ms", flush=True)
    return res


# -- cold starts ---------------------------------------------------------------------------------


def cold_starts(server: Server, model_dir: str, out: Path, bodies: dict, cfg: dict) -> dict:
    cool = cfg["cold_cooldown_s"]
    names = {"realtime": "cold-rt", "async": "cold-async"}
    deployment = {"realtime": "ingress", "async": "variant-AllTraffic"}
    urls = {"realtime": server.call(op="deploy", spec=realtime_spec(
                names["realtime"], model_dir, cfg,
                {"min_capacity": 0, "max_capacity": 1, "scale_in_cooldown_s": cool}))["url"],
            "async": server.call(op="deploy", spec=async_spec(
                names["async"], model_dir, cfg, out, cfg["async_concurrency"][0], cool))["url"]}
    out_dir = str(out / names["async"] / "out")
    body = bodies["small"]
    res: dict = {arm: [] for arm in ARMS}
    try:
        for rep in range(cfg["cold_repetitions"]):
            for arm in (ARMS if rep % 2 == 0 else ARMS[::-1]):
                w = server.call(op="wait_count", name=names[arm], count=0,
                                deployment=deployment[arm], timeout_s=180)
                if w["count"] != 0:
                    raise RuntimeError(f"{names[arm]} did not scale to zero: {w}")
                if arm == "realtime":
                    r = asyncio.run(client.realtime_one(urls[arm] + "/invocations", body))
                    r.pop("body")
                else:
                    r = asyncio.run(client.async_one(urls[arm], body, out_dir, f"cold-{rep}",
                                                     cfg["poll_s"], 180))
                r["waited_for_zero_s"] = w["waited_s"]
                res[arm].append(r)
                print(f"[cold {rep}] {arm}: first result {r['first_result_ms']} ms "
                      f"(scaled to zero after {w['waited_s']} s)", flush=True)
    finally:
        for name in names.values():
            server.call(op="delete", name=name)
    return res


# -- main ----------------------------------------------------------------------------------------


def main(cfg: dict) -> dict:
    load_start = [round(x, 2) for x in os.getloadavg()]
    t_start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mlcore-bench-async-"))
    atexit.register(shutil.rmtree, work, True)
    os.environ["MLCORE_HOME"] = str(work / "home")
    os.environ["MLCORE_NUM_CPUS"] = str(cfg["num_cpus"])
    os.environ.pop("RAY_ADDRESS", None)
    os.environ.pop("MLCORE_SERVE_INGRESS", None)  # the default ingress
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    model_dir, _, _ = train(work, cfg["features"], cfg["trees"])
    bodies = {size: payload(cfg["rows"][size], cfg["features"], seed)
              for seed, size in enumerate(cfg["sizes"], start=1)}
    files = {}
    for size, body in bodies.items():
        files[size] = work / f"{size}.csv"
        files[size].write_bytes(body)
    comp = subprocess.run([PY, str(HERE / "async_bench" / "bench_components.py"), model_dir,
                           str(work / "components"), *(f"{s}={p}" for s, p in files.items())],
                          env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    if comp.returncode:
        raise RuntimeError(f"components: {comp.stderr[-3000:]}")
    components = json.loads(comp.stdout.strip().splitlines()[-1])
    print(f"components: {json.dumps(components)}", flush=True)
    out = work / "endpoints"
    server = Server(env, work / "server.log")
    global SERVER_SID
    SERVER_SID = server.proc.pid  # its own session
    print(f"server up: {server.info}", flush=True)
    arms_out: dict = {}
    try:
        rt = server.call(op="deploy", spec=realtime_spec("bench-rt", model_dir, cfg))
        print(f"realtime endpoint deployed in {rt['deploy_s']} s", flush=True)
        check = None
        for j, n in enumerate(cfg["async_concurrency"]):
            name = f"bench-async-n{n}"
            a = server.call(op="deploy", spec=async_spec(name, model_dir, cfg, out, n,
                                                         cfg["warm_cooldown_s"]))
            print(f"async endpoint (max_concurrent_invocations_per_instance {n}) deployed in "
                  f"{a['deploy_s']} s", flush=True)
            urls = {"realtime": rt["url"], "async": a["url"]}
            out_dir = str(out / name / "out")
            if check is None:  # both answer the same bytes
                check = {}
                for size, body in bodies.items():
                    want = asyncio.run(client.realtime_one(urls["realtime"] + "/invocations", body))
                    got = asyncio.run(client.async_one(urls["async"], body, out_dir,
                                                       f"check-{size}", cfg["poll_s"], 120))
                    check[size] = (Path(out_dir) / f"check-{size}.out").read_bytes() == want["body"]
                    assert got["status"] == "Completed", got
                print(f"async results equal the realtime answers: {check}", flush=True)
            primary = j == 0
            rounds = cfg["rounds"] if primary else cfg["extra_rounds"]
            tag = "" if primary else f"n{n}-"
            arms_out[str(n)] = {"deploy_s": a["deploy_s"], "rounds": [
                one_round(i, urls, out_dir, bodies, cfg, primary, tag) for i in range(rounds)]}
            server.call(op="delete", name=name)
        server.call(op="delete", name="bench-rt")
        cold = cold_starts(server, model_dir, out, bodies, cfg)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"config": cfg, "machine": machine(load_start), "versions": versions(),
            "command": "mlcore run configs/bench/async.yaml",
            "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "payload_bytes": {s: len(b) for s, b in bodies.items()},
            "server": server.info, "realtime_deploy_s": rt["deploy_s"],
            "outputs_equal": check, "components": components, "arms": arms_out, "cold": cold,
            "total_seconds": round(time.perf_counter() - t_start, 1)}


def machine(load_start: list[float]) -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_start": load_start,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "storage": _fs_type(tempfile.gettempdir())}


def _fs_type(path: str) -> str:
    """The filesystem the endpoints' queue and files live on (fsync's cost depends on it)."""
    best = ("?", "")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mount, kind = line.split()[:3]
                if (path + "/").startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[1]):
                    best = (f"{kind} ({dev} on {mount})", mount)
    except OSError:
        pass
    return best[0]


def versions() -> dict:
    return {p: _version(p) for p in ("ray", "xgboost", "fastapi", "uvicorn", "aiohttp", "numpy")}


# -- the report ----------------------------------------------------------------------------------


def _stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


def summarize(result: dict) -> dict:
    cfg = result["config"]
    n0 = str(cfg["async_concurrency"][0])
    rounds = result["arms"][n0]["rounds"]
    rows = []

    def row(measure, rt_vals, as_vals, ratio_vals, target=None, ok=None, unit=""):
        rows.append({"measure": measure, "realtime": _stats(rt_vals) if rt_vals else None,
                     "async": _stats(as_vals), "ratio": _stats(ratio_vals) if ratio_vals else None,
                     "target": target, "met": ok, "unit": unit})

    for n, arm in result["arms"].items():
        for size in cfg["sizes"]:
            sat = [r["saturation"][size] for r in arm["rounds"]]
            ratios = [s["async"]["rps"] / s["realtime"]["rps"] for s in sat]
            label = (f"Throughput at saturation, {size} ({cfg['rows'][size]:,} rows, "
                     f"{result['payload_bytes'][size] / 1e3:,.1f} kB), req/s; "
                     f"{cfg['concurrency'][size]} clients, async {n} per instance")
            row(label, [s["realtime"]["rps"] for s in sat], [s["async"]["rps"] for s in sat],
                ratios, ">= 0.8x", statistics.median(ratios) >= 0.8, "req/s")
    for size in cfg["sizes"]:
        st = [r["steady"][size] for r in rounds]
        rate = statistics.median(s["async"]["rate"] for s in st)
        for q in ("p50", "p99"):
            rt = [s["realtime"]["latency_ms"][q] for s in st]
            a = [s["async"]["phases"]["accepted_to_done_ms"][q] for s in st]
            row(f"{q} latency at ~{rate:g} req/s ({cfg['steady_fraction']:.0%} of async "
                f"saturation), {size}, ms: realtime request, async accepted-to-done "
                "(FinishedTime - SubmittedTime)", rt, a, [x / y for x, y in zip(a, rt, strict=True)],
                unit="ms")
        for q in ("p50", "p99"):
            rt = [s["realtime"]["latency_ms"][q] for s in st]
            a = [s["async"]["submit_latency_ms"][q] for s in st]
            row(f"{q} client latency at the same rate, {size}, ms: realtime request, async "
                "submit (time to the 202)", rt, a, [x / y for x, y in zip(a, rt, strict=True)],
                unit="ms")
    cold = result["cold"]
    rt = [c["first_result_ms"] for c in cold["realtime"]]
    a = [c["first_result_ms"] for c in cold["async"]]
    row(f"Cold start from zero replicas, small: first request sent -> its result, ms "
        f"({len(a)} each; realtime: min_capacity 0)", rt, a,
        [x / y for x, y in zip(a, rt, strict=True)], unit="ms")
    return {"rows": rows}


def _fmt(s: dict | None, unit: str = "") -> str:
    if s is None:
        return "-"
    spread = f" ({s['min']:g}-{s['max']:g})" if s["n"] > 1 and s["min"] != s["max"] else ""
    return f"{s['median']:g}{spread}"


def _ratio(s: dict | None) -> str:
    if s is None:
        return "-"
    spread = f" ({s['min']:.2f}-{s['max']:.2f})" if s["n"] > 1 else ""
    return f"{s['median']:.2f}x{spread}"


def breakdown_rows(result: dict) -> list[str]:
    cfg = result["config"]
    lines = []
    for n, arm in result["arms"].items():
        for size in cfg["sizes"]:
            for kind in ("saturation", "steady"):
                rs = [r[kind][size]["async"] for r in arm["rounds"] if size in r[kind]]
                if not rs:
                    continue
                ph = [r["phases"] for r in rs]

                def med(key, q="p50", ph=ph):
                    return round(statistics.median(p[key][q] for p in ph), 1)

                rate = (f"{statistics.median(r['rps'] for r in rs):g} req/s (saturated)"
                        if kind == "saturation" else
                        f"{statistics.median(r['rate'] for r in rs):g} req/s (steady)")
                service = med("started_to_finished_ms")
                lines.append(f"| {size} | {n} | {rate} | {med('submitted_to_started_ms')} | "
                             f"{service} / {med('started_to_finished_ms', 'p99')} | "
                             f"{med('finished_to_result_seen_ms')} | "
                             f"{med('accepted_to_done_ms')} / {med('accepted_to_done_ms', 'p99')} | "
                             f"{statistics.median(r['submit_latency_ms']['p50'] for r in rs):g} | "
                             f"{int(n) * 1000 / service:.0f} |")
    return lines


CPU_COLUMNS = ("clients (this process)", "haproxy", "realtime replica", "async ingress",
               "async worker", "serve controller", "rest")


def _cpu_kind(kind: str) -> str:
    if kind.startswith("replica "):
        return ("async worker" if "/variant-" in kind else
                "async ingress" if "async" in kind else "realtime replica")
    return kind if kind in CPU_COLUMNS else "rest"


def cpu_per_request(r: dict, ncpu: int) -> dict[str, float]:
    """One saturation phase's CPU ms per request by column, and ``_busy`` (share of the CPUs)."""
    d: dict[str, float] = {}
    for kind, sec in r["cpu_s"].items():
        d[_cpu_kind(kind)] = d.get(_cpu_kind(kind), 0.0) + sec
    return ({k: v * 1000 / r["requests"] for k, v in d.items()}
            | {"_busy": sum(d.values()) / r["cpu_window_s"] / ncpu})


def cpu_rows(result: dict) -> list[str]:
    """CPU ms per request by part, at saturation (median over rounds)."""
    cfg, lines = result["config"], []
    ncpu = cfg["num_cpus"]
    for n, arm_res in result["arms"].items():
        for size in cfg["sizes"]:
            for arm in ARMS:
                rs = [r["saturation"][size][arm] for r in arm_res["rounds"]]
                per = [cpu_per_request(r, ncpu) for r in rs]
                med = {k: statistics.median(p.get(k, 0.0) for p in per)
                       for k in (*CPU_COLUMNS, "_busy")}
                total = statistics.median(sum(v for k, v in p.items() if k != "_busy") for p in per)
                label = arm if arm == "realtime" else f"async ({n} per instance)"
                lines.append(f"| {size} | {label} | {statistics.median(r['rps'] for r in rs):g} | "
                             f"{total:.2f} | {med['_busy']:.0%} | "
                             + " | ".join(f"{med[k]:.2f}" for k in CPU_COLUMNS) + " |")
    return lines


def render(result: dict) -> str:
    cfg, m, v = result["config"], result["machine"], result["versions"]
    summary = summarize(result)
    result["summary"] = summary
    n0 = cfg["async_concurrency"][0]
    lines = [f"# Async vs realtime endpoints ({m['cpus']} CPUs, {result['when']})", "",
             f"Same XGBoost model on both ({cfg['trees']} trees of depth 6, {cfg['features']} "
             f"features), CSV in and out. Payloads: small {cfg['rows']['small']:,} rows "
             f"({result['payload_bytes']['small']:,} bytes), large {cfg['rows']['large']:,} rows "
             f"({result['payload_bytes']['large']:,} bytes). Ray on {cfg['num_cpus']} CPUs in "
             f"its own server process; each endpoint has one replica of instance_type "
             f"`{cfg['instance_type']}` (1 CPU reserved; Ray reserves, it does not pin: "
             "either replica may use both cores). Realtime: the default ingress (HAProxy) and "
             "batching. Async: one worker replica (min_capacity 0, max_capacity 1, kept warm by "
             f"a {cfg['warm_cooldown_s']:g} s scale-in cooldown), max_concurrent_invocations_per_"
             f"instance {n0}, the embedded SQLite queue, output_path a local folder on "
             f"{m['storage']}. Clients (aiohttp) share the machine with the server.", "",
             f"Command: `{result['command']}`; " + ", ".join(f"{p} {x}" for p, x in v.items())
             + f"; Python {m['python']}; {m['platform']}. Load average (1, 5, 15 min) at the "
             f"start {', '.join(map(str, m['load_average_start']))}, at the end "
             f"{', '.join(map(str, m['load_average_end']))}"
             + (f"; 1-minute load at each round's start: "
                f"{', '.join(str(r['load_1m']) for r in result['arms'][str(n0)]['rounds'])}"
                ) + f". Whole run {result['total_seconds']:g} s.", "",
             f"{cfg['rounds']} interleaved rounds (the arm order swapped every other round); "
             "each cell is the median over rounds (min-max), each ratio async / realtime taken "
             "within a round. Async saturation: "
             f"{cfg['async_requests']['small']} (small) / {cfg['async_requests']['large']} "
             "(large) requests submitted by as many submitters as the realtime arm has "
             "connections, timed from the first submit to the last `<id>.out` seen in "
             f"output_path (listed every {cfg['poll_s'] * 1000:g} ms). Realtime: "
             f"{cfg['realtime_requests']['small']} / {cfg['realtime_requests']['large']} "
             "requests, closed loop. Steady: open loop at "
             f"{cfg['steady_fraction']:.0%} of that round's async saturation rate for "
             f"{cfg['steady_seconds']['small']:g} / {cfg['steady_seconds']['large']:g} s. "
             f"Async results equal the realtime answers byte for byte: {result['outputs_equal']}.",
             "", "| measure | realtime | async | ratio (async / realtime) | target | verdict |",
             "|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        verdict = "-" if r["met"] is None else ("met" if r["met"] else "**missed**")
        lines.append(f"| {r['measure']} | {_fmt(r['realtime'])} | {_fmt(r['async'])} | "
                     f"{_ratio(r['ratio'])} | {r['target'] or '-'} | {verdict} |")
    lines += ["", "## Where an async request's time goes", "",
              "From the status endpoint's server timestamps (median over rounds of each phase's "
              "p50, ms): submitted -> started is the wait in the queue (behind other requests, or "
              "for an idle worker thread's next poll), started -> finished the worker's service "
              "time (read the input, parse, predict, render, stage the result, the queue's "
              "`finish`), finished -> result seen the move into place plus the client's listing "
              "interval. Ceiling = threads per instance / service time.", "",
              "| payload | threads per instance | load | submitted -> started | started -> "
              "finished p50 / p99 | finished -> result seen | accepted-to-done p50 / p99 | "
              "submit (to the 202) p50 | ceiling req/s |", "|---|---|---|---|---|---|---|---|---|"]
    lines += breakdown_rows(result)
    lines += ["", "CPU time per request at saturation, by process (utime + stime from /proc, "
              "every process of the server's session and the client process; median over "
              "rounds, ms per request). Busy: all of it over the timed window, as a share of "
              f"{cfg['num_cpus']} CPUs.", "",
              "| payload | arm | req/s | CPU ms / request | busy | "
              + " | ".join(CPU_COLUMNS) + " |", "|---" * (5 + len(CPU_COLUMNS)) + "|"]
    lines += cpu_rows(result)
    c = result["components"]
    lines += ["", "The same steps measured one at a time in one process with one model thread "
              "(`benchmarks/async_bench/bench_components.py`), median ms:", "",
              "| payload | parse CSV | predict | render CSV | write the posted body | read it back "
              "| stage + move the result |", "|---|---|---|---|---|---|---|"]
    for size in cfg["sizes"]:
        s = c[size]["ms"]
        lines.append(f"| {size} | {s['parse_csv']} | {s['predict']} | {s['render_csv']} | "
                     f"{s['write_body_file']} | {s['read_body_file']} | {s['stage_move_result']} |")
    q = c["queue_ms"]
    cq = c.get("queue_contended_ms")
    lines += ["", "Queue transactions of one request (SQLite, WAL, synchronous=FULL: each commit "
              "an fsync), median ms: " + ", ".join(f"{k} {x}" for k, x in q.items())
              + f"; the worker runs four per request (claim, finish, claim_settle, moved): "
              f"{q['claim'] + q['finish'] + q['claim_settle'] + q['moved']:.2f} ms, the ingress "
              f"one (submit, {q['submit']} ms)."
              + (f" {cq['threads']} threads writing at once (each committing a changed row in a loop): "
                 f"p50 {cq['p50']}, p99 {cq['p99']}, max {cq['max']} ms per transaction"
                 + (f" ({cq['note']})" if cq.get("note") else "") + "." if cq else "") + f" Loading the model: {c['load_model_ms']} ms.", ""]
    lines += ["## Cold starts", "",
              f"Endpoints that scale to zero {cfg['cold_cooldown_s']:g} s after their last "
              "request; each repetition waits for CurrentInstanceCount == 0 (no replica in any "
              "state), then sends one small request.", "",
              "| repetition | realtime first response ms | async first result ms | async: submit "
              "(202) | submitted -> started (worker start) | started -> finished |",
              "|---|---|---|---|---|---|"]
    for i, (r, a) in enumerate(zip(result["cold"]["realtime"], result["cold"]["async"],
                                   strict=True)):
        lines.append(f"| {i} | {r['first_result_ms']} | {a['first_result_ms']} | {a['submit_ms']} "
                     f"| {a['submitted_to_started_ms']} | {a['started_to_finished_ms']} |")
    lines += ["", "## Per round", "", "| round | order | load | payload | realtime req/s | "
              "async req/s | async req/s (server: first submitted -> last finished) | async "
              "req/s (first started -> last finished) | async worker threads busy | async "
              "submit req/s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n, arm in result["arms"].items():
        for i, r in enumerate(arm["rounds"]):
            for size in cfg["sizes"]:
                s = r["saturation"][size]
                ph = s["async"]["phases"]
                lines.append(f"| {i} (async {n} per instance) | {' then '.join(r['order'])} | "
                             f"{r['load_1m']} | {size} | {s['realtime']['rps']} | "
                             f"{s['async']['rps']} | {s['async']['rps_server']} | "
                             f"{ph['rps_started_to_finished']} | "
                             f"{ph['busy_s'] / ph['window_s'] / int(n):.0%} | "
                             f"{s['async']['submit_rps']} |")
    notes = result.get("notes")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {x}" for x in notes]
    return "\n".join(lines) + "\n"


def _notes(result: dict) -> list[str]:
    """What the figures say, from the figures (the markdown's closing notes)."""
    cfg, c = result["config"], result["components"]
    n0 = str(cfg["async_concurrency"][0])
    rounds = result["arms"][n0]["rounds"]
    q = c["queue_ms"]
    out = []

    def med(values):
        return statistics.median(values)

    ncpu = cfg["num_cpus"]
    tx = q["claim"] + q["finish"] + q["claim_settle"] + q["moved"] + q["get"]

    def tot(per):
        return med(sum(v for k, v in p.items() if k != "_busy") for p in per)

    for size in cfg["sizes"]:
        s = c[size]["ms"]
        model = s["parse_csv"] + s["predict"] + s["render_csv"]
        files = s["read_body_file"] + s["stage_move_result"]
        parts = []
        for n, arm in result["arms"].items():
            sat = [r["saturation"][size] for r in arm["rounds"]]
            rt, a = med(x["realtime"]["rps"] for x in sat), med(x["async"]["rps"] for x in sat)
            ratio = med(x["async"]["rps"] / x["realtime"]["rps"] for x in sat)
            cpu_a = [cpu_per_request(x["async"], ncpu) for x in sat]
            cpu_r = [cpu_per_request(x["realtime"], ncpu) for x in sat]
            worker = med(p.get("async worker", 0.0) for p in cpu_a)
            ingress = med(p.get("async ingress", 0.0) for p in cpu_a)
            busy = med(x["async"]["phases"]["busy_s"] / x["async"]["phases"]["window_s"] / int(n)
                       for x in sat)
            parts.append(
                f"with {n} thread(s) per instance, async {a:g} req/s vs realtime {rt:g} "
                f"({ratio:.2f}x); CPU per request async {tot(cpu_a):.2f} ms vs realtime "
                f"{tot(cpu_r):.2f} ms (realtime / async {tot(cpu_r) / tot(cpu_a):.2f}), of which "
                f"the worker replica {worker:.2f} ms (the process at {worker * a / 1000:.0%} of "
                f"one core) and the ingress {ingress:.2f} ms; the worker threads were between "
                f"claim and finish {busy:.0%} of the time; the machine's CPUs were "
                f"{med(p['_busy'] for p in cpu_a):.0%} busy with this benchmark's processes")
        out.append(f"{size}, at saturation: " + "; ".join(parts) + ". The worker's steps for one "
                   f"request, measured alone in one process, take {model + files + tx:.2f} ms "
                   f"(parse + predict + render {model:.2f}, reading the input and staging + "
                   f"moving the result {files:.2f}, five queue calls {tx:.2f}).")
    cq = c.get("queue_contended_ms")
    if cq:
        out.append(f"The queue's write lock: with {cq['threads']} threads committing at once, a "
                   f"transaction takes p50 {cq['p50']}, p99 {cq['p99']}, max {cq['max']} ms "
                   f"(alone: {q['claim']}); contention shows in the tail, not in the median"
                   + (f" ({cq['note']})" if cq.get("note") else "") + ".")
    for size in cfg["sizes"]:
        st = [r["steady"][size]["async"] for r in rounds]
        wait = med(s["phases"]["submitted_to_started_ms"]["p50"] for s in st)
        wait99 = med(s["phases"]["submitted_to_started_ms"]["p99"] for s in st)
        done = med(s["phases"]["accepted_to_done_ms"]["p50"] for s in st)
        out.append(f"{size}, steady at {med(s['rate'] for s in st):g} req/s: of the {done:g} ms "
                   f"accepted-to-done (p50), {wait:g} ms (p99 {wait99:g}) is the wait from "
                   "SubmittedTime to StartedTime. Below saturation the queue is often empty, "
                   "and an idle worker thread polls it with a backoff from 10 ms up to 500 ms "
                   "(AsyncWorker._work in serving/_async.py): a request arriving at an idle "
                   "thread waits for that thread's next poll.")
    cold = result["cold"]
    a = med(x["first_result_ms"] for x in cold["async"])
    w = med(x["submitted_to_started_ms"] for x in cold["async"])
    r = med(x["first_result_ms"] for x in cold["realtime"])
    out.append(f"Cold start: the async first result took {a:g} ms (median), of which {w:g} ms "
               "from SubmittedTime to StartedTime (Serve starting the worker replica, which "
               f"loads the model: {c['load_model_ms']} ms in a warm process); realtime from "
               f"zero replicas: {r:g} ms.")
    return out


def write(result: dict, dest: Path) -> None:
    result["notes"] = _notes(result)
    md = render(result)
    (dest / "async.json").write_text(json.dumps(result, indent=1))
    (dest / "async.md").write_text(md)
    print(md)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="{}")
    p.add_argument("--render", help="only write the markdown again from this JSON")
    a = p.parse_args()
    dest = Path(json.loads(a.config).get("results_dir", ROOT / "benchmarks" / "results"))
    if a.render:
        write(json.loads(Path(a.render).read_text()), dest)
        sys.exit(0)
    defaults = {"num_cpus": 2, "features": 20, "trees": 100, "instance_type": "local",
                "sizes": ["small", "large"], "rows": {"small": 10, "large": 10000},
                "concurrency": {"small": 8, "large": 4},
                "realtime_requests": {"small": 3000, "large": 100},
                "async_requests": {"small": 1000, "large": 100},
                "async_concurrency": [2, 1], "rounds": 4, "extra_rounds": 2,
                "steady_fraction": 0.5, "steady_seconds": {"small": 8, "large": 12},
                "warm_cooldown_s": 300, "cold_cooldown_s": 2, "cold_repetitions": 3,
                "poll_s": 0.02}
    cfg = {**defaults, **json.loads(a.config)}
    write(main(cfg), dest)
