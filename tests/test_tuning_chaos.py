"""Chaos: the tuning driver (and the local Ray it started) is killed mid-job; `mlcore tune
--resume` finishes it. Every trial runs exactly once: finished trials are not trained again,
the interrupted one resumes its own training job from its checkpoint, none is lost."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcore.records import TrainingJobRecord, TuningJobRecord

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]
ROOT = Path(__file__).parent.parent
STEPS = 60


def _spec(path: Path, name: str) -> None:
    path.write_text(f"""
kind: TuningJob
name: {name}
estimator:
  entry_point: counter.py
  source_dir: {ROOT / 'tests' / 'scripts'}
  instance_count: 1
  checkpoint_frequency: 10
  checkpoint_min_interval_s: 0
  hyperparameters: {{steps: {STEPS}}}
objective_metric_name: sum
objective_type: Maximize
hyperparameter_ranges:
  step_seconds: {{type: Continuous, min_value: 0.08, max_value: 0.1}}
max_jobs: 3
max_parallel_jobs: 1
strategy: Bayesian
random_seed: 11
""")


def _cli(*args, **kw) -> subprocess.Popen:
    env = {**os.environ, "MLCORE_NUM_CPUS": "2"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "mlcore.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kw)


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _checkpointed(job: str) -> bool:
    if not TrainingJobRecord.exists(job):  # the trial is named in the tuning record before its job starts
        return False
    rec = TrainingJobRecord.load(job, liveness=False)
    if rec.TrainingJobStatus != "InProgress" or not rec.CheckpointUri:
        return False
    ckpts = Path(rec.CheckpointUri)
    return ckpts.is_dir() and any(p.name.startswith("checkpoint_") for p in ckpts.rglob("checkpoint_*"))


def _gone(pgid: int) -> bool:
    import psutil

    return not [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pgid]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_killed_tuning_driver_resumes_and_runs_each_trial_once(tmp_path):
    import mlflow
    import optuna

    from mlcore import _session

    name = f"chaos-{int(time.time()) % 100000}"
    spec = tmp_path / "tune.yaml"
    _spec(spec, name)
    driver = _cli("tune", str(spec), "--quiet")
    try:
        # Kill when the first trial is done and the second has committed a checkpoint.
        def second_checkpointed():
            if not TuningJobRecord.exists(name):
                return None
            jobs = sorted(TuningJobRecord.load(name).TrainingJobs)
            return jobs if len(jobs) >= 2 and _checkpointed(jobs[1]) else None

        jobs = _wait(second_checkpointed, 240, "the second trial's first checkpoint")
        first = TrainingJobRecord.load(jobs[0], liveness=False)
        assert first.TrainingJobStatus == "Completed", first.FailureReason
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started
        driver.wait(timeout=30)
        _wait(lambda: _gone(driver.pid), 60, "the killed driver's processes to exit")
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    before = TrainingJobRecord.load(jobs[0], liveness=False)
    cut = TrainingJobRecord.load(jobs[1], liveness=False)
    assert cut.TrainingJobStatus == "InProgress"  # cut off mid-training
    assert TuningJobRecord.load(name, liveness=False).HyperParameterTuningJobStatus == "InProgress"
    seen = TuningJobRecord.load(name)  # what `describe` shows: its driver is gone
    assert seen.HyperParameterTuningJobStatus == "Failed" and f"pid {driver.pid}" in seen.FailureReason

    resumed = _cli("tune", "--resume", name, "--quiet")
    try:
        out, _ = resumed.communicate(timeout=420)
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
    assert resumed.returncode == 0, out[-3000:]

    rec = TuningJobRecord.load(name)
    assert rec.HyperParameterTuningJobStatus == "Completed", rec.FailureReason
    assert rec.Resumes == 1
    assert len(rec.TrainingJobs) == len(set(rec.TrainingJobs)) == 3, rec.TrainingJobs
    assert rec.TrainingJobs[:2] == jobs[:2] or sorted(rec.TrainingJobs)[:2] == sorted(jobs[:2])
    # The finished trial was not trained again: its record is exactly as before the kill
    # (but for its MLflow model, logged at the end if it turned out the best).
    after = TrainingJobRecord.load(jobs[0], liveness=False)
    assert dataclasses.replace(after, MlflowModelUri=None) == dataclasses.replace(before, MlflowModelUri=None)
    # The interrupted trial resumed its own job from its checkpoint and ended with every step
    # trained exactly once (counter.py's running sum).
    again = TrainingJobRecord.load(jobs[1], liveness=False)
    assert again.TrainingJobStatus == "Completed", again.FailureReason
    assert any("resuming from the job's checkpoints" in t["StatusMessage"]
               for t in again.SecondaryStatusTransitions)
    assert again.MlflowRunId == cut.MlflowRunId and again.CreationTime == cut.CreationTime
    model = json.loads((Path(again.ModelArtifacts) / "sum-rank-0.json").read_text())
    assert model["sum"] == STEPS * (STEPS + 1) // 2 and model["step"] == STEPS
    assert model["resumed_from"] >= 10, model
    for job in rec.TrainingJobs:
        assert TrainingJobRecord.load(job).TrainingJobStatus == "Completed"
    # Tune, Optuna and MLflow each saw three trials, not four.
    states = json.loads(sorted(Path(rec.ExperimentPath).glob("experiment_state-*.json"))[-1].read_text())
    assert len(states["trial_data"]) == 3
    study = optuna.load_study(study_name=name, storage=rec.StudyUri)
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 3
    client = mlflow.MlflowClient(_session.tracking_uri())
    runs = client.search_runs([client.get_run(rec.MlflowRunId).info.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{rec.MlflowRunId}'")
    assert sorted(r.info.run_name for r in runs) == sorted(rec.TrainingJobs)
