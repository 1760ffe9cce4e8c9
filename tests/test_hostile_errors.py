"""Errors that hide their cause: validation reaches the output locations a
run would trip on, and a run's failure reason is one line that names the field and keeps the
root cause (never a remote traceback, never SQLAlchemy's "Background on this error" line).

One Ray training job in all (the input removed after the driver's checks); the rest fail
before any worker starts, or need no Ray at all."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from mlcore import MLCoreError, SpecError, TrainingJob, _session, _tracking
from mlcore.jobs import describe
from mlcore.sagemaker import Estimator

HP = {"num_round": 3, "max_depth": 2, "objective": "binary:logistic", "seed": 1}


def _spec(data_dir, **fields) -> TrainingJob:
    return TrainingJob(algorithm="xgboost", hyperparameters=HP, instance_count=1,
                       inputs={"train": str(data_dir / "train.csv")}, **fields)


def _one_line_without_traceback(text: str) -> None:
    assert "\n" not in text, text
    assert "Traceback" not in text and 'File "' not in text, text
    assert "Background on this error" not in text, text


def test_validate_refuses_output_locations_that_take_no_writes(tmp_path, data_dir):
    """``mlcore validate`` (no Ray): an output_path and a checkpoint_s3_uri under a regular
    file are both reported, each naming its field and the fix; a tuning job's check reaches
    its estimator's, as ``estimator.output_path``."""
    from mlcore import parse_spec
    from mlcore.services import tuning

    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    job = tmp_path / "job.yaml"
    job.write_text(f"""kind: TrainingJob
algorithm: xgboost
hyperparameters: {{num_round: 3}}
inputs: {{train: {data_dir / 'train.csv'}}}
output_path: {afile / 'out'}
checkpoint_s3_uri: {afile / 'ckpt'}
""")
    done = subprocess.run([sys.executable, "-m", "mlcore.cli", "validate", str(job)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    why = f"is not writable ({afile} is a file, not a folder); choose a folder you can write"
    assert done.stderr.strip() == (f"{job}: output_path: {afile / 'out'} {why}; "
                                   f"checkpoint_s3_uri: {afile / 'ckpt'} {why}"), done.stderr
    spec = parse_spec({"kind": "TuningJob", "objective_metric_name": "validation:auc", "max_jobs": 2,
                       "estimator": {"algorithm": "xgboost", "output_path": str(afile / "out"),
                                     "hyperparameters": {"num_round": 3, "eval_metric": "auc",
                                                         "objective": "binary:logistic"},
                                     "inputs": {"train": str(data_dir / "train.csv"),
                                                "validation": str(data_dir / "validation.csv")}},
                       "hyperparameter_ranges": {"eta": {"type": "Continuous", "min_value": 0.1,
                                                         "max_value": 0.5}}})
    with pytest.raises(SpecError) as info:
        tuning.check(spec)
    assert info.value.problems == [("estimator.output_path", f"{afile / 'out'} {why}")]
    assert str(info.value) == f"estimator.output_path: {afile / 'out'} {why}"


def test_check_probes_writes_without_leaving_anything(tmp_path, data_dir):
    """The deep check probes the nearest existing folder and leaves no folder or file behind;
    a path under a file, and a folder the user may not write (mode 0500), are refused with
    the reason as (field path, message)."""
    from mlcore.services import training

    root = tmp_path / "root"
    root.mkdir()
    training.check(_spec(data_dir, output_path=str(root / "a" / "b" / "c")))  # creatable: fine
    assert list(root.iterdir()) == []
    (root / "afile").write_text("")
    with pytest.raises(SpecError) as info:
        training.check(_spec(data_dir, checkpoint_s3_uri=str(root / "afile" / "ckpt")))
    assert info.value.problems == [("checkpoint_s3_uri", f"{root / 'afile' / 'ckpt'} is not writable "
                                    f"({root / 'afile'} is a file, not a folder); choose a folder you can write")]
    if os.geteuid() != 0:  # root writes anywhere
        locked = root / "locked"
        locked.mkdir(mode=0o500)
        try:
            with pytest.raises(SpecError) as info:
                training.check(_spec(data_dir, output_path=str(locked / "out")))
        finally:
            locked.chmod(0o700)
        assert info.value.problems == [("output_path", f"{locked / 'out'} is not writable "
                                        "(Permission denied); choose a folder you can write")]
    assert sorted(p.name for p in root.iterdir()) == ["afile"] + (["locked"] if os.geteuid() else [])


def test_s3_output_checks_the_bucket_where_reachable(bucket, data_dir, monkeypatch):
    """s3://: a missing bucket is refused naming the field; an existing one passes; a store
    that does not answer is not a validation error (working offline is allowed)."""
    from mlcore.services import training

    training.check(_spec(data_dir, output_path=f"s3://{bucket}/out"))
    with pytest.raises(SpecError, match=r"^output_path: s3://no-such-bucket-x1/out is not "
                       r"writable \(bucket no-such-bucket-x1 does not exist\)"):
        training.check(_spec(data_dir, output_path="s3://no-such-bucket-x1/out"))
    from conftest import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    training.check(_spec(data_dir, output_path="s3://no-such-bucket-x1/out"))


@pytest.mark.integration
def test_output_unwritable_after_validation_fails_naming_the_field(ray_session, tmp_path, data_dir):
    """Valid when checked; the output folder is replaced by a file before the job runs: the
    driver refuses it before any worker starts, with the field and the OS's reason."""
    from mlcore.services import training

    out = tmp_path / "out"
    plan = training.prepare(_spec(data_dir, output_path=str(out)), None, "hostile-out")
    out.write_text("now a file")
    record = training.execute(plan, logs=False)
    assert record.TrainingJobStatus == "Failed"
    assert record.FailureReason == (f"output_path: {out} is not writable ({out} is a file, not a "
                                    "folder); choose a folder you can write")
    _one_line_without_traceback(record.FailureReason)
    assert _tracking.client().get_run(record.MlflowRunId).info.status == "FAILED"


@pytest.mark.integration
@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "ray-train"])
def test_input_removed_mid_job_names_the_channel_and_prints_no_traceback(
        ray_session, tmp_path, data_dir, monkeypatch, capfd, fast):
    """The training data disappears after the driver's checks: the worker's FileNotFoundError
    becomes a one-line reason naming inputs.train, in the record and the raised error, and
    the worker's traceback stays in its log file: the terminal gets one line for it (Ray
    Train's worker), or none (the fast path hands the error to the driver, which logs the
    traceback at DEBUG)."""
    from mlcore.services.training._builtin import BuiltinJob

    monkeypatch.setenv("MLCORE_FAST_PATH", "1" if fast else "0")

    data = tmp_path / "train.csv"
    shutil.copy(data_dir / "train.csv", data)
    checked = BuiltinJob.preflight

    def then_remove(self, plan):
        checked(self, plan)
        data.unlink()

    monkeypatch.setattr(BuiltinJob, "preflight", then_remove)
    est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=HP,
                    output_path=str(tmp_path / "out"))
    with pytest.raises(MLCoreError) as info:
        est.fit({"train": str(data)}, logs=False)
    message = str(info.value)
    _one_line_without_traceback(message)
    reason = describe(est.latest_training_job.name).FailureReason
    assert reason in message
    assert reason.startswith("inputs.train: FileNotFoundError: ") and str(data) in reason, reason
    if fast:
        time.sleep(2)  # anything the task's worker printed has reached this process by now
        seen = capfd.readouterr().err
        assert "Traceback (most recent call last)" not in seen and 'File "' not in seen, seen[-3000:]
        return
    # Ray streams the worker's stderr to this process: wait for the worker's error line.
    seen, deadline = "", time.monotonic() + 30
    while "Error in training function" not in seen and time.monotonic() < deadline:
        time.sleep(0.2)
        seen += capfd.readouterr().err
    worker = [ln for ln in seen.splitlines() if "(RayTrainWorker pid=" in ln]
    assert any("Error in training function: FileNotFoundError" in ln for ln in worker), seen[-3000:]
    # (Ray's own actors may print tracebacks of their own, e.g. when two Rays share a host.)
    assert not [ln for ln in worker if "Traceback (most recent call last)" in ln or 'File "' in ln], worker


