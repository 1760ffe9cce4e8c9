"""The project: the same model on an mlcore endpoint (its own local Ray). Prints ``ready``
once serving; exits (Ray shut down) when stdin closes. Each line read from stdin is answered
with ``zero`` once the endpoint runs no replica (a serverless one has scaled to zero).

Run: ``python serve_mlcore.py MODEL_DIR PORT BATCH_SIZE[:WAIT_MS[:GAP_MS]] [plain|serverless|mme:PREFIX]``
(WAIT_MS: the longest batching wait, GAP_MS: the arrival gap that ends it sooner, see
``serving._batch``; unset: the defaults of ``serving.Settings``). The replica reserves all
``MLCORE_NUM_CPUS`` (2): the machine the bare app's process may use too."""

from __future__ import annotations

import os
import sys
import time

os.environ["MLCORE_SERVE_PORT"] = sys.argv[2]
os.environ.setdefault("MLCORE_NUM_CPUS", "2")

import models  # noqa: E402
import ray  # noqa: E402

import serving  # noqa: E402
from mlcore import _session  # noqa: E402
from mlcore.services import endpoints as _deploy  # noqa: E402

ray.cloudpickle.register_pickle_by_value(models)  # replicas do not have this folder on sys.path
mode = sys.argv[4] if len(sys.argv) > 4 else "plain"
_session.ensure_ray()
load, predict, features = models.functions(sys.argv[1])
if mode.startswith("mme:"):  # every model under the prefix, at most 50 per replica
    spec = serving.ModelSpec(mode[4:], load, predict, features, multi_model=50)
    variant = serving.Variant("AllTraffic", spec)
elif mode == "serverless":  # what a ServerlessInferenceConfig deploys: no replica until asked
    spec = serving.ModelSpec(sys.argv[1], load, predict, features)
    variant = serving.Variant("AllTraffic", spec, replicas=0,
                              autoscaling=_deploy.serverless_autoscaling(max_concurrency=2))
else:
    spec = serving.ModelSpec(sys.argv[1], load, predict, features)
    variant = serving.Variant("AllTraffic", spec,
                              resources={"CPU": float(os.environ["MLCORE_NUM_CPUS"])})
size, *wait = sys.argv[3].split(":")
batching = dict(zip(("batch_wait_ms", "batch_gap_ms"), map(float, wait), strict=False))
serving.deploy("bench", [variant], serving.Settings(batch_size=int(size), **batching))
print("ready", flush=True)
for _ in sys.stdin:  # no replica at all: a stopping one still answers while it drains
    while any(serving.status("bench")["deployments"]["ingress"]["replicas"].values()):
        time.sleep(0.1)
    print("zero", flush=True)
serving.delete("bench")
ray.shutdown()
