"""The lake: local-directory or S3 storage, its key layout, and atomic and conditional writes.

Keys are always relative, ``/``-separated paths under the lake root. Tokens identify one version of
an object: the ETag on S3, the sha256 of the content locally. A failed condition raises ``StateError``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from extractor import retry, scratch
from extractor.errors import LakeError, StateError
from extractor.lake_faults import error_code as _error_code
from extractor.lake_faults import is_missing as _is_missing
from extractor.lake_faults import read_with_retries, transient_read_error

_TMP_PREFIX = ".tmp-"
_CAS_PREFIX = ".cas-"
_S3_DELETE_BATCH = 1000
_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]*$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectInfo:
    """One object in the lake: its key, size in bytes and last-modified time (aware UTC)."""

    key: str
    size: int
    last_modified: datetime


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the microsecond plus 6 random hex digits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def batch_id(run_id: str, seq: int) -> str:
    """The ``_batch_id`` of file ``seq`` of a run; sorts in write order."""
    return f"{run_id}-{seq:05d}"


def run_key(run_id: str) -> str:
    """Key of a run's report document."""
    return f"runs/{run_id}.json"


@dataclass(frozen=True)
class TableLayout:
    """Where one table's data, manifests, watermark and lock live in the lake."""

    source: str
    source_db: str
    target_schema: str
    table: str

    def __post_init__(self) -> None:
        for name in ("source", "source_db", "target_schema", "table"):
            value = getattr(self, name)
            if not _SAFE_PART.match(value) or ".." in value:
                raise LakeError(f"{name} {value!r} cannot be used in a lake key",
                                hint="use letters, digits, '_', '-', '.' or '$'")

    @classmethod
    def of(cls, pipeline: Any, table: Any) -> TableLayout:
        """The layout of a configured ``table`` of ``pipeline`` (``config.Pipeline``, ``config.TableConfig``).

        The one place that says which settings name a table's place in the lake.
        """
        return cls(pipeline.source, table.source_db, pipeline.target_schema, table.target)

    @property
    def display(self) -> str:
        """How people name the table: ``<target_schema>.<table>``."""
        return f"{self.target_schema}.{self.table}"

    @property
    def _path(self) -> str:
        return f"{self.source}/{self.source_db}/{self.target_schema}/{self.table}"

    @property
    def data_prefix(self) -> str:
        """Prefix (ending in ``/``) of every data file of the table."""
        return f"data/{self._path}/"

    @property
    def manifest_prefix(self) -> str:
        """Prefix (ending in ``/``) of the table's COPY manifests."""
        return f"manifests/{self._path}/"

    def data_key(self, dt: date, run_id: str, seq: int) -> str:
        """Key of data file ``seq`` of ``run_id``, partitioned by extraction date."""
        return f"{self.data_prefix}dt={dt:%Y-%m-%d}/{self.table}__{run_id}__{seq:05d}.parquet"

    def parse_data_key(self, key: str) -> tuple[str, int] | None:
        """``(run_id, seq)`` of a data key written by ``data_key``, else None."""
        if not key.startswith(self.data_prefix):
            return None
        name = key.rsplit("/", 1)[-1]
        head, suffix = f"{self.table}__", ".parquet"
        if not (name.startswith(head) and name.endswith(suffix)):
            return None
        run_id, _, seq = name[len(head):-len(suffix)].rpartition("__")
        if not run_id or not seq.isdigit():
            return None
        return run_id, int(seq)

    def manifest_key(self, run_id: str) -> str:
        """Key of the COPY manifest of ``run_id``."""
        return f"{self.manifest_prefix}{run_id}.manifest"

    @property
    def state_key(self) -> str:
        """Key of the watermark document."""
        return f"state/{self._path}.json"

    @property
    def lock_key(self) -> str:
        """Key of the single-writer lock."""
        return f"state/{self._path}.lock"

    @property
    def keys_key(self) -> str:
        """Key of the last full_sync key set (for delete detection)."""
        return f"state/{self._path}.keys.parquet"


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (
        "", ".", "..",
    ):
        raise LakeError(f"invalid lake key {key!r}", hint="keys are relative paths without '..'")
    return key


