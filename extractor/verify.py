"""``extractor verify``: does the lake (and the warehouse's staging) hold exactly what MySQL holds.

Per table, three streams in key order are merged — MySQL's current rows, the lake's current state
(the latest version per key over every data file, tombstones removing keys; the same rule as the
``current_rows`` dbt macro) and, when it exists, the warehouse model ``stg_<pipeline>__<table>`` — and each
row is reduced to a 64-bit hash of one canonical text rendering computed in Python for all three sides,
so DECIMAL, DATETIME(6), unsigned BIGINT (decimal(20,0) in the lake), NULLs and zero dates compare exactly
whatever driver produced them. Memory is bounded: rows are streamed (pymysql SSCursor, DuckDB fetchmany).

What "should match" means (the watermark decides):

- cursor tables (hybrid/timestamp): only rows whose cursor tuple is <= the watermark's position are due in
  the lake; a row changed after it is *in flight* (the next run takes it) and is not compared. During an
  initial snapshot, rows up to the snapshot's last key and below its upper bound are due.
- id tables: rows whose key is <= the last key.
- A table nothing was committed for (no watermark, or one without a position whose last run did not
  succeed) has its MySQL rows counted as *not extracted*: not due (the watermark claims none of them) and
  not in flight either (no run is about to take them after a position). If its runs failed, the table is
  not OK (the lake holds none of it); if it was never synced, that is a note. After a successful run that
  found nothing to take (an empty table), later rows are in flight as usual.
- full_sync tables: every row, at the time of the check. The table can change between the last run and
  this check (a race verify cannot close): re-run after a sync on a quiet source before trusting a diff.
- Hard deletes are invisible to cursor CDC: a key the lake still has but MySQL no longer has is counted as
  ``deleted_at_source`` and does not fail a cursor table (it fails a full_sync table, which must show it).
- The warehouse is compared with the lake on the columns staging keeps under the source's names (renamed
  columns are listed as skipped). Verify after ``dbt build``: a warehouse built before the last sync
  differs from the lake, and says so.
- After ``s3clean`` removed acknowledged files, the lake alone no longer holds every current row; verify
  then reports rows missing from the lake that the warehouse still has.
- A table that could not be checked (MySQL unreachable, the lake or its watermark unreadable) is an
  *error*, not a mismatch: nothing was compared, so the report says so and ``extractor verify`` exits with
  the error's own code (3 MySQL, 4 lake, …), like ``sync``.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from extractor import cdc, mysql
from extractor.config import Pipeline, Project, TableConfig, TargetConnection
from extractor.errors import ExtractorError, LakeError, SourceError, WarehouseError
from extractor.lake import Storage, TableLayout, open_lake
from extractor.quoting import quote_ident
from extractor.state import WatermarkStore
from extractor.strategies import uses_cursor
from extractor.sync.reconcile import open_lake_duckdb
from extractor.types import Column

_FETCH = 5_000
_MASK = (1 << 64) - 1
_SAMPLES = 5  # differing keys shown per kind of difference


# --------------------------------------------------------------------------------------------- report


@dataclass
class TableVerification:
    """One table's comparison: counts per side, checksums over the compared rows, and differences."""

    table: str
    strategy: str
    source_rows: int = 0  # MySQL rows due in the lake (within the watermark)
    in_flight: int = 0  # MySQL rows changed after the watermark (not compared)
    lake_rows: int = 0  # the lake's current rows
    warehouse_rows: int | None = None  # staging rows (None: no warehouse model)
    source_checksum: str = ""
    lake_checksum: str = ""
    warehouse_checksum: str | None = None
    missing_in_lake: int = 0
    different_in_lake: int = 0
    extra_in_lake: int = 0  # in the lake, gone from MySQL (a full_sync table must have a tombstone)
    deleted_at_source: int = 0  # cursor tables: hard deletes cursor CDC cannot see (not a failure)
    delete_detection: str = "none"  # the table's setting: with reconcile, the next run tombstones those keys
    future_cursor_rows: int = 0  # MySQL rows dated beyond the clock by more than the lag: no run reads them yet
    null_cursor_stale: int = 0  # rows whose cursor is NULL and that differ from (or are missing in) the lake
    warehouse_differences: int = 0
    warehouse_skipped_columns: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    not_extracted: int = 0  # MySQL rows of a table nothing was committed for (not compared; see the module doc)
    last_run: str | None = None  # the watermark's last run status (None: never synced)
    error: str | None = None  # set when the table could not be checked: then nothing above was compared
    exit_code: int | None = None  # the error's own exit code (3 MySQL, 4 lake, …)

    @property
    def checked(self) -> bool:
        """The comparison ran (an error means it did not, so no count or verdict above means anything)."""
        return self.error is None

    @property
    def extraction_failed(self) -> bool:
        """Runs happened but none committed anything: the lake holds none of the table's rows."""
        return self.not_extracted > 0 and self.last_run is not None

    @property
    def lake_ok(self) -> bool:
        """The lake holds exactly the source rows due in it (and the table's runs got something there)."""
        return self.checked and not (self.missing_in_lake or self.different_in_lake or self.extra_in_lake
                                     or self.extraction_failed)

    @property
    def warehouse_ok(self) -> bool:
        """Staging equals the lake's current state (or there is no staging model)."""
        return self.checked and (self.warehouse_rows is None or self.warehouse_differences == 0)

    @property
    def ok(self) -> bool:
        """Everything that was compared matches."""
        return self.lake_ok and self.warehouse_ok

    @property
    def status(self) -> str:
        """``ok``, ``mismatch``, or ``error`` (could not be checked)."""
        return "error" if not self.checked else ("ok" if self.ok else "mismatch")

    def _sample(self, key_kinds: Sequence[str], key: tuple[Any, ...], what: str) -> None:
        """Record one difference; the key is formatted only if the sample is kept (most are not)."""
        if len(self.samples) < 3 * _SAMPLES:
            self.samples.append(f"key {_show_key(key_kinds, key)} {what}")


