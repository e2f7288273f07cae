"""Data checks during a run: NULL cursors (``null_cursor_policy``) and a page's NULL share (``validation``)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from extractor import cdc, mysql
from extractor.errors import DataError
from extractor.sync.report import TableResult
from extractor.sync.resolve import ResolvedTable


def check_null_cursors(conn: Any, plan: cdc.ExtractPlan, rt: ResolvedTable, policy: str, result: TableResult) -> None:
    """Count rows whose cursor is NULL: a warning, or a DataError with ``null_cursor_policy: fail``."""
    count = int(mysql.scalar(conn, f"SELECT COUNT(*) FROM {plan.table_sql} WHERE {plan.cursor_sql} IS NULL") or 0)
    result.null_cursor_rows = count
    if not count:
        return
    message = (f"{count} row(s) of {rt.config.source_table} have NULL {rt.cursor}: "
               + ("the initial snapshot reads them, but " if plan.phase == "snapshot" else "")
               + "their later changes are invisible to the cursor")
    if policy == "fail":
        raise DataError(message, where=f"{rt.config.source_table}.{rt.cursor}",
                        hint="fix the rows, or set defaults.null_cursor_policy: warn, or use full_sync")
    result.warnings.append(message)


def validate_page(page: pa.Table, rt: ResolvedTable) -> None:
    """A page whose share of NULLs in a column exceeds ``validation.max_null_percentage`` stops the run."""
    for name, max_pct in rt.config.validation.max_null_percentage.items():
        col = next(c.name for c in rt.columns if c.name.lower() == name.lower())
        pct = 100.0 * page.column(col).null_count / page.num_rows
        if pct > max_pct:
            raise DataError(
                f"{pct:.1f}% of {col} values are NULL in a batch, above max_null_percentage {max_pct}",
                where=f"{rt.config.source_table}.{col}",
                hint="fix the source data or raise validation.max_null_percentage; nothing was committed",
            )
