"""Data-parallel mini-batch training shared by Linear Learner and Factorization Machines: the
same step count on every worker, and gradients averaged over the global mini-batch."""

from __future__ import annotations

import math

import numpy as np


def steps_per_epoch(worker, rows: int, batch: int) -> int:
    """The steps every worker takes per epoch (the same on each, or the all-reduces hang):
    the smallest share's batch count; larger shares take larger batches."""
    counts = [c for c in worker.gather(int(rows)) if c > 0]
    return max(1, min(math.ceil(c / batch) for c in counts)) if counts else 1


def average_gradients(worker, params, rows: int) -> None:
    """Replace each parameter's gradient of this worker's loss *sum* by the gradient of the
    mean over the step's rows on all workers (one all-reduce)."""
    import torch

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads] + [torch.tensor([float(rows)])])
    if worker.distributed:
        import torch.distributed as dist

        dist.all_reduce(flat)
    total, at = max(float(flat[-1]), 1.0), 0
    for p in params:
        p.grad = (flat[at:at + p.numel()] / total).view_as(p).clone()
        at += p.numel()


def dense(X):
    """A channel's rows as a float32 torch tensor."""
    import torch

    X = X.toarray() if hasattr(X, "toarray") else X
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
