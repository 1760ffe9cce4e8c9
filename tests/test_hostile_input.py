"""Hostile and mistaken input is refused before anything is written.

Names: SageMaker's one rule (letters, digits and hyphens; 63 characters, a tuning job's 32)
at every entry point (the CLI's flags and arguments, the facade's keyword arguments, the spec
fields, a record's claim), each refused with one clear line and nothing under $MLCORE_HOME
or outside it; and storage never builds a path from a name that leaves its root.

YAML: a billion-laughs file, 5,000-deep nesting and duplicate keys are each refused in a
second or two with one line naming the line of the file, never a traceback or a hang.

No test here starts Ray: every refusal happens before it would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlcore import SpecError, StorageError, parse_spec
from mlcore.cli import main

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
LONG = "a" * 300
# Names that must never become a job, a folder or a URL: traversal, a space, non-ASCII
# letters, 300 characters, a leading hyphen, an empty string, a shell metacharacter.
BAD_NAMES = ["../../escaped/pwn", "has space", "ünïcödé", LONG, "-lead", "", "a;b"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh $MLCORE_HOME for this test (the session's is shared by other tests), not
    created yet: only what the code under test writes appears under it."""
    path = tmp_path / "home"
    monkeypatch.setenv("MLCORE_HOME", str(path))
    monkeypatch.delenv("MLCORE_RECORDS_URI", raising=False)
    return path