@dataclass
class VerifyReport:
    """A pipeline's verification: one entry per table."""

    pipeline: str
    checked_at: datetime
    tables: list[TableVerification] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every table matches."""
        return all(t.ok for t in self.tables)

    @property
    def exit_code(self) -> int:
        """0 when everything matches; else the first unchecked table's error code, else 7 (a mismatch).

        An error wins over a mismatch: a verification that could not look at every table is not a finding
        about the data, and scripts should see the cause (MySQL down, lake unreadable) first.
        """
        codes = [t.exit_code or 1 for t in self.tables if not t.checked]
        if codes:
            return codes[0]
        return 0 if self.ok else VERIFY_MISMATCH_EXIT

    def table(self, name: str) -> TableVerification:
        """The entry of table ``name``."""
        return next(t for t in self.tables if t.table == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        tables = []
        for t in self.tables:
            entry = asdict(t)
            # Not checked: there is no lake or warehouse verdict, only the error.
            entry.update(status=t.status, ok=t.ok, lake_ok=t.lake_ok if t.checked else None,
                         warehouse_ok=t.warehouse_ok if t.checked else None)
            tables.append(entry)
        return {"pipeline": self.pipeline, "checked_at": self.checked_at.isoformat(), "ok": self.ok,
                "exit_code": self.exit_code, "tables": tables}

    def text(self) -> str:
        """A table for humans, then one line per difference sample."""
        header = ["table", "source rows", "in flight", "lake rows", "warehouse rows", "lake", "warehouse"]
        rows = [header]
        for t in self.tables:
            if not t.checked:
                rows.append([t.table, "-", "-", "-", "-", "error", "error"])
                continue
            rows.append([
                t.table, f"{t.source_rows:,}", f"{t.in_flight:,}", f"{t.lake_rows:,}",
                "-" if t.warehouse_rows is None else f"{t.warehouse_rows:,}",
                "yes" if t.lake_ok else "NO",
                "-" if t.warehouse_rows is None else ("yes" if t.warehouse_ok else "NO"),
            ])
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        for t in self.tables:
            if t.error:
                lines.append(f"error: {t.table}: not checked: {t.error}")
            if t.extraction_failed:
                lines.append(f"diff: {t.table}: no run has committed anything (last run: {t.last_run}), so none of "
                             f"its {t.not_extracted:,} MySQL row(s) are in the lake — fix the sync's error, re-run it")
            elif t.not_extracted:
                lines.append(f"note: {t.table}: never synced: its {t.not_extracted:,} MySQL row(s) are not in the "
                             "lake yet (not compared)")
            if t.deleted_at_source and t.delete_detection == "reconcile":
                lines.append(f"note: {t.table}: {t.deleted_at_source} key(s) deleted at the source since the last "
                             "run are still current in the lake: the next run lands their tombstones "
                             "(delete_detection: reconcile)")
            elif t.deleted_at_source:
                lines.append(f"note: {t.table}: {t.deleted_at_source} key(s) deleted at the source are still "
                             "current in the lake: hard deletes are invisible to cursor CDC — set "
                             "delete_detection: reconcile and the next run lands their tombstones")
            if t.future_cursor_rows:
                lines.append(f"{'note' if t.lake_ok else 'diff'}: {t.table}: {t.future_cursor_rows:,} MySQL row(s) "
                             "have a cursor dated in the future: runs read rows up to the clock minus "
                             "safety_lag_seconds, so these reach the lake only once the clock passes them — use a "
                             "last-modified column as cursor_column, or cdc_strategy full_sync")
            if t.null_cursor_stale:
                lines.append(f"diff: {t.table}: {t.null_cursor_stale:,} row(s) with a NULL cursor differ from the "
                             "lake, and no run will change that: incremental runs find rows by their cursor — set "
                             "the cursor on those rows (UPDATE … SET cursor = NOW(6) WHERE cursor IS NULL), or make "
                             "the column NOT NULL")
            if t.strategy == "id" and t.different_in_lake:
                lines.append(f"note: {t.table}: {t.different_in_lake:,} row(s) changed in MySQL after they were "
                             "extracted: cdc_strategy id lands each key once and never sees updates — use hybrid "
                             "with a cursor column for a table whose rows change")
            if t.warehouse_skipped_columns:
                lines.append(f"note: {t.table}: warehouse not compared on renamed/missing column(s) "
                             f"{', '.join(t.warehouse_skipped_columns)}")
            lines += [f"diff: {t.table}: {s}" for s in t.samples]
        lines.append(f"verify {self.pipeline}: {self._verdict()}")
        return "\n".join(lines)

    def _verdict(self) -> str:
        unchecked = [t.table for t in self.tables if not t.checked]
        differ = [t.table for t in self.tables if t.checked and not t.ok]
        if not unchecked and not differ:
            never = [t.table for t in self.tables if t.not_extracted and not t.extraction_failed]
            return "OK: lake and warehouse match the source" + (f" (never synced: {', '.join(never)})" if never else "")
        if not unchecked:
            return "MISMATCH"
        verdict = f"ERROR: could not check {', '.join(unchecked)}"
        return verdict + (f"; MISMATCH in {', '.join(differ)}" if differ else "")


# ------------------------------------------------------------------------------------------ canonical


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


# ---------------------------------------------------------------------------------------------- sides


@dataclass(frozen=True)
class _Row:
    key: tuple[Any, ...]
    full: int  # hash over every source column
    common: int  # hash over the columns the warehouse keeps
    due: bool = True  # (source only) within the watermark, or never to be read by a run (``stuck``)
    stuck: str | None = None  # (source only) "null_cursor" / "future": no run will ever read this row


def _select_expression(col: Column) -> str:
    q = quote_ident(col.name)
    if col.kind == "geometry":
        return f"ST_AsWKB({q})"
    if col.kind == "bit":
        return f"CAST({q} AS UNSIGNED)"
    return q


def _order_expression(col: Column, quote: Any) -> str:
    q = quote(col.name)
    return f"CAST({q} AS BINARY)" if col.kind in ("text", "special_text") else q


def _position(kinds: Sequence[str], values: Sequence[Any] | None) -> tuple[Any, ...] | None:
    """A watermark position (maybe shorter than the key: a bare cursor bound) as ``_sort_key`` parts."""
    return _sort_key(kinds[:len(values)], values) if values else None


class _Window:
    """Whether a source row is due in the lake, from the watermark (compared as ``_key_part`` values)."""

    def __init__(self, strategy: str, wm: Any, cursor_kind: str | None, key_kinds: Sequence[str],
                 future: Any = None) -> None:
        self.strategy = strategy
        #: Cursor values above this (a ``_key_part``) are future-dated: no run reads them until the clock passes.
        self.future = None if future is None or cursor_kind is None else _key_part(cursor_kind, future)
        self.position: tuple[Any, ...] | None = None
        self.upper: tuple[Any, ...] | None = None
        self.snapshot = False
        self.nothing = wm is None  # no row is due
        self.never_committed = wm is None  # nothing due because no run committed anything (not extracted)
        if wm is None:
            return
        if strategy == "full_sync":
            self.nothing = not wm.pending_files and wm.mysql.status != "success"
        elif wm.phase == "snapshot":
            self.snapshot = True
            self.position = _position(key_kinds, wm.snapshot.last_key)
            upper = wm.snapshot.upper_bound
            self.upper = _key_part(cursor_kind, upper) if cursor_kind and upper is not None else None
            self.nothing = self.position is None
        elif strategy == "id":
            self.position = _position(key_kinds, wm.cursor.last_ids)
            self.nothing = self.position is None
        else:
            self.position = _position([cursor_kind or "", *key_kinds], wm.cursor.position())
            self.nothing = self.position is None
        self.never_committed = self.nothing and wm.mysql.status != "success"

    def stuck(self, cursor: tuple[Any, ...] | None) -> str | None:
        """Why a row that is not due will never be read by a run either (None: a later run takes it).

        A NULL cursor once incremental (the snapshot read the row; its later changes are invisible), or a
        cursor beyond the clock by more than the lag (``9999-01-01``: read only when the clock passes it).
        """
        if self.nothing or not uses_cursor(self.strategy):
            return None
        if cursor is None or cursor == _NULL:
            return None if self.snapshot else "null_cursor"
        if self.future is not None and cursor > self.future:
            return "future"
        return None

    def due(self, cursor: tuple[Any, ...] | None, key: tuple[Any, ...]) -> bool:
        """``cursor`` and ``key`` are ``_key_part`` values (``cursor`` None: the table has no cursor)."""
        if self.nothing:
            return False
        if self.strategy == "full_sync":
            return True
        assert self.position is not None
        if self.snapshot:
            return (cursor is None or cursor == _NULL or self.upper is None or cursor <= self.upper) \
                and _prefix_le(key, self.position)
        if self.strategy == "id":
            return _prefix_le(key, self.position)
        if cursor in (None, _NULL):
            return False  # a NULL cursor is never read incrementally (counted by the extractor)
        return _prefix_le((cursor, *key), self.position)


def _prefix_le(row: tuple[Any, ...], position: tuple[Any, ...]) -> bool:
    """Row tuple <= position, comparing only the position's length (a bare cursor bound covers all ids)."""
    return row[:len(position)] <= position


