"""A table run's schema step: compare the live columns with the lake's latest schema version.

Called at the start of a table's run, under its lock and before the watermark is saved: records a new
schema version when the columns changed (``schema_versions.track``), stops the table on a narrowing or
incompatible change, and when an added (or renamed) column already holds values in rows the lake has,
re-reads the table (its snapshot, resumable as the initial one), because an ``ALTER`` that fills a column
does not move the cursor of the rows it fills.
"""

from __future__ import annotations

from typing import Any

from extractor import mysql
from extractor.config import Pipeline, TableConfig
from extractor.lake import Storage, TableLayout
from extractor.quoting import quote_ident
from extractor.schema_change import classify
from extractor.schema_versions import SchemaStore, Tracked, added_with_values, fingerprint, stale_rows_query, track
from extractor.state import SnapshotProgress, Watermark
from extractor.strategies import uses_cursor
from extractor.types import Column


def apply(conn: Any, storage: Storage, layout: TableLayout, wm: Watermark, pipeline: Pipeline,
          table: TableConfig, *, columns: list[Column], strategy: str, cursor: str | None, ids: tuple[str, ...],
          run_id: str, full_refresh: bool) -> tuple[Tracked, list[str]]:
    """Track the schema; returns the version this run writes and the report's sentences about it.

    Raises ``SchemaChangeError`` for a blocking change unless ``full_refresh`` (which re-reads the table).
    """
    # An ad-hoc table has no pipeline file to name: its message repeats its own sync command.
    adhoc_sync = None if pipeline.path else (f"extractor sync --source {pipeline.source} --target-schema "
                                             f"{pipeline.target_schema} --table {table.source_table}")
    tracked = track(storage, layout, columns, run_id=run_id, pipeline=pipeline.name, table=table.name,
                    source_table=table.source_table, accept="full-refresh" if full_refresh else None,
                    previous_fingerprint=wm.schema_fingerprint, adhoc_sync=adhoc_sync)
    table_sql = f"{quote_ident(table.source_db)}.{quote_ident(table.source_name)}"
    notes = [c.describe() for c in tracked.changes]
    if tracked.new_version and tracked.changes:
        notes.append(f"files from this run on are schema version {tracked.version.version}")
    filled = added_with_values(tracked.changes)
    if filled and not full_refresh and _has_stale_rows(conn, wm, strategy, cursor, ids, table_sql, filled):
        _reread(wm, strategy)
        notes.append(f"rows extracted before hold values in {', '.join(filled)} that the ALTER wrote without "
                     "moving their cursor: re-reading the table so the lake has them")
    return tracked, notes


def preview(storage: Storage, layout: TableLayout, columns: list[Column]) -> list[str]:
    """``sync --dry-run``: what the next run would say about the schema, recording nothing."""
    latest = SchemaStore(storage, layout).load()[0].latest
    if latest is None or latest.fingerprint == fingerprint(columns):
        return []
    changes = classify(latest.source_columns(), columns)
    return [("would stop: " if c.blocking else "") + c.describe() for c in changes]


def _has_stale_rows(conn: Any, wm: Watermark, strategy: str, cursor: str | None, ids: tuple[str, ...],
                    table_sql: str, filled: list[str]) -> bool:
    """Whether a row the lake already has (order tuple <= the watermark) holds a value in ``filled``."""
    if strategy == "full_sync":
        return False  # every run reads every row
    if wm.phase == "snapshot":
        position = wm.snapshot.last_key
        order = list(ids)
    else:
        position = list(wm.cursor.position() or [])
        order = [cursor, *ids] if cursor else list(ids)
    if not position:
        return False
    sql, params = stale_rows_query(table_sql, filled, [quote_ident(c or "") for c in order], position)
    return mysql.fetchone(conn, sql, params) is not None


def _reread(wm: Watermark, strategy: str) -> None:
    """Start the table's snapshot again (cursor tables) or its key range from the start (``id``)."""
    if uses_cursor(strategy):
        wm.phase = "snapshot"
        wm.snapshot = SnapshotProgress()
    else:
        wm.cursor.set_position(None)


__all__ = ["apply", "preview"]
