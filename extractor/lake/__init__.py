"""The lake: local-directory or S3 storage, its key layout, and atomic and conditional writes.

Keys are always relative, ``/``-separated paths under the lake root. Tokens identify one version of
an object: the ETag on S3, the sha256 of the content locally. A failed condition raises ``StateError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from extractor.errors import LakeError
from extractor.lake.base import ObjectInfo, Storage
from extractor.lake.layout import TableLayout, batch_id, new_run_id, run_key
from extractor.lake.local import LocalStorage
from extractor.lake.s3 import S3Storage


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


__all__ = ["LocalStorage", "ObjectInfo", "S3Storage", "Storage", "TableLayout", "batch_id", "new_run_id",
           "open_lake", "run_key"]