def _source_rows(project_source: Any, table: TableConfig, columns: list[Column], ids: Sequence[str],
                 common: Sequence[int], window: _Window, cursor: str | None) -> Iterator[_Row]:
    """MySQL's current rows in key order (server-side cursor: bounded memory)."""
    import pymysql

    conn = mysql.connect(project_source)
    try:
        by_name = {c.name: c for c in columns}
        q = quote_ident
        select = ", ".join(_select_expression(c) for c in columns)
        order = ", ".join(_order_expression(by_name[i], q) for i in ids)
        sql = f"SELECT {select} FROM {q(table.source_db)}.{q(table.source_name)} ORDER BY {order}"
        kinds = [c.kind for c in columns]
        common_kinds = [kinds[i] for i in common]
        key_index = [columns.index(by_name[i]) for i in ids]
        key_kinds = [kinds[i] for i in key_index]
        cursor_index = columns.index(by_name[cursor]) if cursor else None
        cursor_kind = by_name[cursor].kind if cursor else ""
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(sql)
            while rows := cur.fetchmany(_FETCH):
                for row in rows:
                    key = _sort_key(key_kinds, [row[i] for i in key_index])
                    cursor_part = _key_part(cursor_kind, row[cursor_index]) if cursor_index is not None else None
                    due = window.due(cursor_part, key)
                    stuck = None if due else window.stuck(cursor_part)
                    yield _Row(key, row_hash(kinds, row), row_hash(common_kinds, [row[i] for i in common]),
                               due or stuck is not None, stuck)
    finally:
        conn.close()