class Storage(ABC):
    """A lake root: put/get/list/delete objects by key, with conditional writes."""

    url: str

    @abstractmethod
    def uri(self, key: str) -> str:
        """Absolute location of ``key`` for external readers (local path or ``s3://…``)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, if_match: str | None = None,
                  if_none_match: bool = False) -> str:
        """Write ``data`` atomically, optionally only if absent or still at version ``if_match``."""

    @abstractmethod
    def get_bytes(self, key: str) -> tuple[bytes, str] | None:
        """``(data, token)``, or None when the key does not exist."""

    @abstractmethod
    def upload_file(self, local_path: str | os.PathLike[str], key: str) -> int:
        """Publish a local file under ``key`` atomically; returns its size."""

    def publish_file(self, local_path: str | os.PathLike[str], key: str) -> int:
        """Publish a local file the caller is done with, atomically, and remove it; returns its size.

        A local lake moves it (when ``scratch_dir`` put it on the same filesystem) instead of copying.
        """
        size = self.upload_file(local_path, key)
        os.unlink(local_path)
        return size

    def scratch_dir(self) -> str | None:
        """Where a writer should stage files it will ``publish_file``: a private directory in the temp dir.

        What killed writers left there is removed (:mod:`extractor.scratch`).
        """
        return scratch.temp_scratch_dir()

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (recursive), sorted by key."""

    @abstractmethod
    def delete(self, keys: Iterable[str]) -> None:
        """Delete ``keys``; missing keys are ignored."""

    @abstractmethod
    def delete_if_match(self, key: str, token: str) -> bool:
        """Delete ``key`` only if it is still at version ``token``; False if it changed or is gone."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    @abstractmethod
    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the root path inside it, for reading files back."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def open_lake(url: str, **options: Any) -> Storage:
    """Open ``./lake``, ``/abs/dir``, ``file:///abs/dir`` or ``s3://bucket/prefix``.

    ``options`` go to ``S3Storage`` (``connect_timeout``, ``read_timeout``, ``max_attempts``).
    """
    if url.startswith("s3://"):
        parsed = urlparse(url)
        if not parsed.netloc:
            raise LakeError(f"lake URL {url!r} has no bucket", hint="use s3://bucket/prefix")
        return S3Storage(parsed.netloc, parsed.path.strip("/"), **options)
    if url.startswith("file://"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise LakeError(f"lake URL {url!r} names a remote host", hint="use file:///absolute/path")
        return LocalStorage(parsed.path)
    if "://" in url:
        raise LakeError(f"unsupported lake URL {url!r}", hint="use a directory, file:///dir or s3://bucket/prefix")
    return LocalStorage(url)


# --------------------------------------------------------------------------------------------- local


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStorage(Storage):
    """A local directory; publishes by rename, compare-and-swap under an ``fcntl`` lock."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def _tmp_path(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.parent / f"{_TMP_PREFIX}{path.name}.{uuid.uuid4().hex}"

    @contextlib.contextmanager
    def _cas_lock(self, path: Path) -> Iterator[None]:
        # flock (not lockf): it also excludes other threads of this process that open the file.
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / f"{_CAS_PREFIX}{path.name}", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _io_error(self, action: str, key: str, exc: OSError) -> LakeError:
        hint = "check the lake directory exists and is writable" if isinstance(
            exc, PermissionError | NotADirectoryError) else "check the lake directory and free disk space"
        return LakeError(f"cannot {action}: {exc.strerror or exc}", where=self.uri(key), hint=hint)

    def _write_tmp(self, path: Path, data: bytes) -> Path:
        tmp = self._tmp_path(path)
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return tmp

    def put_bytes(self, key: str, data: bytes, *, if_match: str | None = None,
                  if_none_match: bool = False) -> str:
        path = self._path(key)
        try:
            tmp = self._write_tmp(path, data)
            try:
                if if_none_match:
                    # link() refuses to overwrite: create-if-absent that is atomic and never partial.
                    try:
                        os.link(tmp, path)
                    except FileExistsError:
                        raise _conflict(key, self.uri(key), "already exists") from None
                elif if_match is not None:
                    with self._cas_lock(path):
                        current = self._read(path)
                        if current is None or _sha256(current) != if_match:
                            raise _conflict(key, self.uri(key), "is gone" if current is None else "changed")
                        os.replace(tmp, path)
                else:
                    os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        except OSError as exc:
            raise self._io_error("write", key, exc) from exc
        return _sha256(data)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def get_bytes(self, key: str) -> tuple[bytes, str] | None:
        path = self._path(key)
        try:
            data = read_with_retries(lambda: self._read(path), self.uri(key))
        except OSError as exc:
            raise self._io_error("read", key, exc) from exc
        return None if data is None else (data, _sha256(data))

    def upload_file(self, local_path: str | os.PathLike[str], key: str) -> int:
        path = self._path(key)
        try:
            tmp = self._tmp_path(path)
            try:
                shutil.copyfile(local_path, tmp)
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            return path.stat().st_size
        except OSError as exc:
            raise self._io_error("upload", key, exc) from exc

    def publish_file(self, local_path: str | os.PathLike[str], key: str) -> int:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(local_path, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(local_path, path)
            return path.stat().st_size
        except OSError as exc:
            if exc.errno == errno.EXDEV:  # another filesystem: copy
                return super().publish_file(local_path, key)
            raise self._io_error("upload", key, exc) from exc

    def scratch_dir(self) -> str | None:
        """``<root>/.tmp-scratch``: on the lake's filesystem, so a published file is renamed, not copied.

        Hidden from ``list`` like every ``.tmp-`` name. What a killed writer left there is removed as soon as
        its process is gone (:mod:`extractor.scratch`); a live writer's directory is never touched.
        """
        path = self.root / f"{_TMP_PREFIX}scratch"
        try:
            path.mkdir(parents=True, exist_ok=True)
            scratch.sweep(path)
        except OSError as exc:
            raise self._io_error("create", f"{_TMP_PREFIX}scratch", exc) from exc
        return str(path)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        start = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not start.is_dir():
            return []
        found = []
        for dirpath, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(_TMP_PREFIX)]
            for name in files:
                if name.startswith((_TMP_PREFIX, _CAS_PREFIX)):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = full.stat()
                    found.append(ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
        return sorted(found, key=lambda info: info.key)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                os.unlink(self._path(key))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._io_error("delete", key, exc) from exc

    def delete_if_match(self, key: str, token: str) -> bool:
        path = self._path(key)
        try:
            with self._cas_lock(path):
                current = self._read(path)
                if current is None or _sha256(current) != token:
                    return False
                os.unlink(path)
                return True
        except OSError as exc:
            raise self._io_error("delete", key, exc) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(self.root)


def _conflict(key: str, where: str, what: str) -> StateError:
    return StateError(f"conditional write failed: {key} {what} (changed concurrently)", where=where,
                      hint="another process wrote it; re-read it and retry")


# ------------------------------------------------------------------------------------------------ S3

_CREDENTIAL_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                     "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "403"}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class S3Storage(Storage):
    """An S3 bucket/prefix through boto3; endpoint, region and credentials come from the AWS env."""

    def __init__(self, bucket: str, prefix: str = "", *, connect_timeout: float = 10,
                 read_timeout: float = 60, max_attempts: int | None = None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        import boto3

        self._session = boto3.session.Session()
        # AWS_MAX_ATTEMPTS is the standard AWS variable; boto3 ignores it once a retry config is given.
        attempts = max_attempts or int(os.environ.get("AWS_MAX_ATTEMPTS", "5"))
        self._client = client or _make_client(self._session, connect_timeout, read_timeout, attempts)

    @property
    def endpoint_url(self) -> str:
        """The endpoint boto3 resolved (``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` or AWS)."""
        return str(self._client.meta.endpoint_url)

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _error(self, exc: Exception, action: str, key: str | None) -> LakeError:
        return _s3_error(exc, action, self.uri(key) if key else self.url, self.bucket, self.endpoint_url)

    def _read_error(self, exc: Exception, action: str, where: str) -> LakeError:
        """The error of a read that was retried: a transient fault that lasted says so."""
        if transient_read_error(exc):
            host = urlparse(self.endpoint_url).netloc or self.endpoint_url
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return LakeError(f"cannot {action}: interrupted {retry.ATTEMPTS} times in a row ({detail})",
                             where=where, hint=f"the S3 endpoint {host} keeps dropping responses: check it and "
                                               "the network; the next run resumes where this one stopped")
        return _s3_error(exc, action, where, self.bucket, self.endpoint_url)

    def put_bytes(self, key: str, data: bytes, *, if_match: str | None = None,
                  if_none_match: bool = False) -> str:
        kwargs: dict[str, Any] = {}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        elif if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            response = self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **kwargs)
        except Exception as exc:
            if kwargs and _error_code(exc) in _CONFLICT_CODES:
                # boto3 re-sends a PUT whose response was lost; if the first one landed, the condition now
                # fails against our own write. The object holding exactly these bytes means it did.
                landed = self._landed(key, data)
                if landed is not None:
                    return landed
            if _is_missing(exc) and if_match is not None:
                raise _conflict(key, self.uri(key), "is gone") from exc
            raise self._error(exc, "write", key) from exc
        return str(response["ETag"])

    def _landed(self, key: str, data: bytes) -> str | None:
        """The token of ``key`` if it holds exactly ``data`` (a conditional write that did land), else None.

        Watermark and lock documents carry their update time to the microsecond and the writer's run id,
        so another writer's document is never byte-identical to ours.
        """
        with contextlib.suppress(LakeError):
            found = self.get_bytes(key)
            if found is not None and found[0] == data:
                log.warning("%s: a conditional write was sent twice (its first response was lost) and had "
                            "landed; keeping it", self.uri(key))
                return found[1]
        return None

    def get_bytes(self, key: str) -> tuple[bytes, str] | None:
        def get() -> tuple[bytes, str] | None:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
                return response["Body"].read(), str(response["ETag"])
            except Exception as exc:
                if _is_missing(exc):
                    return None
                raise

        try:
            return read_with_retries(get, self.uri(key))
        except Exception as exc:
            raise self._read_error(exc, "read", self.uri(key)) from exc

    def upload_file(self, local_path: str | os.PathLike[str], key: str) -> int:
        from boto3.s3.transfer import TransferConfig

        size = os.path.getsize(local_path)
        config = TransferConfig(multipart_threshold=64 * 2**20, multipart_chunksize=64 * 2**20)
        try:
            # A single PUT or a completed multipart upload becomes visible all at once.
            self._client.upload_file(os.fspath(local_path), self.bucket, self._key(key), Config=config)
        except Exception as exc:
            raise self._error(exc, "upload", key) from exc
        return size

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0

        def listing() -> list[ObjectInfo]:
            found = []
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                for item in page.get("Contents", []):
                    modified = item["LastModified"]
                    found.append(ObjectInfo(item["Key"][strip:], int(item["Size"]), modified.astimezone(UTC)))
            return found

        try:
            found = read_with_retries(listing, f"s3://{self.bucket}/{full}")
        except Exception as exc:
            raise self._read_error(exc, "list", f"s3://{self.bucket}/{full}") from exc
        return sorted(found, key=lambda info: info.key)

    def delete(self, keys: Iterable[str]) -> None:
        full = [self._key(k) for k in keys]
        for start in range(0, len(full), _S3_DELETE_BATCH):
            batch = full[start:start + _S3_DELETE_BATCH]
            try:
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            except Exception as exc:
                raise self._error(exc, "delete", None) from exc
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise LakeError(f"cannot delete {len(errors)} object(s): {first.get('Code')} "
                                f"{first.get('Message', '')}".strip(),
                                where=f"s3://{self.bucket}/{first.get('Key')}",
                                hint=_hint_for(str(first.get("Code")), self.endpoint_url))

    def delete_if_match(self, key: str, token: str) -> bool:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key), IfMatch=token)
        except Exception as exc:
            if _is_missing(exc) or _error_code(exc) in _CONFLICT_CODES:
                return False
            raise self._error(exc, "delete", key) from exc
        return True

    def exists(self, key: str) -> bool:
        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=self._key(key))
            except Exception as exc:
                if _is_missing(exc):
                    return False
                raise
            return True

        try:
            return read_with_retries(head, self.uri(key))
        except Exception as exc:
            raise self._read_error(exc, "read", self.uri(key)) from exc

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        creds = self._session.get_credentials()  # resolved by boto3; never printed
        frozen = creds.get_frozen_credentials() if creds else None
        endpoint = urlparse(self.endpoint_url)
        kwargs: dict[str, Any] = {"region": self._client.meta.region_name or "us-east-1"}
        if frozen:
            kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key,
                          session_token=frozen.token)
        if not endpoint.netloc.endswith("amazonaws.com"):
            kwargs.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
        fs = pafs.S3FileSystem(**kwargs)
        return fs, f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket


