"""``sagemaker.Session`` and ``get_execution_role``: AWS notions mapped onto mlcore's defaults."""

from __future__ import annotations

import logging

from mlcore import _session, constants

log = logging.getLogger("mlcore")
LOCAL_ROLE = "arn:mlcore:iam::local:role/ray-cluster"


class Session:
    """Stands in for ``sagemaker.Session``: storage and tracking come from mlcore's defaults."""

    def __init__(self, boto_session=None, default_bucket: str | None = None, **_ignored):
        self._bucket = default_bucket

    @property
    def boto_region_name(self) -> str:
        return "local"

    def default_bucket(self) -> str:
        """The storage root: ``$MLCORE_HOME`` (or the bucket given to the constructor)."""
        return self._bucket or str(constants.home())

    @property
    def tracking_uri(self) -> str:
        return _session.tracking_uri()


def get_execution_role(sagemaker_session=None) -> str:
    log.info("get_execution_role: no IAM here; jobs run with the Ray cluster's own identity")
    return LOCAL_ROLE


__all__ = ["Session", "get_execution_role"]