def _duckdb_rows(db: Any, sql: str, kinds: Sequence[str], key_count: int, common: Sequence[int]) -> Iterator[_Row]:
    """Rows of a DuckDB query whose first ``key_count`` columns are the key (ordered by it)."""
    cur = db.execute(sql)
    key_kinds = kinds[:key_count]
    common_kinds = [kinds[i] for i in common]
    while rows := cur.fetchmany(_FETCH):
        for row in rows:
            yield _Row(_sort_key(key_kinds, row[:key_count]), row_hash(kinds, row),
                       row_hash(common_kinds, [row[i] for i in common]))


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lake_sql(files: list[str], columns: list[Column], ids: Sequence[str], order: Sequence[str],
              present: set[str]) -> str:
    """The lake's current rows: the ``current_rows`` macro's rule, over an explicit file list."""
    file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    src = f"read_parquet([{file_list}], union_by_name = true, hive_partitioning = false)"
    keys = ", ".join(_dq(i) for i in ids)
    order_sql = "".join(f"{_dq(c)} desc nulls last, " for c in order)
    select = ", ".join(f"u.{_dq(c.name)}" if c.name in present else f"null as {_dq(c.name)}" for c in columns)
    join = " and ".join(f"d.{_dq(i)} = u.{_dq(i)}" for i in ids)
    key_order = ", ".join(f"u.{_dq(i)}" for i in ids)
    return f"""
        with v as (select * from {src}),
        u as (select *, row_number() over (partition by {keys} order by {order_sql}_extracted_at desc,
                                            _batch_id desc) as _rk from v where _op = 'U'),
        d as (select {keys}, _extracted_at, _batch_id, row_number() over (partition by {keys}
                     order by _extracted_at desc, _batch_id desc) as _rk from v where _op = 'D')
        select {', '.join(f'u.{_dq(i)}' for i in ids)}, {select}
        from u left join d on {join} and d._rk = 1
        where u._rk = 1 and (d._batch_id is null or d._extracted_at < u._extracted_at
              or (d._extracted_at = u._extracted_at and d._batch_id < u._batch_id))
        order by {key_order}
    """


