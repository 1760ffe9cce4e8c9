"""SageMaker instance types -> per-worker resources -> Ray ``ScalingConfig``.

Memory is recorded for information and for the capacity message; Ray schedules on CPU, GPU
and neuron cores only, because Ray's ``memory`` resource on small machines is far below the
instance's nominal memory and reserving it would refuse jobs that run fine.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from mlcore.errors import CapacityError, SpecError


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: int
    memory_gib: float
    gpus: int = 0
    gpu_model: str = ""
    neuron_cores: int = 0

    @property
    def accelerator(self) -> str:
        return "gpu" if self.gpus else "neuron" if self.neuron_cores else "cpu"


def _family(prefix: str, sizes: dict[str, tuple[int, float]], **extra) -> list[InstanceType]:
    return [InstanceType(f"{prefix}.{size}", cpu, mem, **extra) for size, (cpu, mem) in sizes.items()]


_GENERAL = {"large": (2, 8), "xlarge": (4, 16), "2xlarge": (8, 32), "4xlarge": (16, 64),
            "8xlarge": (32, 128), "12xlarge": (48, 192), "16xlarge": (64, 256), "24xlarge": (96, 384)}
_COMPUTE = {"large": (2, 4), "xlarge": (4, 8), "2xlarge": (8, 16), "4xlarge": (16, 32),
            "9xlarge": (36, 72), "18xlarge": (72, 144)}
_MEMORY = {k: (c, m * 2) for k, (c, m) in _GENERAL.items()}

CATALOG: dict[str, InstanceType] = {
    t.name: t
    for t in [
        *_family("ml.m5", _GENERAL), *_family("ml.m6i", _GENERAL), *_family("ml.m7i", _GENERAL),
        *_family("ml.c5", _COMPUTE), *_family("ml.r5", _MEMORY),
        InstanceType("ml.t3.medium", 2, 4), InstanceType("ml.t3.large", 2, 8),
        InstanceType("ml.t3.xlarge", 4, 16), InstanceType("ml.t3.2xlarge", 8, 32),
        InstanceType("ml.g4dn.xlarge", 4, 16, 1, "T4"), InstanceType("ml.g4dn.12xlarge", 48, 192, 4, "T4"),
        InstanceType("ml.g5.xlarge", 4, 16, 1, "A10G"), InstanceType("ml.g5.2xlarge", 8, 32, 1, "A10G"),
        InstanceType("ml.g5.4xlarge", 16, 64, 1, "A10G"), InstanceType("ml.g5.12xlarge", 48, 192, 4, "A10G"),
        InstanceType("ml.g5.48xlarge", 192, 768, 8, "A10G"),
        InstanceType("ml.p3.2xlarge", 8, 61, 1, "V100"), InstanceType("ml.p3.8xlarge", 32, 244, 4, "V100"),
        InstanceType("ml.p3.16xlarge", 64, 488, 8, "V100"),
        InstanceType("ml.p4d.24xlarge", 96, 1152, 8, "A100"),
        InstanceType("ml.p5.48xlarge", 192, 2048, 8, "H100"),
        InstanceType("ml.trn1.2xlarge", 8, 32, neuron_cores=2),
        InstanceType("ml.trn1.32xlarge", 128, 512, neuron_cores=32),
        InstanceType("ml.inf2.xlarge", 4, 16, neuron_cores=2),
    ]
}

LOCAL = "local"
# SageMaker local mode's GPU variant: one GPU (and one CPU) per worker.
LOCAL_GPU = InstanceType("local_gpu", 1, 0, gpus=1, gpu_model="any")


def lookup(instance_type: str) -> InstanceType | None:
    """The catalog entry, or ``None`` for ``local`` (one CPU per worker, whatever the node has)."""
    if instance_type == LOCAL:
        return None
    if instance_type == LOCAL_GPU.name:
        return LOCAL_GPU
    try:
        return CATALOG[instance_type]
    except KeyError:
        close = difflib.get_close_matches(instance_type, list(CATALOG) + [LOCAL, LOCAL_GPU.name], n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "use 'local' or an ml.* type"
        raise SpecError(
            f"instance_type: unknown instance type {instance_type!r}; {hint} "
            f"(`mlcore instances` lists all {len(CATALOG)})",
            [("instance_type", f"unknown instance type {instance_type!r}; {hint}")],
        ) from None


@dataclass(frozen=True)
class Placement:
    """``count`` workers of ``instance_type``, looked up once and handed down (capacity check,
    Ray Train's ScalingConfig, the workers' accelerator)."""

    instance_type: str
    count: int
    instance: InstanceType | None  # None: 'local'
    resources: dict[str, float]    # Ray resources one worker reserves

    @property
    def accelerator(self) -> str:
        return self.instance.accelerator if self.instance else "cpu"

    @property
    def neuron_cores(self) -> int:
        return self.instance.neuron_cores if self.instance else 0

    def scaling_config(self):
        """Ray Train ``ScalingConfig`` for these workers."""
        from ray.train import ScalingConfig

        return ScalingConfig(num_workers=self.count, use_gpu="GPU" in self.resources,
                             resources_per_worker=dict(self.resources))

    def check_capacity(self, nodes: list[dict[str, float]]) -> None:
        check_capacity(self.instance_type, self.count, nodes, self.resources)


def _resources(spec: InstanceType | None) -> dict[str, float]:
    if spec is None:
        return {"CPU": 1}
    res: dict[str, float] = {"CPU": spec.cpus}
    if spec.gpus:
        res["GPU"] = spec.gpus
    if spec.neuron_cores:
        res["neuron_cores"] = spec.neuron_cores
    return res


def placement(instance_type: str, count: int) -> Placement:
    """Where ``count`` workers of ``instance_type`` go (SpecError for an unknown type)."""
    spec = lookup(instance_type)
    return Placement(instance_type, count, spec, _resources(spec))


def worker_resources(instance_type: str) -> dict[str, float]:
    """Ray resources one worker of this instance type reserves."""
    return _resources(lookup(instance_type))


def scaling_config(instance_type: str, instance_count: int):
    """Ray Train ``ScalingConfig`` for ``instance_count`` workers of ``instance_type``."""
    return placement(instance_type, instance_count).scaling_config()


def check_capacity(instance_type: str, instance_count: int, nodes: list[dict[str, float]],
                   need: dict[str, float] | None = None) -> None:
    """Fail at once if ``instance_count`` workers can never be placed on these nodes.

    ``nodes`` holds each alive node's *total* resources (not what is free now: a busy
    cluster frees up, a too-small one never grows). Workers are packed first-fit onto nodes.
    """
    need = need or worker_resources(instance_type)
    free = [dict(n) for n in nodes]
    placed = 0
    for node in free:
        while all(node.get(k, 0) >= v for k, v in need.items()) and placed < instance_count:
            for k, v in need.items():
                node[k] -= v
            placed += 1
    if placed >= instance_count:
        return
    per_node = ", ".join(
        "{" + ", ".join(f"{k}: {n.get(k, 0):g}" for k in need) + "}" for n in nodes
    ) or "no nodes"
    missing = [k for k in need if not any(n.get(k, 0) >= need[k] for n in nodes)]
    what = (f"no node has {', '.join(f'{k}={need[k]:g}' for k in missing)}" if missing
            else f"only {placed} of {instance_count} workers fit")
    raise CapacityError(
        f"instance_type {instance_type} x instance_count {instance_count} needs "
        f"{', '.join(f'{k}={v:g}' for k, v in need.items())} per worker, but {what} "
        f"(cluster nodes: {per_node}). Use a smaller instance_type (or 'local'), fewer "
        f"instances, or a bigger cluster (RAY_ADDRESS / --address).",
        instance_type=instance_type, instance_count=instance_count, placed=placed,
    )
