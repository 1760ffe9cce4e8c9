"""The base layer stays light, and SageMaker v2 names port (every module's own import is
checked in test_layers.py: alone, its docstring, no MLflow at import time)."""

import subprocess
import sys

import pytest


def test_core_does_not_import_the_layers_above():
    code = ("import sys, mlcore, mlcore.jobs, mlcore.registry, mlcore.instances, mlcore.specs, mlcore.records; "
            "bad = [m for m in ('algorithms', 'parallel', 'serving', 'ray') if m in sys.modules]; "
            "assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]


def test_sagemaker_names_port():
    from mlcore import sagemaker

    assert sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.7-1") == "mlcore/builtin/xgboost:1.7-1"
    est = sagemaker.estimator.Estimator(
        image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        role=sagemaker.get_execution_role(), instance_count=1, instance_type="ml.m5.large",
        volume_size=5, output_path="/tmp/out", sagemaker_session=sagemaker.Session())
    est.set_hyperparameters(num_round=10, objective="binary:logistic")
    assert est.spec.algorithm == "xgboost"
    assert est.hyperparameters() == {"num_round": "10", "objective": "binary:logistic"}
    with pytest.raises(TypeError, match="instance_typ"):
        sagemaker.estimator.Estimator(algorithm="xgboost", instance_typ="local")