def _make_client(session: Any, connect_timeout: float, read_timeout: float, max_attempts: int) -> Any:
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"mode": "standard", "max_attempts": max_attempts})
    # boto3 itself reads AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_DEFAULT_REGION and credentials;
    # AWS_REGION is honoured here too because other AWS SDKs use it.
    region = os.environ.get("AWS_REGION") or None
    return session.client("s3", region_name=region, config=config)


def _hint_for(code: str, endpoint: str) -> str:
    if code == "NoSuchBucket":
        return "create the bucket or fix the lake URL"
    if code in _CREDENTIAL_CODES:
        return "check the AWS credentials and the bucket policy for this prefix"
    if code in _CONFLICT_CODES:
        return "another process wrote it; re-read it and retry"
    return f"check the S3 endpoint ({endpoint}) and the lake URL"


def _s3_error(exc: Exception, action: str, where: str, bucket: str, endpoint: str) -> LakeError:
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )
    from botocore.exceptions import (
        NoCredentialsError,
        PartialCredentialsError,
    )

    code = _error_code(exc)
    if code in _CONFLICT_CODES:
        return StateError(f"conditional {action} failed: the object changed concurrently", where=where,
                          hint="another process wrote it; re-read it and retry")
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message") or code
        return LakeError(f"cannot {action}: {code}: {message}", where=where, hint=_hint_for(code, endpoint))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return LakeError(f"cannot {action}: no usable AWS credentials", where=where,
                         hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role")
    if isinstance(exc, BotoConnectionError):
        host = urlparse(endpoint).netloc or endpoint
        return LakeError(f"cannot {action}: S3 endpoint {host} is unreachable ({type(exc).__name__})",
                         where=where, hint="check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 and the network")
    if isinstance(exc, S3UploadFailedError):
        text = str(exc)
        found = next((c for c in ("NoSuchBucket", *_CREDENTIAL_CODES, *_CONFLICT_CODES) if c in text), "")
        reason = text.rsplit(":", 1)[-1].strip() if ":" in text else text
        return LakeError(f"cannot {action}: {found or 'upload failed'}: {reason}", where=where,
                         hint=_hint_for(found, endpoint))
    return LakeError(f"cannot {action}: {type(exc).__name__}: {exc}", where=where,
                     hint=f"check bucket {bucket} and the S3 endpoint ({endpoint})")
