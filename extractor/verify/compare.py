"""The merge of the three key-ordered streams into a table's verification."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from extractor.errors import ExtractorError
from extractor.verify.canonical import _sort_key, row_hash
from extractor.verify.report import _STUCK, TableVerification
from extractor.verify.sides import _Row

_FETCH = 5_000
_MASK = (1 << 64) - 1




def _merge(source: Iterator[_Row], lake: Iterator[_Row], warehouse: Iterator[_Row] | None,
           result: TableVerification, full_sync: bool, key_kinds: Sequence[str]) -> None:
    """Walk the three key-ordered streams once, counting and checksumming what is compared."""
    sums = {"source": 0, "lake": 0, "wh_lake": 0, "wh": 0}
    s, lk = next(source, None), next(lake, None)
    w = next(warehouse, None) if warehouse is not None else None
    wh_rows = 0
    while s is not None or lk is not None or w is not None:
        key = min(r.key for r in (s, lk, w) if r is not None)
        srow = s if s is not None and s.key == key else None
        lrow = lk if lk is not None and lk.key == key else None
        wrow = w if w is not None and w.key == key else None
        if srow is not None and not srow.due:
            result.in_flight += 1
        elif srow is not None:
            result.source_rows += 1
            sums["source"] = (sums["source"] + srow.full) & _MASK
            if srow.stuck == "future":
                result.future_cursor_rows += 1
            why = _STUCK.get(srow.stuck or "", "")
            if lrow is None:
                result.missing_in_lake += 1
                result._sample(key_kinds, key, "missing in the lake" + why)
            else:
                sums["lake"] = (sums["lake"] + lrow.full) & _MASK
                if lrow.full != srow.full:
                    result.different_in_lake += 1
                    result._sample(key_kinds, key, "differs between MySQL and the lake" + why)
            if srow.stuck == "null_cursor" and (lrow is None or lrow.full != srow.full):
                result.null_cursor_stale += 1
        elif lrow is not None:
            if full_sync:
                result.extra_in_lake += 1
                result._sample(key_kinds, key, "is current in the lake but gone from MySQL")
            else:
                result.deleted_at_source += 1
        if lrow is not None:
            result.lake_rows += 1
        if warehouse is not None:
            if wrow is not None:
                wh_rows += 1
                sums["wh"] = (sums["wh"] + wrow.common) & _MASK
            if lrow is not None:
                sums["wh_lake"] = (sums["wh_lake"] + lrow.common) & _MASK
            if (wrow is None) != (lrow is None) or (wrow and lrow and wrow.common != lrow.common):
                result.warehouse_differences += 1
                what = "missing in" if wrow is None else ("only in" if lrow is None else "differs in")
                result._sample(key_kinds, key, f"{what} the warehouse (vs the lake)")
        s = next(source, None) if srow is not None else s
        lk = next(lake, None) if lrow is not None else lk
        if wrow is not None:
            w = next(warehouse, None) if warehouse is not None else None
    result.source_checksum = f"{sums['source']:016x}"
    result.lake_checksum = f"{sums['lake']:016x}"
    if warehouse is not None:
        result.warehouse_rows = wh_rows
        result.warehouse_checksum = f"{sums['wh']:016x}"


#: How a difference no future run will fix is explained in its sample line.
@contextlib.contextmanager
def _reading(error: type[ExtractorError], what: str, where: str, hint: str) -> Iterator[None]:
    """A driver's exception while reading one side becomes that side's one-line error (no traceback)."""
    import duckdb
    import pymysql

    try:
        yield
    except (duckdb.Error, pymysql.err.MySQLError) as exc:
        detail = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise error(f"cannot read {what}: {detail}", where=where, hint=hint) from None


def _guarded(rows: Iterator[_Row], reading: Any) -> Iterator[_Row]:
    """``rows``, read under ``reading`` (a ``_reading`` context): the streams are consumed inside ``_merge``."""
    with reading:
        yield from rows


def _reshape(db: Any, sql: str, key_kinds: list[str], kinds: list[str], common: list[int]) -> Iterator[_Row]:
    """Lake rows: the query returns the key then every source column; hash the source columns only."""
    cur = db.execute(sql)
    n = len(key_kinds)
    common_kinds = [kinds[i] for i in common]
    while rows := cur.fetchmany(_FETCH):
        for row in rows:
            values = row[n:]
            yield _Row(_sort_key(key_kinds, row[:n]), row_hash(kinds, values),
                       row_hash(common_kinds, [values[i] for i in common]))
