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
