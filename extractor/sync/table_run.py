"""One table's run, under its lock.

Over 400 lines: the run's steps in order, each a short method calling the sync package's other modules.

1. load the watermark; if the previous run crashed, adopt the files it wrote but did not commit
   (:mod:`.recovery`) — nothing is re-extracted, nothing duplicated;
2. mark the run as started (conditional write), resolve the plan and the upper bound (:mod:`.bounds`);
3. read pages in key order (:mod:`.paginator`), write size-bounded Parquet files, and after each file is
   durable move the watermark to that file's last tuple (:mod:`.checkpoint`, conditional write);
4. write the Redshift COPY manifest of the pending files, then the final watermark.

Each stage is logged (:func:`extractor.logs.stage`): start, page, commit, end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

import extractor.sync.bounds as bounds
import extractor.sync.checkpoint as checkpoint
import extractor.sync.checks as checks
import extractor.sync.deletes as deletes
import extractor.sync.reconcile as reconcile
import extractor.sync.recovery as recovery
import extractor.sync.schema_run as schema_run
from extractor import cdc, logs, mysql, redshift, writer
from extractor.config import Pipeline, SourceConnection, TableConfig
from extractor.errors import ExtractorError, StateError
from extractor.faults import fault_point
from extractor.lake import Storage, TableLayout
from extractor.quoting import quote_ident
from extractor.reader import Reader, open_reader, release_memory
from extractor.rebuild import refuse_missing_watermark
from extractor.schema_versions import footer_metadata
from extractor.state import TableLock, Watermark, WatermarkStore
from extractor.strategies import uses_cursor
from extractor.sync.paginator import Page, Paginator
from extractor.sync.prefetch import prefetch
from extractor.sync.report import SyncOptions, TableResult, show
from extractor.sync.resolve import ResolvedTable, check_watermark_fits, resolve_table
from extractor.types import arrow_schema


@dataclass
class RunContext:
    """What every table of one pipeline run shares."""

    pipeline: Pipeline
    source: SourceConnection
    storage: Storage
    run_id: str
    options: SyncOptions

    @property
    def reader(self) -> str:
        """The reader asked for: ``--reader``, else the pipeline's ``defaults.reader``."""
        return self.options.reader or self.pipeline.defaults.reader


