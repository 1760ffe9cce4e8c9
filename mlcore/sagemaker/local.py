"""``sagemaker.local``: SageMaker's local mode. Everything in mlcore runs locally unless
``RAY_ADDRESS`` names a cluster, so ``LocalSession`` is the ordinary :class:`Session`
(``instance_type="local"`` / ``"local_gpu"`` run on this machine's Ray)."""

from __future__ import annotations

from mlcore.sagemaker.session import Session


class LocalSession(Session):
    """``LocalSession(boto_session=None, default_bucket=None, s3_endpoint_url=None,
    disable_local_code=False, sagemaker_config=None, default_bucket_prefix=None)``."""

    def __init__(self, boto_session=None, default_bucket=None, s3_endpoint_url=None,
                 disable_local_code=False, sagemaker_config=None, default_bucket_prefix=None,
                 **kwargs):
        super().__init__(boto_session=boto_session, default_bucket=default_bucket,
                         sagemaker_config=sagemaker_config,
                         default_bucket_prefix=default_bucket_prefix, **kwargs)
        self.config = {"local": {"local_code": not disable_local_code}}


__all__ = ["LocalSession"]
