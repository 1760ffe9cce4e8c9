"""Reading and writing URIs (local paths, file://, s3://) through fsspec.

Artifacts are committed: their files are written first and a ``_COMMITTED`` marker last, and
on local disks the folder appears by an atomic rename. Readers accept only committed folders,
so a job killed half-way never leaves a model that looks finished.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from functools import lru_cache

import fsspec

from mlcore import constants
from mlcore._names import NAME_QUOTE_LIMIT, NAME_RULE, shown
from mlcore.errors import StorageError

COMMIT_MARKER = "_COMMITTED"
log = logging.getLogger("mlcore")


# Where AWS's SDKs find credentials without AWS_ENDPOINT_URL (the instance profile aside).
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
_S3_SCHEMES = ("s3://", "s3a://")
_told_local_store = False


def local_s3_root() -> str | None:
    """The folder standing in for S3 (one sub-folder per bucket), or None when s3:// URIs go
    to an object store. With nothing configured (no AWS_ENDPOINT_URL, no AWS credentials)
    an example's ``s3://bucket/key`` URIs then work unchanged on one machine, as plain files
    under ``$MLCORE_HOME/s3``; ``MLCORE_S3_STORE`` (s3 | local | auto) overrides the guess."""
    global _told_local_store
    mode = str(constants.get("MLCORE_S3_STORE")).strip().lower()
    if mode not in ("auto", "local", "s3"):
        raise StorageError(f"MLCORE_S3_STORE must be auto, local or s3; got {shown(mode)}")
    if mode == "s3" or (mode == "auto" and _object_store_configured()):
        return None
    root = str(constants.home() / "s3")
    if not _told_local_store:
        _told_local_store = True
        log.info("s3:// URIs are stored under %s (no AWS_ENDPOINT_URL or AWS credentials "
                 "are set; set them, or MLCORE_S3_STORE=s3, to use an object store)", root)
    return root


def _object_store_configured() -> bool:
    return bool(constants.get("AWS_ENDPOINT_URL") or constants.present(_CREDENTIAL_VARS)
                or any(os.path.exists(os.path.expanduser(f))
                       for f in ("~/.aws/credentials", "~/.aws/config")))


def _in_local_store(uri: str) -> str | None:
    """The local path of an s3:// URI when the local store is in use, else None."""
    if not uri.startswith(_S3_SCHEMES):
        return None
    root = local_s3_root()
    if root is None:
        return None
    bucket_key = uri.split("://", 1)[1].strip("/")
    if not bucket_key:
        raise StorageError(f"{shown(uri)} names no bucket; use s3://<bucket>/<key>", uri=uri)
    return child(root, bucket_key)


# SageMaker takes a model's S3 location as an https URL too (virtual-hosted or path style).
_S3_HTTPS = re.compile(r"^https?://(?:(?P<vbucket>[^./]+(?:\.[^./]+)*?)\.s3[.-](?:[a-z0-9-]+\.)?"
                       r"amazonaws\.com(?:\.cn)?/(?P<vkey>.*)|s3[.-](?:[a-z0-9-]+\.)?amazonaws"
                       r"\.com(?:\.cn)?/(?P<pbucket>[^/]+)/(?P<pkey>.*))$")


def canonical(uri: str) -> str:
    """``s3://bucket/key`` for an S3 https URL (``https://bucket.s3-us-west-2.amazonaws.com/
    key``, ``https://s3.us-west-2.amazonaws.com/bucket/key``); any other URI unchanged."""
    m = _S3_HTTPS.match(uri) if uri.startswith("http") else None
    if not m:
        return uri
    bucket, key = (m["vbucket"], m["vkey"]) if m["vbucket"] else (m["pbucket"], m["pkey"])
    return f"s3://{bucket}/{key}"


def is_remote(uri: str) -> bool:
    """Whether ``uri`` is outside this machine's filesystem (an s3:// URI in the local
    store is not)."""
    if "://" not in uri or uri.startswith("file://"):
        return False
    return _in_local_store(uri) is None


def local_path(uri: str) -> str:
    mapped = _in_local_store(uri)
    if mapped is not None:
        return mapped
    return os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))


def shown_uri(local: str, like: str) -> str:
    """``local`` spelled as the caller spelled its root ``like``: an s3:// URI of the local
    store stays an s3:// URI in records and messages."""
    return like if like.startswith(_S3_SCHEMES) else local


