"""A lake on S3 (or an S3-compatible store): conditional writes by ETag, retried reads, one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import UTC
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from extractor import retry
from extractor.errors import LakeError, StateError
from extractor.lake.base import ObjectInfo, Storage, check_key, conflict
from extractor.lake.faults import error_code as _error_code
from extractor.lake.faults import is_missing as _is_missing
from extractor.lake.faults import read_with_retries, transient_read_error

_S3_DELETE_BATCH = 1000
log = logging.getLogger("extractor.lake")


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
        check_key(key)
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
                raise conflict(key, self.uri(key), "is gone") from exc
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
