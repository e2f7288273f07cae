"""Many tables: a pipeline's tables in dependency levels, independent ones in parallel, one run report."""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from extractor import mysql
from extractor.config import Pipeline, SourceConnection, TableConfig
from extractor.errors import ExtractorError
from extractor.lake import new_run_id, open_lake, run_key
from extractor.reader import preload_connectorx, use_returnable_memory_pool
from extractor.sync.dependencies import DependencyNotReady, wait_for_dependencies
from extractor.sync.report import RunReport, SyncOptions, TableResult
from extractor.sync.table_run import RunContext, TableRun


def page_budget(batch_max_bytes: int, tables_at_once: int) -> int:
    """The byte budget of one page when ``tables_at_once`` tables share ``batch_max_bytes``."""
    return max(1, batch_max_bytes // max(1, tables_at_once))


def _dependencies_ready(ctx: RunContext, table: TableConfig, selected: set[str]) -> tuple[str | None, float]:
    """``(None, seconds waited)`` once the dependencies other processes extract are ready, else why not."""
    if ctx.options.dry_run:
        return None, 0.0
    try:
        return None, wait_for_dependencies(ctx.storage, ctx.pipeline, table, selected)
    except DependencyNotReady as refused:
        return f"skipped: {refused}", 0.0
    except ExtractorError as err:  # a dependency's lock or watermark cannot be read
        return f"skipped: the state of a table it depends on cannot be read: {err}", 0.0


def sync_pipeline(pipeline: Pipeline, source: SourceConnection, options: SyncOptions | None = None) -> RunReport:
    """Extract the pipeline's tables in dependency order, independent ones in parallel."""
    options = options or SyncOptions()
    use_returnable_memory_pool()
    storage = open_lake(pipeline.lake)
    run_id = new_run_id()
    ctx = RunContext(pipeline, source, storage, run_id, options)
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
            runnable: list[TableConfig] = []
            for table in level:
                blocked = [d for d in table.depends_on if d in failed]
                reason, waited[table.name] = (f"skipped: depends on {', '.join(blocked)}, which failed", 0.0) \
                    if blocked else _dependencies_ready(ctx, table, selected)
                if reason:
                    failed.add(table.name)
                    report.tables.append(TableResult(table.name, table.source_table, table.cdc_strategy,
                                                     status="skipped", error=reason))
                else:
                    runnable.append(table)
            # Tables extracted at once share the page budget: memory is bounded by batch_max_bytes, not
            # by how many tables run in parallel.
            budget = page_budget(pipeline.defaults.batch_max_bytes, min(workers, len(runnable)))
            results = list(pool.map(lambda t, b=budget: TableRun(ctx, t, b).run(), runnable))
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
