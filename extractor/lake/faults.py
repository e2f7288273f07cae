"""How lake failures are told apart: a missing object, and a read that failed in a way that can pass.

Lake reads (``lake.Storage.get_bytes``/``list``/``exists``, Parquet footers) run under
:func:`read_with_retries`: the one retry policy of :mod:`extractor.retry`, re-running what
:func:`transient_read_error` says can pass.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TypeVar

from extractor import retry

T = TypeVar("T")

_TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling",
                       "ThrottlingException", "500", "502", "503", "504"}

#: OS errors of a local (or network-mounted) lake that can pass: I/O error, stale NFS handle, timeouts.
_TRANSIENT_OS_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EINTR, errno.ESTALE, errno.ETIMEDOUT,
                                  errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH})


def transient_read_error(exc: BaseException) -> bool:
    """Whether a lake read failed in a way that can pass: a response cut mid-stream, a dropped connection.

    boto3 retries a request that fails before its response arrives; a response body cut while it is read
    (``ResponseStreamingError``/``IncompleteRead``) reaches the caller, and is retried here. pyarrow's
    S3 and local reads fail with ``OSError`` (never for a missing file: ``FileNotFoundError``).
    """
    import http.client

    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

    if isinstance(exc, ResponseStreamingError | IncompleteReadError | ReadTimeoutError | ConnectionClosedError
                  | ProtocolError | Urllib3ReadTimeout | http.client.IncompleteRead | ConnectionError):
        return True
    code = error_code(exc) if isinstance(exc, Exception) else ""
    if code in _TRANSIENT_S3_CODES:
        return True
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        return False
    if isinstance(exc, OSError):
        # pyarrow's S3 errors carry no errno: their text names the AWS error kind.
        return exc.errno in _TRANSIENT_OS_ERRNOS or (exc.errno is None and _arrow_network_error(str(exc)))
    return False


def _arrow_network_error(text: str) -> bool:
    lowered = text.lower()
    return any(fragment in lowered for fragment in (
        "network_connection", "curlcode", "connection", "timed out", "timeout", "reset by peer", "broken pipe",
        "partial file", "unexpected eof", "internal_failure", "slow_down", "service_unavailable", "throttl",
    ))


def read_with_retries(read: Callable[[], T], where: str) -> T:
    """``read()``, re-run (bounded, with backoff, a warning per retry) while the lake read fails transiently."""
    return retry.call(read, transient_read_error, what="lake read interrupted", where=where)


def error_code(exc: Exception) -> str:
    """The S3 error code of a boto3 error (or its HTTP status), else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        return code or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return ""


def is_missing(exc: Exception) -> bool:
    """Whether a boto3 error says the object (or key) does not exist."""
    return error_code(exc) in {"NoSuchKey", "404", "NotFound"}
