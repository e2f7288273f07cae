"""The checks ``sync`` runs against MySQL before it reads a row, run on their own (``config validate --check-source``).

For each table: the table exists, every configured column exists (cursor, keys, validation, exclusions),
the cursor has an orderable type, ``id_columns`` are a primary or unique NOT NULL key, and whether an index
serves incremental reads (a warning). This is :func:`extractor.sync.resolve_table`, the function a
table's run starts with, so both always check the same things. Only ``information_schema`` is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from extractor import mysql
from extractor.errors import ExtractorError


@dataclass
class TableCheck:
    """One table's result: ``ok`` or ``failed`` (with the error's line and exit code), and warnings."""

    table: str
    source_table: str
    status: str = "ok"
    strategy: str | None = None
    cursor: str | None = None
    id_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0


@dataclass
class SourceCheck:
    """One pipeline's tables checked against its MySQL source."""

    pipeline: str
    source: str
    tables: list[TableCheck]

    @property
    def exit_code(self) -> int:
        """The first failed table's exit code (2 configuration, 3 MySQL), 0 when every table passed."""
        return next((t.exit_code for t in self.tables if t.status == "failed"), 0)

    def to_dict(self) -> dict[str, Any]:
        """``config validate --check-source --json``: status, source and each table's result."""
        return {"status": "failed" if self.exit_code else "ok", "tables": len(self.tables), "source": self.source,
                "checks": [asdict(t) for t in self.tables]}

    def lines(self) -> list[str]:
        """``OK``/``FAILED`` for the pipeline, then each table's error, notes and warnings, one line each."""
        lines = [f"{'FAILED' if self.exit_code else 'OK'}  {self.pipeline}  ({len(self.tables)} tables, "
                 f"checked against MySQL '{self.source}')"]
        for t in self.tables:
            lines += [f"error: {t.table}: {t.error}"] if t.error else []
            lines += [f"note: {t.table}: {n}" for n in t.notes] + [f"warning: {t.table}: {w}" for w in t.warnings]
        return lines


def check_source(pipeline: Any, source: Any) -> SourceCheck:
    """Every table of ``pipeline`` checked against ``source``; a failed table does not stop the others.

    A source that cannot be connected to raises (one error for the pipeline, as ``sync`` does).
    """
    from extractor.sync import resolve_table  # noqa: PLC0415  (pyarrow & co. only when asked for)

    conn = mysql.connect(source)
    try:
        results = []
        for table in pipeline.tables.values():
            check = TableCheck(table.name, table.source_table)
            try:
                rt = resolve_table(conn, table)
            except ExtractorError as err:
                check.status, check.error, check.exit_code = "failed", str(err), err.exit_code
            else:
                check.strategy, check.cursor, check.id_columns = rt.strategy, rt.cursor, list(rt.ids)
                check.warnings, check.notes = list(rt.warnings), list(rt.notes)
            results.append(check)
        return SourceCheck(pipeline.name, pipeline.source, results)
    finally:
        conn.close()