def child(root: str, *parts: str) -> str:
    """``root/part/...`` for parts built from names (a job, an endpoint, a variant, a model's
    path under a prefix): each part must be a relative path that stays under ``root``, so a
    part that is empty, absolute, or has a '.' or '..' segment is refused (StorageError
    naming the part and the rule). A part may hold several segments ("2024/05/01")."""
    for part in parts:
        segments = part.strip("/").split("/") if isinstance(part, str) else [""]
        if (not isinstance(part, str) or part.startswith("/") or "\0" in part
                or any(s in ("", ".", "..") for s in segments)):
            raise StorageError(
                f"{shown(part, NAME_QUOTE_LIMIT)} cannot be a folder under {root}: a name or "
                "path here must be relative, non-empty and without '.' or '..' parts (names "
                f"follow SageMaker's rule, {NAME_RULE.format(n=63)})", uri=root)
    path = "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])
    # Belt and braces: the normalised path is still under the root (local roots only).
    if "://" not in root or root.startswith("file://"):
        base, full = os.path.normpath(local_path(root)), os.path.normpath(local_path(path))
        if os.path.commonpath([base, full]) != base:
            raise StorageError(f"{shown(path, NAME_QUOTE_LIMIT)} resolves outside {root}", uri=root)
    return path


# Every caller's URIs of names go through child(); `join` is its older name.
join = child


@lru_cache(maxsize=8)
def _s3(endpoint: str):
    import s3fs

    kwargs = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return s3fs.S3FileSystem(**kwargs)


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """``(fs, path)`` for a URI; s3:// honours ``AWS_ENDPOINT_URL`` (or the local store)."""
    if not is_remote(uri):
        return fsspec.filesystem("file"), local_path(uri)
    if uri.startswith(_S3_SCHEMES):
        return _s3(constants.get("AWS_ENDPOINT_URL")), uri.split("://", 1)[1]
    if is_remote(uri):
        fs, path = fsspec.core.url_to_fs(uri)
        return fs, path
    return fsspec.filesystem("file"), local_path(uri)


def pyarrow_filesystem(uri: str):
    """A pyarrow filesystem over the same fsspec filesystem (for Ray Train and pyarrow I/O)."""
    import pyarrow.fs as pafs

    fs, path = filesystem(uri)
    if not is_remote(uri):
        return pafs.LocalFileSystem(), path
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def list_files(uri: str) -> list[str]:
    """Data files under a URI (itself if it is a file), sorted, hidden and marker files skipped."""
    fs, path = filesystem(uri)
    try:
        if fs.isfile(path):
            return [path]
        if not fs.exists(path):
            raise StorageError(f"{uri} does not exist; check the channel URI", uri=uri)
        files = [f for f in fs.find(path) if not os.path.basename(f).startswith(("_", "."))]
    except (PermissionError, OSError) as e:
        raise StorageError(f"cannot read {uri}: {e}", uri=uri) from None
    return sorted(files)


def commit_dir(local_src: str, dest_uri: str, manifest: dict | None = None) -> str:
    """Publish a local folder at ``dest_uri``: files first, the commit marker last."""
    files = sorted(os.path.relpath(os.path.join(d, f), local_src)
                   for d, _, fs_ in os.walk(local_src) for f in fs_)
    marker = {"committed_at": time.time(), "files": files, **(manifest or {})}
    if not is_remote(dest_uri):
        dest = local_path(dest_uri)
        staging = f"{dest}.tmp-{uuid.uuid4().hex[:8]}"
        shutil.copytree(local_src, staging)
        with open(os.path.join(staging, COMMIT_MARKER), "w") as f:
            json.dump(marker, f)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.replace(staging, dest)  # atomic on one filesystem: the folder appears complete
        return shown_uri(dest, dest_uri)
    fs, path = filesystem(dest_uri)
    fs.put(local_src.rstrip("/") + "/", path.rstrip("/") + "/", recursive=True)
    with fs.open(join(path, COMMIT_MARKER), "w") as f:
        f.write(json.dumps(marker))
    return dest_uri


TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def is_tarball(uri: str) -> bool:
    """SageMaker's artifact form: one ``model.tar.gz`` object (complete once it exists, as an
    object store writes it whole; mlcore writes it to a temporary name first)."""
    return uri.rstrip("/").endswith(TARBALL_SUFFIXES)


def is_committed(uri: str) -> bool:
    fs, path = filesystem(uri)
    if is_remote(uri):  # s3fs caches listings: a model added since must not read as missing
        fs.invalidate_cache(path)
    if is_tarball(uri):
        return fs.isfile(path)
    return fs.exists(join(path, COMMIT_MARKER))


def write_tarball(local_src: str, dest_uri: str) -> str:
    """``local_src``'s files (its commit marker left out) as a gzipped tarball at
    ``dest_uri``, members at the top level as SageMaker packs ``model.tar.gz``; written under
    a temporary name and then moved, so a reader never sees half of it."""
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlcore-tar-") as tmp:
        packed = os.path.join(tmp, "model.tar.gz")
        with tarfile.open(packed, "w:gz") as tar:
            for name in sorted(os.listdir(local_src)):
                if name != COMMIT_MARKER:
                    tar.add(os.path.join(local_src, name), arcname=name)
        return put_file(packed, dest_uri)


