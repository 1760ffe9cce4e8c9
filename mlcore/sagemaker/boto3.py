"""``boto3`` as AWS's examples use it, on mlcore: ``from mlcore.sagemaker import boto3`` (was
``import boto3``). SageMaker's own services (``"sagemaker"``, ``"sagemaker-runtime"`` /
``"runtime.sagemaker"``) are mlcore's clients (see :mod:`mlcore.sagemaker._client`); every
other service (``s3``, ``sts``, ...) and everything else is the real boto3's, so an example's
S3 calls reach the S3-compatible store that is configured (``AWS_ENDPOINT_URL``, or AWS)."""

from __future__ import annotations

import boto3 as _boto3


def _sagemaker(service_name: str):
    from mlcore.sagemaker._client import SageMakerClient, SageMakerRuntimeClient

    return {"sagemaker": SageMakerClient, "sagemaker-runtime": SageMakerRuntimeClient,
            "runtime.sagemaker": SageMakerRuntimeClient}.get(service_name)


def client(service_name: str, *args, **kwargs):
    ours = _sagemaker(service_name)
    return ours() if ours else _boto3.client(service_name, *args, **kwargs)


class Session(_boto3.Session):
    """``boto3.Session()`` whose ``client("sagemaker")`` is mlcore's."""

    def client(self, service_name: str, *args, **kwargs):
        ours = _sagemaker(service_name)
        return ours() if ours else super().client(service_name, *args, **kwargs)


def __getattr__(name: str):  # resource, setup_default_session, exceptions, ...
    return getattr(_boto3, name)
