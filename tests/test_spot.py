"""Failures and preemptions of script-mode jobs: resume from the latest committed checkpoint,
never from a torn one, with no step lost or trained twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import lm_jobs
import pytest
from test_training import _wait_for, train_worker_pids

from mlcore import _tracking
from mlcore.errors import MLCoreError
from mlcore.jobs import describe
from mlcore.sagemaker import Estimator

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]
SCRIPTS = Path(__file__).parent / "scripts"


def _metric_steps(rec, key: str) -> list[int]:
    return sorted(m.step for m in _tracking.client().get_metric_history(rec.MlflowRunId, key))


def _sums(model_dir: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(model_dir).glob("sum-rank-*.json"))]


def test_kill_during_a_checkpoint_write_resumes_from_the_previous_one(ray_session, tmp_path, bucket):
    # Ray commits a checkpoint when its controller next polls the workers (every 0.25 s
    # here): 10 steps of 0.05 s leave step 20's checkpoint time to be committed before the
    # kill at step 30. A crash inside that window would resume one checkpoint earlier.
    steps = 60
    # Checkpoints (and code, model) on the loopback S3 server; worker-local checkpoint folders
    # where the job says (SageMaker's checkpoint_local_path), one per rank.
    est = Estimator(entry_point="counter.py", source_dir=str(SCRIPTS), instance_count=2,
                    max_retry_attempts=1, checkpoint_frequency=10, checkpoint_min_interval_s=0,
                    output_path=f"s3://{bucket}/out", checkpoint_s3_uri=f"s3://{bucket}/ckpt",
                    checkpoint_local_path=str(tmp_path / "local-ckpt"),
                    hyperparameters={"steps": steps, "step_seconds": 0.05, "torn_at": 30,
                                     "marker": str(tmp_path / "torn")})
    est.fit(logs=False)
    rec = describe(est.latest_training_job.name)
    assert rec.TrainingJobStatus == "Completed", rec.FailureReason
    assert (tmp_path / "torn").exists()  # rank 1 really died writing step 30's checkpoint
    local = tmp_path / "local-ckpt" / rec.TrainingJobName
    assert sorted(p.name for p in local.iterdir()) == ["rank-0", "rank-1"]
    [interruption] = rec.Interruptions
    assert interruption["Cause"] == "failure"
    assert interruption["ResumedFromStep"] == 20  # step 30's checkpoint was never committed
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": os.environ["AWS_ENDPOINT_URL"]})
    sums = [json.loads(fs.cat(p)) for p in sorted(fs.glob(rec.ModelArtifacts + "/sum-rank-*.json"))]
    assert len(sums) == 2
    for s in sums:
        assert s == {"sum": steps * (steps + 1) // 2, "step": steps, "resumed_from": 20}
    assert _metric_steps(rec, "sum") == list(range(1, steps + 1))


def test_worker_sigkill_resumes_and_ends_with_the_uninterrupted_weights(ray_session):
    """ZeRO-1 (sharded optimizer state in a DeepSpeed checkpoint): a worker SIGKILLed at a
    random point mid-training; the resumed run must end where an uninterrupted one does.

    400 steps (~45 ms each here) with a checkpoint every 50: the kill comes after step 150,
    at least 50 steps (seconds, many controller polls) after a checkpoint was reported, and
    leaves a few hundred steps to train after the restore, where a wrongly restored optimizer
    state or data position would show in the weights."""
    hp, kw = {"steps": 400}, {"checkpoint_frequency": 50, "checkpoint_min_interval_s": 0}
    distribution = {"deepspeed": {"zero_stage": 1}}
    clean = lm_jobs.run(distribution, hp, **kw)
    est = lm_jobs.estimator(distribution, hp, max_retry_attempts=2, **kw)
    name = "chaos-lm-kill"
    thread = threading.Thread(target=est.fit, kwargs={"logs": False, "job_name": name})
    thread.start()

    def step():
        try:
            return describe(name).Progress.get("step", 0)
        except MLCoreError:
            return 0

    _wait_for(lambda: step() >= 150, 240, "step 150")
    workers = train_worker_pids()
    assert len(workers) == 2, workers
    os.kill(workers[-1], signal.SIGKILL)
    thread.join(timeout=600)
    got = lm_jobs.results(name)
    rec = got["record"]
    [interruption] = rec.Interruptions
    assert interruption["Cause"] == "failure"
    assert interruption["ResumedFromStep"] >= 100 and interruption["ResumedFromStep"] % 50 == 0
    print(f"recovery: {interruption['DeadSeconds']:.1f}s without a worker, resumed at step "
          f"{interruption['ResumedFromStep']}")
    assert got["steps"] == list(range(1, hp["steps"] + 1))  # none missing or repeated
    a, b = lm_jobs.model_state(got["model_dir"]), lm_jobs.model_state(clean["model_dir"])
    for k in a:  # same seed, same data order, restored optimizer state: the same weights
        assert (a[k] - b[k]).norm() <= 1e-5 * b[k].norm() + 1e-7, k


def test_spot_preemption_notice_takes_a_just_in_time_checkpoint_and_loses_no_step(tmp_path):
    """A 3-node ray.cluster_utils.Cluster in its own process; one worker node is drained with
    reason PREEMPTION and an 8 s deadline, a replacement joins during the notice, and the
    drained node is removed at the deadline."""
    steps = 600
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLCORE_HOME")}
    res = subprocess.run([sys.executable, str(Path(__file__).parent / "preemption_run.py"),
                          str(tmp_path / "home"), str(steps), "8"],
                         capture_output=True, text=True, timeout=600, env=env)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert res.returncode == 0 and lines, res.stdout[-3000:] + res.stderr[-5000:]
    out = json.loads(lines[-1])
    assert out["status"] == "Completed", out["reason"]
    [interruption] = out["interruptions"]
    assert interruption["Cause"] == "preemption"
    # Zero lost steps: training resumed exactly where the just-in-time checkpoint was taken
    # (no periodic checkpoint exists in this job), and no step ran twice or not at all.
    assert interruption["ResumedFromStep"] == interruption["NoticeStep"] >= out["noticed_at"]
    sums = _sums(out["model"])
    assert [s["sum"] for s in sums] == [steps * (steps + 1) // 2] * 2
    assert out["steps"] == list(range(1, steps + 1))
    # billed: the training time less the seconds no worker ran (rounded to seconds)
    assert abs(out["training_s"] - out["billable_s"] - interruption["DeadSeconds"]) <= 1.0


def test_max_run_stops_the_job_as_sagemaker_does(ray_session):
    est = Estimator(entry_point="counter.py", source_dir=str(SCRIPTS), instance_count=2, max_run=12,
                    hyperparameters={"steps": 100_000, "step_seconds": 0.01})
    with pytest.raises(MLCoreError, match="stopped"):
        est.fit(logs=False)
    rec = describe(est.latest_training_job.name)
    assert (rec.TrainingJobStatus, rec.SecondaryStatus) == ("Stopped", "MaxRuntimeExceeded")
    assert "max_run (12 s)" in rec.FailureReason and rec.ModelArtifacts is None
    steps = _metric_steps(rec, "sum")
    assert steps and steps == list(range(1, len(steps) + 1)) and len(steps) < 100_000
