"""The boto3-shaped clients of ``Session()``: what they offer and how they refuse. (The
registry and runtime calls run for real in the v2 example corpus.) No Ray."""

from __future__ import annotations

import pytest

from mlcore.errors import RegistryError
from mlcore.sagemaker import Session
from mlcore.sagemaker._client import _package


def test_model_package_arns_in_every_spelling():
    assert _package("churn/3") == ("churn", 3)
    assert _package("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3") == ("churn", 3)
    assert _package("models:/churn/12") == ("churn", 12)
    for bad in ("churn", "churn/latest", "", None):
        with pytest.raises(RegistryError, match="ModelPackageArn"):
            _package(bad)


def test_unknown_operations_name_what_exists():
    sess = Session()
    with pytest.raises(AttributeError, match="no operation 'create_training_job'.*update_model_package"):
        _ = sess.sagemaker_client.create_training_job
    with pytest.raises(AttributeError, match="offers invoke_endpoint"):
        _ = sess.sagemaker_runtime_client.invoke_endpoint_async
    with pytest.raises(ValueError, match="no waiter 'model_ready'"):
        sess.sagemaker_client.get_waiter("model_ready")
