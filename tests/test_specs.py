"""Spec validation: every bad config names the field path and the fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_together

from mlcore import SpecError, TrainingJob, load_file, parse_spec

BASE = {"kind": "TrainingJob", "algorithm": "xgboost", "hyperparameters": {"num_round": 5},
        "inputs": {"train": "data/train.csv"}}


def with_(**changes):
    d = {**BASE, **changes}
    return {k: v for k, v in d.items() if v is not ...}


BAD = [
    # (changes, expected field path, words the message must contain)
    (dict(instance_typo="ml.m5.large"), "instance_typo", "did you mean 'instance_type'"),
    (dict(instance_count=0), "instance_count", "greater than or equal to 1; got 0"),
    (dict(instance_count="two"), "instance_count", "got 'two'"),
    (dict(instance_type="ml.m5.xlarg"), "instance_type", "did you mean ml.m5.xlarge"),
    (dict(algorithm="xgbost"), "algorithm", "did you mean 'xgboost'"),
    (dict(algorithm=..., entry_point=None), "algorithm", "set either algorithm"),
    (dict(entry_point="train.py"), "entry_point", "not both"),
    (dict(use_spot_instances=True, max_run=3600, max_wait=600), "max_wait", "must be >= max_run (3600)"),
    (dict(use_spot_instances=True), "max_wait", "requires max_wait"),
    (dict(max_wait=7200), "max_wait", "only used with use_spot_instances"),
    (dict(inputs={"train": {"uri": "x.csv", "content": "text/csv"}}), "inputs.train.content",
     "did you mean 'content_type'"),
    (dict(hyperparameters={"num_round": [1, 2]}), "hyperparameters.num_round", "got [1, 2]"),
    (dict(max_retry_attempts=-2), "max_retry_attempts", "greater than or equal to -1"),
    (dict(name="bad_name!"), "name", "letters, digits and hyphens, starting and ending with a "
                                     "letter or digit; got 'bad_name!' ('_' is not allowed)"),
    (dict(register={"model_package_group_name": "g", "approval_status": "OK"}),
     "register.approval_status", "'PendingManualApproval', 'Approved' or 'Rejected'"),
    (dict(kind="Tuning"), "kind", "unknown kind 'Tuning'"),
    (dict(kind="Pipeline"), "kind", "not available in this version"),
    (dict(kind="Benchmark"), "script", "Field required"),
]


@pytest.mark.parametrize("changes,path,words", BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_bad_spec_names_field_and_fix(changes, path, words):
    with pytest.raises(SpecError) as info:
        parse_spec(with_(**changes))
    paths = [p for p, _ in info.value.problems]
    assert path in paths, info.value.problems
    msg = dict(info.value.problems)[path]
    assert words in msg, msg
    assert path in str(info.value)


def test_every_problem_reported_at_once():
    with pytest.raises(SpecError) as info:
        parse_spec(with_(instance_count=0, colour="red", use_spot_instances=True, max_wait=10, max_run=20))
    assert {p for p, _ in info.value.problems} == {"instance_count", "colour", "max_wait"}
    assert str(info.value).startswith("3 problems in the spec:")


def test_valid_spec_forms():
    spec = parse_spec(with_(inputs="s3://b/train/", tags=[{"Key": "team", "Value": "ml"}]))
    assert spec.inputs["train"].uri == "s3://b/train/"
    assert spec.tags == {"team": "ml"}
    spot = parse_spec(with_(use_spot_instances=True, max_run=100, max_wait=100))
    assert spot.max_wait == 100
    assert TrainingJob(algorithm="xgboost", register={"model_package_group_name": "g"}).registration.model_package_group_name == "g"


def test_python_construction_raises_spec_error():
    with pytest.raises(SpecError, match="max_wait"):
        TrainingJob(algorithm="xgboost", max_wait=5)


def test_yaml_relative_paths_resolve_against_the_file(tmp_path):
    (tmp_path / "cfg").mkdir()
    f = tmp_path / "cfg" / "job.yaml"
    f.write_text(yaml.safe_dump(with_(inputs={"train": "data/train.csv", "validation": "s3://b/v.csv"})))
    spec = load_file(f)
    assert spec.inputs["train"].uri == str(tmp_path / "cfg" / "data" / "train.csv")
    assert spec.inputs["validation"].uri == "s3://b/v.csv"


def test_yaml_syntax_error_names_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("kind: TrainingJob\nalgorithm: [xgboost\n")
    with pytest.raises(SpecError, match=r"not valid YAML at line \d+"):
        load_file(f)


def test_validate_cli(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(yaml.safe_dump(BASE))
    bad.write_text(yaml.safe_dump(with_(instance_count=0, foo=1)))
    cli = [sys.executable, "-m", "mlcore.cli", "validate"]
    # validate reads the data too: a missing file is named, then the same spec with its data
    # (the bad spec's check does not depend on either: it runs beside the first)
    missing, res = run_together(cli + [str(good)], cli + [str(bad)])
    assert missing.returncode == 2 and "channel 'train'" in missing.stderr
    assert "data/train.csv does not exist" in missing.stderr
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("1,0.5,2\n0,0.1,3\n")
    ok = subprocess.run(cli + [str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "valid TrainingJob" in ok.stdout, ok.stderr
    assert res.returncode == 2
    assert "instance_count" in res.stderr and "foo: unknown field" in res.stderr
    assert "Traceback" not in res.stderr


def test_committed_json_schema_is_current():
    from mlcore.specs import Endpoint, TransformJob, TuningJob

    for model in (TrainingJob, TuningJob, Endpoint, TransformJob):
        path = Path(__file__).parents[1] / f"configs/schema/{model.__name__}.schema.json"
        assert json.loads(path.read_text()) == model.model_json_schema(), f"regenerate {path.name}"


def test_example_configs_validate():
    root = Path(__file__).parents[1] / "configs"
    files = sorted(root.rglob("*.yaml"))
    assert files
    for f in files:
        load_file(f)


def test_string_booleans_and_unreadable_files(tmp_path):
    spec = parse_spec(with_(use_spot_instances="true", max_run=10, max_wait=10))
    assert spec.use_spot_instances is True
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_file(tmp_path)  # a folder
    with pytest.raises(SpecError, match="kind: must be a string"):
        parse_spec({"kind": ["TrainingJob"]})


def test_nested_blocks_are_checked():
    with pytest.raises(SpecError) as info:
        parse_spec(with_(register={"model_package_group": "g"}, deploy={"instance_type": "ml.m5.lage"}))
    problems = dict(info.value.problems)
    assert "did you mean 'model_package_group_name'" in problems["register.model_package_group"]
    assert "did you mean ml.m5.large" in problems["deploy.instance_type"]
