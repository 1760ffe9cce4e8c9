"""The project: the same model on an mlcore endpoint (its own local Ray). Prints ``ready``
once serving; exits (Ray shut down) when stdin closes.

Run: ``python serve_mlcore.py MODEL_DIR PORT BATCH_SIZE``."""

from __future__ import annotations

import os
import sys

os.environ["MLCORE_SERVE_PORT"] = sys.argv[2]
os.environ.setdefault("MLCORE_NUM_CPUS", "2")

import ray  # noqa: E402

import serving  # noqa: E402
from algorithms import _xgboost  # noqa: E402
from mlcore import _session  # noqa: E402

_session.ensure_ray()
spec = serving.ModelSpec(sys.argv[1], _xgboost.load_model, _xgboost.predict, _xgboost.feature_count)
serving.deploy("bench", [serving.Variant("AllTraffic", spec)],
               serving.Settings(batch_size=int(sys.argv[3])))
print("ready", flush=True)
sys.stdin.read()
serving.delete("bench")
ray.shutdown()
