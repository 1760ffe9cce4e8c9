"""Instance catalog -> Ray resources, and the 'can this cluster ever run it' check."""

import pytest

from mlcore import CapacityError, SpecError
from mlcore.instances import check_capacity, lookup, scaling_config, worker_resources


@pytest.mark.parametrize("itype,expected", [
    ("local", {"CPU": 1}),
    ("ml.m5.large", {"CPU": 2}),
    ("ml.m5.xlarge", {"CPU": 4}),
    ("ml.c5.2xlarge", {"CPU": 8}),
    ("ml.r5.large", {"CPU": 2}),
    ("ml.g5.xlarge", {"CPU": 4, "GPU": 1}),
    ("ml.g5.12xlarge", {"CPU": 48, "GPU": 4}),
    ("ml.p3.2xlarge", {"CPU": 8, "GPU": 1}),
    ("ml.p4d.24xlarge", {"CPU": 96, "GPU": 8}),
    ("ml.trn1.32xlarge", {"CPU": 128, "neuron_cores": 32}),
])
def test_worker_resources(itype, expected):
    assert worker_resources(itype) == expected


def test_memory_and_gpu_model_are_recorded():
    assert lookup("ml.r5.large").memory_gib == 16
    assert lookup("ml.p4d.24xlarge").gpu_model == "A100"
    assert lookup("ml.trn1.2xlarge").accelerator == "neuron"


def test_scaling_config():
    sc = scaling_config("ml.g5.xlarge", 2)
    assert sc.num_workers == 2 and sc.use_gpu
    assert sc.resources_per_worker == {"CPU": 4, "GPU": 1}
    assert not scaling_config("local", 3).use_gpu


def test_unknown_type_suggests():
    with pytest.raises(SpecError, match="did you mean ml.m5.large"):
        lookup("ml.m5.lage")


NODE = {"CPU": 2.0, "memory": 8e9}


def test_capacity_fits_and_packs_across_nodes():
    check_capacity("local", 2, [NODE])
    check_capacity("ml.m5.large", 2, [NODE, NODE])


@pytest.mark.parametrize("itype,count,nodes,words", [
    ("ml.m5.xlarge", 1, [NODE], "no node has CPU=4"),
    ("ml.g5.xlarge", 1, [{"CPU": 8.0}], "no node has GPU=1"),
    ("ml.trn1.2xlarge", 1, [{"CPU": 16.0}], "neuron_cores=2"),
    ("ml.m5.large", 2, [NODE], "only 1 of 2 workers fit"),
    ("local", 3, [NODE], "only 2 of 3 workers fit"),
])
def test_capacity_error_names_what_is_missing(itype, count, nodes, words):
    with pytest.raises(CapacityError) as info:
        check_capacity(itype, count, nodes)
    assert words in str(info.value)
    assert "Use a smaller instance_type" in str(info.value)


# -- the catalog is SageMaker's -----------------------------------------------------------------

@pytest.mark.parametrize("itype,cpus,mem,gpus,neuron", [
    ("ml.m4.xlarge", 4, 16, 0, 0), ("ml.c4.2xlarge", 8, 15, 0, 0), ("ml.p2.xlarge", 4, 61, 1, 0),
    ("ml.r4.large", 2, 15.25, 0, 0), ("ml.t2.medium", 2, 4, 0, 0), ("ml.c5.xlarge", 4, 8, 0, 0),
    ("ml.c5n.9xlarge", 36, 96, 0, 0), ("ml.m5d.24xlarge", 96, 384, 0, 0),
    ("ml.p3dn.24xlarge", 96, 768, 8, 0), ("ml.p4de.24xlarge", 96, 1152, 8, 0),
    ("ml.g6e.12xlarge", 48, 384, 4, 0), ("ml.g4dn.16xlarge", 64, 256, 1, 0),
    ("ml.trn1.32xlarge", 128, 512, 0, 32), ("ml.trn1n.32xlarge", 128, 512, 0, 32),
    ("ml.inf1.6xlarge", 24, 48, 0, 16), ("ml.inf2.xlarge", 4, 16, 0, 2),
    ("ml.x1.32xlarge", 128, 1952, 0, 0), ("ml.z1d.large", 2, 16, 0, 0),
])
def test_catalog_spot_checks(itype, cpus, mem, gpus, neuron):
    t = lookup(itype)
    assert (t.cpus, t.memory_gib, t.gpus, t.neuron_cores) == (cpus, mem, gpus, neuron)


