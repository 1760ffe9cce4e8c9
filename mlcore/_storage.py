"""Reading and writing URIs (local paths, file://, s3://) through fsspec.

Artifacts are committed: their files are written first and a ``_COMMITTED`` marker last, and
on local disks the folder appears by an atomic rename. Readers accept only committed folders,
so a job killed half-way never leaves a model that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from functools import lru_cache

import fsspec

from mlcore import constants
from mlcore._names import NAME_QUOTE_LIMIT, NAME_RULE, shown
from mlcore.errors import StorageError

COMMIT_MARKER = "_COMMITTED"


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def local_path(uri: str) -> str:
    return os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))


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
    if not is_remote(root):  # belt and braces: the normalised path is still under the root
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
    """``(fs, path)`` for a URI; s3:// honours ``AWS_ENDPOINT_URL``."""
    if uri.startswith(("s3://", "s3a://")):
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
        return dest
    fs, path = filesystem(dest_uri)
    fs.put(local_src.rstrip("/") + "/", path.rstrip("/") + "/", recursive=True)
    with fs.open(join(path, COMMIT_MARKER), "w") as f:
        f.write(json.dumps(marker))
    return dest_uri


def is_committed(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.exists(join(path, COMMIT_MARKER))


def fetch_committed(uri: str, local_dir: str) -> str:
    """Copy a committed artifact folder to ``local_dir``; refuse an uncommitted one."""
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

    if uri.startswith(("s3://", "s3a://")):
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