class TableRun:
    """The state of one table's run: plan, watermark token, writer and counters."""

    def __init__(self, ctx: RunContext, table: TableConfig, page_budget: int) -> None:
        self.ctx = ctx
        self.table = table
        self.layout = TableLayout.of(ctx.pipeline, table)
        self.store = WatermarkStore(ctx.storage, self.layout)
        self.result = TableResult(table.name, table.source_table, table.cdc_strategy)
        self.batch_rows = table.batch_rows or ctx.pipeline.defaults.batch_rows
        #: Bytes one page may hold: ``batch_max_bytes`` shared by the tables extracted at once.
        self.page_budget = page_budget
        self.wm: Watermark | None = None
        self.token: str | None = None
        self._checkpoint: dict[str, Any] | None = None
        self._footer: dict[str, str] = {}
        self._committed_rows = 0
        self._previous_run: str | None = None
        self._started = time.monotonic()

    def _stage(self, name: str, **fields: Any) -> None:
        logs.stage(self.ctx.pipeline.name, self.table.name, name, run_id=self.ctx.run_id,
                   seconds=round(time.monotonic() - self._started, 3), **fields)

    def _save(self) -> None:
        assert self.wm is not None
        self.token = self.store.save(self.wm, self.token)

    def _position(self, rt: ResolvedTable) -> tuple[Any, ...] | None:
        assert self.wm is not None
        return checkpoint.position(self.wm, rt.strategy)

    def _new_watermark(self, rt: ResolvedTable) -> Watermark:
        return checkpoint.new_watermark(table=self.table.name, pipeline=self.ctx.pipeline.name, strategy=rt.strategy,
                                        cursor=rt.cursor, ids=list(rt.ids), source_table=self.table.source_table,
                                        now=datetime.now(UTC))

    # -- the run ------------------------------------------------------------------------------------

    def run(self) -> TableResult:
        """Run the table (or plan it, with ``--dry-run``); failures end up in the result, never raised."""
        self._started = started = time.monotonic()
        self._stage("start", source_table=self.table.source_table, dry_run=self.ctx.options.dry_run)
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
        self._stage("end", status=self.result.status, rows=self.result.rows, files=self.result.files,
                    bytes=self.result.bytes, tombstones=self.result.tombstones,
                    rows_per_second=round(self.result.rows_per_second, 1), error=self.result.error)
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
        self.result.position_before = show(self._position(rt))
        if plan is not None:
            sql, params = cdc.page_query(plan, self._position(rt), 1)
            count_sql = "SELECT COUNT(*) " + sql.rsplit(" ORDER BY ", 1)[0]
            self.result.estimated_rows = int(mysql.scalar(conn, count_sql, params) or 0)
        self.result.status = "planned"

    def _plan(self, conn: Any, rt: ResolvedTable) -> cdc.ExtractPlan | None:
        """The plan for this run: phase, order columns and the upper bound read once now."""
        wm = self.wm
        assert wm is not None
        defaults = self.ctx.pipeline.defaults
        table_sql = f"{quote_ident(self.table.source_db)}.{quote_ident(self.table.source_name)}"
        cursor_sql = quote_ident(rt.cursor) if rt.cursor else None
        ids_sql = tuple(quote_ident(i) for i in rt.ids)
        upper: tuple[Any, ...] | None = None
        phase: cdc.Phase
        if uses_cursor(rt.strategy):
            if wm.phase == "snapshot" and wm.snapshot.upper_bound is not None:
                upper = (wm.snapshot.upper_bound,)
            else:
                bound = bounds.cursor_upper_bound(conn, table_sql, rt, defaults, self.result,
                                                  snapshot=wm.phase == "snapshot")
                if bound is None:
                    return None
                upper = (bound,)
                if wm.phase == "snapshot":
                    wm.snapshot.upper_bound = bound
                    wm.snapshot.started_at = datetime.now(UTC)
            phase = wm.phase
        elif rt.strategy == "id":
            upper, phase = bounds.key_upper_bound(conn, table_sql, rt, ids_sql, defaults, self.result), "incremental"
            if upper is None:
                return None
        else:
            phase = "full"
        self.result.upper_bound = show(upper)
        decimals = frozenset(c.name for c in rt.columns if c.kind == "decimal")
        return cdc.ExtractPlan(table_sql, rt.strategy, phase, cursor_sql, ids_sql, rt.cursor, rt.ids,  # type: ignore[arg-type]
                               upper, decimal_text=decimals)

    def _start(self, rt: ResolvedTable) -> Watermark:
        """Load the watermark, check it fits, adopt a crashed run's files; a fresh one when there is none."""
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
            adopted, warnings = recovery.recover(ctx.storage, self.layout, self.wm, rt.strategy)
            self.result.adopted_files += adopted
            self.result.warnings.extend(warnings)
        if self.wm is None or ctx.options.full_refresh:
            self.wm = checkpoint.refreshed(self.wm, self._new_watermark(rt))
        return self.wm

    def _extract(self, conn: Any, rt: ResolvedTable, lock: TableLock) -> None:
        ctx = self.ctx
        wm = self._start(rt)
        # Before the watermark that refers to it: record the schema version (a blocking change stops here).
        tracked, self.result.schema_changes = schema_run.apply(
            conn, ctx.storage, self.layout, wm, ctx.pipeline, self.table, columns=rt.columns, strategy=rt.strategy,
            cursor=rt.cursor, ids=rt.ids, run_id=ctx.run_id, full_refresh=ctx.options.full_refresh)
        self.result.schema_version = tracked.version.version
        self._footer = footer_metadata(tracked.version)
        wm.schema_fingerprint = rt.fingerprint
        self.result.position_before = show(self._position(rt))
        plan = self._plan(conn, rt)
        checkpoint.start_run(wm, ctx.run_id)  # a crash from here on is recoverable
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
            checks.check_null_cursors(conn, plan, rt, ctx.pipeline.defaults.null_cursor_policy, self.result)
        if rt.avg_row_length:  # size the first pages from InnoDB's row estimate; later ones from real pages
            # Never below 1,000 rows for the budget's sake, never above what the user configured.
            by_bytes = self.page_budget // rt.avg_row_length
            self.batch_rows = min(self.batch_rows, max(1_000, by_bytes))
        reader = open_reader(ctx.source, ctx.reader)  # type: ignore[arg-type]
        start = self._position(rt) if plan.phase != "full" else None
        key_bounds = bounds.integer_key_bounds(
            conn, plan, rt, ctx.pipeline.defaults, batch_rows=self.batch_rows, page_budget=self.page_budget,
            limited=bool(ctx.options.limit), position=start) if reader.parallel_reads else None
        self.result.reader = reader.name + (f", {ctx.pipeline.defaults.read_parallelism} key ranges at once"
                                            if key_bounds else "")
        detects = deletes.detects_deletes(rt.strategy, self.table, plan.phase)
        file_writer = self._file_writer(rt)
        schema = file_writer.schema
        keys: list[pa.Table] = []
        try:
            if ctx.options.full_refresh and not detects:
                self._tombstone_before_refresh(plan.phase, rt, file_writer, schema)
            try:
                completed = self._read_pages(reader, plan, rt, file_writer, schema, keys, lock, start, key_bounds)
            finally:
                reader.close()
            if completed and detects:
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
            checkpoint.complete_snapshot(wm, plan.upper, datetime.now(UTC))
        if completed and detects:
            reconcile.write_key_set(ctx.storage, self.layout, deletes.key_set(rt, keys), ctx.run_id)
        self._finish(rt, files_written=self.result.files)

    def _file_writer(self, rt: ResolvedTable) -> writer.FileWriter:
        defaults = self.ctx.pipeline.defaults
        return writer.FileWriter(
            self.ctx.storage, self.layout, self.ctx.run_id, deletes.nullable(arrow_schema(rt.columns)),
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
                    lock: TableLock, start: tuple[Any, ...] | None, key_bounds: tuple[int, int] | None) -> bool:
        """Read and write pages until the range is exhausted (True) or ``--limit`` stops it (False).

        Page N+1 is read in a background thread while page N is written (key ranges: the range pool is
        that thread): a page's position comes from the page itself, so reading never waits for a
        commit, and the watermark still only moves when a file is durable.
        """
        defaults = self.ctx.pipeline.defaults
        paginator = Paginator(source=self.ctx.source, plan=plan, columns=rt.columns, schema=schema,
                              name=self.table.name, source_table=self.table.source_table, batch_rows=self.batch_rows,
                              page_budget=self.page_budget, read_parallelism=defaults.read_parallelism,
                              approx_rows=rt.approx_rows, limit=self.ctx.options.limit)
        completed = False
        pages = paginator.pages(reader, start, key_bounds)
        if key_bounds is None:
            pages = prefetch(pages, depth=1, name=f"read-{self.table.name}")
        limits = redshift.truncation_limits(rt.columns, self.table.oversize)
        detects = deletes.detects_deletes(rt.strategy, self.table, plan.phase)
        page_count = 0
        try:
            for page in pages:
                for name, count in page.zero_dates.items():
                    self.result.zero_dates[name] = self.result.zero_dates.get(name, 0) + count
                completed = page.last
                if page.table.num_rows == 0:
                    break
                if limits:
                    page, cut = _truncated(page, limits)
                    for name, count in cut.items():
                        self.result.truncated[name] = self.result.truncated.get(name, 0) + count
                checks.validate_page(page.table, rt)
                if detects:
                    keys.append(page.table.select(list(rt.ids)))
                self._checkpoint = checkpoint.file_checkpoint(plan.phase, page.position, plan.upper)
                written = file_writer.write(page.table, checkpoint=self._checkpoint)
                release_memory()
                self.result.rows += page.table.num_rows
                page_count += 1
                self._stage("page", page=page_count, page_rows=page.table.num_rows, rows=self.result.rows,
                            batch_rows=paginator.batch_rows)
                if written is not None:
                    self._commit(rt, plan.phase, written)
                    lock.refresh()
                if self.ctx.options.progress:
                    self.ctx.options.progress(self.table.name, self.result.rows, self.result.files)
        finally:
            self.batch_rows = paginator.batch_rows
        return completed

    def _commit(self, rt: ResolvedTable, phase: str, written: writer.WrittenFile) -> None:
        """The file is durable: record it and move the watermark to its last tuple."""
        fault_point("file_written")
        assert self.wm is not None
        checkpoint.record_file(self.wm, phase, written.pending(), written.checkpoint)
        self._committed_rows += written.rows
        self.result.files += 1
        self.result.bytes += written.bytes
        self._save()
        fault_point("watermark_saved")
        self._stage("commit", file=written.key, file_rows=written.rows, file_bytes=written.bytes, seq=written.seq,
                    committed_rows=self._committed_rows, position=show(self._position(rt)))

    def _finish(self, rt: ResolvedTable, files_written: int) -> None:
        wm = self.wm
        assert wm is not None
        manifest = None
        if files_written:
            manifest = writer.write_manifest(self.ctx.storage, self.layout, self.ctx.run_id, wm.pending_files)
            fault_point("manifest_written")
        checkpoint.finish(wm, rows=self.result.rows, manifest_key=manifest, now=datetime.now(UTC))
        self._save()
        self.result.position_after = show(self._position(rt))
        self.result.phase = "full" if rt.strategy == "full_sync" else wm.phase

    # -- delete detection ---------------------------------------------------------------------------

    def _scan_keys(self, rt: ResolvedTable) -> list[pa.Table]:
        return deletes.scan_keys(self.ctx.source, self.ctx.reader, rt, self.batch_rows)

    def _write_tombstones(self, rt: ResolvedTable, file_writer: writer.FileWriter, schema: pa.Schema,
                          extracted: list[pa.Table], present: list[pa.Table]) -> None:
        """Keys the lake holds as current (or extracted this run) and absent now become ``_op = 'D'`` rows.

        The lake's side is the key set the previous run saved, or — when that set is missing or stale
        (detection switched on later, a strategy change, ``--full-refresh``, an unfinished run) — the
        keys of the lake's data files: see :mod:`extractor.sync.reconcile`.
        """
        key_schema = deletes.key_schema(rt)
        known = reconcile.known_keys(self.ctx.storage, self.layout, key_schema, previous_run=self._previous_run,
                                     trust_key_set=not self.ctx.options.full_refresh)
        self._land_tombstones(rt, file_writer, schema,
                              reconcile.gone_keys(known + extracted, present, rt.ids, key_schema))

    def _tombstone_before_refresh(self, phase: str, rt: ResolvedTable, file_writer: writer.FileWriter,
                                  schema: pa.Schema) -> None:
        """``--full-refresh`` of a table that does not detect deletes: first tombstone the keys MySQL lost.

        Every key the lake holds as current that MySQL no longer has gets a tombstone, published at once, so
        the refreshed image has no ghost rows (a later run of the refresh does not repeat this).
        """
        key_schema = deletes.key_schema(rt)
        known = reconcile.known_keys(self.ctx.storage, self.layout, key_schema, previous_run=None, trust_key_set=False)
        if not any(t.num_rows for t in known):
            return
        gone = reconcile.gone_keys(known, self._scan_keys(rt), rt.ids, key_schema)
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
        # The open file may hold data pages too: keep their position as the file's checkpoint.
        file_checkpoint = self._checkpoint or {"phase": "full", "position": None}
        written = file_writer.write(deletes.tombstones(gone, schema, rt.ids), checkpoint=file_checkpoint)
        self.result.tombstones += gone.num_rows
        if written is not None:
            self._commit(rt, file_checkpoint["phase"], written)


def _truncated(page: Page, limits: dict[str, int]) -> tuple[Page, dict[str, int]]:
    table, cut = redshift.truncate_oversized(page.table, limits)
    return (dataclasses.replace(page, table=table) if cut else page), cut
