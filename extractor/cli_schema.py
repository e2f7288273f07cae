"""``extractor schema show|accept``: a table's schema versions, and accepting a blocking change.

Registered on the main app by ``extractor/cli.py``; the helpers it shares with the other commands are
imported from there when a command runs.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any

import typer

schema_app = typer.Typer(help="A table's schema versions in the lake; accept a narrowing change.",
                         no_args_is_help=True)

_Pipeline = Annotated[str | None, typer.Option("--pipeline", "-p", help="Pipeline name.")]
_Table = Annotated[str, typer.Option("--table", "-t", help="Table name (its key under tables:).")]
_ConfigDir = Annotated[Path | None, typer.Option("--config-dir", help="Config directory.", show_default=False)]
_Env = Annotated[str | None, typer.Option("--env", help="Overrides from environments/<ENV>.yml.", show_default=False)]
_Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _version_row(version: Any) -> dict[str, Any]:
    return {
        "version": version.version, "fingerprint": version.fingerprint,
        "first_run": version.first_run_id, "first_batch": version.first_batch_id or "(all earlier files)",
        "columns": [f"{c.name} {c.mysql_type}" for c in version.columns],
        "changes": version.changes, "accepted_by": version.accepted_by,
    }


@schema_app.command("show")
def schema_show(pipeline: _Pipeline = None, table: _Table = ..., config_dir: _ConfigDir = None,
                env: _Env = None, as_json: _Json = False) -> None:
    """List a table's schema versions, oldest first: columns, first run and what changed."""
    from extractor.cli import _emit, _project, _store
    from extractor.schema_versions import schema_versions

    project = _project(config_dir, env)
    storage, layout, _ = _store(project, pipeline, table)
    versions = [_version_row(v) for v in schema_versions(storage, layout)]
    _emit({"table": table, "versions": versions}, as_json,
          None if versions else f"{table}: no schema version recorded yet (the next sync records one)")


@schema_app.command("accept")
def schema_accept(pipeline: _Pipeline = None, table: _Table = ..., config_dir: _ConfigDir = None,
                  env: _Env = None, as_json: _Json = False) -> None:
    """Record the table's current MySQL columns as a new schema version, although the change narrows a type.

    For a narrowing or incompatible change that rewrote no stored value (for instance a VARCHAR shortened
    below lengths no row reaches): the next sync goes on incrementally instead of re-reading the table.
    """
    from extractor import mysql
    from extractor.cli import _emit, _pipeline, _project, _store
    from extractor.schema_versions import accept_current
    from extractor.state import TableLock
    from extractor.sync import resolve_table

    project = _project(config_dir, env)
    pipe = _pipeline(project, pipeline)
    cfg = pipe.table(table)
    storage, layout, _ = _store(project, pipe.name, cfg.name)
    conn = mysql.connect(project.source(pipe.source))
    try:
        rt = resolve_table(conn, cfg)
    finally:
        conn.close()
    with TableLock(storage, layout, owner=f"schema-accept:{socket.gethostname()}", ttl_seconds=300):
        tracked = accept_current(storage, layout, rt.columns, pipeline=pipe.name, table=cfg.name,
                                 source_table=cfg.source_table)
    version = tracked.version
    if not tracked.new_version:
        text = f"{cfg.name}: the current columns are schema version {version.version} already; nothing to accept"
    else:
        text = (f"{cfg.name}: schema version {version.version} recorded ({'; '.join(version.changes)}); "
                "the next sync goes on from the watermark")
    _emit({"table": cfg.name, "version": _version_row(version), "new_version": tracked.new_version}, as_json, text)


__all__ = ["schema_app"]
