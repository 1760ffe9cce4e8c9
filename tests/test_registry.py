"""Model registry on MLflow: register, approve, reject, list, load with pyfunc."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore import RegistryError
from mlcore.registry import APPROVED_ALIAS, approve, describe, list_groups, list_versions, reject

pytestmark = pytest.mark.integration


def test_register_approve_reject_list_and_load(trained, data_dir):
    import mlflow

    group = "registry-test"
    v1 = trained.register(model_package_group_name=group, description="first")
    v2 = trained.register(model_package_group_name=group, approval_status="Approved")
    assert (v1.version, v1.approval_status) == (1, "PendingManualApproval")
    assert (v2.version, v2.approval_status) == (2, "Approved")
    assert group in list_groups()
    assert [p.version for p in list_versions(group)] == [1, 2]
    assert v1.job_name == trained.latest_training_job.name

    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias(group, APPROVED_ALIAS).version) == "2"
    assert approve(group, 1).approval_status == "Approved"
    assert str(client.get_model_version_by_alias(group, APPROVED_ALIAS).version) == "2"
    assert reject(group, 2).approval_status == "Rejected"
    # the alias follows the newest version still approved
    assert str(client.get_model_version_by_alias(group, APPROVED_ALIAS).version) == "1"
    assert client.get_model_version(group, "2").tags["approval_status"] == "Rejected"
    assert describe(group, 1).approval_status == "Approved"

    # A registered version is a valid MLflow model: pyfunc and the native flavour load it.
    X = np.loadtxt(data_dir / "features.csv", delimiter=",", dtype=np.float32)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{group}@{APPROVED_ALIAS}")
    native = mlflow.xgboost.load_model(f"models:/{group}/1")
    import xgboost as xgb
    np.testing.assert_allclose(np.asarray(pyfunc.predict(X)).ravel(),
                               native.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_registry_errors_are_clear(trained):
    with pytest.raises(RegistryError, match="approval_status must be one of"):
        trained.register(model_package_group_name="g-bad", approval_status="Yes")
    with pytest.raises(RegistryError, match="no model package group named 'nope'"):
        list_versions("nope")
    with pytest.raises(RegistryError, match="does not exist"):
        approve("registry-test", 99)


def test_models_cli(trained):
    import subprocess
    import sys

    from conftest import run_together

    trained.register(model_package_group_name="cli-group")
    cli = [sys.executable, "-m", "mlcore.cli", "models"]
    # Listing and a refused approval change nothing: side by side, before the real approval.
    listed, bad = run_together(cli + ["list", "cli-group"], cli + ["approve", "cli-group", "7"])
    assert listed.returncode == 0, listed.stderr
    assert "PendingManualApproval" in listed.stdout
    assert bad.returncode == 1 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    out = subprocess.run(cli + ["approve", "cli-group", "1"], capture_output=True, text=True, check=True).stdout
    assert '"approval_status": "Approved"' in out


def test_attach_and_fit_without_waiting(trained, data_dir):
    from mlcore.sagemaker import Estimator

    attached = Estimator.attach(trained.latest_training_job.name)
    assert attached.model_data == trained.model_data
    assert attached.hyperparameters()["num_round"] == "40"

    est = Estimator(algorithm="xgboost", instance_count=1,
                    hyperparameters={"num_round": 8, "early_stopping_rounds": 2, "eval_metric": "auc",
                                     "objective": "binary:logistic"})
    assert est.fit({"train": str(data_dir / "train.csv"), "validation": str(data_dir / "validation.csv")},
                   wait=False, logs=False) is None
    desc = est.latest_training_job.wait()
    assert desc["TrainingJobStatus"] == "Completed", desc["FailureReason"]
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "PreparingTrainingStack", "Training", "Uploading", "Completed"]
