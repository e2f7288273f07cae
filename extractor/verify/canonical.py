"""One canonical text per value, whatever driver read it; row hashes and sortable key parts."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any


def _number(value: Any) -> str:
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return f"?{value}"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _float32(value: Any) -> float:
    """The float32 a FLOAT column stores (MySQL hands out a double near it; the lake holds it exactly)."""
    return float(struct.unpack("<f", struct.pack("<f", float(value)))[0])


def _micros(value: Any) -> int:
    """A TIME value as signed microseconds: pymysql gives a timedelta, DuckDB the Parquet duration's integer."""
    if isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if isinstance(value, time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    return int(value)


def canonical(kind: str, value: Any) -> str | None:
    """One text rendering of a value whichever driver produced it (None stays None).

    Integers, DECIMAL, unsigned BIGINT (decimal(20,0) in the lake), BIT and YEAR render as plain decimal
    text without trailing zeros; FLOAT as the float32 it stores; DATETIME/TIMESTAMP as naive UTC ISO text with
    microseconds; zero dates (text from pymysql) as None like the lake's NULL; TIME as microseconds;
    binary as hex; booleans (a staging ``is_active``) as 1/0.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if kind in ("int", "bigint_unsigned", "decimal", "bit", "year"):
        if isinstance(value, bytes | bytearray):
            value = int.from_bytes(value, "big")
        return _number(value)
    if kind == "float":
        return repr(_float32(value))
    if kind == "double":
        return repr(float(value))
    if kind in ("date", "datetime", "timestamp"):
        if isinstance(value, str):  # pymysql returns zero dates as text; the lake has NULL
            return None
        if isinstance(value, datetime):
            return _naive_utc(value).isoformat(sep=" ", timespec="microseconds")
        if isinstance(value, date):
            return value.isoformat()
        return str(value)
    if kind == "time":
        if isinstance(value, timedelta):
            return str(_micros(value))
        return _number(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex() if kind in ("binary", "geometry") else bytes(value).decode("utf-8", "replace")
    if kind in ("binary", "geometry") and isinstance(value, str):
        return value.encode("utf-8").hex()
    return str(value)


def row_hash(kinds: Sequence[str], values: Sequence[Any]) -> int:
    """64-bit hash of a row's canonical rendering (NULL distinct from every text)."""
    parts = []
    for kind, value in zip(kinds, values, strict=True):
        text = canonical(kind, value)
        parts.append("\x00N" if text is None else text.replace("\x1e", "\x1e\x1e"))
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


_NULL = (0,)


def _key_part(kind: str, value: Any) -> tuple[Any, ...]:
    """One key or cursor value as every side must compare it: one Python type per column kind.

    MySQL (pymysql), the lake and staging (DuckDB) hand out different types for the same value, and the
    merge orders keys from all three together. ``(0,)`` is NULL (and a zero date, the lake's NULL);
    ``(1, v)`` a value: integers, DECIMAL, BIT and YEAR exactly as Decimal; FLOAT at float32 precision;
    TIME as microseconds; DATETIME/TIMESTAMP as naive UTC; text as UTF-8 bytes (the order both sides sort
    by); binary as bytes.
    """
    if value is None:
        return _NULL
    if kind in ("int", "bigint_unsigned", "decimal", "bit", "year"):
        if isinstance(value, bytes | bytearray):
            value = int.from_bytes(value, "big")
        return (1, Decimal(str(value)))
    if kind == "float":
        return (1, _float32(value))
    if kind == "double":
        return (1, float(value))
    if kind == "time":
        return (1, _micros(value))
    if kind in ("date", "datetime", "timestamp") and isinstance(value, str):
        return _NULL  # pymysql returns zero dates as text; the lake has NULL
    if isinstance(value, datetime):
        return (1, _naive_utc(value))
    if isinstance(value, str):
        return (1, value.encode("utf-8"))
    if isinstance(value, bytearray | memoryview):
        return (1, bytes(value))
    return (1, value)


def _sort_key(kinds: Sequence[str], values: Sequence[Any]) -> tuple[Any, ...]:
    """The key as both databases order it (see ``_key_part``)."""
    return tuple(_key_part(kind, value) for kind, value in zip(kinds, values, strict=True))
