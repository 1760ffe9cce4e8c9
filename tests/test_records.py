"""The record store (mlcore.records) on SQLite and on a real PostgreSQL server: claims,
compare-and-set updates from racing processes, liveness of dead drivers, the Status enum and
the one-time migration of the old JSON records."""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import random
import subprocess
import sys
import textwrap

import _postgres
import pytest
import sqlalchemy as sa

from mlcore.errors import JobNotFound, StorageError
from mlcore.records import (
    EndpointRecord,
    Record,
    RecordStore,
    Status,
    TrainingJobRecord,
    TuningJobRecord,
    store,
)

KINDS = (TrainingJobRecord, TuningJobRecord, EndpointRecord)
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def postgres_url():
    with _postgres.server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch):
    """An empty store of each backend, made this process's (and its children's) store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/records.db"
    else:
        url = request.getfixturevalue("postgres_url")
        with RecordStore(url).engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM mlcore_records"))
    monkeypatch.setenv("MLCORE_RECORDS_URI", url)
    monkeypatch.setenv("MLCORE_HOME", str(tmp_path / "home"))
    return url


def _python(code: str, *args: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S, **kw)
    assert proc.returncode == 0, proc.stderr
    return proc


# One interpreter imports mlcore and opens the store (so it holds a pooled connection), then
# forks one racer per argument; a barrier releases them together. Forking saves an import per
# racer (~0.5 s of CPU each) and checks that children never share the parent's connections.
_RACE_SETUP = """
import json, multiprocessing, os, sys, time, traceback
from mlcore.records import store
store().names("warm-up")
"""
_RACE_RUN = """
def work(arg, barrier, queue):
    try:
        barrier.wait(60)
        start = time.time()
        out = racer(arg)
        queue.put({"pid": os.getpid(), "window": [start, time.time()], "out": out})
    except BaseException:
        queue.put({"error": traceback.format_exc()})

ctx = multiprocessing.get_context("fork")
args = json.loads(sys.argv[1])
barrier, queue = ctx.Barrier(len(args)), ctx.Queue()
procs = [ctx.Process(target=work, args=(a, barrier, queue)) for a in args]
for p in procs:
    p.start()
results = [queue.get(timeout=60) for _ in procs]
for p in procs:
    p.join(60)
