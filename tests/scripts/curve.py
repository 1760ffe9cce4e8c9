"""Test script for tuning: a learning curve whose level is set by the hyperparameters.

objective at epoch e = quality * (1 - 0.5 ** e), printed once per epoch (the tuning job
parses it with metric_definitions), one sleep of `epoch_seconds` per epoch. `fail: true`
makes the script raise at its first epoch. A plain SageMaker-style script: argparse, SM_*.
"""

import argparse
import json
import os
import time

p = argparse.ArgumentParser()
p.add_argument("--quality", type=float, required=True)
p.add_argument("--epochs", type=int, default=12)
p.add_argument("--epoch_seconds", type=float, default=0.3)
p.add_argument("--fail", default="false")
args, _ = p.parse_known_args()

for epoch in range(1, args.epochs + 1):
    time.sleep(args.epoch_seconds)
    if args.fail == "true" or args.quality < 0:
        raise RuntimeError(f"curve.py was told to fail (quality={args.quality})")
    print(f"epoch={epoch} objective={args.quality * (1 - 0.5 ** epoch):.6f}", flush=True)

with open(os.path.join(os.environ["SM_MODEL_DIR"], "curve.json"), "w") as f:
    json.dump({"quality": args.quality, "epochs": args.epochs}, f)
