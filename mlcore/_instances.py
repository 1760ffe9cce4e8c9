"""SageMaker instance types -> per-worker resources -> Ray ``ScalingConfig``.

Memory is recorded for information and for the messages; Ray schedules on CPU, GPU, neuron
cores and HPUs only, because Ray's ``memory`` resource on small machines is far below the
instance's nominal memory and reserving it would refuse jobs that run fine.

On the local Ray that mlcore starts itself, a type bigger than the machine runs on what the
machine has (:func:`fit`, said once), as SageMaker local mode ignores instance sizes; on a
cluster (``RAY_ADDRESS``) or with ``MLCORE_STRICT_RESOURCES=1`` a job that can never be placed
fails at once.
"""

from __future__ import annotations

import difflib
import logging
import math
from dataclasses import dataclass, replace

from mlcore import _session, constants
from mlcore.errors import CapacityError, SpecError

log = logging.getLogger("mlcore")


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: int
    memory_gib: float
    gpus: int = 0
    gpu_model: str = ""
    neuron_cores: int = 0
    hpus: int = 0  # Intel Gaudi accelerators (ml.dl1)

    @property
    def accelerator(self) -> str:
        return "gpu" if self.gpus else "neuron" if self.neuron_cores else "hpu" if self.hpus else "cpu"


# vCPUs of a size, for every family that follows EC2's usual ladder.
_VCPUS = {"micro": 2, "small": 2, "medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8,
          "3xlarge": 12, "4xlarge": 16, "6xlarge": 24, "8xlarge": 32, "9xlarge": 36,
          "10xlarge": 40, "12xlarge": 48, "16xlarge": 64, "18xlarge": 72, "24xlarge": 96,
          "32xlarge": 128, "48xlarge": 192, "96xlarge": 384}


def _ladder(gib_per_vcpu: float, families: str, sizes: str) -> list[InstanceType]:
    """Every ``ml.<family>.<size>``: vCPUs from the size, memory ``gib_per_vcpu`` per vCPU."""
    return [InstanceType(f"ml.{fam}.{size}", _VCPUS[size], _VCPUS[size] * gib_per_vcpu)
            for fam in families.split() for size in sizes.split()]


def _table(family: str, rows: str, gpu_model: str = "", accel: str = "gpus") -> list[InstanceType]:
    """``rows``: "size vcpus GiB [accelerators]" separated by commas."""
    out = []
    for row in rows.split(","):
        size, cpus, mem, *acc = row.split()
        extra = {accel: int(acc[0]), "gpu_model": gpu_model if accel == "gpus" else ""} if acc else {}
        out.append(InstanceType(f"ml.{family}.{size}", int(cpus), float(mem), **extra))
    return out


_INTEL6 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"
_INTEL7 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge"
_INTEL8 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge"
_AMD6 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge"
_GRAVITON = "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"
_GRAVITON4 = _GRAVITON + " 24xlarge 48xlarge"
_FLEX = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"

