"""``extractor schema show|accept``: a table's schema versions, and accepting a blocking change.

Registered on the main app by :mod:`extractor.cli.app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from extractor.cli.common import emit, open_project, pick_pipeline, table_store

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
def schema_show(pipeline: _Pipeline = None, table: _Table = ...,  # type: ignore[assignment]
                config_dir: _ConfigDir = None, env: _Env = None, as_json: _Json = False) -> None:
    """List a table's schema versions, oldest first: columns, first run and what changed."""
    from extractor.schema_versions import schema_versions

    project = open_project(config_dir, env)
    storage, layout, _ = table_store(project, pipeline, table)
    versions = [_version_row(v) for v in schema_versions(storage, layout)]
    emit({"table": table, "versions": versions}, as_json,
         None if versions else f"{table}: no schema version recorded yet (the next sync records one)")


@schema_app.command("accept")
def schema_accept(pipeline: _Pipeline = None, table: _Table = ...,  # type: ignore[assignment]
                  config_dir: _ConfigDir = None, env: _Env = None, as_json: _Json = False) -> None:
    """Record the table's current MySQL columns as a new schema version, although the change narrows a type.

    For a narrowing or incompatible change that rewrote no stored value (for instance a VARCHAR shortened
    below lengths no row reaches): the next sync goes on incrementally instead of re-reading the table.
    """
    from extractor import watermarks

    project = open_project(config_dir, env)
    tracked = watermarks.accept_schema(project, pick_pipeline(project, pipeline), table)
    cfg_name = table
    version = tracked.version
    if not tracked.new_version:
        text = f"{cfg_name}: the current columns are schema version {version.version} already; nothing to accept"
    else:
        text = (f"{cfg_name}: schema version {version.version} recorded ({'; '.join(version.changes)}); "
                "the next sync goes on from the watermark")
    emit({"table": cfg_name, "version": _version_row(version), "new_version": tracked.new_version}, as_json, text)


__all__ = ["schema_app"]