# ------------------------------------------------------------------------------------------ comparison


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
_STUCK = {
    "null_cursor": " and will stay so: its cursor is NULL, which no incremental run reads",
    "future": " until the clock passes its cursor (dated in the future)",
}


def _show_key(kinds: Sequence[str], key: tuple[Any, ...]) -> str:
    """A ``_sort_key`` for a message: binary as ``0x…`` hex (need not be text); TIME, FLOAT as MySQL shows them."""
    parts = []
    for kind, part in zip(kinds, key, strict=True):
        value = part[1] if len(part) > 1 else None
        if value is None:
            parts.append("NULL")
        elif isinstance(value, bytes) and kind in ("binary", "geometry"):
            parts.append("0x" + value.hex())
        elif isinstance(value, bytes):
            parts.append(value.decode("utf-8", "backslashreplace"))
        elif kind == "time":
            parts.append(_time_text(value))
        elif kind == "float":
            parts.append(_float32_text(value))
        else:
            parts.append(str(value))
    return "(" + ", ".join(parts) + ")"


def _time_text(micros: int) -> str:
    """Microseconds as MySQL writes a TIME: ``-01:00:00``, ``100:00:00.5``."""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{'-' if micros < 0 else ''}{hours:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}".rstrip("0") if fraction else text


def _float32_text(value: float) -> str:
    """The shortest text that reads back as this float32 (``3.3``, not ``3.299999952316284``)."""
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        text = f"{value:.{digits}g}"
        with contextlib.suppress(OverflowError):  # rounded up past the largest float32
            if _float32(float(text)) == value:
                return text
    return repr(value)


