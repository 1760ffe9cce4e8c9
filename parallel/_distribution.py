"""How the workers of a script-mode job cooperate: a validated plan from SageMaker's
``distribution`` argument, decided on the driver before any worker starts.

Accepted forms (SageMaker v2 names where they exist):

* ``None``, ``{"torch_distributed": {"enabled": True}}``, ``{"pytorchddp": {...}}``,
  ``{"smdistributed": {"dataparallel": {...}}}``: plain data parallel (torch DDP).
* ``{"deepspeed": {...}}``: DeepSpeed with shorthand keys (``zero_stage``,
  ``offload_optimizer``, ``precision``, ``pipeline_parallel_degree``, ...) and/or a full
  DeepSpeed ``config`` (a dict or a JSON file); shorthand keys win over the config.
* ``{"smdistributed": {"modelparallel": {"enabled": True, "parameters": {"partitions": 2,
  "microbatches": 4, "ddp": True}}}}``: SageMaker's model parallel, run as a DeepSpeed
  pipeline (partitions -> pipeline stages, microbatches -> micro-batches per step).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlcore.errors import SpecError

log = logging.getLogger("mlcore")

BACKENDS = {"cpu": "gloo", "gpu": "nccl", "neuron": "xla"}
_DDP_KEYS = ("torch_distributed", "pytorchddp")


class DeepSpeedOptions(BaseModel):
    """``distribution={"deepspeed": {...}}``."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Accepted for symmetry with SageMaker's blocks.")
    config: dict[str, Any] | str | None = Field(
        None, description="A full DeepSpeed config (dict) or the path of a JSON file.")
    zero_stage: Literal[0, 1, 2, 3] | None = Field(None, description="ZeRO stage.")
    offload_optimizer: bool = Field(False, description="ZeRO-Offload: optimizer state on CPU.")
    offload_param: bool = Field(False, description="ZeRO-3 only: parameters on CPU.")
    precision: Literal["fp32", "bf16", "fp16"] | None = Field(
        None, description="Training precision; fp16 needs a GPU, bf16 on CPU is slow.")
    train_micro_batch_size_per_gpu: int | None = Field(None, ge=1, description="Per-worker micro-batch.")
    gradient_accumulation_steps: int | None = Field(None, ge=1, description="Micro-batches per step.")
    pipeline_parallel_degree: int = Field(1, ge=1, description="Pipeline stages.")
    microbatches: int | None = Field(None, ge=1, description="Pipeline micro-batches per step.")
    partition_method: str = Field(
        "parameters", description="How layers split into stages: parameters, uniform, "
        "type:<regex> (DeepSpeed's PipelineModule partition_method).")


@dataclass(frozen=True)
class Plan:
    """What each worker sets up. ``deepspeed_config`` is final except the batch keys DeepSpeed
    derives itself; ``pipeline_degree`` x ``data_parallel_degree`` == ``world_size``."""

    kind: Literal["ddp", "deepspeed"]
    backend: str
    world_size: int
    deepspeed_config: dict = field(default_factory=dict)
    pipeline_degree: int = 1
    partition_method: str = "parameters"

    @property
    def data_parallel_degree(self) -> int:
        return self.world_size // self.pipeline_degree

    def to_dict(self) -> dict:
        return {"kind": self.kind, "backend": self.backend, "world_size": self.world_size,
                "deepspeed_config": self.deepspeed_config, "pipeline_degree": self.pipeline_degree,
                "partition_method": self.partition_method}

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        return cls(**d)


def _error(problems: list[tuple[str, str]]) -> SpecError:
    head = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in distribution:"
    return SpecError("\n".join([head] + [f"  - {p}: {m}" for p, m in problems]), problems)


