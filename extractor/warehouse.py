"""The warehouse as Python sees it (DuckDB locally, Redshift in production): connection checks.

dbt builds the warehouse in a process of its own; what the extractor itself asks of a warehouse goes
through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extractor.config import TargetConnection
from extractor.errors import WarehouseError


def check_duckdb(conn: TargetConnection) -> str:
    """Open the DuckDB file read-only and ask its version; a file not created yet is fine."""
    import duckdb  # noqa: PLC0415  (the CLI starts without it)

    path = Path(conn.path or "")
    if conn.path != ":memory:" and not path.exists():
        if not path.parent.is_dir():
            raise WarehouseError(f"directory of duckdb file does not exist: {path.parent}", where=conn.name)
        return f"{path} does not exist yet (created on first build)"
    try:
        with duckdb.connect(conn.path or ":memory:", read_only=conn.path != ":memory:") as db:
            row = db.execute("SELECT version()").fetchone()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open duckdb file: {exc}", where=str(path)) from None
    return f"duckdb {row[0] if row else '?'} at {path}"


def check_target(conn: TargetConnection) -> dict[str, Any]:
    """Test a target connection: ``{"status", "detail", …}``; a failure raises a WarehouseError."""
    if conn.type == "duckdb":
        return {"status": "ok", "detail": check_duckdb(conn)}
    if not conn.host:
        return {"status": "skipped", "detail": "no host configured; Redshift cannot be tested offline"}
    from extractor import redshift  # noqa: PLC0415  (redshift_connector only when asked for)

    return redshift.check(conn)  # logs in and runs a query (redshift_connector)