def test_catalog_holds_every_type_botocore_knows():
    """Every instance type of SageMaker's API model (training, hosting, processing, transform,
    notebooks, Studio, HyperPod) is in the catalog."""
    import gzip
    import json
    from pathlib import Path

    import botocore

    from mlcore.instances import CATALOG

    model = next((Path(botocore.__file__).parent / "data" / "sagemaker").glob("*/service-2.json*"))
    with (gzip.open(model) if model.suffix == ".gz" else open(model)) as f:
        shapes = json.load(f)["shapes"]
    names = {e for s in shapes.values() for e in s.get("enum", [])
             if e.startswith("ml.") and e.count(".") == 2 and not e.startswith(("ml.eia", "ml.geospatial"))}
    assert len(names) > 300
    assert sorted(names - set(CATALOG)) == []


def test_local_modes():
    assert lookup("local") is None
    assert worker_resources("local_gpu") == {"CPU": 1, "GPU": 1}


# -- fitting to this machine --------------------------------------------------------------------

LAPTOP = {"CPU": 2.0, "memory": 16e9}


def fitted(itype, count, node=LAPTOP):
    from mlcore.instances import placement, scale_down

    return scale_down(placement(itype, count), node)


def test_scale_down_to_the_machine_says_what_and_why():
    res, note = fitted("ml.m5.xlarge", 1)
    assert res == {"CPU": 2}
    assert note == ("ml.m5.xlarge asks 4 CPUs and 16 GiB per instance; this machine has 2 CPUs: "
                    "running it with 2 CPUs (SageMaker local mode ignores instance sizes too); "
                    "MLCORE_STRICT_RESOURCES=1 keeps the check strict")


@pytest.mark.parametrize("itype,count,node,expected,words", [
    ("ml.m5.xlarge", 2, LAPTOP, {"CPU": 1}, "running each of the 2 instances with 1 CPU"),
    ("ml.m4.xlarge", 3, LAPTOP, {"CPU": 0.66}, "ml.m4.xlarge x 3 asks"),
    ("ml.g5.xlarge", 1, LAPTOP, {"CPU": 2}, "1 GPU and 16 GiB (A10G)"),
    ("ml.g5.12xlarge", 1, {"CPU": 8.0, "GPU": 2.0}, {"CPU": 8, "GPU": 2}, "with 8 CPUs, 2 GPUs"),
    ("ml.inf2.xlarge", 1, LAPTOP, {"CPU": 2}, "without NeuronCores it runs on CPU"),
])
def test_scale_down_cases(itype, count, node, expected, words):
    res, note = fitted(itype, count, node)
    assert res == expected
    assert words in note


def test_gpu_type_without_gpus_runs_on_cpu():
    from mlcore.instances import placement

    p = placement("ml.g4dn.xlarge", 1)
    _, note = fitted("ml.g4dn.xlarge", 1)
    assert p.accelerator == "gpu" and "no GPU" in note and "runs on CPU" in note


@pytest.fixture
def embedded(monkeypatch):
    """As in a process of the local Ray mlcore started (no Ray needed)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("MLCORE_STRICT_RESOURCES", raising=False)
    monkeypatch.delenv("MLCORE_SKIP_CAPACITY_CHECK", raising=False)
    monkeypatch.setenv("MLCORE_EMBEDDED_RAY", "1")
    # Not the process that started it (the suite's own Ray may run in this one).
    from mlcore import _session

    monkeypatch.setattr(_session, "started_local_ray", lambda: False)


def test_fit_scales_down_on_the_embedded_ray_and_says_it_once(embedded, caplog):
    from mlcore.instances import placement

    with caplog.at_level("WARNING", logger="mlcore"):
        for _ in range(2):
            p = placement("ml.c5.xlarge", 1).fit([LAPTOP])
    assert p.resources == {"CPU": 2} and p.scaling_config().resources_per_worker == {"CPU": 2}
    assert [r.getMessage() for r in caplog.records].count(
        next(r.getMessage() for r in caplog.records if "ml.c5.xlarge asks" in r.getMessage())) == 1


def test_fit_leaves_a_fitting_type_alone(embedded):
    from mlcore.instances import placement

    p = placement("ml.m5.large", 1)
    assert p.fit([LAPTOP]) is p


@pytest.mark.parametrize("env", [{"MLCORE_STRICT_RESOURCES": "1"}, {"RAY_ADDRESS": "10.0.0.1:6379"},
                                 {"MLCORE_EMBEDDED_RAY": ""}])
def test_fit_is_strict_on_a_cluster_or_when_asked(embedded, monkeypatch, env):
    from mlcore.instances import placement

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(CapacityError, match="no node has CPU=4"):
        placement("ml.m5.xlarge", 1).fit([LAPTOP])


def test_fit_is_strict_on_several_nodes(embedded):
    from mlcore.instances import placement

    with pytest.raises(CapacityError):
        placement("ml.m5.xlarge", 1).fit([LAPTOP, LAPTOP])
