"""``sagemaker.s3``: ``S3Uploader``, ``S3Downloader``, ``s3_path_join``, ``parse_s3_url``.

They go through the :class:`~mlcore.sagemaker.session.Session`, so ``s3://`` URIs reach the
same store as training and serving: the S3-compatible service configured (``AWS_ENDPOINT_URL``
or AWS credentials), or the local object store under ``$MLCORE_HOME/s3`` when none is.
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlparse


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` URL; ValueError for another scheme, as v2."""
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise ValueError(f"Expecting 's3' scheme, got: {parsed.scheme} in {url}.")
    return parsed.netloc, parsed.path.lstrip("/")


def is_s3_url(url: str) -> bool:
    return urlparse(url).scheme == "s3"


def s3_path_join(*args, with_end_slash: bool = False) -> str:
    """The arguments joined by one "/" each (``"s3://"`` kept at the front), empty or None
    ones skipped, no leading or trailing slash unless ``with_end_slash``: v2's rules."""
    parts = [a for a in args if a]
    scheme = "s3://" if parts and parts[0].startswith("s3://") else ""
    if scheme:
        parts[0] = parts[0][len(scheme):]
    path = re.sub("/+", "/", "/".join(parts)).strip("/")
    if with_end_slash and (path or scheme):
        path += "/"
    return scheme + path


def _session(sagemaker_session):
    from mlcore.sagemaker.session import Session

    return sagemaker_session or Session()


class S3Uploader:
    @staticmethod
    def upload(local_path, desired_s3_uri, kms_key=None, sagemaker_session=None, callback=None):
        """Upload a file or folder under ``desired_s3_uri``; returns its URI."""
        bucket, prefix = parse_s3_url(desired_s3_uri)
        return _session(sagemaker_session).upload_data(local_path, bucket, prefix)

    @staticmethod
    def upload_string_as_file_body(body: str, desired_s3_uri=None, kms_key=None,
                                   sagemaker_session=None):
        bucket, key = parse_s3_url(desired_s3_uri)
        _session(sagemaker_session).upload_string_as_file_body(body, bucket, key)
        return desired_s3_uri

    @staticmethod
    def upload_bytes(b, s3_uri, kms_key=None, sagemaker_session=None):
        bucket, key = parse_s3_url(s3_uri)
        data = b.getvalue() if isinstance(b, io.BytesIO) else bytes(b)
        _session(sagemaker_session)._put(bucket, key, data)
        return s3_uri


class S3Downloader:
    @staticmethod
    def download(s3_uri, local_path, kms_key=None, sagemaker_session=None):
        """Download the object or every object under the prefix; returns the local paths."""
        bucket, prefix = parse_s3_url(s3_uri)
        return _session(sagemaker_session).download_data(local_path, bucket, prefix)

    @staticmethod
    def read_file(s3_uri, sagemaker_session=None) -> str:
        bucket, key = parse_s3_url(s3_uri)
        return _session(sagemaker_session).read_s3_file(bucket, key)

    @staticmethod
    def read_bytes(s3_uri, sagemaker_session=None) -> bytes:
        bucket, key = parse_s3_url(s3_uri)
        return _session(sagemaker_session)._get(bucket, key)

    @staticmethod
    def list(s3_uri, sagemaker_session=None) -> list[str]:
        """The ``s3://`` URIs of the objects under ``s3_uri``."""
        bucket, prefix = parse_s3_url(s3_uri)
        keys = _session(sagemaker_session).list_s3_files(bucket, prefix)
        return [s3_path_join("s3://", bucket, k) for k in keys]


__all__ = ["S3Downloader", "S3Uploader", "is_s3_url", "parse_s3_url", "s3_path_join"]
