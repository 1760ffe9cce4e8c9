"""Test script: each rank's "model" is a running sum of the steps it trained, checkpointed
per rank through parallel.context; a step's work is a sleep. A resumed run must end with
exactly sum(1..steps): any step lost or trained twice changes it.

Hyperparameters: steps, step_seconds, and optionally torn_at + marker: on the first attempt
rank 1 writes half of its checkpoint file for step torn_at and SIGKILLs itself.
"""

import json
import os
import signal
import time

from parallel import context

hp = context.hyperparameters()
steps, step_seconds = int(hp["steps"]), float(hp.get("step_seconds", 0.01))
rank, ckpt = context.rank(), context.checkpoint_dir()
start = context.restored_step() or 0
state = {"sum": 0, "step": 0}
if start:
    with open(os.path.join(ckpt, f"rank-{rank}.json")) as f:  # a torn file would not parse
        state = json.load(f)
    assert state["step"] == start, (state, start)

for step in range(start, steps):
    time.sleep(step_seconds)
    state = {"sum": state["sum"] + step + 1, "step": step + 1}
    context.log_metrics({"sum": state["sum"]}, step + 1)
    if context.checkpoint_due(step + 1):
        data = json.dumps(state)
        path = os.path.join(ckpt, f"rank-{rank}.json")
        if step + 1 == int(hp.get("torn_at", -1)) and rank == 1 and not os.path.exists(hp["marker"]):
            with open(path, "w") as f:
                f.write(data[: len(data) // 2])
            open(hp["marker"], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)  # dies mid-write, before reporting
        with open(path + ".tmp", "w") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        context.save_checkpoint(step + 1)

with open(os.path.join(context.model_dir(), f"sum-rank-{rank}.json"), "w") as f:
    json.dump({**state, "resumed_from": start}, f)