# SageMaker's instance types (training, hosting, processing, transform, notebooks, Studio,
# HyperPod: the enums of botocore's SageMaker model), current and previous generations, with
# the vCPUs, memory and accelerators of AWS's instance tables. tests/test_instances.py checks
# that every name botocore knows is here.
_TYPES: list[InstanceType] = [
    # General purpose: 4 GiB per vCPU.
    *_ladder(4, "m4", "xlarge 2xlarge 4xlarge 10xlarge 16xlarge"),
    *_ladder(4, "m5 m5d", "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"),
    *_ladder(4, "m6i m6id", _INTEL6), *_ladder(4, "m6a", _AMD6), *_ladder(4, "m7i", _INTEL7),
    *_ladder(4, "m8i", _INTEL8), *_ladder(4, "m7i-flex m8i-flex", _FLEX),
    *_ladder(4, "m6g m6gd m7g", _GRAVITON), *_ladder(4, "m8g", _GRAVITON4),
    *_ladder(4, "m8a", "16xlarge"),
    *_table("t2", "medium 2 4, large 2 8, xlarge 4 16, 2xlarge 8 32"),
    *_table("t3", "micro 2 1, small 2 2, medium 2 4, large 2 8, xlarge 4 16, 2xlarge 8 32"),
    # Compute optimized: 2 GiB per vCPU.
    *_table("c4", "large 2 3.75, xlarge 4 7.5, 2xlarge 8 15, 4xlarge 16 30, 8xlarge 36 60"),
    *_ladder(2, "c5 c5d", "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge"),
    *_table("c5n", "large 2 5.25, xlarge 4 10.5, 2xlarge 8 21, 4xlarge 16 42, 9xlarge 36 96, "
                   "18xlarge 72 192"),
    *_ladder(2, "c6i c6id c6in", _INTEL6), *_ladder(2, "c6a", _AMD6), *_ladder(2, "c7i", _INTEL7),
    *_ladder(2, "c8i", _INTEL8.split(" ", 1)[1]), *_ladder(2, "c7i-flex c8i-flex", _FLEX),
    *_ladder(2, "c6g c6gd c6gn c7g", _GRAVITON), *_ladder(2, "c8g", _GRAVITON4),
    *_ladder(2, "c8a", "16xlarge"),
    # Memory optimized: 8 GiB per vCPU (r4 and x1: 7.625 and 15.25).
    *_ladder(7.625, "r4", "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge"),
    *_ladder(8, "r5 r5d", "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"),
    *_ladder(8, "r6i r6id", _INTEL6), *_ladder(8, "r7i", _INTEL7), *_ladder(8, "r8i", _INTEL8),
    *_ladder(8, "r8i-flex", _FLEX), *_ladder(8, "r6g r6gd r7gd", _GRAVITON),
    *_ladder(8, "r8g", _GRAVITON4),
    *_ladder(8, "z1d", "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge"),
    *_ladder(15.25, "x1", "16xlarge 32xlarge"),
    *_ladder(8, "i3en", "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 24xlarge"),
    # NVIDIA GPUs.
    *_table("p2", "xlarge 4 61 1, 8xlarge 32 488 8, 16xlarge 64 732 16", "K80"),
    *_table("p3", "2xlarge 8 61 1, 8xlarge 32 244 4, 16xlarge 64 488 8", "V100"),
    *_table("p3dn", "24xlarge 96 768 8", "V100"),
    *_table("p4d", "24xlarge 96 1152 8", "A100"), *_table("p4de", "24xlarge 96 1152 8", "A100-80GB"),
    *_table("p5", "4xlarge 16 256 1, 48xlarge 192 2048 8", "H100"),
    *_table("p5e", "48xlarge 192 2048 8", "H200"), *_table("p5en", "48xlarge 192 2048 8", "H200"),
    *_table("p6-b200", "48xlarge 192 2048 8", "B200"),
    *_table("p6-b300", "48xlarge 192 4096 8", "B300"),
    *_table("p6e-gb200", "36xlarge 144 960 4", "GB200"),
    *_table("g4dn", "xlarge 4 16 1, 2xlarge 8 32 1, 4xlarge 16 64 1, 8xlarge 32 128 1, "
                    "12xlarge 48 192 4, 16xlarge 64 256 1", "T4"),
    *_table("g5", "xlarge 4 16 1, 2xlarge 8 32 1, 4xlarge 16 64 1, 8xlarge 32 128 1, "
                  "12xlarge 48 192 4, 16xlarge 64 256 1, 24xlarge 96 384 4, 48xlarge 192 768 8", "A10G"),
    *_table("g6", "xlarge 4 16 1, 2xlarge 8 32 1, 4xlarge 16 64 1, 8xlarge 32 128 1, "
                  "12xlarge 48 192 4, 16xlarge 64 256 1, 24xlarge 96 384 4, 48xlarge 192 768 8", "L4"),
    *_table("g6e", "xlarge 4 32 1, 2xlarge 8 64 1, 4xlarge 16 128 1, 8xlarge 32 256 1, "
                   "12xlarge 48 384 4, 16xlarge 64 512 1, 24xlarge 96 768 4, 48xlarge 192 1536 8", "L40S"),
    *_table("gr6", "4xlarge 16 128 1, 8xlarge 32 256 1", "L4"),
    # Blackwell G7 / G7e (RTX PRO 4500 / 6000): figures of the 2026 launch, the least certain here.
    *_table("g7", "2xlarge 8 32 1, 4xlarge 16 64 1, 8xlarge 32 128 1, 12xlarge 48 256 2, "
                  "24xlarge 96 512 4, 48xlarge 192 1024 8", "RTX PRO 4500"),
    *_table("g7e", "2xlarge 8 64 1, 4xlarge 16 128 1, 8xlarge 32 256 1, 12xlarge 48 512 2, "
                   "24xlarge 96 1024 4, 48xlarge 192 2048 8", "RTX PRO 6000"),
    # AWS Inferentia / Trainium: NeuronCores (Ray's neuron_cores resource); trn2 counts the
    # logical cores of its default LNC=2 (4 per Trainium2 chip).
    *_table("inf1", "xlarge 4 8 4, 2xlarge 8 16 4, 6xlarge 24 48 16, 24xlarge 96 192 64",
            accel="neuron_cores"),
    *_table("inf2", "xlarge 4 16 2, 8xlarge 32 128 2, 24xlarge 96 384 12, 48xlarge 192 768 24",
            accel="neuron_cores"),
    *_table("trn1", "2xlarge 8 32 2, 32xlarge 128 512 32", accel="neuron_cores"),
    *_table("trn1n", "32xlarge 128 512 32", accel="neuron_cores"),
    *_table("trn2", "3xlarge 12 128 4, 48xlarge 192 2048 64", accel="neuron_cores"),
    # Intel Gaudi (Ray's HPU resource).
    *_table("dl1", "24xlarge 96 768 8", accel="hpus"),
]

