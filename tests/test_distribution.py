"""Distribution plans, accelerator mapping and the script-mode environment, without Ray."""

from __future__ import annotations

import io
import json

import pytest

from mlcore import _instances
from mlcore.errors import SpecError
from parallel import interruptions, plan
from parallel._environment import _MetricTee, cli_args


def test_default_and_sagemaker_ddp_forms_are_plain_ddp():
    for d in (None, {}, {"torch_distributed": {"enabled": True}}, {"pytorchddp": {"enabled": True}},
              {"smdistributed": {"dataparallel": {"enabled": True}}}):
        p = plan(d, 4)
        assert (p.kind, p.backend, p.world_size, p.pipeline_degree) == ("ddp", "gloo", 4, 1)


def test_deepspeed_shorthand_builds_the_config():
    p = plan({"deepspeed": {"zero_stage": 2, "offload_optimizer": True,
                            "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 2}}, 2)
    assert p.kind == "deepspeed"
    assert p.deepspeed_config["zero_optimization"] == {"stage": 2, "offload_optimizer": {"device": "cpu"}}
    assert p.deepspeed_config["train_micro_batch_size_per_gpu"] == 4
    assert p.deepspeed_config["gradient_accumulation_steps"] == 2


def test_full_config_file_and_shorthand_override(tmp_path):
    cfg = tmp_path / "ds.json"
    cfg.write_text(json.dumps({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 1},
                               "optimizer": {"type": "AdamW", "params": {"lr": 0.001}}}))
    p = plan({"deepspeed": {"config": "ds.json", "zero_stage": 3}}, 2, base_dir=str(tmp_path))
    assert p.deepspeed_config["zero_optimization"]["stage"] == 3
    # On CPU, DeepSpeed's Adam would compile a C++ op on first use: torch's is used instead.
    assert p.deepspeed_config["optimizer"]["params"] == {"lr": 0.001, "torch_adam": True}
    assert plan({"deepspeed": {"config": "ds.json"}}, 2, "gpu", str(tmp_path)).deepspeed_config[
        "optimizer"]["params"] == {"lr": 0.001}


def test_sagemaker_model_parallel_maps_onto_a_deepspeed_pipeline():
    p = plan({"smdistributed": {"modelparallel": {"enabled": True, "parameters": {
        "partitions": 2, "microbatches": 4, "ddp": True}}}, "mpi": {"enabled": True}}, 4)
    assert (p.kind, p.pipeline_degree, p.data_parallel_degree) == ("deepspeed", 2, 2)
    assert p.deepspeed_config["gradient_accumulation_steps"] == 4
    assert p.deepspeed_config["zero_optimization"]["stage"] == 0


@pytest.mark.parametrize("distribution, world, accel, path, words", [
    ({"deepspeed": {"zero_stage": 2, "pipeline_parallel_degree": 2}}, 2, "cpu",
     "distribution.deepspeed.zero_stage", "cannot be combined with pipeline parallelism"),
    ({"deepspeed": {"zero_stage": 3, "pipeline_parallel_degree": 2}}, 4, "cpu",
     "distribution.deepspeed.zero_stage", "Use zero_stage 0 or 1"),
    ({"deepspeed": {"pipeline_parallel_degree": 3}}, 2, "cpu",
     "distribution.deepspeed.pipeline_parallel_degree", "does not divide the world size 2"),
    ({"deepspeed": {"precision": "fp16"}}, 2, "cpu", "distribution.deepspeed.precision", "needs a GPU"),
    ({"deepspeed": {"zero_stage": 1, "offload_param": True}}, 2, "cpu",
     "distribution.deepspeed.offload_param", "needs zero_stage 3"),
    ({"deepspeed": {"zero_stage": 7}}, 2, "cpu", "distribution.deepspeed.zero_stage", "got 7"),
    ({"deepspeed": {"zero_stag": 1}}, 2, "cpu", "distribution.deepspeed.zero_stag", "remove it"),
    ({"deepspeed": {"config": {"zero_optimization": {"stage": 1, "overlap_com": True}}}}, 2, "cpu",
     "distribution.deepspeed.config.overlap_com", "Extra inputs are not permitted"),
    ({"deepspeed": {"config": {"train_batch_size": 7, "train_micro_batch_size_per_gpu": 2}}}, 2, "cpu",
     "distribution.deepspeed.config.train_batch_size", "7 != train_micro_batch_size_per_gpu 2"),
    ({"deepspeed": {"config": "missing.json"}}, 2, "cpu", "distribution.deepspeed.config", "cannot read"),
    ({"smdistributed": {"modelparallel": {"enabled": True, "parameters": {"tensor_parallel_degree": 2}}}},
     2, "cpu", "tensor_parallel_degree", "not supported"),
    ({"horovod": {"enabled": True}}, 2, "cpu", "distribution", "unknown form"),
    ({"deepspeed": {}, "torch_distributed": {"enabled": True}}, 2, "cpu", "distribution", "got both"),
    ({"smdistributed": True}, 2, "cpu", "distribution.smdistributed", "must be a mapping"),
    ({"smdistributed": {"modelparallel": {"enabled": True, "parameters": {"partitions": "two"}}}},
     2, "cpu", "distribution.smdistributed.modelparallel.parameters.partitions", "positive integer"),
])
def test_bad_distribution_is_refused_before_any_worker(distribution, world, accel, path, words):
    with pytest.raises(SpecError) as e:
        plan(distribution, world, accel)
    assert any(p.startswith(path) or path in p for p, _ in e.value.problems), e.value.problems
    assert words in str(e.value)


@pytest.mark.parametrize("itype, resources, accel, backend", [
    ("local", {"CPU": 1}, "cpu", "gloo"),
    ("local_gpu", {"CPU": 1, "GPU": 1}, "gpu", "nccl"),
    ("ml.m5.xlarge", {"CPU": 4}, "cpu", "gloo"),
    ("ml.g5.xlarge", {"CPU": 4, "GPU": 1}, "gpu", "nccl"),
    ("ml.g5.12xlarge", {"CPU": 48, "GPU": 4}, "gpu", "nccl"),
    ("ml.p3.16xlarge", {"CPU": 64, "GPU": 8}, "gpu", "nccl"),
    ("ml.p4d.24xlarge", {"CPU": 96, "GPU": 8}, "gpu", "nccl"),
    ("ml.trn1.32xlarge", {"CPU": 128, "neuron_cores": 32}, "neuron", "xla"),
])
def test_accelerator_mapping(itype, resources, accel, backend):
    assert _instances.worker_resources(itype) == resources
    spec = _instances.lookup(itype)
    assert (spec.accelerator if spec else "cpu") == accel
    assert plan(None, 2, accel).backend == backend
    sc = _instances.scaling_config(itype, 2)
    assert sc.use_gpu == ("GPU" in resources)
    assert sc.resources_per_worker == resources


def test_xla_backend_uses_rays_torch_xla_config():
    from ray.train.torch.xla import TorchXLAConfig

    from parallel._launch import _torch_config

    assert isinstance(_torch_config("xla"), TorchXLAConfig)
    assert _torch_config("nccl").backend == "nccl"


def test_hyperparameters_reach_the_script_as_sagemaker_passes_them():
    # sagemaker-training's mapping.to_cmd_args: sorted, -k for one letter, str(), dicts k=v
    assert cli_args({"lr": 0.1, "epochs": 5, "name": "x", "flag": True, "layers": [1, 2], "k": 3,
                     "opts": {"b": 2, "a": 1}}) == [
        "--epochs", "5", "--flag", "True", "-k", "3", "--layers", "[1, 2]", "--lr", "0.1",
        "--name", "x", "--opts", "a=1,b=2"]


class _Buffer:
    def __init__(self):
        self.rows = []

    def add(self, step, metrics, progress=None):
        self.rows += [(k, v, step) for k, v in metrics.items()]


def test_metric_definitions_parse_rank0_output_by_step():
    out, buf = io.StringIO(), _Buffer()
    tee = _MetricTee(out, [{"Name": "train:loss", "Regex": r"loss=([0-9.eE+-]+)"},
                           {"Name": "acc", "Regex": r"acc: ([0-9.]+)"}], buf, base_step=10)
    tee.write("epoch 1 loss=0.5 acc: 0.7\nepoch 2 lo")
    tee.write("ss=0.25\nnothing here\nloss=nan-ish\n")
    assert out.getvalue().startswith("epoch 1 loss=0.5")  # passed through unchanged
    assert buf.rows == [("train:loss", 0.5, 11), ("acc", 0.7, 11), ("train:loss", 0.25, 12)]


def test_interruptions_say_cause_dead_time_and_resume_step():
    attempts = [{"start": 0.0, "last_seen": 10.0, "restored_step": None},
                {"start": 14.0, "last_seen": 20.0, "restored_step": 8},
                {"start": 30.0, "last_seen": 40.0, "restored_step": 12}]
    events = [{"kind": "preemption", "time": 19.0, "step": 12}]
    got = interruptions(attempts, events)
    assert [(i["Cause"], i["DeadSeconds"], i["ResumedFromStep"]) for i in got] == [
        ("failure", 4.0, 8), ("preemption", 10.0, 12)]
    assert got[1]["NoticeStep"] == 12
