"""The benchmark's server process: its own local Ray (``MLCORE_NUM_CPUS``, 2) and the mlcore
endpoints the benchmark asks for, deployed with ``mlcore.services.endpoints.deploy`` from
Endpoint specs. Commands arrive as JSON lines on stdin; each is answered with one line
``@@ <json>`` on stdout (Ray may print other lines there). When stdin closes, every endpoint
it deployed is deleted and Ray shut down.

Commands: ``{"op": "deploy", "spec": {<Endpoint fields>}}`` -> ``{"url", "deploy_s"}``;
``{"op": "count", "name"}`` -> ``{"count"}`` (CurrentInstanceCount of its variant);
``{"op": "wait_count", "name", "count", "timeout_s"[, "deployment"]}`` -> ``{"count",
"waited_s"}`` (with a deployment: its replicas in any state count too);
``{"op": "delete", "name"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

os.environ.setdefault("MLCORE_NUM_CPUS", "2")

import ray  # noqa: E402

import serving  # noqa: E402
from mlcore import _session  # noqa: E402
from mlcore.services import endpoints  # noqa: E402
from mlcore.specs import Endpoint  # noqa: E402


def answer(out: dict) -> None:
    sys.stdout.write("@@ " + json.dumps(out) + "\n")
    sys.stdout.flush()


def count(name: str, deployment: str | None = None) -> int:
    """CurrentInstanceCount of the endpoint's variant; with ``deployment``, at least the
    replicas of that deployment in any state (a stopping one may still answer)."""
    n = endpoints.describe(name)["ProductionVariants"][0]["CurrentInstanceCount"]
    if deployment is None:
        return n
    d = (serving.status(name) or {}).get("deployments", {}).get(deployment, {})
    return max(n, sum(d.get("replicas", {}).values()))


def main() -> None:
    t = time.perf_counter()
    _session.ensure_ray(log_to_driver=False)  # replica output stays in Ray's log files
    answer({"ready": True, "ray_cpus": ray.cluster_resources().get("CPU"),
            "ray_start_s": round(time.perf_counter() - t, 2), "pid": os.getpid()})
    deployed: list[str] = []
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                op = cmd["op"]
                if op == "deploy":
                    spec = Endpoint(**cmd["spec"])
                    t = time.perf_counter()
                    endpoints.deploy(spec)
                    deployed.append(spec.endpoint_name)
                    out = {"url": serving.endpoint_url(spec.endpoint_name),
                           "deploy_s": round(time.perf_counter() - t, 2)}
                elif op == "count":
                    out = {"count": count(cmd["name"])}
                elif op == "wait_count":
                    t, deadline = time.monotonic(), time.monotonic() + cmd.get("timeout_s", 120)
                    n = count(cmd["name"], cmd.get("deployment"))
                    while n != cmd["count"] and time.monotonic() < deadline:
                        time.sleep(0.1)
                        n = count(cmd["name"], cmd.get("deployment"))
                    out = {"count": n, "waited_s": round(time.monotonic() - t, 2)}
                elif op == "delete":
                    endpoints.delete(cmd["name"])
                    deployed.remove(cmd["name"])
                    out = {"deleted": cmd["name"]}
                else:
                    out = {"error": f"unknown op {op!r}"}
            except Exception as e:
                out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            answer(out)
    finally:
        for name in deployed:
            try:
                endpoints.delete(name)
            except Exception as e:  # shutting down anyway
                print(f"deleting {name}: {e}", file=sys.stderr)
        ray.shutdown()


if __name__ == "__main__":
    main()
