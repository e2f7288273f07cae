"""The three sides of a comparison, each in key order: MySQL's rows, the lake's current state, the warehouse."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from extractor import mysql
from extractor.config import TableConfig
from extractor.quoting import quote_ident
from extractor.strategies import uses_cursor
from extractor.types import Column
from extractor.verify.canonical import _NULL, _key_part, _sort_key, row_hash

_FETCH = 5_000




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