def _written(home: Path) -> list[str]:
    """Every file under ``home`` (the folder itself may exist: the storage root is made on
    first use)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


def _nothing_written(home: Path) -> None:
    assert _written(home) == []
    assert not (home.parent / "escaped").exists()  # where ../../escaped/pwn would land


def _spec_file(folder: Path, **fields) -> Path:
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "train.csv").write_text("1,0.5,2\n0,0.1,3\n1,0.7,1\n0,0.2,4\n")
    spec = {"kind": "TrainingJob", "algorithm": "xgboost", "hyperparameters": {"num_round": 2},
            "inputs": {"train": {"uri": "data/train.csv", "content_type": "text/csv"}}, **fields}
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _cli_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLCORE_RECORDS"))}
    return {**env, "MLCORE_HOME": str(home), "PATH": f"{BIN}:{env.get('PATH', '')}"}


def _one_line_error(text: str, *words: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text[-3000:]
    assert "Traceback" not in text and len(lines[0]) < 400, lines[0][:1000]
    for w in words:
        assert w in lines[0], lines[0]


# --- the CLI ------------------------------------------------------------------------------

def test_cli_job_name_traversal_is_refused_before_anything_is_written(tmp_path, home):
    """The issue's reproduction, as a user types it."""
    spec = _spec_file(tmp_path)
    res = subprocess.run([str(BIN / "mlcore"), "run", str(spec), "--job-name",
                          "./../../escaped/pwn"], env=_cli_env(home), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    _one_line_error(res.stderr, "--job-name", "letters, digits and hyphens",
                    "'./../../escaped/pwn'", "'.' is not allowed")
    _nothing_written(home)


@pytest.mark.parametrize("name", BAD_NAMES, ids=["traversal", "space", "unicode", "300-chars",
                                                 "leading-hyphen", "empty", "semicolon"])
def test_cli_run_refuses_bad_job_names(tmp_path, home, capsys, name):
    assert main(["run", str(_spec_file(tmp_path)), f"--job-name={name}"]) == 2  # "-lead" too
    err = capsys.readouterr().err
    _one_line_error(err, "error: --job-name: must be 1-63 characters")
    assert len(err) < 400  # a 300-character name is quoted in part only
    _nothing_written(home)


def _endpoint_file(folder: Path) -> Path:
    path = folder / "endpoint.yaml"
    path.write_text(yaml.safe_dump({"kind": "Endpoint", "endpoint_name": "ep", "variants": [
        {"model": {"training_job": "some-job"}}]}))
    return path


@pytest.mark.parametrize("argv,words", [
    # --job-name renames an endpoint: the override skipped the spec's own check
    (lambda d: ["run", str(_endpoint_file(d)), "--job-name", "../x"], "--job-name"),
    (lambda d: ["tune", str(d / "t.yaml"), "--job-name", "../x"], "--job-name"),
    # a tuning job's names are 32 characters at most (SageMaker's limit)
    (lambda d: ["tune", str(d / "t.yaml"), "--job-name", "t" * 33], "1-32 characters"),
    (lambda d: ["tune", "--resume", "../x"], "--resume"),
    (lambda d: ["jobs", "describe", "../x"], "NAME"),
    (lambda d: ["tuning-jobs", "stop", "a b"], "NAME"),
    (lambda d: ["endpoints", "delete", "../x"], "NAME"),
    (lambda d: ["endpoints", "update-weights", "ep", "../x=1"], "VARIANT"),
    # a group name goes into MLflow's search filter: a quote must never reach it
    (lambda d: ["models", "list", "g' OR name LIKE '%"], "GROUP"),
    (lambda d: ["models", "approve", "../x", "1"], "GROUP"),
], ids=["run-endpoint", "tune", "tune-33", "resume", "jobs", "tuning-jobs", "endpoints",
        "variant", "models-list", "models-approve"])
def test_every_cli_name_is_checked(tmp_path, home, capsys, argv, words):
    assert main(argv(tmp_path)) == 2
    _one_line_error(capsys.readouterr().err, "error: ", words, "letters, digits and hyphens")
    _nothing_written(home)


def test_cli_validate_reports_every_bad_name_field_together(tmp_path, home):
    spec = _spec_file(tmp_path, name="../n", deploy={"endpoint_name": "../.."},
                      register={"model_package_group_name": "a b"})
    res = subprocess.run([str(BIN / "mlcore"), "validate", str(spec)],
                         env=_cli_env(home), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "3 problems in the spec" in res.stderr
    for path in ("name:", "deploy.endpoint_name:", "register.model_package_group_name:"):
        assert f"  - {path} must be 1-63 characters" in res.stderr, res.stderr
    _nothing_written(home)


# --- the facade's keyword arguments ---------------------------------------------------

def _estimator(**kwargs):
    from mlcore.sagemaker import Estimator

    return Estimator(algorithm="xgboost", hyperparameters={"num_round": 2}, **kwargs)


def _refused(fn, field: str, rule: str = "1-63 characters") -> str:
    with pytest.raises(SpecError) as info:
        fn()
    msg = str(info.value)
    assert msg.startswith(f"{field}: must be {rule}") or f"  - {field}: must be {rule}" in msg, msg
    assert len(msg) < 400, msg
    return msg


@pytest.mark.parametrize("name", BAD_NAMES)
def test_fit_job_name_is_refused_before_a_record_is_claimed(tmp_path, home, name):
    est = _estimator()
    _refused(lambda: est.fit(str(tmp_path / "train.csv"), job_name=name, wait=False), "job_name")
    assert est.latest_training_job is None
    _nothing_written(home)


def test_facade_name_keywords_are_checked(tmp_path, home):
    from mlcore.sagemaker import (
        IntegerParameter,
        ModelPackage,
        MultiDataModel,
        PipelineModel,
        Predictor,
        Session,
        production_variant,
    )
    from mlcore.sagemaker.tuner import HyperparameterTuner, HyperparameterTuningJobAnalytics

    est = _estimator()
    bad = "../../escaped/pwn"
    _refused(lambda: _estimator(base_job_name=bad), "base_job_name")
    _refused(lambda: type(est).attach(bad), "training_job_name")
    _refused(lambda: est.register(model_package_group_name=bad), "model_package_group_name")
    _refused(lambda: est.deploy(endpoint_name=bad), "endpoint_name")

    def tuner(**kw):
        return HyperparameterTuner(est, "validation:auc", {"max_depth": IntegerParameter(1, 3)}, **kw)
    # A base is trimmed to fit the job name (v2's name_from_base), so it may be longer than 32.
    _refused(lambda: tuner(base_tuning_job_name=bad), "base_tuning_job_name", "1-63 characters")
    _refused(lambda: tuner().fit(str(tmp_path / "t.csv"), job_name="t" * 33), "job_name",
             "1-32 characters")
    _refused(lambda: HyperparameterTuner.attach(bad), "tuning_job_name", "1-32 characters")
    _refused(lambda: HyperparameterTuningJobAnalytics(bad), "hyperparameter_tuning_job_name",
             "1-32 characters")

    _refused(lambda: Predictor(bad), "endpoint_name")  # it becomes the URL's path
    _refused(lambda: Session().describe_endpoint(bad), "endpoint_name")
    _refused(lambda: Session().delete_endpoint(bad), "endpoint_name")
    _refused(lambda: Session().update_endpoint_weights_and_capacities(
        "ep", [{"VariantName": bad, "DesiredWeight": 1}]), "VariantName")
    _refused(lambda: Session().endpoint_from_production_variants(bad, []), "name")
    _refused(lambda: production_variant("some-job", variant_name=bad), "variant_name")
    _refused(lambda: production_variant("a b"), "training_job")  # a model by its job's name
    _refused(lambda: ModelPackage(model_package_arn="../g/1"), "name")
    _refused(lambda: ModelPackage(model_package_arn="g/1").deploy(endpoint_name=bad),
             "endpoint_name")
    _refused(lambda: MultiDataModel(bad, str(tmp_path / "models"), algorithm="xgboost"), "name")
    _refused(lambda: PipelineModel(["g/1", "g/2"], name=bad), "name")
    _nothing_written(home)


def test_multi_model_add_model_stays_under_its_prefix(tmp_path, home):
    from mlcore._storage import commit_dir
    from mlcore.sagemaker import MultiDataModel

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.json").write_text("{}")
    source = commit_dir(str(tmp_path / "src"), str(tmp_path / "model-a"))
    mdm = MultiDataModel("mme", str(tmp_path / "prefix"), algorithm="xgboost")
    for path in ("../escaped", "a/../../escaped", "/"):
        with pytest.raises(StorageError, match="cannot be a folder under"):
            mdm.add_model(source, path)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "prefix").exists()
    assert mdm.add_model(source, "group/a") == "group/a"  # a relative path is fine
    assert list(mdm.list_models()) == ["group/a"]


# --- spec fields ----------------------------------------------------------------------

TRAIN = {"kind": "TrainingJob", "algorithm": "xgboost", "inputs": {"train": "x.csv"}}
TUNE = {"kind": "TuningJob", "estimator": {"algorithm": "xgboost", "inputs": {"train": "x.csv"}},
        "objective_metric_name": "validation:auc",
        "hyperparameter_ranges": {"eta": {"type": "Continuous", "min_value": 0.1, "max_value": 0.5}}}
ENDPOINT = {"kind": "Endpoint", "endpoint_name": "ep",
            "variants": [{"model": {"training_job": "job-1"}}]}


def _problems(data: dict) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return dict(info.value.problems)


def test_every_name_field_of_a_training_job_is_checked_at_once():
    got = _problems({**TRAIN, "name": "../n", "deploy": {"endpoint_name": "../.."},
                     "register": {"model_package_group_name": LONG},
                     "inputs": {"train": "x.csv", "..": "y.csv"}})
    assert set(got) == {"name", "deploy.endpoint_name", "register.model_package_group_name",
                        "inputs"}, got
    assert "'.' is not allowed" in got["deploy.endpoint_name"]
    assert "300 characters, more than 63" in got["register.model_package_group_name"]
    assert len(got["register.model_package_group_name"]) < 250  # quoted in part
    assert "channel names are" in got["inputs"] and "'..'" in got["inputs"]


def test_tuning_and_endpoint_name_fields_are_checked():
    got = _problems({**TUNE, "name": "t" * 33, "register": {"model_package_group_name": "a/b"},
                     "warm_start_config": {"type": "TransferLearning", "parents": ["ok", "../p"]}})
    assert set(got) == {"name", "register.model_package_group_name",
                        "warm_start_config.parents.1"}, got
    assert "1-32 characters" in got["name"] and "33 characters" in got["name"]
    got = _problems({**ENDPOINT, "endpoint_name": "a b", "variants": [
        {"variant_name": "../v", "model": {"training_job": "../j"}},
        {"variant_name": "B", "model": {"name": "ünï", "version": 1}}]})
    assert set(got) == {"endpoint_name", "variants.0.variant_name",
                        "variants.0.model.training_job", "variants.1.model.name"}, got


def test_specs_built_in_python_raise_spec_errors():
    """The facade and the services build specs from keyword arguments: a bad name there is
    the same SpecError, with every problem, as in a YAML file (not pydantic's traceback)."""
    from mlcore.specs import Endpoint, VariantSpec

    with pytest.raises(SpecError) as info:
        Endpoint(endpoint_name="../x", variants=[VariantSpec(model={"training_job": "j"})],
                 max_payload_mb=0)
    assert {p for p, _ in info.value.problems} == {"endpoint_name", "max_payload_mb"}


def test_a_record_cannot_be_claimed_under_a_bad_name(home):
    from mlcore.records import EndpointRecord, TrainingJobRecord, TuningJobRecord

    for record, name in ((TrainingJobRecord, "../x"), (EndpointRecord, "a/b"),
                         (TuningJobRecord, "t" * 33), (TrainingJobRecord, LONG)):
        with pytest.raises(SpecError, match=f"{record.NAME_FIELD}: must be"):
            record.claim(name)
    assert TrainingJobRecord.list() == [] and TuningJobRecord.list() == []


# --- storage: names become paths under a root -------------------------------------------

@pytest.mark.parametrize("part", ["..", "../x", "a/../../b", "/etc/passwd", "", ".", "a//b"])
def test_storage_child_refuses_parts_that_leave_the_root(tmp_path, part):
    from mlcore import _storage

    for root in (str(tmp_path / "root"), "s3://bucket/prefix"):
        with pytest.raises(StorageError) as info:
            _storage.child(root, "job-1", part)
        assert "cannot be a folder under" in str(info.value) and repr(part) in str(info.value)
    with pytest.raises(StorageError):
        _storage.join(str(tmp_path), part)  # the older name is the same check


def test_storage_child_builds_paths_under_the_root(tmp_path):
    from mlcore import _storage

    assert _storage.child(str(tmp_path), "job-1", "checkpoints") == f"{tmp_path}/job-1/checkpoints"
    assert _storage.child("s3://b/p/", "ep", "AllTraffic", "2024/05/01/13", "f.jsonl") == \
        "s3://b/p/ep/AllTraffic/2024/05/01/13/f.jsonl"
    assert _storage.child(f"file://{tmp_path}", "a.b", "x/") == f"file://{tmp_path}/a.b/x"


# --- how errors quote what they received ------------------------------------------------

def test_spec_errors_quote_at_most_a_few_hundred_characters():
    got = _problems({**TRAIN, "instance_count": "x" * 100_000, "instance_type": "y" * 100_000,
                     "hyperparameters": {"eta": [list(range(10_000))]}, "z" * 100_000: 1})
    assert len(got) == 4, list(got)
    for path, msg in got.items():
        assert len(path) < 100 and len(msg) < 500, (path[:100], msg[:500])
    assert "100000 characters" in got["instance_count"]


# --- YAML bombs ---------------------------------------------------------------------------

def _billion_laughs() -> str:
    lines = ["kind: TrainingJob", "algorithm: xgboost", 'a: &a ["lol","lol","lol","lol","lol",'
             '"lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join([*lines, "hyperparameters: {eta: *i}", ""])


BOMBS = {
    # 10**9 "lol"s from a 700-byte file; the error used to print the expanded value
    "billion-laughs": (_billion_laughs(), "line 7", "aliases (*name) expand to more than"),
    "deep-nesting": ("kind: TrainingJob\nalgorithm: xgboost\nhyperparameters: "
                     + "[" * 5000 + "]" * 5000 + "\n", "line 3", "nest more than 64 levels"),
    "duplicate-key": ("kind: TrainingJob\nalgorithm: xgboost\nname: first\n"
                      "inputs: {train: x.csv}\nname: second\n", "line 5",
                      "key 'name' is given twice in one mapping (first on line 3)"),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_validate_refuses_yaml_bombs_quickly_in_one_line(tmp_path, home, bomb):
    text, line, words = BOMBS[bomb]
    path = tmp_path / f"{bomb}.yaml"
    path.write_text(text)
    t0 = time.monotonic()
    res = subprocess.run([str(BIN / "mlcore"), "validate", str(path)], env=_cli_env(home),
                         capture_output=True, text=True, timeout=20)
    assert res.returncode != 0
    _one_line_error(res.stderr, line, words)
    assert time.monotonic() - t0 < 20


def test_yaml_loader_bounds_and_allows_fair_use(tmp_path):
    from mlcore.specs import load_file
    from mlcore.specs._yaml import load_yaml

    with pytest.raises(SpecError, match=r"line 3: alias \*a refers to a value that contains it"):
        load_file(_write(tmp_path, "kind: TrainingJob\nalgorithm: xgboost\n"
                                   "hyperparameters: &a {x: *a}\n"))
    # aliases may not hide depth either: 40 levels aliased twice is 80
    deep = "{k: " * 40 + "1" + "}" * 40
    deeper = "{k: " * 40 + "*a" + "}" * 40
    with pytest.raises(SpecError, match=r"line 3: alias \*a nests values more than 64 levels"):
        load_file(_write(tmp_path, f"kind: TrainingJob\na: &a {deep}\nb: {deeper}\n"))
    # a fair use: one block shared by two variants, and a merge key overriding a field
    data = load_yaml("common: &c {min_capacity: 1, max_capacity: 2}\n"
                     "variants:\n  - &v {variant_name: a, autoscaling: *c}\n"
                     "  - {<<: *v, variant_name: b}\n")
    assert data["variants"][1] == {"variant_name": "b", "autoscaling": {"min_capacity": 1,
                                                                        "max_capacity": 2}}
    with pytest.raises(SpecError, match="is given twice"):
        load_file(_write(tmp_path, "kind: Endpoint\nvariants:\n  - {a: 1, a: 2}\n"))


def _write(folder: Path, text: str) -> Path:
    path = folder / f"spec-{abs(hash(text))}.yaml"
    path.write_text(text)
    return path