def plan(distribution: dict | None, world_size: int, accelerator: str = "cpu",
         base_dir: str | None = None) -> Plan:
    """Validate ``distribution`` for ``world_size`` workers on ``accelerator`` (cpu, gpu,
    neuron); raise one :class:`SpecError` naming every problem."""
    backend = BACKENDS[accelerator]
    d = dict(distribution or {})
    bad = [k for k, v in d.items() if not isinstance(v, dict)]
    if bad:
        raise _error([(f"distribution.{bad[0]}", f"must be a mapping such as {{enabled: true}}; "
                                                 f"got {d[bad[0]]!r}")])
    kinds = [k for k in (*_DDP_KEYS, "deepspeed") if k in d]
    if len(kinds) > 1:
        raise _error([("distribution", f"choose one of {', '.join(kinds)}; got both")])
    if not d or kinds[:1] in ([k] for k in _DDP_KEYS) or "dataparallel" in d.get("smdistributed", {}):
        extra = sorted(set(d) - set(_DDP_KEYS) - {"smdistributed", "mpi"})
        if extra:
            raise _error([(f"distribution.{extra[0]}", f"unknown key; use one of "
                           f"{', '.join(_DDP_KEYS)}, deepspeed, smdistributed")])
        return Plan("ddp", backend, world_size)
    if "deepspeed" in d:
        raw = d["deepspeed"] if isinstance(d["deepspeed"], dict) else {}
        return _deepspeed_plan(raw, world_size, accelerator, backend, base_dir)
    mp = d.get("smdistributed", {}).get("modelparallel")
    if isinstance(mp, dict):
        return _deepspeed_plan(_from_smp(mp), world_size, accelerator, backend, base_dir)
    raise _error([("distribution", f"unknown form {sorted(d)}; use {{torch_distributed: {{enabled: "
                                   "true}}, {deepspeed: {...}} or {smdistributed: {modelparallel: ...}}")])


def _from_smp(mp: dict) -> dict:
    """SageMaker model-parallel parameters as DeepSpeed pipeline options."""
    p = mp.get("parameters") or {}
    where = "distribution.smdistributed.modelparallel.parameters"
    if not isinstance(p, dict):
        raise _error([(where, f"must be a mapping; got {p!r}")])
    for key in ("partitions", "pipeline_parallel_degree", "microbatches", "tensor_parallel_degree"):
        if key in p and (isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < 1):
            raise _error([(f"{where}.{key}", f"must be a positive integer; got {p[key]!r}")])
    problems = []
    if p.get("tensor_parallel_degree", 1) != 1:
        problems.append(("distribution.smdistributed.modelparallel.parameters.tensor_parallel_degree",
                         "tensor parallelism is not supported; use partitions (pipeline stages)"))
    if problems:
        raise _error(problems)
    out = {"pipeline_parallel_degree": int(p.get("partitions", p.get("pipeline_parallel_degree", 1))),
           "zero_stage": 1 if p.get("shard_optimizer_state") else 0}
    if "microbatches" in p:
        out["microbatches"] = int(p["microbatches"])
    if p.get("auto_partition") is False and "default_partition" in p:
        out["partition_method"] = "uniform"
    ignored = sorted(set(p) - {"partitions", "pipeline_parallel_degree", "microbatches", "ddp",
                               "shard_optimizer_state", "auto_partition", "default_partition",
                               "tensor_parallel_degree"})
    if ignored:
        log.info("smdistributed.modelparallel parameters %s have no DeepSpeed equivalent; ignored",
                 ", ".join(ignored))
    return out


def _load_config(cfg: dict | str | None, base_dir: str | None) -> dict:
    if cfg is None:
        return {}
    if isinstance(cfg, dict):
        return json.loads(json.dumps(cfg))  # a deep copy
    path = cfg if os.path.isabs(cfg) or base_dir is None else os.path.join(base_dir, cfg)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise _error([("distribution.deepspeed.config", f"cannot read DeepSpeed config {path}: {e}")]) from None
    except RecursionError:  # json recurses once per level of nesting
        raise _error([("distribution.deepspeed.config", f"DeepSpeed config {path} is nested too "
                       "deeply to be a DeepSpeed config")]) from None