errors = [r["error"] for r in results if "error" in r]
assert not errors, "\\n".join(errors)
assert [p.exitcode for p in procs] == [0] * len(procs)
store().names("after")  # the parent's own connection survived its children
print(json.dumps(results))
"""


def _race(racer: str, args: list) -> list[dict]:
    """Run ``racer(arg)`` (Python source defining it) in one process per ``arg`` at once;
    each result is ``{pid, window: [start, end], out}``, in the order they finished."""
    code = _RACE_SETUP + textwrap.dedent(racer) + _RACE_RUN
    return json.loads(_python(code, json.dumps(args)).stdout)


def _version(url: str, kind: str, name: str) -> int:
    with RecordStore(url).engine.connect() as conn:
        return conn.execute(sa.text("SELECT version FROM mlcore_records WHERE kind=:k AND "
                                    "name=:n"), {"k": kind, "n": name}).scalar_one()


def test_status_values_terminal_and_json():
    assert [s.value for s in Status] == [
        "InProgress", "Completed", "Failed", "Stopping", "Stopped",
        "Creating", "InService", "Updating", "Deleting", "OutOfService"]
    assert {s for s in Status if s.is_terminal} == {Status.COMPLETED, Status.FAILED,
                                                   Status.STOPPED}
    assert {s for s in Status if s.is_active} == {Status.IN_PROGRESS, Status.STOPPING,
                                                 Status.CREATING, Status.UPDATING}
    assert Status.COMPLETED == "Completed" and str(Status.COMPLETED) == "Completed"
    assert f"{Status.FAILED:8}|" == "Failed  |"
    assert json.dumps({"s": Status.IN_SERVICE}) == '{"s": "InService"}'
    assert Status(json.loads(json.dumps(Status.STOPPED))) is Status.STOPPED
    assert pickle.loads(pickle.dumps(Status.UPDATING)) is Status.UPDATING


@pytest.mark.parametrize("cls", KINDS)
def test_every_kind_has_the_common_fields(cls):
    fields = cls.__dataclass_fields__
    for attr in ("KIND", "NAME_FIELD", "STATUS_FIELD", "NOUN", "LIST_COMMAND"):
        assert isinstance(getattr(cls, attr), str) and attr not in fields
    for name in (cls.NAME_FIELD, cls.STATUS_FIELD, "CreationTime", "FailureReason",
                 "DriverHost", "DriverPid"):
        assert name in fields
    assert issubclass(cls, Record) and cls("x").status.is_active  # a new record is underway
    assert len({k.KIND for k in KINDS}) == len(KINDS)


def test_store_basics(url):
    rs = RecordStore(url)
    assert rs.claim("TrainingJob", "a", {"x": 1, "CreationTime": 1.0})
    assert not rs.claim("TrainingJob", "a", {"x": 2})  # taken: nothing written
    assert rs.claim("TrainingJob", "b", {"x": 3, "CreationTime": 2.0})
    assert rs.claim("Endpoint", "a", {"y": 1})  # names are per kind
    assert rs.get("TrainingJob", "a") == {"x": 1, "CreationTime": 1.0}
    assert rs.get("TrainingJob", "nope") is None
    assert rs.update("TrainingJob", "a", {"y": [1, 2]}) == {"x": 1, "CreationTime": 1.0,
                                                            "y": [1, 2]}
    assert rs.update("TrainingJob", "a", lambda d: {"y": [*d["y"], 3]})["y"] == [1, 2, 3]
    assert _version(url, "TrainingJob", "a") == 3
    with pytest.raises(JobNotFound):
        rs.update("TrainingJob", "nope", {"x": 1})
    assert [d["x"] for d in rs.list("TrainingJob")] == [3, 1]  # newest first
    assert rs.names("TrainingJob") == ["a", "b"] and rs.names("TuningJob") == []
    assert rs.delete("TrainingJob", "a") and not rs.delete("TrainingJob", "a")
    assert rs.names("TrainingJob") == ["b"] and rs.get("Endpoint", "a") == {"y": 1}


def test_record_claim_load_update_list_delete(url):
    assert TrainingJobRecord.claim("job-1", InstanceCount=2, HyperParameters={"eta": "0.1"})
    assert not TrainingJobRecord.claim("job-1")
    rec = TrainingJobRecord.load("job-1")
    assert (rec.name, rec.status, rec.InstanceCount) == ("job-1", Status.IN_PROGRESS, 2)
    assert rec.DriverPid == os.getpid() and rec.HyperParameters == {"eta": "0.1"}
    assert isinstance(rec.TrainingJobStatus, Status)
    rec.transition("Training", "workers up", TrainingStartTime=5.0)
    rec.transition("Completed", "done", TrainingJobStatus=Status.COMPLETED,
                   FinalMetrics={"loss": float("nan"), "acc": 0.5})
    again = TrainingJobRecord.load("job-1")
    assert again.status is Status.COMPLETED and again.status.is_terminal
    assert math.isnan(again.FinalMetrics.pop("loss")) and again.FinalMetrics == {"acc": 0.5}
    assert store().get(TrainingJobRecord.KIND, "job-1")["TrainingJobStatus"] == "Completed"
    assert again.SecondaryStatusTransitions == rec.SecondaryStatusTransitions  # rec refreshed
    assert [t["Status"] for t in again.SecondaryStatusTransitions] == ["Training", "Completed"]
    assert "Seconds" in again.SecondaryStatusTransitions[0]
    json.dumps(again.to_dict())  # a describe output as is
    with pytest.raises(TypeError, match="NoSuchField"):
        rec.update(NoSuchField=1)
    # A newer version's field is ignored when read, and kept when others update.
    store().update(TrainingJobRecord.KIND, "job-1", {"FromTheFuture": 1})
    TrainingJobRecord.load("job-1").update(Restarts=1)
    assert store().get(TrainingJobRecord.KIND, "job-1")["FromTheFuture"] == 1
    assert TrainingJobRecord.claim("job-2", CreationTime=rec.CreationTime + 1)
    assert [r.name for r in TrainingJobRecord.list()] == ["job-2", "job-1"]
    assert TrainingJobRecord.exists("job-2") and not TuningJobRecord.exists("job-2")
    TrainingJobRecord.delete("job-2")
    assert not TrainingJobRecord.exists("job-2")
    with pytest.raises(JobNotFound, match=r"no training job named 'job' \(similar: job-1\)"):
        TrainingJobRecord.load("job")
    with pytest.raises(JobNotFound, match=r"no endpoint named 'e' \(`mlcore endpoints list`"):
        EndpointRecord.load("e")
    with pytest.raises(JobNotFound, match="no training job named 'job-2'"):
        TrainingJobRecord.delete("job-2")


def test_racing_claims_each_name_won_exactly_once(url):
    seed = random.randrange(1 << 30)
    print("seed", seed)
    names = [f"race-{i}" for i in range(60)]
    racer = """
        import random
        from mlcore.records import TrainingJobRecord

        def racer(arg):
            names, seed = arg
            random.Random(seed).shuffle(names)
            return [n for n in names if TrainingJobRecord.claim(n)]
    """
    outs = _race(racer, [(names, seed + i) for i in range(8)])
    assert sorted(n for o in outs for n in o["out"]) == sorted(names)  # each won exactly once
    stored = {r.name: r.DriverPid for r in TrainingJobRecord.list()}
    assert stored == {n: o["pid"] for o in outs for n in o["out"]}  # the winner's record
    # They raced: some claimed while another was claiming. (Who wins is up to the database;
    # SQLite's busy handler lets one writer keep the lock for long stretches.)
    windows = sorted(o["window"] for o in outs)
    assert any(b[0] < a[1] for a, b in zip(windows, windows[1:], strict=False)), windows


def test_concurrent_updates_of_different_fields_keep_both(url):
    n = 40
    assert TuningJobRecord.claim("tune")
    racer = f"""
        from mlcore.records import TuningJobRecord

        def racer(role):
            if role == "appender":
                rec = TuningJobRecord.load("tune")
                for i in range({n}):
                    rec.update(TrainingJobs=[*rec.TrainingJobs, f"trial-{{i}}"])
            else:
                for i in range({n}):
                    if i == {n // 2}:
                        TuningJobRecord.request_stop("tune")
                    TuningJobRecord.load("tune").update(CompletionReason=f"reason-{{i}}")
    """
    outs = _race(racer, ["appender", "stopper"])
    (a0, a1), (b0, b1) = (o["window"] for o in outs)
    assert a0 < b1 and b0 < a1, "the two processes did not overlap"
    rec = TuningJobRecord.load("tune")
    assert rec.TrainingJobs == [f"trial-{i}" for i in range(n)]
    assert rec.StopRequested is True and rec.CompletionReason == f"reason-{n - 1}"
    # Every update landed once: the claim, n appends, n reasons and the stop request.
    assert _version(url, TuningJobRecord.KIND, "tune") == 1 + n + n + 1


def test_a_record_whose_driver_died_reads_failed(url):
    out = _python("""
        import os
        from mlcore.records import EndpointRecord, TrainingJobRecord, TuningJobRecord
        for cls in (TrainingJobRecord, TuningJobRecord, EndpointRecord):
            assert cls.claim("orphan")
        print(os.getpid())
    """)
    pid = int(out.stdout)
    for cls in KINDS:
        rec = cls.load("orphan")
        assert rec.status is Status.FAILED and not rec.driver_alive()
        assert rec.FailureReason == (f"the process that ran the {cls.NOUN} (pid {pid}) exited "
                                     "without finishing it; run it again")
        assert [r.status for r in cls.list()] == [Status.FAILED]
        assert cls.load("orphan", liveness=False).status.is_active  # not written back
    assert TrainingJobRecord.claim("mine") and TrainingJobRecord.load("mine").driver_alive()
    TrainingJobRecord.load("orphan", liveness=False).update(DriverHost="elsewhere")
    assert TrainingJobRecord.load("orphan").status is Status.IN_PROGRESS  # cannot tell there


def _old_format(home) -> None:
    """Records as the JSON-file versions wrote them."""
    jobs, tuning, endpoints = home / "jobs", home / "tuning-jobs", home / "endpoints"
    for d in (jobs, tuning / "tune" , endpoints):
        d.mkdir(parents=True)
    (jobs / "done.json").write_text(json.dumps({
        "TrainingJobName": "done", "TrainingJobStatus": "Completed", "CreationTime": 10.0,
        "FinalMetrics": {"rmse": 0.5}, "DriverHost": "old-host", "DriverPid": 7,
        "RemovedField": True}, indent=2))
    (jobs / "claimed.json").write_text(json.dumps({"TrainingJobName": "claimed",
                                                   "CreationTime": 11.0}))
    (jobs / ".claimed.123.456.claim").write_text("{}")
    (jobs / "torn.json").write_text('{"TrainingJobName": "to')
    (tuning / "tune.json").write_text(json.dumps({
        "HyperParameterTuningJobName": "tune", "HyperParameterTuningJobStatus": "Stopped",
        "TrainingJobs": ["tune-001", "tune-002"], "StopRequested": True, "CreationTime": 12.0}))
    (tuning / "tune" / "study.db").write_text("optuna")
    (endpoints / "ep.json").write_text(json.dumps({
        "EndpointName": "ep", "CreationTime": 13.0, "LastModifiedTime": 14.0,
        "Spec": {"variants": []}, "CaptureDestination": None, "Models": {"v": {"version": 1}}}))


def test_migration_of_old_json_records(url, tmp_path, monkeypatch, caplog):
    home = tmp_path / "old-home"
    _old_format(home)
    monkeypatch.setenv("MLCORE_HOME", str(home))
    with caplog.at_level(logging.INFO, logger="mlcore"):
        rs = store()
    assert "torn.json" in caplog.text and "1 unreadable" in caplog.text
    assert "4 migrated" in caplog.text
    done = TrainingJobRecord.load("done")
    assert (done.status, done.FinalMetrics, done.DriverHost) == (Status.COMPLETED,
                                                                 {"rmse": 0.5}, "old-host")
    assert store().get("TrainingJob", "done")["RemovedField"] is True  # kept, not read
    claimed = TrainingJobRecord.load("claimed")
    assert claimed.status is Status.FAILED and "only its name was claimed" in claimed.FailureReason
    tune = TuningJobRecord.load("tune")
    assert tune.TrainingJobs == ["tune-001", "tune-002"] and tune.StopRequested
    ep = EndpointRecord.load("ep")
    assert ep.status is Status.IN_SERVICE and ep.Models == {"v": {"version": 1}}
    assert [r.name for r in TrainingJobRecord.list()] == ["claimed", "done"]
    # The JSON files moved aside; the Optuna study and the old temporaries stayed.
    moved = home / "migrated-json"
    assert sorted(p.name for p in moved.glob("*/*.json")) == [
        "claimed.json", "done.json", "ep.json", "torn.json", "tune.json"]
    assert list((home / "jobs").glob("*.json")) == [] and (home / "jobs" / ".claimed.123.456.claim").exists()
    assert (home / "tuning-jobs" / "tune" / "study.db").read_text() == "optuna"

    # Idempotent: migrating again (here a stale copy reappearing) changes nothing stored.
    from mlcore.records import _migrate

    TrainingJobRecord.load("done").update(Restarts=3)
    (home / "jobs" / "done.json").write_text((moved / "jobs" / "done.json").read_text())
    assert _migrate.migrate(rs, home) == {"already present": 1}
    assert TrainingJobRecord.load("done").Restarts == 3
    assert _migrate.migrate(rs, home) == {}
    assert [r.name for r in TuningJobRecord.list()] == ["tune"]


def test_an_unreachable_store_says_so_without_the_password():
    rs = RecordStore("postgresql://mlcore:s3cret@127.0.0.1:1/records")  # nothing listens on 1
    with pytest.raises(StorageError, match="cannot use the record store postgresql") as err:
        rs.names("TrainingJob")
    assert "s3cret" not in str(err.value) and "MLCORE_RECORDS_URI" in str(err.value)


def test_default_store_is_sqlite_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("MLCORE_RECORDS_URI", raising=False)
    monkeypatch.setenv("MLCORE_HOME", str(tmp_path / "home"))
    assert store().url == f"sqlite:///{tmp_path}/home/records.db"
    assert EndpointRecord.claim("ep") and (tmp_path / "home" / "records.db").exists()


def test_another_home_sharing_the_postgres_store_sees_records(postgres_url, tmp_path,
                                                              monkeypatch):
    """A job submitted on one machine (here: its own MLCORE_HOME) is listed and described by
    `mlcore jobs` on another that points at the same MLCORE_RECORDS_URI."""
    monkeypatch.setenv("MLCORE_RECORDS_URI", postgres_url)
    monkeypatch.setenv("MLCORE_HOME", str(tmp_path / "machine-a"))
    assert TrainingJobRecord.claim("shared-job", DriverHost="machine-a", DriverPid=1)
    TrainingJobRecord.load("shared-job").update(TrainingJobStatus=Status.COMPLETED)
    env = {**os.environ, "MLCORE_HOME": str(tmp_path / "machine-b")}
    cli = [sys.executable, "-m", "mlcore.cli", "jobs"]
    listed = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["shared-job", "Completed"] for line in listed.stdout.splitlines())
    desc = subprocess.run([*cli, "describe", "shared-job"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert json.loads(desc.stdout)["DriverHost"] == "machine-a"
    assert not (tmp_path / "machine-b" / "records.db").exists()
