"""Scripts written for SageMaker's PyTorch container set up ``torch.distributed`` themselves
(``dist.init_process_group(backend, rank=..., world_size=...)`` when ``SM_HOSTS`` lists
several hosts), and some tear it down at the end. On Ray Train the group exists before the
script starts (TorchTrainer made it) and is used after it ends, so while a script runs a
second ``init_process_group`` that agrees with the group is a no-op, and
``destroy_process_group`` leaves it for the runtime to close."""

from __future__ import annotations

import contextlib
import logging

log = logging.getLogger("mlcore")


@contextlib.contextmanager
def group_owned_by_runtime():
    try:
        import torch.distributed as dist
    except ImportError:  # a script that does not use torch
        yield
        return
    if not dist.is_available() or not dist.is_initialized():
        yield
        return
    init, destroy = dist.init_process_group, dist.destroy_process_group
    said = []

    def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1,
                           rank=-1, *args, **kwargs):
        have = (dist.get_world_size(), dist.get_rank())
        if world_size not in (-1, have[0]) or rank not in (-1, have[1]):
            raise RuntimeError(
                f"init_process_group(world_size={world_size}, rank={rank}) disagrees with the "
                f"process group mlcore set up (world size {have[0]}, rank {have[1]}); use "
                "SM_HOSTS / SM_CURRENT_HOST (or RANK / WORLD_SIZE) to compute them")
        if not said:
            said.append(True)
            log.info("torch.distributed is initialised already (world size %d, %s backend); "
                     "the script's init_process_group keeps it", have[0], dist.get_backend())

    def destroy_process_group(group=None):
        if group is not None:
            destroy(group)

    dist.init_process_group, dist.destroy_process_group = init_process_group, destroy_process_group
    try:
        yield
    finally:
        dist.init_process_group, dist.destroy_process_group = init, destroy
