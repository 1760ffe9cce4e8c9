"""The project: the same model on an mlcore endpoint (its own local Ray). Prints ``ready``
once serving; exits (Ray shut down) when stdin closes.

Run: ``python serve_mlcore.py MODEL_DIR PORT BATCH_SIZE [plain|serverless|mme:PREFIX]``."""

from __future__ import annotations

import os
import sys

os.environ["MLCORE_SERVE_PORT"] = sys.argv[2]
os.environ.setdefault("MLCORE_NUM_CPUS", "2")

import ray  # noqa: E402

import serving  # noqa: E402
from algorithms import _xgboost  # noqa: E402
from mlcore import _session  # noqa: E402

mode = sys.argv[4] if len(sys.argv) > 4 else "plain"
_session.ensure_ray()
m = _xgboost
if mode.startswith("mme:"):  # every model under the prefix, at most 50 per replica
    spec = serving.ModelSpec(mode[4:], m.load_model, m.predict, m.feature_count, multi_model=50)
    variant = serving.Variant("AllTraffic", spec)
elif mode == "serverless":  # what a ServerlessInferenceConfig deploys: no replica until asked
    spec = serving.ModelSpec(sys.argv[1], m.load_model, m.predict, m.feature_count)
    variant = serving.Variant("AllTraffic", spec, replicas=0, autoscaling={
        "min_replicas": 0, "initial_replicas": 0, "max_replicas": 1, "target_ongoing_requests": 2,
        "upscale_delay_s": 0, "downscale_delay_s": 60})
else:
    spec = serving.ModelSpec(sys.argv[1], m.load_model, m.predict, m.feature_count)
    variant = serving.Variant("AllTraffic", spec)
serving.deploy("bench", [variant], serving.Settings(batch_size=int(sys.argv[3])))
print("ready", flush=True)
sys.stdin.read()
serving.delete("bench")
ray.shutdown()
