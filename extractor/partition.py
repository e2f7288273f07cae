"""Split an initial snapshot into contiguous primary-key ranges that can be read concurrently.

Pure range arithmetic plus one cheap query: ``MIN``/``MAX`` of an integer key are two index dives, not
a scan (``ORDER BY id LIMIT 1 OFFSET n`` would read n rows per boundary). Ranges are half-open on the
left, closed on the right, in key order, and together cover ``[min, max]`` exactly once, so each range is
an ordinary keyset page loop that starts *after* ``lower`` and stops at ``upper``. Tables whose key is
not a single integer column get one range (the snapshot stays sequential).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


@dataclass(frozen=True)
class KeyRange:
    """Rows with ``lower < key <= upper``; ``None`` means unbounded on that side."""

    lower: int | None
    upper: int | None

    def where_sql(self, key_sql: str) -> tuple[str, list[Any]]:
        """SQL condition and parameters selecting this range (``key_sql`` is a quoted column)."""
        parts, params = [], []
        if self.lower is not None:
            parts.append(f"{key_sql} > %s")
            params.append(self.lower)
        if self.upper is not None:
            parts.append(f"{key_sql} <= %s")
            params.append(self.upper)
        return (" AND ".join(parts) or "1=1"), params


def split_integer_range(low: int, high: int, partitions: int) -> list[KeyRange]:
    """``partitions`` contiguous ranges of (nearly) equal width covering ``[low, high]``.

    The first range is unbounded below and the last unbounded above, so rows inserted outside the
    bounds seen at planning time are still read by exactly one range.
    """
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    if high < low:
        raise ValueError(f"empty key range [{low}, {high}]")
    count = min(partitions, high - low + 1)
    if count == 1:
        return [KeyRange(None, None)]
    width = (high - low + 1) / count
    bounds = [low - 1 + round(width * i) for i in range(1, count)]
    lowers: list[int | None] = [None, *bounds]
    uppers: list[int | None] = [*bounds, None]
    return [KeyRange(lo, hi) for lo, hi in zip(lowers, uppers, strict=True)]


def plan_ranges(conn: Any, table_sql: str, key_sql: str, key_data_type: str, partitions: int,
                where_sql: str = "", params: list[Any] | None = None) -> list[KeyRange]:
    """Key ranges for a snapshot of ``table_sql``; one unbounded range unless the key is one integer column.

    ``where_sql``/``params`` restrict the rows considered (e.g. the snapshot's ``cursor <= upper``); with
    no restriction ``MIN``/``MAX`` are answered from the index ends.
    """
    if partitions <= 1 or key_data_type.lower() not in _INTEGER_TYPES:
        return [KeyRange(None, None)]
    sql = f"SELECT MIN({key_sql}), MAX({key_sql}) FROM {table_sql}" + (f" WHERE {where_sql}" if where_sql else "")
    with conn.cursor() as cur:
        cur.execute(sql, params or ())
        row = cur.fetchone()
    if not row or row[0] is None:
        return [KeyRange(None, None)]
    return split_integer_range(int(row[0]), int(row[1]), partitions)


__all__ = ["KeyRange", "plan_ranges", "split_integer_range"]
