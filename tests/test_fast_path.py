"""The fast path (one-worker jobs as one task on a warm worker) against Ray Train: the same
record, MLflow run, artifacts and registration; scripts isolated from each other; a stop."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from conftest import XGB_HP

from mlcore import _storage, _tracking, constants
from mlcore.jobs import describe
from mlcore.records import Status, TrainingJobRecord
from mlcore.sagemaker import Estimator
from mlcore.services import training

pytestmark = pytest.mark.integration

# what differs between two runs of one job by nature: names, times, where the driver ran
_VOLATILE = {"TrainingJobName", "TrainingJobArn", "CreationTime", "LastModifiedTime",
             "TrainingStartTime", "TrainingEndTime", "TrainingTimeInSeconds",
             "BillableTimeInSeconds", "DriverPid", "DriverHost", "DriverStartTime", "MlflowRunId",
             "ModelArtifacts", "S3ModelArtifacts", "MlflowModelUri", "OutputDataConfig",
             "CheckpointConfig", "SecondaryStatusTransitions", "Progress", "PhaseTimings", "FinalMetricDataList",
             "ModelArtifactsUri", "Spec", "CheckpointUri", "Environment", "MlflowDetails"}


def _fit(monkeypatch, data_dir, fast: bool) -> tuple[Estimator, TrainingJobRecord]:
    monkeypatch.setenv("MLCORE_FAST_PATH", "1" if fast else "0")
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=XGB_HP,
                    checkpoint_frequency=10)
    est.fit({"train": str(data_dir / "train.csv"), "validation": str(data_dir / "validation.csv")},
            logs=False)
    return est, TrainingJobRecord.load(est.latest_training_job.name)


def test_fast_path_job_is_indistinguishable_from_a_ray_train_job(ray_session, data_dir, monkeypatch):
    runs = {fast: _fit(monkeypatch, data_dir, fast) for fast in (True, False)}
    (fast_est, fast), (slow_est, slow) = runs[True], runs[False]
    assert fast.status == slow.status == Status.COMPLETED
    # the record: every field but names and times alike; the same metrics, to the bit
    a, b = training.describe(fast.TrainingJobName), training.describe(slow.TrainingJobName)
    assert {k: v for k, v in a.items() if k not in _VOLATILE} == \
        {k: v for k, v in b.items() if k not in _VOLATILE}
    timing = ("data_load_seconds", "train_seconds")
    assert {k: v for k, v in fast.FinalMetrics.items() if k not in timing} == \
        {k: v for k, v in slow.FinalMetrics.items() if k not in timing}
    assert set(fast.PhaseTimings) == set(slow.PhaseTimings) >= {
        "Setup", "WorkerStartup", "DataLoad", "Train", "Commit", "MlflowModel", "Total"}
    for rec, est in ((fast, fast_est), (slow, slow_est)):
        # the artifacts: the committed model, SageMaker's tarball, checkpoints as Ray Train keeps them
        assert _storage.is_committed(rec.ModelArtifacts)
        assert est.model_data.endswith(f"{rec.TrainingJobName}/output/model.tar.gz")
        ckpts = {f.split("/")[-2] for f in _storage.list_files(rec.CheckpointUri) if "/checkpoint_" in f}
        assert 1 <= len(ckpts) <= 3, ckpts  # every 10 of 40 rounds and the final; 3 kept
        assert rec.MlflowModelUri
    # the MLflow runs: same params, metric keys and per-round history
    client = _tracking.client()
    ra, rb = client.get_run(fast.MlflowRunId).data, client.get_run(slow.MlflowRunId).data
    assert ra.params == rb.params
    assert set(ra.metrics) == set(rb.metrics)
    history = [[(m.step, m.value) for m in client.get_metric_history(r.MlflowRunId, "validation:auc")]
               for r in (fast, slow)]
    assert history[0] == history[1] and len(history[0]) == XGB_HP["num_round"]
    # registration works alike
    pkgs = [est.register(model_package_group_name=f"fastpath-{i}") for i, est in
            enumerate((fast_est, slow_est))]
    assert [p.version for p in pkgs] == [1, 1]


LEAKY = """
import json, os, sys
seen = {"leak": os.environ.get("MLCORE_TEST_LEAK"), "cwd": os.getcwd(),
        "module": "leaky_helper" in sys.modules}
os.environ["MLCORE_TEST_LEAK"] = "set by an earlier job"
sys.modules["leaky_helper"] = sys
os.chdir("/")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(seen, f)
"""


def test_a_script_that_changes_its_process_does_not_leak_into_the_next(ray_session, tmp_path):
    (tmp_path / "leaky.py").write_text(LEAKY)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("1,2\n")
    seen = []
    for _ in range(2):
        est = Estimator(entry_point="leaky.py", source_dir=str(tmp_path), instance_count=1)
        est.fit({"train": str(tmp_path / "data")}, logs=False)
        rec = describe(est.latest_training_job.name)
        assert rec.status == Status.COMPLETED, rec.FailureReason
        local = _storage.fetch_committed(rec.ModelArtifacts, str(tmp_path / rec.TrainingJobName))
        with open(os.path.join(local, "seen.json")) as f:
            seen.append(json.load(f))
    assert seen[1]["leak"] is None and not seen[1]["module"] and seen[1]["cwd"] != "/"
    assert os.environ.get("MLCORE_TEST_LEAK") is None


def test_a_stopped_fast_path_job_ends_stopped_and_the_worker_trains_the_next(ray_session, data_dir):
    hp = {**XGB_HP, "num_round": 100000, "max_depth": 8, "eta": 0.01}
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=hp)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", _fit_quietly(est, data_dir)))
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline:
        recs = [r for r in TrainingJobRecord.list() if r.AlgorithmName == "xgboost"
                and r.HyperParameters.get("num_round") == "100000" and (r.Progress or {}).get("round")]
        if recs:
            break
        time.sleep(0.2)
    assert recs, "the job never reported a round"
    training.stop(recs[0].TrainingJobName)
    thread.join(60)
    assert not thread.is_alive()
    rec = TrainingJobRecord.load(recs[0].TrainingJobName)
    assert rec.status == Status.STOPPED, (rec.status, rec.FailureReason)
    assert "stop" in (rec.FailureReason or "").lower()
    # the CPUs came back: the next job runs
    _, after = _fit(pytest.MonkeyPatch(), data_dir, True)
    assert after.status == Status.COMPLETED
    assert constants.get("MLCORE_FAST_PATH")


def _fit_quietly(est, data_dir):
    try:
        est.fit({"train": str(data_dir / "train.csv"), "validation": str(data_dir / "validation.csv")},
                logs=False)
    except Exception as e:  # a stopped job raises in fit
        return e
