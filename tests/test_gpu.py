"""GPU runs of the distributed runtime: nccl, DeepSpeed bf16/fp16, ZeRO on CUDA. Skipped with a
reason where there is no CUDA GPU (the CI machine has none)."""

from __future__ import annotations

import lm_jobs
import pytest
import torch

pytestmark = [
    pytest.mark.gpu, pytest.mark.integration,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none is visible here"),
]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_zero2_on_gpu_with_mixed_precision(ray_session, precision):
    got = lm_jobs.run({"deepspeed": {"zero_stage": 2, "precision": precision}},
                      instance_type="local_gpu", instance_count=1)
    assert got["steps"] == list(range(1, lm_jobs.HP["steps"] + 1))
    assert got["loss"][-1] < got["loss"][0]
    assert got["record"].InstanceType == "local_gpu"


def test_ddp_on_gpu_matches_cpu_loss(ray_session):
    gpu = lm_jobs.run(None, instance_type="local_gpu", instance_count=1)
    cpu = lm_jobs.run(None, instance_count=1)
    torch.testing.assert_close(torch.tensor(gpu["loss"]), torch.tensor(cpu["loss"]), rtol=1e-3, atol=1e-3)
