"""A small pipeline for the nightly-operation tests (status, dependencies): one table per strategy."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from extractor.config import load_project
from extractor.lake import TableLayout, open_lake
from extractor.state import LockInfo, Watermark, WatermarkStore
from extractor.sync import RunReport, SyncOptions, sync_pipeline

PIPELINE = """
pipeline: {{name: night, source: sales_mysql, target_schema: night_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0, dependency_wait_seconds: {wait}}}
tables:
  dim: {{source_table: "{db}.dim", cdc_strategy: hybrid, cursor_column: updated_at, id_columns: [id]}}
  fact: {{source_table: "{db}.fact", cdc_strategy: hybrid, cursor_column: updated_at, id_columns: [id],
          depends_on: [dim]}}
  ref: {{source_table: "{db}.ref", cdc_strategy: full_sync, id_columns: [id]}}
  log: {{source_table: "{db}.log", cdc_strategy: id, id_columns: [id]}}
"""


def setup(workspace: Any, *, rows: int = 20, wait: float = 30) -> None:
    """Four tables of ``rows`` rows each and the ``night`` pipeline over them."""
    for name in ("dim", "fact", "ref", "log"):
        workspace.db.execute(
            f"CREATE TABLE {name} (id INT AUTO_INCREMENT PRIMARY KEY, val INT NOT NULL, "
            "updated_at DATETIME(6) NOT NULL DEFAULT '2025-01-01 00:00:00', KEY ix_cursor (updated_at, id))",
            f"INSERT INTO {name} (val) VALUES " + ", ".join(f"({i})" for i in range(rows)))
    workspace.write_pipeline("night", PIPELINE.format(lake=workspace.lake, db=workspace.db.database, wait=wait))


def pipeline(workspace: Any) -> Any:
    return load_project(workspace.config_dir, None).pipeline("night")


def sync(workspace: Any, *tables: str) -> RunReport:
    project = load_project(workspace.config_dir, None)
    chosen = project.pipeline("night")
    return sync_pipeline(chosen, project.source(chosen.source), SyncOptions(tables=list(tables) or None))


def layout(workspace: Any, table: str) -> TableLayout:
    return TableLayout("sales_mysql", workspace.db.database, "night_raw", table)


def edit_watermark(workspace: Any, table: str, change: Any) -> None:
    store = WatermarkStore(open_lake(str(workspace.lake)), layout(workspace, table))
    wm, token = store.load()
    assert wm is not None
    change(wm)
    store.save(wm, token)


def watermark(workspace: Any, table: str) -> Watermark | None:
    return WatermarkStore(open_lake(str(workspace.lake)), layout(workspace, table)).load()[0]


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def plant_lock(workspace: Any, table: str, *, pid: int, run_id: str = "20260101T000000000000Z-dead00") -> None:
    """A lock document as another extractor process on this host would leave it."""
    now = datetime.now(UTC)
    info = LockInfo(owner=run_id, run_id=run_id, host=socket.gethostname(), pid=pid, acquired_at=now,
                    expires_at=now + timedelta(hours=1))
    open_lake(str(workspace.lake)).put_bytes(layout(workspace, table).lock_key, info.model_dump_json().encode())


def status_json(workspace: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = workspace.cli("status", "-p", "night", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def by_table(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["table"]: t for t in doc["tables"]}


__all__ = ["by_table", "dead_pid", "edit_watermark", "layout", "pipeline", "plant_lock", "setup", "status_json", "sync", "watermark"]