CATALOG: dict[str, InstanceType] = {t.name: t for t in _TYPES}

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
        """What the workers run on: what they reserve (a GPU type fitted to a machine without
        GPUs runs on CPU)."""
        r = self.resources
        return "gpu" if r.get("GPU") else "neuron" if r.get("neuron_cores") else "hpu" if r.get("HPU") else "cpu"

    @property
    def neuron_cores(self) -> int:
        return int(self.resources.get("neuron_cores", 0))

    def scaling_config(self):
        """Ray Train ``ScalingConfig`` for these workers."""
        from ray.train import ScalingConfig

        return ScalingConfig(num_workers=self.count, use_gpu="GPU" in self.resources,
                             resources_per_worker=dict(self.resources))

    def check_capacity(self, nodes: list[dict[str, float]]) -> None:
        check_capacity(self.instance_type, self.count, nodes, self.resources)

    def fit(self, nodes: list[dict[str, float]]) -> Placement:
        """This placement on these nodes (each one's total resources): itself when it fits;
        on mlcore's own local Ray (not :func:`strict`) scaled down to the machine, said once
        in the log; else a CapacityError. ``MLCORE_SKIP_CAPACITY_CHECK`` skips the check."""
        if constants.get("MLCORE_SKIP_CAPACITY_CHECK"):
            return self
        try:
            self.check_capacity(nodes)
            return self
        except CapacityError:
            if strict() or len(nodes) != 1:
                raise
        resources, note = scale_down(self, nodes[0])
        if note not in _said:
            _said.add(note)
            log.warning("%s", note)
        return replace(self, resources=resources)


_said: set[str] = set()  # scale-down lines already logged by this process


