"""A lake in a local directory: publishes by rename, compare-and-swap under an ``fcntl`` lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.fs as pafs

from extractor import scratch
from extractor.errors import LakeError
from extractor.lake.base import CAS_PREFIX, TMP_PREFIX, ObjectInfo, Storage, check_key, conflict, sha256
from extractor.lake.faults import read_with_retries


class LocalStorage(Storage):
    """A local directory; publishes by rename, compare-and-swap under an ``fcntl`` lock."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def _tmp_path(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.parent / f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex}"

    @contextlib.contextmanager
    def _cas_lock(self, path: Path) -> Iterator[None]:
        # flock (not lockf): it also excludes other threads of this process that open the file.
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / f"{CAS_PREFIX}{path.name}", "a+b") as handle:
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
                        raise conflict(key, self.uri(key), "already exists") from None
                elif if_match is not None:
                    with self._cas_lock(path):
                        current = self._read(path)
                        if current is None or sha256(current) != if_match:
                            raise conflict(key, self.uri(key), "is gone" if current is None else "changed")
                        os.replace(tmp, path)
                else:
                    os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        except OSError as exc:
            raise self._io_error("write", key, exc) from exc
        return sha256(data)

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
        return None if data is None else (data, sha256(data))

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
        path = self.root / f"{TMP_PREFIX}scratch"
        try:
            path.mkdir(parents=True, exist_ok=True)
            scratch.sweep(path)
        except OSError as exc:
            raise self._io_error("create", f"{TMP_PREFIX}scratch", exc) from exc
        return str(path)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        start = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not start.is_dir():
            return []
        found = []
        for dirpath, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(TMP_PREFIX)]
            for name in files:
                if name.startswith((TMP_PREFIX, CAS_PREFIX)):
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
                if current is None or sha256(current) != token:
                    return False
                os.unlink(path)
                return True
        except OSError as exc:
            raise self._io_error("delete", key, exc) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(self.root)
