"""Running the reference LM example (configs/scripts/tiny_lm) as jobs, for the tests."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import torch

from mlcore import _tracking
from mlcore.jobs import describe
from mlcore.sagemaker.pytorch import PyTorch
from parallel import lm

ROOT = Path(__file__).resolve().parent.parent
LM_DIR = ROOT / "configs" / "scripts" / "tiny_lm"
HP = {"steps": 12, "lr": 0.003, "seed": 0, "micro_batch_size": 8, "sequences": 256}


def estimator(distribution=None, hp=None, **kwargs) -> PyTorch:
    kwargs.setdefault("checkpoint_frequency", 1000)
    kwargs.setdefault("instance_count", 2)
    return PyTorch(entry_point="train.py", source_dir=str(LM_DIR),
                   hyperparameters={**HP, **(hp or {})}, distribution=distribution, **kwargs)


def run(distribution=None, hp=None, job_name=None, **kwargs) -> dict:
    """Train to completion; return the record, the loss by step and each rank's stats."""
    est = estimator(distribution, hp, **kwargs)
    est.fit(logs=False, job_name=job_name)
    return results(est.latest_training_job.name)


def results(job_name: str) -> dict:
    rec = describe(job_name)
    assert rec.TrainingJobStatus == "Completed", rec.FailureReason
    history = _tracking.client().get_metric_history(rec.MlflowRunId, "train:loss")
    out = Path(rec.OutputPath) / job_name / "output" / "data"
    ranks = [json.loads(p.read_text()) for p in sorted(out.glob("rank-*.json"))]
    return {"record": rec, "steps": [m.step for m in sorted(history, key=lambda m: m.step)],
            "loss": [m.value for m in sorted(history, key=lambda m: m.step)], "ranks": ranks,
            "model_dir": rec.ModelArtifacts}


def script_module():
    """The example script as a module (for its batch order), without running it."""
    spec = importlib.util.spec_from_file_location("tiny_lm_train", LM_DIR / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def single_process_losses(hp: dict, gas: int, micro: int) -> list[float]:
    """The same model, data order and optimizer in one process: the reference trajectory."""
    hp = {**HP, **hp}
    cfg = lm.LMConfig.from_hyperparameters(hp)
    inputs, labels = lm.token_data(int(hp["sequences"]), cfg, int(hp["seed"]))
    torch.manual_seed(int(hp["seed"]))
    model = lm.TinyLM(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=float(hp["lr"]))
    batches = script_module().batches
    losses = []
    for step in range(int(hp["steps"])):
        opt.zero_grad()
        total = 0.0
        for x, y in batches(inputs, labels, step, 0, 1, gas, micro):
            loss = lm.loss_fn(model(x), y) / gas
            loss.backward()
            total += loss.item()
        opt.step()
        losses.append(total)
    return losses


def model_state(model_dir: str) -> dict[str, torch.Tensor]:
    with open(os.path.join(model_dir, "lm-config.json")) as f:
        cfg = lm.LMConfig(**json.load(f))
    return lm.load(model_dir, cfg).state_dict()
