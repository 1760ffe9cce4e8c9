"""Trials reuse their Tune actor (``reuse_actors``), and nothing one trial's script does to
its process (environment, working directory, imported modules) reaches the next trial."""

from __future__ import annotations

import pytest

from mlcore.records import TrainingJobRecord
from mlcore.sagemaker import Estimator
from mlcore.sagemaker.tuner import CategoricalParameter, HyperparameterTuner

pytestmark = pytest.mark.integration

PROBE = '''
import argparse, os, sys, types

p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
args, _ = p.parse_known_args()
here = os.path.dirname(os.path.abspath(__file__))
leaks = [name for name, leaked in (
    ("environment", "MLCORE_TEST_LEAKED" in os.environ),
    ("cwd", os.getcwd() != here),
    ("module", "mlcore_test_leaked_module" in sys.modules)) if leaked]
print("leaks:", leaks, flush=True)
print(f"clean={0 if leaks else 1}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "leaks.txt"), "w") as f:
    f.write(" ".join(leaks))
# Now leave a mark in this process for the next trial to find.
os.environ["MLCORE_TEST_LEAKED"] = str(args.x)
sys.modules["mlcore_test_leaked_module"] = types.ModuleType("mlcore_test_leaked_module")
os.makedirs(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "elsewhere"), exist_ok=True)
os.chdir(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "elsewhere"))
'''


def test_a_script_changing_its_process_does_not_leak_into_the_next_trial(ray_session, tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    est = Estimator(entry_point="probe.py", source_dir=str(tmp_path), instance_count=1,
                    metric_definitions=[{"Name": "clean", "Regex": r"clean=([01])"}])
    tuner = HyperparameterTuner(est, "clean", {"x": CategoricalParameter([1, 2, 3])},
                                strategy="Grid", max_jobs=3, max_parallel_jobs=1)
    tuner.fit({"train": str(tmp_path / "probe.py")}, logs=False)
    desc = tuner.describe()
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    records = [TrainingJobRecord.load(j) for j in sorted(desc["TrainingJobs"])]
    assert [r.TrainingJobStatus for r in records] == ["Completed"] * 3
    assert [r.FinalMetrics.get("clean") for r in records] == [1.0] * 3, [r.FinalMetrics for r in records]
    # The trials ran one after another in one reused Tune actor (the jobs' driver process).
    assert len({r.DriverPid for r in records}) == 1, [r.DriverPid for r in records]
