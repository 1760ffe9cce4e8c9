"""The project: the same model on an mlcore endpoint (its own local Ray). Prints ``ready``
once serving; exits (Ray shut down) when stdin closes.

Run: ``python serve_mlcore.py MODEL_DIR PORT BATCH_SIZE[:WAIT_MS] [plain|serverless|mme:PREFIX]``
(WAIT_MS: the batching wait, 2 ms by default). The
replica reserves all ``MLCORE_NUM_CPUS`` (2): the machine the bare app's process may use too."""

from __future__ import annotations

import os
import sys

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
size, _, wait = sys.argv[3].partition(":")
serving.deploy("bench", [variant], serving.Settings(batch_size=int(size),
                                                    batch_wait_ms=float(wait or 2)))
print("ready", flush=True)
sys.stdin.read()
serving.delete("bench")
ray.shutdown()
