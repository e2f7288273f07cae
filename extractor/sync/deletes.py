"""Delete detection: which keys MySQL no longer has, and the ``_op = 'D'`` rows (tombstones) that say so.

``full_sync`` tables always detect deletes (every run sees every key); cursor tables do with
``delete_detection: reconcile``: each run scans the keys present now and compares them with the lake's
(:mod:`extractor.sync.reconcile`).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from extractor import cdc
from extractor.config import SourceConnection, TableConfig
from extractor.quoting import quote_ident
from extractor.reader import open_reader
from extractor.sync.paginator import page_position
from extractor.sync.resolve import ResolvedTable
from extractor.types import arrow_schema


def detects_deletes(strategy: str, table: TableConfig, phase: str) -> bool:
    """full_sync always; cursor tables with ``delete_detection: reconcile`` once they read by cursor or key."""
    if strategy == "full_sync":
        return True
    return table.delete_detection == "reconcile" and phase in ("snapshot", "incremental")


def nullable(schema: pa.Schema) -> pa.Schema:
    """Files declare every field nullable: tombstones carry only the key."""
    return pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)


def key_schema(rt: ResolvedTable) -> pa.Schema:
    """The schema of the table's key columns, as the key set and the tombstones hold them."""
    return nullable(arrow_schema([c for name in rt.ids for c in rt.columns if c.name == name]))


def scan_keys(source: SourceConnection, reader_name: str, rt: ResolvedTable, batch_rows: int) -> list[pa.Table]:
    """Every key present now (``SELECT pk`` only, in key order, paged): the reconciliation side."""
    table = rt.config
    key_columns = [c for name in rt.ids for c in rt.columns if c.name == name]
    scan = cdc.ExtractPlan(f"{quote_ident(table.source_db)}.{quote_ident(table.source_name)}", "full_sync", "full",
                           None, tuple(quote_ident(i) for i in rt.ids), None, rt.ids, None,
                           decimal_text=frozenset(c.name for c in key_columns if c.kind == "decimal"))
    reader = open_reader(source, reader_name)  # type: ignore[arg-type]
    pages: list[pa.Table] = []
    position: tuple[Any, ...] | None = None
    limit = max(batch_rows, 100_000)
    try:
        while True:
            sql, params = cdc.page_query(scan, position, limit)
            page = reader.read(key_columns, sql, params).table
            if page.num_rows:
                pages.append(page)
                position = page_position(scan, page, table.source_table)
            if page.num_rows < limit:
                return pages
    finally:
        reader.close()


def tombstones(gone: pa.Table, schema: pa.Schema, ids: tuple[str, ...]) -> pa.Table:
    """Rows of the file ``schema`` for the ``gone`` keys: the key, NULL elsewhere, ``_op = 'D'``."""
    arrays = [gone.column(f.name).cast(f.type) if f.name in ids else pa.nulls(gone.num_rows, f.type) for f in schema]
    tomb = pa.Table.from_arrays(arrays, schema=schema)
    return tomb.append_column("_op", pa.array(["D"] * gone.num_rows, pa.string()))


def key_set(rt: ResolvedTable, keys: list[pa.Table]) -> pa.Table:
    """The keys present at the end of a run, as one table (what the next run compares with)."""
    schema = key_schema(rt)
    return pa.concat_tables([k.cast(schema) for k in keys]) if keys else schema.empty_table()