def _warehouse_path(project: Project, pipeline: Pipeline, target: str | None) -> Path | None:
    """The DuckDB file of the pipeline's (or the named) target; None for a non-DuckDB target."""
    if target and (target.endswith(".duckdb") or "/" in target):
        return Path(target)
    name = target or pipeline.target
    if not name:
        return None
    conn: TargetConnection = project.target(name)
    if conn.type != "duckdb" or not conn.path:
        return None
    return Path(conn.path)


def _staging_relation(db: Any, pipeline: str, table: str, schema: str) -> list[str] | None:
    rows = db.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, f"stg_{pipeline}__{table}"]).fetchall()
    return [r[0] for r in rows] or None


def verify_table(project: Project, pipeline: Pipeline, table: TableConfig, *, storage: Storage,
                 warehouse: Any = None, staging_schema: str = "main_staging") -> TableVerification:
    """Compare one table's MySQL rows, lake state and staging model (see the module docstring)."""
    from extractor.sync import resolve_table

    source = project.source(pipeline.source)
    conn = mysql.connect(source)
    try:
        rt = resolve_table(conn, table)
        now = mysql.server_now(conn).replace(tzinfo=None)
    finally:
        conn.close()
    layout = TableLayout.of(pipeline, table)
    wm, _ = WatermarkStore(storage, layout).load()
    columns = rt.columns
    names = [c.name for c in columns]
    kinds = [c.kind for c in columns]
    key_kinds = [kinds[names.index(i)] for i in rt.ids]
    cursor_kind = kinds[names.index(rt.cursor)] if rt.cursor else None
    future = None
    if rt.cursor:
        cursor_col = columns[names.index(rt.cursor)]
        future = cdc.future_cursor_threshold(now, timedelta(seconds=pipeline.defaults.safety_lag_seconds),
                                             cursor_col.data_type, cursor_col.datetime_precision)
    window = _Window(rt.strategy, wm, cursor_kind, key_kinds, future)
    result = TableVerification(table.name, rt.strategy, last_run=wm.mysql.status if wm else None,
                               delete_detection=table.delete_detection)

    staging_cols = None
    if warehouse is not None:
        staging_cols = _staging_relation(warehouse, pipeline.name, table.target, staging_schema)
    lowered = {c.lower(): c for c in staging_cols or []}
    common = [i for i, n in enumerate(names) if n.lower() in lowered]
    if staging_cols is not None:
        result.warehouse_skipped_columns = [n for n in names if n.lower() not in lowered]

    files = [storage.uri(o.key) for o in storage.list(layout.data_prefix) if o.key.endswith(".parquet")]
    lake_db = open_lake_duckdb(storage)
    lake = (LakeError, "the lake's data files", storage.uri(layout.data_prefix.rstrip("/")),
            "check the lake's credentials and that every .parquet file under it is a Parquet file")
    try:
        if files:
            with _reading(*lake):
                described = lake_db.execute(
                    f"describe select * from read_parquet([{', '.join(repr(f) for f in files)}], "
                    "union_by_name = true, hive_partitioning = false)").fetchall()
            present = {r[0] for r in described}
            order = [rt.cursor, *rt.ids] if rt.cursor else []
            lake_sql = _lake_sql(files, columns, rt.ids, order, present)
            lake_rows: Iterator[_Row] = _guarded(_reshape(lake_db, lake_sql, key_kinds, kinds, common),
                                                 _reading(*lake))
        else:
            lake_rows = iter(())
        wh_rows = None
        if staging_cols is not None:
            select = ", ".join(_dq(lowered[names[i].lower()]) for i in common)
            keys = ", ".join(_dq(lowered[i.lower()]) for i in rt.ids)
            sql = f"select {keys}, {select} from {staging_schema}.{_dq(f'stg_{pipeline.name}__{table.target}')} " \
                  f"order by {keys}"
            wh_kinds = [*key_kinds, *[kinds[i] for i in common]]
            wh_rows = _guarded(_duckdb_rows(warehouse, sql, wh_kinds, len(rt.ids),
                                            list(range(len(rt.ids), len(rt.ids) + len(common)))),
                               _reading(WarehouseError, "the staging model", f"stg_{pipeline.name}__{table.target}",
                                        "run `dbt build`, then verify"))
        src_rows = _guarded(_source_rows(source, table, columns, rt.ids, common, window, rt.cursor),
                            _reading(SourceError, "the table from MySQL", table.source_table,
                                     "check the server and the user's SELECT privilege on the table"))
        _merge(src_rows, lake_rows, wh_rows, result, rt.strategy == "full_sync", key_kinds)
    finally:
        lake_db.close()
    if window.never_committed:  # nothing was due: its rows are not in flight behind a position either
        result.not_extracted, result.in_flight = result.in_flight, 0
    return result


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


