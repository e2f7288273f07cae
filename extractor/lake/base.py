"""The storage interface every lake implements (a local directory, S3), and what both share."""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow.fs as pafs

from extractor import scratch
from extractor.errors import LakeError, StateError

TMP_PREFIX = ".tmp-"
CAS_PREFIX = ".cas-"


@dataclass(frozen=True)
class ObjectInfo:
    """One object in the lake: its key, size in bytes and last-modified time (aware UTC)."""

    key: str
    size: int
    last_modified: datetime


def check_key(key: str) -> str:
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


def sha256(data: bytes) -> str:
    """The content token of a local object."""
    return hashlib.sha256(data).hexdigest()


def conflict(key: str, where: str, what: str) -> StateError:
    return StateError(f"conditional write failed: {key} {what} (changed concurrently)", where=where,
                      hint="another process wrote it; re-read it and retry")


# ------------------------------------------------------------------------------------------------ S3