def strict() -> bool:
    """Whether an instance type must fit as it is: always, except on the local Ray mlcore
    started (in this process, or in a process of that Ray: a tuning trial), unless
    ``MLCORE_STRICT_RESOURCES`` says so. A cluster (``RAY_ADDRESS``) is never scaled down."""
    if constants.get("MLCORE_STRICT_RESOURCES"):
        return True
    if _session.started_local_ray():
        return False
    return bool(constants.get("RAY_ADDRESS")) or not constants.get("MLCORE_EMBEDDED_RAY")


_NAMES = {"CPU": ("CPU", "CPUs"), "GPU": ("GPU", "GPUs"), "neuron_cores": ("NeuronCore", "NeuronCores"),
          "HPU": ("Gaudi accelerator", "Gaudi accelerators")}


def _amount(n: float, key: str) -> str:
    one, many = _NAMES[key]
    return f"{n:g} {one if n == 1 else many}" if n else f"no {one}"


def scale_down(p: Placement, node: dict[str, float]) -> tuple[dict[str, float], str]:
    """Per-worker resources that let ``p.count`` workers fit on ``node`` (a machine's totals),
    and the one line that says what was scaled down. CPUs are shared out (whole CPUs while
    each worker gets at least one); accelerators the machine lacks are dropped, so a GPU type
    runs on CPU (code that insists on CUDA fails on its own, as it would in local mode)."""
    fitted = {}
    for key, want in p.resources.items():
        share = node.get(key, 0) / p.count
        have = min(want, math.floor(share) if share >= 1 else math.floor(share * 100) / 100)
        if have > 0:
            fitted[key] = have
    fitted.setdefault("CPU", 0.01)  # never 0: a worker that reserves nothing could pile up
    asked = ", ".join(_amount(v, k) for k, v in p.resources.items())
    if p.instance and p.instance.memory_gib:
        asked += f" and {p.instance.memory_gib:g} GiB"
    if p.instance and p.instance.gpu_model:
        asked += f" ({p.instance.gpu_model})"
    machine = ", ".join(_amount(node.get(k, 0), k) for k in p.resources)
    running = ", ".join(_amount(fitted.get(k, 0), k) for k in p.resources)
    each = f"each of the {p.count} instances" if p.count > 1 else "it"
    lost = [k for k in p.resources if k != "CPU" and k not in fitted]
    caveat = (f"; without {', '.join(_NAMES[k][1] for k in lost)} it runs on CPU (code that "
              "needs them fails on its own)") if lost else ""
    what = f"{p.instance_type} x {p.count}" if p.count > 1 else p.instance_type
    return fitted, (f"{what} asks {asked} per instance; this machine has {machine}: running "
                    f"{each} with {running}{caveat} (SageMaker local mode ignores instance sizes "
                    "too); MLCORE_STRICT_RESOURCES=1 keeps the check strict")


def _resources(spec: InstanceType | None) -> dict[str, float]:
    if spec is None:
        return {"CPU": 1}
    res: dict[str, float] = {"CPU": spec.cpus}
    if spec.gpus:
        res["GPU"] = spec.gpus
    if spec.neuron_cores:
        res["neuron_cores"] = spec.neuron_cores
    if spec.hpus:
        res["HPU"] = spec.hpus
    return res


def placement(instance_type: str, count: int) -> Placement:
    """Where ``count`` workers of ``instance_type`` go (SpecError for an unknown type)."""
    spec = lookup(instance_type)
    return Placement(instance_type, count, spec, _resources(spec))


def worker_resources(instance_type: str) -> dict[str, float]:
    """Ray resources one worker of this instance type asks for (before :meth:`Placement.fit`)."""
    return _resources(lookup(instance_type))


def fitted_resources(instance_type: str, count: int = 1) -> dict[str, float]:
    """Ray resources of one of ``count`` workers (or endpoint replicas) on the Ray this
    process is connected to: :meth:`Placement.fit` against its nodes."""
    return placement(instance_type, count).fit(_session.cluster_nodes()).resources


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
