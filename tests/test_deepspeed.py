"""DeepSpeed under Ray Train on 2 CPU workers (gloo): ZeRO stages against plain DDP, a
2-stage pipeline against one process, through the reference LM example script."""

from __future__ import annotations

import lm_jobs
import numpy as np
import pytest

from parallel import lm

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# fp32 on CPU: ZeRO changes where state lives and the order of gradient reductions, not the
# arithmetic, so trajectories agree to float32 rounding.
LOSS_RTOL = 1e-4


@pytest.fixture(scope="module")
def ddp(ray_session):
    return lm_jobs.run(None)


def _params() -> int:
    return sum(p.numel() for p in lm.TinyLM(lm.LMConfig.from_hyperparameters(lm_jobs.HP)).parameters())


def test_ddp_baseline_matches_the_formula(ddp):
    psi = _params()
    assert ddp["steps"] == list(range(1, lm_jobs.HP["steps"] + 1))
    # fp32 Adam: exp_avg + exp_avg_sq = 8 bytes per parameter on every rank (16Ψ with Ψ's
    # weights and gradients: the ZeRO-0 row of the table, fp32 variant).
    for r in ddp["ranks"]:
        assert r["optimizer_state_bytes"] == 8 * psi
        assert r["local_parameters"] == psi


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_zero_stage_matches_ddp_and_shards_optimizer_state(ddp, stage):
    got = lm_jobs.run({"deepspeed": {"zero_stage": stage}})
    np.testing.assert_allclose(got["loss"], ddp["loss"], rtol=LOSS_RTOL)
    psi, n = _params(), 2
    for r in got["ranks"]:
        # Stage >= 1 partitions Adam's state: 8Ψ/N per rank (DeepSpeed pads partitions a little).
        assert 8 * psi / n <= r["optimizer_state_bytes"] <= 8 * psi / n * 1.01, r
        # Only stage 3 partitions the parameters themselves.
        expected = psi / n if stage == 3 else psi
        assert expected <= r["local_parameters"] <= expected * 1.01, r
    # The saved model is whole (ZeRO-3's shards gathered) and equals the DDP one closely:
    # Adam turns float32 rounding in near-zero gradients into +-lr steps on single entries
    # (attention's key bias has an exactly-zero true gradient: pure rounding noise), so
    # compare each tensor's relative distance: within 1%.
    a, b = lm_jobs.model_state(got["model_dir"]), lm_jobs.model_state(ddp["model_dir"])
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).norm() <= 1e-2 * b[k].norm() + 1e-6, k


def test_two_stage_pipeline_holds_one_stage_per_rank_and_matches_one_process(ray_session):
    got = lm_jobs.run({"deepspeed": {"pipeline_parallel_degree": 2, "microbatches": 4}},
                      hp={"steps": 8})
    full = {n for n, _ in lm.TinyLM(lm.LMConfig.from_hyperparameters(lm_jobs.HP)).named_parameters()}
    names = [set(r["parameter_names"]) for r in got["ranks"]]
    assert names[0] and names[1] and not names[0] & names[1]  # each rank: its stage only
    assert names[0] | names[1] == full
    assert sum(r["local_parameters"] for r in got["ranks"]) == _params()
    reference = lm_jobs.single_process_losses({"steps": 8}, gas=4, micro=8)
    np.testing.assert_allclose(got["loss"], reference, rtol=LOSS_RTOL)
    # The model folder holds every stage's layers (DeepSpeed's file names) and loads as one model.
    import os

    files = sorted(f for f in os.listdir(got["model_dir"]) if f.startswith("layer_"))
    assert files == [f"layer_{i:02d}-model_states.pt" for i in range(lm_jobs.HP.get("n_layers", 4) + 2)]
    state = lm_jobs.model_state(got["model_dir"])
    assert set(state) == full
