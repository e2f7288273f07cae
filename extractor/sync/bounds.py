"""Upper bounds of a run, read once from MySQL before the first page: what this run may read up to.

The cursor bound stays behind the clock's tick, the safety lag and the oldest open write transaction; the
``id`` bound waits for the transactions open when it was read; key-range reading needs the key's extent.
Findings an operator should know (a transaction that held the bound back, rows dated in the future) go
into the table's :class:`~extractor.sync.report.TableResult`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from extractor import cdc, mysql
from extractor.config import Defaults
from extractor.quoting import quote_ident
from extractor.sync.report import TableResult, show
from extractor.sync.resolve import ResolvedTable
from extractor.types import INTEGER_TYPES, Column


def key_upper_bound(conn: Any, table_sql: str, rt: ResolvedTable, ids_sql: tuple[str, ...], defaults: Defaults,
                    result: TableResult) -> tuple[Any, ...] | None:
    """The ``id`` strategy's bound: the largest key, once the write transactions open when it was read end.

    An auto-increment key is taken at INSERT but visible at COMMIT: a transaction open while ``MAX(k)``
    is read may still commit a smaller key, which a bound past it would skip for good. So the bound
    waits (up to ``safety_lag_seconds``) for those transactions; if one outlasts that, nothing is read
    this run (the next run tries again) and the report says why. None: nothing to read.
    """
    # A FLOAT's text is rounded to float32's 6 digits: widen it, or `k <= 0.3` misses 0.30000001192….
    # A BIT value arrives as bytes, which MariaDB compares with the column as strings: read it as the
    # integer the pages carry.
    casts = {c.name: {"float": "DOUBLE", "bit": "UNSIGNED"}.get(c.data_type) for c in rt.columns}
    exact = [f"CAST({sql} AS {casts[name]})" if casts.get(name) else sql
             for name, sql in zip(rt.ids, ids_sql, strict=True)]
    read_at = mysql.server_now(conn)
    row = mysql.fetchone(conn, f"SELECT {', '.join(exact)} FROM {table_sql} "
                               f"ORDER BY {', '.join(f'{c} DESC' for c in ids_sql)} LIMIT 1")
    if row is None:
        return None
    lag = defaults.safety_lag_seconds
    deadline = time.monotonic() + lag
    if lag:
        time.sleep(0.1)  # INNODB_TRX is a cache refreshed at most every 100 ms: read one taken after read_at
    while True:
        oldest = mysql.oldest_write_transaction(conn, scope=defaults.open_transaction_scope,
                                                database=rt.config.source_db)
        if oldest is None or oldest.started > read_at:
            return tuple(row)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    result.held_back = oldest.describe()
    result.warnings.append(
        f"held back by an open {oldest.describe()}: it may still commit keys below {show(tuple(row))}, so "
        "nothing is read until it ends (the next run tries again); see information_schema.INNODB_TRX and "
        f"defaults.open_transaction_scope ('{defaults.open_transaction_scope}')"
    )
    return None


def cursor_upper_bound(conn: Any, table_sql: str, rt: ResolvedTable, defaults: Defaults, result: TableResult,
                       *, snapshot: bool) -> Any:
    """``min(MAX(cursor), NOW(6) - safety_lag, start of the oldest open write)``, below the clock's tick.

    The bound never lies in a tick of the cursor's precision (a second, a day, …) that can still
    receive rows: see ``cdc.cursor_upper_bound``. ``snapshot``: the watermark is in its snapshot phase.
    """
    cursor_sql = quote_ident(rt.cursor or "")
    max_value = mysql.scalar(conn, f"SELECT MAX({cursor_sql}) FROM {table_sql}")
    lag = timedelta(seconds=defaults.safety_lag_seconds)
    now = mysql.server_now(conn).replace(tzinfo=None)
    cursor = next(c for c in rt.columns if c.name == rt.cursor)
    open_trx = mysql.oldest_write_transaction(conn, scope=defaults.open_transaction_scope,
                                              database=rt.config.source_db)
    bound = cdc.cursor_upper_bound(
        max_value, now=now, lag=lag, open_since=open_trx.started.replace(tzinfo=None) if open_trx else None,
        data_type=cursor.data_type, datetime_precision=cursor.datetime_precision,
    )
    if bound.held_back and open_trx is not None:
        result.held_back = open_trx.describe()
        result.warnings.append(
            f"held back by an open {open_trx.describe()}: rows it writes may carry older cursor values, so "
            f"this run reads only up to {show((bound.value,))} (information_schema.INNODB_TRX; "
            f"defaults.open_transaction_scope is '{defaults.open_transaction_scope}')"
        )
    if max_value is None:
        # Only NULL cursors (or no rows): a snapshot still reads the NULL-cursor rows.
        has_rows = mysql.scalar(conn, f"SELECT 1 FROM {table_sql} LIMIT 1") is not None
        temporal = cursor.data_type in ("datetime", "timestamp")
        if not has_rows or not snapshot or not temporal:
            return None
    else:
        _count_future_cursors(conn, table_sql, cursor_sql, cursor, now, lag, rt, result)
    return bound.value


def _count_future_cursors(conn: Any, table_sql: str, cursor_sql: str, cursor: Column, now: datetime,
                          lag: timedelta, rt: ResolvedTable, result: TableResult) -> None:
    """Rows dated beyond the clock by more than the lag never arrive in time: count them and warn."""
    threshold = cdc.future_cursor_threshold(now, lag, cursor.data_type, cursor.datetime_precision)
    if threshold is None:
        return
    row = mysql.fetchone(conn, f"SELECT COUNT(*), MAX({cursor_sql}) FROM {table_sql} WHERE {cursor_sql} > %s",
                         [threshold])
    if row is None or not row[0]:
        return
    count, latest = int(row[0]), row[1]
    result.future_cursor_rows = count
    result.warnings.append(
        f"{count:,} row(s) of {rt.config.source_table} have {cursor.name} in the future (up to {latest}): "
        "runs read rows up to the clock minus safety_lag_seconds, so these arrive only once the clock "
        "passes them — use a last-modified column as cursor_column, or cdc_strategy full_sync"
    )


def integer_key_bounds(conn: Any, plan: cdc.ExtractPlan, rt: ResolvedTable, defaults: Defaults, *, batch_rows: int,
                       page_budget: int, limited: bool, position: tuple[Any, ...] | None) -> tuple[int, int] | None:
    """``(MIN, MAX)`` of the key's leading integer column when key-order pages can be read in ranges.

    Key order: initial snapshots, ``full_sync`` and the ``id`` strategy (append-only tables, whose first
    run is their initial load). Composite keys too: a range of the leading column holds whole key
    groups. Not worth it when fewer than four pages are left to read (an ``id`` table's daily run).
    ``position``: where reading resumes (None from the start).
    """
    key = next(c for c in rt.columns if c.name == rt.ids[0])
    # Pages alive at once: one per range being read plus the one being written, against three for
    # sequential reads (read, queued, written). Pages beyond those three must fit the byte budget.
    in_flight = (rt.avg_row_length or 0) * batch_rows * max(0, defaults.read_parallelism - 2)
    enough = 4 * batch_rows
    if (plan.by_cursor or limited
            or defaults.read_parallelism < 2 or key.data_type not in INTEGER_TYPES
            or (rt.approx_rows or 0) < enough or in_flight > page_budget):
        return None
    row = mysql.fetchone(conn, f"SELECT MIN({plan.id_sql[0]}), MAX({plan.id_sql[0]}) FROM {plan.table_sql}")
    if row is None or row[0] is None:
        return None
    low, high = int(row[0]), int(row[1])
    if position:  # resuming: only the rest of the key space is left
        left = (high - int(position[0])) / max(1, high - low + 1) * (rt.approx_rows or 0)
        if left < enough:
            return None
    return low, high