def verify_pipeline(project: Project, pipeline: str | Pipeline, *, tables: Sequence[str] | None = None,
                    target: str | None = None, warehouse: bool = True) -> VerifyReport:
    """Verify a pipeline's tables (all, or ``tables``); ``target`` names a target or a DuckDB file path."""
    pipe = project.pipeline(pipeline) if isinstance(pipeline, str) else pipeline
    chosen = [pipe.table(t) for t in tables] if tables else list(pipe.tables.values())
    storage = open_lake(pipe.lake)
    report = VerifyReport(pipe.name, datetime.now(UTC))
    wh_db = None
    path = _warehouse_path(project, pipe, target) if warehouse else None
    if path is not None and path.exists():
        import duckdb

        try:
            wh_db = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the warehouse: {exc}", where=str(path),
                                 hint="is dbt still building? verify after it finishes") from None
    try:
        for table in chosen:
            try:
                report.tables.append(verify_table(project, pipe, table, storage=storage, warehouse=wh_db))
            except ExtractorError as err:
                report.tables.append(TableVerification(table.name, table.cdc_strategy, error=str(err),
                                                       exit_code=err.exit_code))
            except OSError as err:  # reading lake files
                report.tables.append(TableVerification(table.name, table.cdc_strategy, error=str(err),
                                                       exit_code=LakeError.exit_code))
    finally:
        if wh_db is not None:
            wh_db.close()
    return report


#: Exit code of ``extractor verify`` when something differs (errors keep their own codes 1–6).
VERIFY_MISMATCH_EXIT = 7

__all__ = ["TableVerification", "VerifyReport", "canonical", "row_hash", "verify_pipeline",
           "verify_table"]