def test_locked_tracking_store_at_job_start_says_so(tmp_path, data_dir, monkeypatch):
    """Another process holds the MLflow SQLite database locked when a job starts: the job
    fails within the lock timeout saying which store is locked, why, and what to do."""
    from sqlalchemy.engine import make_url

    uri = _session.tracking_uri()
    if not uri.startswith("sqlite:"):
        pytest.skip("the tracking store is not SQLite")
    monkeypatch.setenv("MLCORE_TRACKING_LOCK_TIMEOUT_S", "0.5")
    _tracking.experiment_id()  # the database exists, as after any earlier job
    lock = sqlite3.connect(make_url(uri).database, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        est = Estimator(algorithm="xgboost", instance_count=1, hyperparameters=HP,
                        output_path=str(tmp_path / "out"))
        with pytest.raises(MLCoreError) as info:
            est.fit({"train": str(data_dir / "train.csv")}, logs=False)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    message = str(info.value)
    _one_line_without_traceback(message)
    expected = (f"MLflow tracking store {_session.redact(uri)} is locked (database is locked); "
                "another process holds it: retry, or set MLFLOW_TRACKING_URI to a server")
    assert expected in message
    assert describe(est.latest_training_job.name).FailureReason == expected


def test_root_cause_keeps_the_cause_on_one_line():
    """The one function every failure reason goes through."""
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException
    from ray.train import ControllerError, WorkerGroupError

    from mlcore.errors import DataError, root_cause

    try:  # as MLflow raises a locked SQLite store: the driver's text is SQLAlchemy's .orig
        try:
            raise sqlalchemy.exc.OperationalError("INSERT INTO runs ...", {},
                                                  sqlite3.OperationalError("database is locked"))
        except sqlalchemy.exc.OperationalError as e:
            raise MlflowException(message=e) from e
    except MlflowException as e:
        assert "Background on this error" in str(e).splitlines()[-1]  # what was shown before
        assert root_cause(e) == "OperationalError: database is locked"
    # Ray passes an actor's creation error on as text with the remote traceback in it.
    remote = ("The actor died because of an error raised in its creation task, "
              "ray::TrainController.__init__() (pid=1, ip=1.2.3.4)\n"
              '  File "/site-packages/ray/train/v2/_internal/execution/storage.py", line 438\n'
              "    self.storage_filesystem.create_dir(self.experiment_fs_path)\n"
              "NotADirectoryError: [Errno 20] Cannot create directory '/x/out'")
    assert root_cause(RuntimeError(remote)) == "NotADirectoryError: [Errno 20] Cannot create directory '/x/out'"
    assert root_cause(WorkerGroupError("2 workers failed", {1: ValueError("b"), 0: KeyError("a")})) == "KeyError: 'a'"
    assert root_cause(ControllerError(OSError(28, "No space left on device"))) == \
        "OSError: [Errno 28] No space left on device"
    try:
        try:
            raise DataError("channel 'train': /x.csv does not exist;\n  check the channel URI")
        except DataError as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as e:
        assert root_cause(e) == "channel 'train': /x.csv does not exist; check the channel URI"
    long = root_cause(ValueError("x" * 5000))
    assert len(long) <= 300 and long.startswith("ValueError: xxx")
    # A secret in the tracking URI never reaches the message.
    text = _tracking.store_error("postgresql://ml:hunter2@db:5432/mlflow", ConnectionRefusedError(111, "refused"))
    assert "hunter2" not in text and "postgresql://***@db:5432/mlflow" in text and "refused" in text
