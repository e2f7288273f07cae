"""One table's run, and many tables in dependency order.

A table's run, under its lock:

1. load the watermark; if the previous run crashed, adopt the files it wrote but did not commit
   (their last cursor tuple is in the Parquet footer) — nothing is re-extracted, nothing duplicated;
2. mark the run as started (conditional write), resolve the plan and the upper bound;
3. read pages in key order, write size-bounded Parquet files, and after each file is durable move the
   watermark to that file's last tuple (conditional write);
4. write the Redshift COPY manifest of the pending files, then the final watermark.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from extractor import cdc, discovery, mysql, reconcile, redshift, schema_run, writer
from extractor.config import Pipeline, SourceConnection, TableConfig
from extractor.dependencies import DependencyNotReady, wait_for_dependencies
from extractor.errors import ConfigError, DataError, ExtractorError, StateError, suggest
from extractor.faults import fault_point
from extractor.lake import Storage, TableLayout, new_run_id, open_lake, run_key
from extractor.prefetch import prefetch
from extractor.quoting import quote_ident
from extractor.reader import (
    Reader,
    ReadResult,
    open_reader,
    preload_connectorx,
    release_memory,
    use_returnable_memory_pool,
)
from extractor.rebuild import refuse_missing_watermark
from extractor.schema_versions import fingerprint as schema_fingerprint
from extractor.schema_versions import footer_metadata
from extractor.state import TableLock, Watermark, WatermarkStore
from extractor.strategies import uses_cursor
from extractor.types import Column, arrow_schema

_q = quote_ident

INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "bigint"}
CURSOR_TYPES = {"datetime", "timestamp", "date", *INTEGER_TYPES}
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SyncOptions:
    """What the user asked of this run."""

    tables: list[str] | None = None
    limit: int | None = None
    full_refresh: bool = False
    dry_run: bool = False
    reader: str | None = None
    progress: ProgressFn | None = None


@dataclass
class TableResult:
    """What one table's run did: counts, timings, positions and anything the operator should know."""

    table: str
    source_table: str
    strategy: str
    status: str = "planned"
    phase: str | None = None
    rows: int = 0
    files: int = 0
    bytes: int = 0
    tombstones: int = 0
    seconds: float = 0.0
    position_before: str | None = None
    position_after: str | None = None
    upper_bound: str | None = None
    estimated_rows: int | None = None
    null_cursor_rows: int = 0
    future_cursor_rows: int = 0  # cursor beyond the clock by more than the lag: not read until it passes
    held_back: str | None = None  # the open transaction that held the bound back, described
    zero_dates: dict[str, int] = field(default_factory=dict)
    #: Values cut to Redshift's limit per column (``oversize: truncate``).
    truncated: dict[str, int] = field(default_factory=dict)
    adopted_files: int = 0
    reader: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: The schema version this run's files carry, and what changed in the source schema since the last run.
    schema_version: int | None = None
    schema_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0

    @property
    def rows_per_second(self) -> float:
        """Throughput of the read-and-write loop."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunReport:
    """What a pipeline run did; also written to ``runs/<run_id>.json`` in the lake."""

    run_id: str
    pipeline: str
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool = False
    tables: list[TableResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no table failed."""
        return all(t.status in ("success", "planned") for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` and the run report file)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["ok"] = self.ok
        for t, tr in zip(data["tables"], self.tables, strict=True):
            t["rows_per_second"] = round(tr.rows_per_second, 1)
        return data


@dataclass(frozen=True)
class ResolvedTable:
    """A table's configuration checked against MySQL: strategy, keys and declared columns."""

    config: TableConfig
    strategy: str
    cursor: str | None
    ids: tuple[str, ...]
    columns: list[Column]
    fingerprint: str
    warnings: tuple[str, ...]
    approx_rows: int | None = None
    avg_row_length: int | None = None
    notes: tuple[str, ...] = ()  # what discovery chose and why (ad-hoc tables)


# ---------------------------------------------------------------------------------------------------
# Resolution: configuration checked against the live table


def resolve_table(conn: Any, table: TableConfig) -> ResolvedTable:
    """Check a table's configuration against MySQL; errors name the config file and line."""
    try:
        info = mysql.describe_table(conn, table.source_db, table.source_name)
    except mysql.TableNotFound as err:
        raise mysql.TableNotFound(err.table, where=table.where("source_table"), hint=err.hint) from None
    excluded = {name.lower() for name in table.exclude_columns}
    names = {c.name.lower(): c for c in info.columns}
    strategy = table.cdc_strategy
    cursor = table.cursor_column
    warnings: list[str] = []

    def column(name: str, key: str) -> Column:
        col = names.get(name.lower())
        if col is None:
            known = [c.name for c in info.columns]
            hint = suggest(name, known) or f"columns are: {', '.join(known)}"
            raise ConfigError(f"column '{name}' does not exist in {table.source_table}", where=table.where(key),
                              hint=hint)
        return col

    # The key when none is configured: the primary key, else the first unique key over NOT NULL columns.
    keys = [list(k) for k in [info.primary_key, *info.unique_keys.values()] if k and _is_unique_key(info, tuple(k))]
    notes: list[str] = []
    if strategy == "auto":
        choice = discovery.choose_cursor(discovery.facts_from_table(info))
        cursor, strategy = choice.column, choice.strategy
        notes.append(choice.reason)
        if not keys:
            raise ConfigError(f"{table.source_table} has no primary key, so rows cannot be tracked",
                              where=table.where(), hint="add a primary key, or use a pipeline file with id_columns")
    ids = tuple(table.id_columns) or tuple(keys[0] if keys else [])
    if not ids:
        raise ConfigError(
            f"{table.source_table} has no primary key and no id_columns are configured", where=table.where(),
            hint="set id_columns to a unique, NOT NULL column set",
        )
    id_cols = [column(name, "id_columns") for name in ids]
    ids = tuple(c.name for c in id_cols)
    for col in id_cols:
        if col.data_type.lower() in ("enum", "set"):
            # ORDER BY sorts them by their index, a bound value compares them as text: keyset pages would
            # skip or repeat rows.
            others = [k for k in keys if col.name.lower() not in {c.lower() for c in k}]
            hint = f"use the key {others[0]} as id_columns" if others else "store the column as VARCHAR (ALTER TABLE)"
            raise ConfigError(f"key column '{col.name}' of {table.source_table} is {col.column_type}, which "
                              "cannot be paged by value", where=table.where("id_columns"), hint=hint)
    if not _is_unique_key(info, ids):
        raise ConfigError(
            f"id_columns {list(ids)} of {table.source_table} are not a primary or unique NOT NULL key, so rows "
            "sharing a cursor value could be lost or duplicated at page boundaries",
            where=table.where("id_columns"),
            hint=f"use {keys[0]}, a primary or unique NOT NULL key" if keys else
            "add a primary key (or make a unique key's columns NOT NULL)",
        )
    if uses_cursor(strategy):
        if not cursor:
            raise ConfigError(f"strategy '{strategy}' needs a cursor_column", where=table.where("cdc_strategy"),
                              hint="set cursor_column to the row's last-modified DATETIME/TIMESTAMP column")
        cur_col = column(cursor, "cursor_column")
        cursor = cur_col.name
        if cur_col.data_type not in CURSOR_TYPES:
            raise ConfigError(
                f"cursor_column '{cursor}' is {cur_col.column_type}, which cannot order changes",
                where=table.where("cursor_column"), hint="use a DATETIME, TIMESTAMP, DATE or integer column",
            )
        if not mysql.has_index_prefix(info, [cursor]):
            warnings.append(
                f"no index starts with {cursor}: every incremental run scans the whole table — "
                f"CREATE INDEX {_q(f'ix_{table.source_name}_{cursor}'[:64])}"
                f" ON {_q(table.source_db)}.{_q(table.source_name)}"
                f" ({', '.join(_q(c) for c in cdc.order_columns(cursor, ids))})"
            )
    else:
        cursor = None
    for required in table.validation.required_columns:
        column(required, "validation")
    for name in table.validation.max_null_percentage:
        column(name, "validation")
    for name in table.exclude_columns:
        col = column(name, "exclude_columns")
        if col.name in (cursor, *ids):
            raise ConfigError(f"cannot exclude '{col.name}' of {table.source_table}: it is the table's "
                              f"{'cursor' if col.name == cursor else 'key'}", where=table.where("exclude_columns"),
                              hint="the extractor needs it to track changes; remove it from exclude_columns")
    columns = [c for c in info.columns if c.name.lower() not in excluded]
    for name in [*table.validation.required_columns, *table.validation.max_null_percentage]:
        if name.lower() in excluded:
            raise ConfigError(f"column '{name}' is both excluded and validated", where=table.where("validation"),
                              hint="remove it from exclude_columns or from validation")
    return ResolvedTable(table, strategy, cursor, ids, columns, schema_fingerprint(columns), tuple(warnings),
                         info.approx_rows, info.avg_row_length, tuple(notes))


def check_watermark_fits(wm: Watermark, rt: ResolvedTable, where: str) -> None:
    """The stored watermark must be this table's, read the way it is configured now.

    A position means nothing for another table (a copied document) or for another cursor, key or
    strategy: applied to them it would silently skip or repeat rows. ``where`` names the document.
    """
    table = rt.config
    refresh = f"run with --full-refresh --table {table.name} to start over"
    if wm.source_table is not None and wm.source_table.lower() != table.source_table.lower():
        raise StateError(f"the watermark of {table.name} tracks {wm.source_table}, not {table.source_table}",
                         where=where, hint=f"the document was copied or the table's source changed; {refresh}")
    changes = [
        ("cdc_strategy", "strategy", wm.strategy, rt.strategy),
        ("cursor_column", "cursor_column", wm.cursor.column, rt.cursor),
        ("id_columns", "id_columns", wm.cursor.id_columns or list(rt.ids), list(rt.ids)),
    ]
    for key, label, before, now in changes:
        if str(before).lower() != str(now).lower():  # MySQL column names are case-insensitive
            raise ConfigError(
                f"{table.name} was extracted with {label} {_quoted(before)}, now configured {_quoted(now)}",
                where=table.where(key), hint=f"{refresh} with the new setting",
            )
    if wm.source_table is None:
        wm.source_table = table.source_table


def _is_unique_key(info: Any, ids: tuple[str, ...]) -> bool:
    """True if some unique index (or the primary key) is covered by ``ids`` and those are NOT NULL."""
    wanted = {i.lower() for i in ids}
    nullable = {c.name.lower() for c in info.columns if c.nullable}
    if wanted & nullable:
        return False
    keys = [info.primary_key, *info.unique_keys.values()]
    return any(key and {k.lower() for k in key} <= wanted for key in keys)


# ---------------------------------------------------------------------------------------------------
# One table's run


class _TableRun:
    """The state of one table's run: plan, watermark token, writer and counters."""

    def __init__(self, ctx: _RunContext, table: TableConfig, page_budget: int) -> None:
        self.ctx = ctx
        self.table = table
        self.layout = TableLayout(ctx.pipeline.source, table.source_db, ctx.pipeline.target_schema, table.target)
        self.store = WatermarkStore(ctx.storage, self.layout)
        self.result = TableResult(table.name, table.source_table, table.cdc_strategy)
        self.batch_rows = table.batch_rows or ctx.pipeline.defaults.batch_rows
        #: Bytes one page may hold: ``batch_max_bytes`` shared by the tables extracted at once.
        self.page_budget = page_budget
        self.wm: Watermark | None = None
        self.token: str | None = None
        self._checkpoint: dict[str, Any] | None = None
        self._key_bounds: tuple[int, int] | None = None
        self._footer: dict[str, str] = {}
        self._committed_rows = 0
        self._previous_run: str | None = None

    # -- helpers ------------------------------------------------------------------------------------

    def _save(self) -> None:
        assert self.wm is not None
        self.token = self.store.save(self.wm, self.token)

    def _position(self, rt: ResolvedTable) -> tuple[Any, ...] | None:
        """Where reading resumes: the snapshot's last key, else the cursor tuple (None for full_sync)."""
        wm = self.wm
        assert wm is not None
        if wm.phase == "snapshot":
            return tuple(wm.snapshot.last_key) if wm.snapshot.last_key else None
        return None if rt.strategy == "full_sync" else wm.cursor.position()

    def _set_position(self, phase: str, position: tuple[Any, ...]) -> None:
        wm = self.wm
        assert wm is not None
        if phase == "snapshot":
            wm.snapshot.last_key = list(position)
        else:
            wm.cursor.set_position(position)

    def _new_watermark(self, rt: ResolvedTable) -> Watermark:
        now = datetime.now(UTC)
        wm = Watermark.new(
            table=self.table.name, pipeline=self.ctx.pipeline.name, strategy=rt.strategy,
            cursor_column=rt.cursor, id_columns=list(rt.ids), now=now, source_table=self.table.source_table,
        )
        wm.phase = "snapshot" if uses_cursor(rt.strategy) else "incremental"
        return wm

    # -- the run ------------------------------------------------------------------------------------

    def run(self) -> TableResult:
        started = time.monotonic()
        try:
            conn = mysql.connect(self.ctx.source)
            try:
                rt = resolve_table(conn, self.table)
                self.result.strategy = rt.strategy
                self.result.warnings.extend(rt.warnings)
                self.result.notes.extend(rt.notes)
                if self.ctx.options.dry_run:
                    self._plan_only(conn, rt)
                else:
                    with TableLock(self.ctx.storage, self.layout, owner=self.ctx.run_id,
                                   ttl_seconds=self.ctx.pipeline.defaults.lock_ttl_seconds) as lock:
                        try:
                            self._extract(conn, rt, lock)
                        except BaseException:
                            self._mark_failed()  # still under the lock
                            raise
                    self.result.status = "success"
            finally:
                conn.close()
        except ExtractorError as err:
            self.result.status = "failed"
            self.result.error = str(err)
            self.result.exit_code = err.exit_code
        except Exception as err:  # a bug or an unexpected library error: one line, the run goes on
            self.result.status = "failed"
            self.result.exit_code = 1
            first = str(err).splitlines()[0] if str(err) else ""
            self.result.error = (f"unexpected {type(err).__name__} in {self.table.source_table}: {first} — "
                                 "please report it; the watermark was not advanced past durable data")
        if self.result.status == "failed":
            self.result.rows = self._committed_rows  # rows read but never committed do not count
        self.result.seconds = time.monotonic() - started
        return self.result

    def _mark_failed(self) -> None:
        if self.wm is None or self.token is None:
            return
        with contextlib.suppress(ExtractorError):
            self.wm.mysql.status = "failed"
            self._save()

    def _plan_only(self, conn: Any, rt: ResolvedTable) -> None:
        wm, _ = self.store.load()
        if wm is None and not self.ctx.options.full_refresh:
            try:  # the real run would stop: say so in the plan
                refuse_missing_watermark(self.ctx.storage, self.layout, pipeline=self.ctx.pipeline.name,
                                         table=self.table.name, where=self.store.where)
            except StateError as refusal:
                self.result.warnings.append(str(refusal))
        self.wm = wm if wm and not self.ctx.options.full_refresh else self._new_watermark(rt)
        self.result.schema_changes = schema_run.preview(self.ctx.storage, self.layout, rt.columns)
        plan = self._plan(conn, rt)
        self.result.phase = plan.phase if plan else None
        self.result.position_before = _show(self._position(rt))
        if plan is not None:
            sql, params = cdc.page_query(plan, self._position(rt), 1)
            count_sql = "SELECT COUNT(*) " + sql.rsplit(" ORDER BY ", 1)[0]
            self.result.estimated_rows = int(mysql.scalar(conn, count_sql, params) or 0)
        self.result.status = "planned"

    def _plan(self, conn: Any, rt: ResolvedTable) -> cdc.ExtractPlan | None:
        """The plan for this run: phase, order columns and the upper bound read once now."""
        wm = self.wm
        assert wm is not None
        table_sql = f"{_q(self.table.source_db)}.{_q(self.table.source_name)}"
        cursor_sql = _q(rt.cursor) if rt.cursor else None
        ids_sql = tuple(_q(i) for i in rt.ids)
        upper: tuple[Any, ...] | None = None
        if uses_cursor(rt.strategy):
            if wm.phase == "snapshot" and wm.snapshot.upper_bound is not None:
                upper = (wm.snapshot.upper_bound,)
            else:
                bound = self._cursor_upper_bound(conn, table_sql, rt)
                if bound is None:
                    return None
                upper = (bound,)
                if wm.phase == "snapshot":
                    wm.snapshot.upper_bound = bound
                    wm.snapshot.started_at = datetime.now(UTC)
            phase = wm.phase
        elif rt.strategy == "id":
            upper, phase = self._key_upper_bound(conn, table_sql, rt, ids_sql), "incremental"
            if upper is None:
                return None
        else:
            phase = "full"
        self.result.upper_bound = _show(upper)
        decimals = frozenset(c.name for c in rt.columns if c.kind == "decimal")
        return cdc.ExtractPlan(table_sql, rt.strategy, phase, cursor_sql, ids_sql, rt.cursor, rt.ids,  # type: ignore[arg-type]
                               upper, decimal_text=decimals)

    def _key_upper_bound(self, conn: Any, table_sql: str, rt: ResolvedTable,
                         ids_sql: tuple[str, ...]) -> tuple[Any, ...] | None:
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
        lag = self.ctx.pipeline.defaults.safety_lag_seconds
        deadline = time.monotonic() + lag
        if lag:
            time.sleep(0.1)  # INNODB_TRX is a cache refreshed at most every 100 ms: read one taken after read_at
        defaults = self.ctx.pipeline.defaults
        while True:
            oldest = mysql.oldest_write_transaction(conn, scope=defaults.open_transaction_scope,
                                                    database=self.table.source_db)
            if oldest is None or oldest.started > read_at:
                return tuple(row)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        self.result.held_back = oldest.describe()
        self.result.warnings.append(
            f"held back by an open {oldest.describe()}: it may still commit keys below {_show(tuple(row))}, so "
            "nothing is read until it ends (the next run tries again); see information_schema.INNODB_TRX and "
            f"defaults.open_transaction_scope ('{defaults.open_transaction_scope}')"
        )
        return None

    def _cursor_upper_bound(self, conn: Any, table_sql: str, rt: ResolvedTable) -> Any:
        """``min(MAX(cursor), NOW(6) - safety_lag, start of the oldest open write)``, below the clock's tick.

        The bound never lies in a tick of the cursor's precision (a second, a day, …) that can still
        receive rows: see ``cdc.cursor_upper_bound``.
        """
        cursor_sql = quote_ident(rt.cursor or "")
        max_value = mysql.scalar(conn, f"SELECT MAX({cursor_sql}) FROM {table_sql}")
        defaults = self.ctx.pipeline.defaults
        lag = timedelta(seconds=defaults.safety_lag_seconds)
        now = mysql.server_now(conn).replace(tzinfo=None)
        cursor = next(c for c in rt.columns if c.name == rt.cursor)
        open_trx = mysql.oldest_write_transaction(conn, scope=defaults.open_transaction_scope,
                                                  database=self.table.source_db)
        bound = cdc.cursor_upper_bound(
            max_value, now=now, lag=lag, open_since=open_trx.started.replace(tzinfo=None) if open_trx else None,
            data_type=cursor.data_type, datetime_precision=cursor.datetime_precision,
        )
        if bound.held_back and open_trx is not None:
            self.result.held_back = open_trx.describe()
            self.result.warnings.append(
                f"held back by an open {open_trx.describe()}: rows it writes may carry older cursor values, so "
                f"this run reads only up to {_show((bound.value,))} (information_schema.INNODB_TRX; "
                f"defaults.open_transaction_scope is '{defaults.open_transaction_scope}')"
            )
        if max_value is None:
            # Only NULL cursors (or no rows): a snapshot still reads the NULL-cursor rows.
            has_rows = mysql.scalar(conn, f"SELECT 1 FROM {table_sql} LIMIT 1") is not None
            temporal = cursor.data_type in ("datetime", "timestamp")
            if not has_rows or self.wm is None or self.wm.phase != "snapshot" or not temporal:
                return None
        else:
            self._count_future_cursors(conn, table_sql, cursor_sql, cursor, now, lag)
        return bound.value

    def _count_future_cursors(self, conn: Any, table_sql: str, cursor_sql: str, cursor: Column, now: datetime,
                              lag: timedelta) -> None:
        """Rows dated beyond the clock by more than the lag never arrive in time: count them and warn."""
        threshold = cdc.future_cursor_threshold(now, lag, cursor.data_type, cursor.datetime_precision)
        if threshold is None:
            return
        row = mysql.fetchone(conn, f"SELECT COUNT(*), MAX({cursor_sql}) FROM {table_sql} WHERE {cursor_sql} > %s",
                             [threshold])
        if row is None or not row[0]:
            return
        count, latest = int(row[0]), row[1]
        self.result.future_cursor_rows = count
        self.result.warnings.append(
            f"{count:,} row(s) of {self.table.source_table} have {cursor.name} in the future (up to {latest}): "
            "runs read rows up to the clock minus safety_lag_seconds, so these arrive only once the clock "
            "passes them — use a last-modified column as cursor_column, or cdc_strategy full_sync"
        )

    def _recover(self, rt: ResolvedTable) -> None:
        """Adopt the files a crashed run wrote after its last commit; delete what cannot be adopted."""
        wm = self.wm
        assert wm is not None
        crashed = wm.mysql.last_run_id
        if wm.mysql.status not in ("running", "failed") or not crashed:
            return
        committed = {p.key for p in wm.pending_files}
        orphans = sorted(
            (o for o in self.ctx.storage.list(self.layout.data_prefix)
             if f"__{crashed}__" in o.key and o.key not in committed),
            key=lambda o: o.key,
        )
        adoptable = rt.strategy != "full_sync"
        expected_seq = 0 if wm.mysql.committed_seq is None else wm.mysql.committed_seq + 1
        for obj in orphans:
            found = writer.read_written_file(self.ctx.storage, self.layout, obj.key) if adoptable else None
            checkpoint = found.checkpoint if found else {}
            if found and found.seq == expected_seq and checkpoint.get("phase") == wm.phase \
                    and checkpoint.get("position") is not None:
                self._set_position(wm.phase, tuple(checkpoint["position"]))
                wm.pending_files.append(found.pending())
                wm.mysql.committed_seq = expected_seq
                wm.mysql.rows_extracted += found.rows
                expected_seq += 1
                self.result.adopted_files += 1
            else:
                adoptable = False  # a gap: later files cannot be adopted in order
                self.ctx.storage.delete([obj.key])
                self.result.warnings.append(f"deleted uncommitted file {obj.key} of crashed run {crashed}")
        if self.result.adopted_files:
            self.result.warnings.append(
                f"adopted {self.result.adopted_files} file(s) written by crashed run {crashed} before its commit"
            )

    def _extract(self, conn: Any, rt: ResolvedTable, lock: TableLock) -> None:
        ctx = self.ctx
        self.wm, self.token = self.store.load()
        #: The run before this one: the saved key set is fresh only if that run wrote it.
        self._previous_run = self.wm.mysql.last_run_id if self.wm is not None else None
        if self.wm is None and not ctx.options.full_refresh:
            refuse_missing_watermark(ctx.storage, self.layout, pipeline=ctx.pipeline.name, table=self.table.name,
                                     where=self.store.where)
        if self.wm is not None and not ctx.options.full_refresh:
            check_watermark_fits(self.wm, rt, self.store.where)
        if self.wm is not None:
            self._recover(rt)
        if self.wm is None or ctx.options.full_refresh:
            keep = self.wm.pending_files if self.wm else []
            fresh = self._new_watermark(rt)
            fresh.pending_files = list(keep)
            if self.wm is not None:
                fresh.version = self.wm.version
                fresh.created_at = self.wm.created_at
            self.wm = fresh
        wm = self.wm
        # Before the watermark that refers to it: record the schema version (a blocking change stops here).
        tracked, self.result.schema_changes = schema_run.apply(
            conn, ctx.storage, self.layout, wm, ctx.pipeline, self.table, columns=rt.columns, strategy=rt.strategy,
            cursor=rt.cursor, ids=rt.ids, run_id=ctx.run_id, full_refresh=ctx.options.full_refresh)
        self.result.schema_version = tracked.version.version
        self._footer = footer_metadata(tracked.version)
        wm.schema_fingerprint = rt.fingerprint
        self.result.position_before = _show(self._position(rt))
        plan = self._plan(conn, rt)
        # Register the run before writing any file: a crash from here on is recoverable.
        wm.mysql.last_run_id = ctx.run_id
        wm.mysql.status = "running"
        wm.mysql.committed_seq = None
        self._save()
        if plan is None:
            self.result.phase = wm.phase
            empty_writer = self._file_writer(rt)
            try:
                if ctx.options.full_refresh:  # nothing to read (an empty table): still no ghost rows
                    self._tombstone_before_refresh(wm.phase, rt, empty_writer, empty_writer.schema)
                self._ensure_schema_file(rt, empty_writer)
            finally:
                empty_writer.close()
            self._finish(rt, files_written=self.result.files)
            return
        self.result.phase = plan.phase
        if rt.cursor and plan.phase in ("snapshot", "incremental"):
            self._check_null_cursors(conn, plan, rt)
        if rt.avg_row_length:  # size the first pages from InnoDB's row estimate; later ones from real pages
            # Never below 1,000 rows for the budget's sake, never above what the user configured.
            by_bytes = self.page_budget // rt.avg_row_length
            self.batch_rows = min(self.batch_rows, max(1_000, by_bytes))
        reader = open_reader(ctx.source, ctx.reader)
        self._key_bounds = self._integer_key_bounds(conn, plan, rt) if reader.parallel_reads else None
        self.result.reader = reader.name + (f", {ctx.pipeline.defaults.read_parallelism} key ranges at once"
                                            if self._key_bounds else "")
        file_writer = self._file_writer(rt)
        schema = file_writer.schema
        keys: list[pa.Table] = []
        try:
            if ctx.options.full_refresh and not self._detects_deletes(rt, plan):
                self._tombstone_before_refresh(plan.phase, rt, file_writer, schema)
            try:
                completed = self._read_pages(reader, plan, rt, file_writer, schema, keys, lock)
            finally:
                reader.close()
            if completed and self._detects_deletes(rt, plan):
                present = keys if rt.strategy == "full_sync" else self._scan_keys(rt)
                extracted = [] if rt.strategy == "full_sync" else keys
                self._write_tombstones(rt, file_writer, schema, extracted, present)
                keys = present
            written = file_writer.finish()
            if written is not None:
                self._commit(rt, plan.phase, written)
            self._ensure_schema_file(rt, file_writer)
        finally:
            file_writer.close()
        if plan.phase == "snapshot" and completed:
            wm.phase = "incremental"
            wm.cursor.last_value = plan.upper[0] if plan.upper else None
            wm.cursor.last_ids = None
            wm.snapshot.finished_at = datetime.now(UTC)
        if completed and self._detects_deletes(rt, plan):
            self._save_keys(rt, keys)
        self._finish(rt, files_written=self.result.files)

    @staticmethod
    def _truncated(page: _Page, limits: dict[str, int]) -> tuple[_Page, dict[str, int]]:
        table, cut = redshift.truncate_oversized(page.table, limits)
        return (dataclasses.replace(page, table=table) if cut else page), cut

    def _file_writer(self, rt: ResolvedTable) -> writer.FileWriter:
        defaults = self.ctx.pipeline.defaults
        return writer.FileWriter(
            self.ctx.storage, self.layout, self.ctx.run_id, _nullable(arrow_schema(rt.columns)),
            compression=defaults.compression, max_rows=defaults.file_max_rows, max_bytes=defaults.file_max_bytes,
            metadata=self._footer,
        )

    def _ensure_schema_file(self, rt: ResolvedTable, file_writer: writer.FileWriter) -> None:
        """A table that is empty on its first run still gets a (row-less) file, so readers see its columns."""
        if self.result.files or self.ctx.storage.list(self.layout.data_prefix):
            return
        written = file_writer.publish_empty(checkpoint={"phase": self.wm.phase if self.wm else None,
                                                        "position": None})
        self._commit(rt, "full", written)

    def _read_pages(self, reader: Reader, plan: cdc.ExtractPlan, rt: ResolvedTable,
                    file_writer: writer.FileWriter, schema: pa.Schema, keys: list[pa.Table],
                    lock: TableLock) -> bool:
        """Read and write pages until the range is exhausted (True) or ``--limit`` stops it (False).

        Page N+1 is read in a background thread while page N is written (key ranges: the range pool is
        that thread): a page's position comes from the page itself, so reading never waits for a
        commit, and the watermark still only moves when a file is durable.
        """
        completed = False
        pages = self._pages(reader, plan, rt, schema)
        if self._key_bounds is None:
            pages = prefetch(pages, depth=1, name=f"read-{self.table.name}")
        limits = redshift.truncation_limits(rt.columns, self.table.oversize)
        for page in pages:
            for name, count in page.zero_dates.items():
                self.result.zero_dates[name] = self.result.zero_dates.get(name, 0) + count
            completed = page.last
            if page.table.num_rows == 0:
                break
            if limits:
                page, cut = self._truncated(page, limits)
                for name, count in cut.items():
                    self.result.truncated[name] = self.result.truncated.get(name, 0) + count
            self._validate_page(page.table, rt)
            if self._detects_deletes(rt, plan):
                keys.append(page.table.select(list(rt.ids)))
            checkpoint: dict[str, Any] = {"phase": plan.phase, "position": list(page.position)}
            if plan.phase == "snapshot" and plan.upper:  # lets `watermark rebuild` resume a snapshot exactly
                checkpoint["upper"] = plan.upper[0]
            self._checkpoint = checkpoint
            written = file_writer.write(page.table, checkpoint=checkpoint)
            release_memory()
            self.result.rows += page.table.num_rows
            if written is not None:
                self._commit(rt, plan.phase, written)
                lock.refresh()
            if self.ctx.options.progress:
                self.ctx.options.progress(self.table.name, self.result.rows, self.result.files)
        return completed

    def _integer_key_bounds(self, conn: Any, plan: cdc.ExtractPlan, rt: ResolvedTable) -> tuple[int, int] | None:
        """``(MIN, MAX)`` of the key's leading integer column when key-order pages can be read in ranges.

        Key order: initial snapshots, ``full_sync`` and the ``id`` strategy (append-only tables, whose first
        run is their initial load). Composite keys too: a range of the leading column holds whole key
        groups. Not worth it when fewer than four pages are left to read (an ``id`` table's daily run).
        """
        key = next(c for c in rt.columns if c.name == rt.ids[0])
        defaults = self.ctx.pipeline.defaults
        # Pages alive at once: one per range being read plus the one being written, against three for
        # sequential reads (read, queued, written). Pages beyond those three must fit the byte budget.
        in_flight = (rt.avg_row_length or 0) * self.batch_rows * max(0, defaults.read_parallelism - 2)
        enough = 4 * self.batch_rows
        if (plan.by_cursor or self.ctx.options.limit
                or defaults.read_parallelism < 2 or key.data_type not in INTEGER_TYPES
                or (rt.approx_rows or 0) < enough or in_flight > self.page_budget):
            return None
        row = mysql.fetchone(conn, f"SELECT MIN({plan.id_sql[0]}), MAX({plan.id_sql[0]}) FROM {plan.table_sql}")
        if row is None or row[0] is None:
            return None
        low, high = int(row[0]), int(row[1])
        position = self._position(rt) if plan.phase != "full" else None
        if position:  # resuming: only the rest of the key space is left
            left = (high - int(position[0])) / max(1, high - low + 1) * (rt.approx_rows or 0)
            if left < enough:
                return None
        return low, high

    def _pages(self, reader: Reader, plan: cdc.ExtractPlan, rt: ResolvedTable,
               schema: pa.Schema) -> Iterator[_Page]:
        """Pages in key order, cast to the file schema, each with the position after it (reads only)."""
        if self._key_bounds is not None:
            yield from self._range_pages(reader, plan, rt, schema, *self._key_bounds)
            return
        yield from self._keyset_pages(reader, plan, rt, schema, self._position(rt) if plan.phase != "full" else None)

    def _range_pages(self, reader: Reader, plan: cdc.ExtractPlan, rt: ResolvedTable, schema: pa.Schema,
                     low: int, high: int) -> Iterator[_Page]:
        """Key ranges of about one page each, read by a small pool ahead of the writer, yielded in key order.

        Positions still come from the pages themselves, in order, so checkpoints, the watermark and crash
        adoption are exactly those of the sequential path. A range that fills its page is finished with
        keyset pages before the next range is yielded; keys above ``high`` (rows inserted since the
        bounds were read) are read by the sequential loop at the end.
        """
        position = self._position(rt) if plan.phase != "full" else None
        if position is not None and len(position) > 1:
            # Resuming a composite key mid-way: finish the rows sharing its leading value in key order
            # first, so the ranges (on the leading column) start after that value.
            bounded = dataclasses.replace(plan, key_upper=(position[0],))
            for rest in self._keyset_pages(reader, bounded, rt, schema, position):
                if rest.table.num_rows:
                    position = rest.position
                    yield dataclasses.replace(rest, last=False)
        start = int(position[0]) if position else low - 1
        # Ranges of about 0.8 pages at the table's average key density, in exact integer arithmetic: as
        # many ranges as pages, however sparse the keys (random 64-bit ids span ~1e19 for a few rows).
        step = max(1, self.batch_rows * 4 * (high - low + 1) // (5 * max(1, rt.approx_rows or 1)))
        bounds = ((a, min(a + step, high)) for a in range(start, high, step))
        workers = self.ctx.pipeline.defaults.read_parallelism
        readers: queue.Queue[Reader] = queue.Queue()
        opened = [open_reader(self.ctx.source, reader.name) for _ in range(workers)]
        for r in opened:
            readers.put(r)

        def read_range(lower: int, upper: int) -> tuple[int, ReadResult]:
            pooled = readers.get()
            try:
                sql, params = cdc.page_query(dataclasses.replace(plan, key_upper=(upper,)), (lower,), self.batch_rows)
                return upper, pooled.read(rt.columns, sql, params)
            finally:
                readers.put(pooled)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"range-{self.table.name}")
        pending: collections.deque[Future[tuple[int, ReadResult]]] = collections.deque()
        ranges = iter(bounds)
        try:
            for lower, upper in itertools.islice(ranges, workers):
                pending.append(pool.submit(read_range, lower, upper))
            while pending:
                upper, result = pending.popleft().result()
                nxt = next(ranges, None)
                if nxt is not None:
                    pending.append(pool.submit(read_range, *nxt))
                fault_point("page_read")
                page = result.table
                if page.num_rows:
                    position = _page_position(plan, page, self.table.source_table)
                    self._fit_page_to_budget(page)
                    yield _Page(page.cast(schema), position, result.zero_dates, False)
                if page.num_rows >= self.batch_rows:  # the range holds more rows: finish it in key order
                    bounded = dataclasses.replace(plan, key_upper=(upper,))
                    for rest in self._keyset_pages(reader, bounded, rt, schema, position):
                        if rest.table.num_rows:
                            position = rest.position
                            yield dataclasses.replace(rest, last=False)
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
            for r in opened:
                r.close()
        yield from self._keyset_pages(reader, plan, rt, schema, position)

    def _fit_page_to_budget(self, page: pa.Table) -> None:
        """Wide rows: fewer per page, so memory stays bounded by the table's page budget per page in flight."""
        budget = self.page_budget
        if page.nbytes > budget:
            self.batch_rows = min(self.batch_rows, max(1_000, page.num_rows * budget // page.nbytes))

    def _keyset_pages(self, reader: Reader, plan: cdc.ExtractPlan, rt: ResolvedTable, schema: pa.Schema,
                      position: tuple[Any, ...] | None) -> Iterator[_Page]:
        """Sequential keyset pages after ``position`` until a short page (the last one)."""
        remaining = self.ctx.options.limit
        while True:
            limit = self.batch_rows if remaining is None else min(self.batch_rows, remaining)
            if limit <= 0:
                return
            sql, params = cdc.page_query(plan, position, limit)
            result = reader.read(rt.columns, sql, params)
            fault_point("page_read")
            page = result.table
            if page.num_rows:
                position = _page_position(plan, page, self.table.source_table)
                self._fit_page_to_budget(page)
            last = page.num_rows < limit
            yield _Page(page.cast(schema), position, result.zero_dates, last)
            if last:
                return
            if remaining is not None:
                remaining -= page.num_rows

    def _commit(self, rt: ResolvedTable, phase: str, written: writer.WrittenFile) -> None:
        """The file is durable: record it and move the watermark to its last tuple."""
        fault_point("file_written")
        wm = self.wm
        assert wm is not None
        position = written.checkpoint.get("position") if written.checkpoint else None
        if position is not None and phase != "full":
            self._set_position(phase, tuple(position))
        wm.pending_files.append(written.pending())
        wm.mysql.committed_seq = written.seq
        wm.mysql.rows_extracted += written.rows
        self._committed_rows += written.rows
        self.result.files += 1
        self.result.bytes += written.bytes
        self._save()
        fault_point("watermark_saved")

    def _finish(self, rt: ResolvedTable, files_written: int) -> None:
        wm = self.wm
        assert wm is not None
        if files_written:
            manifest = writer.write_manifest(self.ctx.storage, self.layout, self.ctx.run_id, wm.pending_files)
            wm.load.manifest_key = manifest
            fault_point("manifest_written")
        wm.mysql.status = "success"
        wm.mysql.finished_at = datetime.now(UTC)
        wm.mysql.last_run_rows = self.result.rows
        if wm.cursor.last_value is not None and isinstance(wm.cursor.last_value, datetime):
            wm.mysql.last_data_timestamp = wm.cursor.last_value
        self._save()
        self.result.position_after = _show(self._position(rt))
        self.result.phase = "full" if rt.strategy == "full_sync" else wm.phase

    def _check_null_cursors(self, conn: Any, plan: cdc.ExtractPlan, rt: ResolvedTable) -> None:
        count = int(mysql.scalar(conn, f"SELECT COUNT(*) FROM {plan.table_sql} WHERE {plan.cursor_sql} IS NULL") or 0)
        self.result.null_cursor_rows = count
        if not count:
            return
        policy = self.ctx.pipeline.defaults.null_cursor_policy
        message = (f"{count} row(s) of {self.table.source_table} have NULL {rt.cursor}: "
                   + ("the initial snapshot reads them, but " if plan.phase == "snapshot" else "")
                   + "their later changes are invisible to the cursor")
        if policy == "fail":
            raise DataError(message, where=f"{self.table.source_table}.{rt.cursor}",
                            hint="fix the rows, or set defaults.null_cursor_policy: warn, or use full_sync")
        self.result.warnings.append(message)

    def _validate_page(self, page: pa.Table, rt: ResolvedTable) -> None:
        for name, max_pct in self.table.validation.max_null_percentage.items():
            col = next(c.name for c in rt.columns if c.name.lower() == name.lower())
            pct = 100.0 * page.column(col).null_count / page.num_rows
            if pct > max_pct:
                raise DataError(
                    f"{pct:.1f}% of {col} values are NULL in a batch, above max_null_percentage {max_pct}",
                    where=f"{self.table.source_table}.{col}",
                    hint="fix the source data or raise validation.max_null_percentage; nothing was committed",
                )

    def _detects_deletes(self, rt: ResolvedTable, plan: cdc.ExtractPlan) -> bool:
        """full_sync always; cursor tables with ``delete_detection: reconcile`` once incremental."""
        if rt.strategy == "full_sync":
            return True
        return self.table.delete_detection == "reconcile" and plan.phase in ("snapshot", "incremental")

    def _scan_keys(self, rt: ResolvedTable) -> list[pa.Table]:
        """Every key present now (``SELECT pk`` only, in key order, paged): the reconciliation side."""
        key_columns = [c for name in rt.ids for c in rt.columns if c.name == name]
        scan = cdc.ExtractPlan(f"{_q(self.table.source_db)}.{_q(self.table.source_name)}", "full_sync", "full",
                               None, tuple(_q(i) for i in rt.ids), None, rt.ids, None,
                               decimal_text=frozenset(c.name for c in key_columns if c.kind == "decimal"))
        reader = open_reader(self.ctx.source, self.ctx.reader)
        pages: list[pa.Table] = []
        position: tuple[Any, ...] | None = None
        limit = max(self.batch_rows, 100_000)
        try:
            while True:
                sql, params = cdc.page_query(scan, position, limit)
                page = reader.read(key_columns, sql, params).table
                if page.num_rows:
                    pages.append(page)
                    position = _page_position(scan, page, self.table.source_table)
                if page.num_rows < limit:
                    return pages
        finally:
            reader.close()

    def _key_schema(self, rt: ResolvedTable) -> pa.Schema:
        return _nullable(arrow_schema([c for name in rt.ids for c in rt.columns if c.name == name]))

    def _write_tombstones(self, rt: ResolvedTable, file_writer: writer.FileWriter, schema: pa.Schema,
                          extracted: list[pa.Table], present: list[pa.Table]) -> None:
        """Keys the lake holds as current (or extracted this run) and absent now become ``_op = 'D'`` rows.

        The lake's side is the key set the previous run saved, or — when that set is missing or stale
        (detection switched on later, a strategy change, ``--full-refresh``, an unfinished run) — the
        keys of the lake's data files: see :mod:`extractor.reconcile`.
        """
        known = reconcile.known_keys(self.ctx.storage, self.layout, self._key_schema(rt),
                                     previous_run=self._previous_run,
                                     trust_key_set=not self.ctx.options.full_refresh)
        self._land_tombstones(rt, file_writer, schema,
                              reconcile.gone_keys(known + extracted, present, rt.ids, self._key_schema(rt)))

    def _tombstone_before_refresh(self, phase: str, rt: ResolvedTable, file_writer: writer.FileWriter,
                                  schema: pa.Schema) -> None:
        """``--full-refresh`` of a table that does not detect deletes: first tombstone the keys MySQL lost.

        Every key the lake holds as current that MySQL no longer has gets a tombstone, published at once, so
        the refreshed image has no ghost rows (a later run of the refresh does not repeat this).
        """
        known = reconcile.known_keys(self.ctx.storage, self.layout, self._key_schema(rt), previous_run=None,
                                     trust_key_set=False)
        if not any(t.num_rows for t in known):
            return
        gone = reconcile.gone_keys(known, self._scan_keys(rt), rt.ids, self._key_schema(rt))
        self._checkpoint = {"phase": phase, "position": None}
        self._land_tombstones(rt, file_writer, schema, gone)
        written = file_writer.finish()
        if written is not None:
            self._commit(rt, phase, written)
        self._checkpoint = None

    def _land_tombstones(self, rt: ResolvedTable, file_writer: writer.FileWriter, schema: pa.Schema,
                         gone: pa.Table) -> None:
        if gone.num_rows == 0:
            return
        arrays = [gone.column(f.name).cast(f.type) if f.name in rt.ids else pa.nulls(gone.num_rows, f.type)
                  for f in schema]
        tomb = pa.Table.from_arrays(arrays, schema=schema)
        tomb = tomb.append_column("_op", pa.array(["D"] * gone.num_rows, pa.string()))
        # The open file may hold data pages too: keep their position as the file's checkpoint.
        checkpoint = self._checkpoint or {"phase": "full", "position": None}
        written = file_writer.write(tomb, checkpoint=checkpoint)
        self.result.tombstones += gone.num_rows
        if written is not None:
            self._commit(rt, checkpoint["phase"], written)

    def _save_keys(self, rt: ResolvedTable, keys: list[pa.Table]) -> None:
        schema = self._key_schema(rt)
        table = pa.concat_tables([k.cast(schema) for k in keys]) if keys else schema.empty_table()
        reconcile.write_key_set(self.ctx.storage, self.layout, table, self.ctx.run_id)


@dataclass(frozen=True)
class _Page:
    """A page read ahead: rows in the file schema, the position after its last row, zero dates seen."""

    table: pa.Table
    position: tuple[Any, ...] | None
    zero_dates: dict[str, int]
    last: bool  # the range is exhausted after this page


def _page_position(plan: cdc.ExtractPlan, page: pa.Table, source_table: str) -> tuple[Any, ...]:
    """The page's last order tuple, which the next page is read after.

    Order columns are NOT NULL keys (or a cursor bounded by ``<= upper``), so a NULL there is a zero or
    invalid date that landed as NULL: ``k > NULL`` matches nothing, and every row after it would be
    silently skipped.
    """
    position = cdc.last_position(plan, page)
    for name, value in zip(plan.order_names, position, strict=True):
        if value is None:
            what = "cursor" if name == plan.cursor_name and plan.by_cursor else "key column"
            raise DataError(
                f"{what} {name} holds a zero or invalid date ('0000-00-00', '2024-02-30'), which lands as NULL "
                "and cannot be paged after: the rows following it would be skipped",
                where=f"{source_table}.{name}",
                hint="replace those dates in MySQL" if what == "cursor" else
                "use another unique key as id_columns, or replace those dates in MySQL",
            )
    return position


def _quoted(value: Any) -> str:
    """A setting as a message shows it: 'name', ['a', 'b'] or none."""
    if value is None:
        return "none"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _nullable(schema: pa.Schema) -> pa.Schema:
    """Files declare every field nullable: tombstones carry only the key."""
    return pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)


def _show(position: tuple[Any, ...] | None) -> str | None:
    if position is None:
        return None
    # str() of a datetime is its ISO form with a space; dates and times have no ``sep`` to pass.
    return ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in position)


# ---------------------------------------------------------------------------------------------------
# Many tables


@dataclass
class _RunContext:
    pipeline: Pipeline
    source: SourceConnection
    storage: Storage
    run_id: str
    options: SyncOptions

    @property
    def reader(self) -> str:
        """The reader asked for: ``--reader``, else the pipeline's ``defaults.reader``."""
        return self.options.reader or self.pipeline.defaults.reader


def page_budget(batch_max_bytes: int, tables_at_once: int) -> int:
    """The byte budget of one page when ``tables_at_once`` tables share ``batch_max_bytes``."""
    return max(1, batch_max_bytes // max(1, tables_at_once))


def _dependencies_ready(ctx: _RunContext, table: TableConfig, selected: set[str]) -> tuple[str | None, float]:
    """``(None, seconds waited)`` once the dependencies other processes extract are ready, else why not."""
    if ctx.options.dry_run:
        return None, 0.0
    try:
        return None, wait_for_dependencies(ctx.storage, ctx.pipeline, table, selected)
    except DependencyNotReady as refused:
        return f"skipped: {refused}", 0.0
    except ExtractorError as err:  # a dependency's lock or watermark cannot be read
        return f"skipped: the state of a table it depends on cannot be read: {err}", 0.0


def sync_pipeline(pipeline: Pipeline, source: SourceConnection, options: SyncOptions = SyncOptions()) -> RunReport:
    """Extract the pipeline's tables in dependency order, independent ones in parallel."""
    use_returnable_memory_pool()
    storage = open_lake(pipeline.lake)
    run_id = new_run_id()
    ctx = _RunContext(pipeline, source, storage, run_id, options)
    if ctx.reader != "pymysql" and not options.dry_run:
        preload_connectorx()
    # A source that refuses every connection is one error for the run, not one per table.
    mysql.connect(source).close()
    report = RunReport(run_id=run_id, pipeline=pipeline.name, started_at=datetime.now(UTC), dry_run=options.dry_run)
    failed: set[str] = set()
    levels = pipeline.ordered_tables(options.tables)
    selected = {t.name for level in levels for t in level}
    waited: dict[str, float] = {}
    workers = max(1, pipeline.defaults.parallelism)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:
        for level in levels:
            runnable: list[tuple[TableConfig, str | None]] = []
            skipped: list[tuple[TableConfig, str | None]] = []
            for table in level:
                blocked = [d for d in table.depends_on if d in failed]
                reason, waited[table.name] = (f"skipped: depends on {', '.join(blocked)}, which failed", 0.0) \
                    if blocked else _dependencies_ready(ctx, table, selected)
                (skipped if reason else runnable).append((table, reason))
            for table, reason in skipped:
                failed.add(table.name)
                report.tables.append(TableResult(
                    table.name, table.source_table, table.cdc_strategy, status="skipped", error=reason,
                ))
            # Tables extracted at once share the page budget: memory is bounded by batch_max_bytes, not
            # by how many tables run in parallel.
            budget = page_budget(pipeline.defaults.batch_max_bytes, min(workers, len(runnable)))
            results = list(pool.map(lambda t, b=budget: _TableRun(ctx, t[0], b).run(), runnable))
            for result in results:
                if result.status == "failed":
                    failed.add(result.table)
                if waited.get(result.table, 0.0) >= 0.1:
                    result.warnings.append(f"waited {waited[result.table]:.1f} s for a table it depends on, "
                                           "which another process was extracting")
            report.tables.extend(results)
    report.finished_at = datetime.now(UTC)
    if not options.dry_run:
        with contextlib.suppress(ExtractorError):
            storage.put_bytes(run_key(run_id), json.dumps(report.to_dict(), default=str, indent=2).encode())
    return report


__all__ = ["RunReport", "SyncOptions", "TableResult", "check_watermark_fits", "page_budget", "resolve_table",
           "sync_pipeline"]