def fetch_file(uri: str, local_dir: str) -> str:
    """One file (an object) copied into ``local_dir``; its local path."""
    fs, path = filesystem(uri)
    if not fs.isfile(path):
        raise StorageError(f"{uri} does not exist", uri=uri)
    dest = os.path.join(local_dir, os.path.basename(path))
    fs.get(path, dest)
    return dest


def put_file(local: str, dest_uri: str) -> str:
    """A local file written at ``dest_uri`` whole: under a temporary name and moved on a
    local disk; an object store makes an upload visible only once it completes."""
    fs, path = filesystem(dest_uri)
    if is_remote(dest_uri):
        fs.put(local, path)
        return dest_uri
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    shutil.copyfile(local, staging)
    os.replace(staging, path)
    return shown_uri(path, dest_uri)


def _extract_tarball(uri: str, local_dir: str) -> str:
    import tarfile

    fs, path = filesystem(uri)
    os.makedirs(local_dir, exist_ok=True)
    try:
        with fs.open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:*") as tar:
            tar.extractall(local_dir, filter="data")  # no absolute paths, links out, devices
    except (tarfile.TarError, OSError) as e:
        raise StorageError(f"cannot unpack model archive {uri}: {e}; it must be a tar.gz of the "
                           "model's files (SageMaker's model.tar.gz)", uri=uri) from None
    return local_dir


def fetch_committed(uri: str, local_dir: str) -> str:
    """Copy a committed artifact folder to ``local_dir`` (or unpack a ``model.tar.gz`` there);
    refuse an uncommitted one."""
    if is_tarball(uri):
        if not is_committed(uri):
            raise StorageError(f"model archive {uri} does not exist; pass the model_data of a "
                               "completed job or an uploaded model.tar.gz", uri=uri)
        return _extract_tarball(uri, local_dir)
    if not is_committed(uri):
        raise StorageError(f"{uri} is not a committed artifact (no {COMMIT_MARKER} marker): the "
                           "job that wrote it did not finish. Use a completed job's model_data.",
                           uri=uri)
    if not is_remote(uri):
        return local_path(uri)
    fs, path = filesystem(uri)
    fs.get(path.rstrip("/") + "/", local_dir.rstrip("/") + "/", recursive=True)
    return local_dir


def upload_dir(local_src: str, dest_uri: str) -> str:
    """Copy a local folder's files under ``dest_uri`` (no commit marker: plain output)."""
    fs, path = filesystem(dest_uri)
    fs.makedirs(path, exist_ok=True)
    fs.put(local_src.rstrip("/") + "/", path.rstrip("/") + "/", recursive=True)
    return dest_uri


def remove(uri: str) -> None:
    """Delete one file or object; one already gone is fine."""
    fs, path = filesystem(uri)
    try:
        fs.rm(path)
    except FileNotFoundError:
        pass


def write_json_atomic(path: str, obj) -> None:
    """Write a local JSON file so readers see the old or the new content, never a torn one."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, default=str)
    os.replace(tmp, path)


def unwritable(uri: str) -> str | None:
    """Why nothing can be written under ``uri``, where that is cheap to tell; None when it
    can be, or when it cannot be told (a store that does not answer: working offline is
    allowed). A local path is probed with a temporary file in its nearest existing folder
    (removed again; no folder is created); s3:// asks whether the bucket exists; another
    scheme needs its fsspec filesystem installed."""
    import tempfile

    if uri.startswith(_S3_SCHEMES) and is_remote(uri):
        import s3fs

        bucket = uri.split("://", 1)[1].split("/", 1)[0]
        endpoint = constants.get("AWS_ENDPOINT_URL")
        # One short attempt: the shared filesystem retries for minutes where no store answers.
        fs = s3fs.S3FileSystem(skip_instance_cache=True,
                               client_kwargs={"endpoint_url": endpoint} if endpoint else {},
                               config_kwargs={"connect_timeout": 3, "read_timeout": 5,
                                              "retries": {"max_attempts": 1}})
        fs.retries = 1
        try:
            fs.call_s3("head_bucket", Bucket=bucket)
        except FileNotFoundError:
            return f"bucket {bucket} does not exist"
        except Exception:  # offline, no credentials, no ListBucket right: cannot tell
            return None
        return None
    if is_remote(uri):
        try:
            fsspec.get_filesystem_class(uri.split("://", 1)[0])
        except (ImportError, ValueError) as e:
            return " ".join(str(e).split()) or type(e).__name__
        return None
    probe = local_path(uri)
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return f"{probe} is a file, not a folder"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".mlcore-write-probe-", dir=probe)
        os.close(fd)
        os.remove(tmp)
    except OSError as e:
        return e.strerror or str(e)
    return None