def _deepspeed_plan(raw: dict, world_size: int, accelerator: str, backend: str,
                    base_dir: str | None) -> Plan:
    try:
        o = DeepSpeedOptions.model_validate(raw)
    except ValidationError as err:
        raise _error([("distribution.deepspeed." + ".".join(str(x) for x in e["loc"]),
                       e["msg"] + ("; remove it" if e["type"] == "extra_forbidden" else
                                   f"; got {e['input']!r}")) for e in err.errors()]) from None
    cfg = _load_config(o.config, base_dir)
    zero = cfg.setdefault("zero_optimization", {})
    if o.zero_stage is not None:
        zero["stage"] = o.zero_stage
    zero.setdefault("stage", 0)
    if o.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu"}
    if o.offload_param:
        zero["offload_param"] = {"device": "cpu"}
    if o.precision in ("bf16", "fp16"):
        cfg[o.precision] = {"enabled": True}
    if o.train_micro_batch_size_per_gpu:
        cfg["train_micro_batch_size_per_gpu"] = o.train_micro_batch_size_per_gpu
    if o.microbatches:  # a pipeline step runs `microbatches` micro-batches
        cfg["gradient_accumulation_steps"] = o.microbatches
    elif o.gradient_accumulation_steps:
        cfg["gradient_accumulation_steps"] = o.gradient_accumulation_steps
    if accelerator == "cpu":
        opt = cfg.get("optimizer", {})
        if opt.get("type", "").lower() in ("adam", "adamw"):
            # DeepSpeed's fused / CPU Adam would compile a C++ op (~2 min) on first use.
            opt.setdefault("params", {}).setdefault("torch_adam", True)
    degree = o.pipeline_parallel_degree
    problems = _rules(cfg, degree, world_size, accelerator)
    if not problems:
        problems = _deepspeed_says(cfg)
    if problems:
        raise _error(problems)
    return Plan("deepspeed", backend, world_size, cfg, degree, o.partition_method)


def _rules(cfg: dict, degree: int, world_size: int, accelerator: str) -> list[tuple[str, str]]:
    """What DeepSpeed would refuse only inside the workers, said before they start."""
    out = []
    stage = cfg["zero_optimization"]["stage"]
    if degree > 1 and stage >= 2:
        out.append(("distribution.deepspeed.zero_stage",
                    f"ZeRO stage {stage} cannot be combined with pipeline parallelism "
                    f"(pipeline_parallel_degree {degree}); DeepSpeed refuses it. Use zero_stage 0 or 1"))
    if world_size % degree:
        out.append(("distribution.deepspeed.pipeline_parallel_degree",
                    f"{degree} does not divide the world size {world_size} (instance_count); "
                    f"use an instance_count that is a multiple of {degree}"))
    if cfg["zero_optimization"].get("offload_param") and stage != 3:
        out.append(("distribution.deepspeed.offload_param", f"needs zero_stage 3; got {stage}"))
    if cfg["zero_optimization"].get("offload_optimizer") and stage == 0:
        out.append(("distribution.deepspeed.offload_optimizer", "needs zero_stage 1, 2 or 3; got 0"))
    if accelerator == "cpu" and cfg.get("fp16", {}).get("enabled"):
        out.append(("distribution.deepspeed.precision", "fp16 needs a GPU (DeepSpeed refuses it "
                    "on CPU); use fp32 or a GPU instance_type"))
    if accelerator == "cpu" and cfg.get("bf16", {}).get("enabled"):
        log.warning("bf16 on CPU runs several times slower than fp32 here; use it on GPUs")
    tbs = cfg.get("train_batch_size")
    dp = world_size // degree if not world_size % degree else 0
    micro, gas = cfg.get("train_micro_batch_size_per_gpu"), cfg.get("gradient_accumulation_steps", 1)
    if tbs and micro and dp and tbs != micro * gas * dp:
        out.append(("distribution.deepspeed.config.train_batch_size",
                    f"{tbs} != train_micro_batch_size_per_gpu {micro} x gradient_accumulation_steps "
                    f"{gas} x data-parallel workers {dp}; fix one of them or drop train_batch_size"))
    return out


def _deepspeed_says(cfg: dict) -> list[tuple[str, str]]:
    """DeepSpeed's own validation of the config (its pydantic sub-configs, batch rules)."""
    probe = {k: v for k, v in cfg.items() if k != "train_batch_size"}  # world size checked above
    probe.setdefault("train_micro_batch_size_per_gpu", 1)  # the script may give it at initialize
    # DeepSpeed picks its accelerator at first import from DS_ACCELERATOR; a CPU probe here
    # must not leak into this process's environment, which a local Ray's workers inherit.
    before = os.environ.get("DS_ACCELERATOR")
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        from deepspeed.runtime.config import DeepSpeedConfig
    finally:
        if before is None:
            os.environ.pop("DS_ACCELERATOR", None)
    try:
        DeepSpeedConfig(probe)
    except ValidationError as err:
        return [("distribution.deepspeed.config." + ".".join(str(x) for x in e["loc"]),
                 f"{e['msg']}; got {e['input']!r}") for e in err.errors()]
    except (AssertionError, ValueError, KeyError, TypeError) as e:
        return [("distribution.deepspeed.config", f"DeepSpeed rejects it: {e}")]
    return []
