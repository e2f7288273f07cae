"""``extractor s3clean`` and ``extractor lock``: delete acknowledged files, break a dead run's lock."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from extractor.cli.common import (
    ConfigDirOption,
    EnvOption,
    JsonOption,
    PipelineOption,
    TablesOption,
    emit,
    open_project,
    pick_pipeline,
    text_columns,
)

s3clean_app = typer.Typer(help="Delete lake files the warehouse has acknowledged, after a retention.",
                          no_args_is_help=True)
lock_app = typer.Typer(help="Inspect and break table locks.", no_args_is_help=True)
OlderThanOption = Annotated[str, typer.Option("--older-than", help="Retention: 7d, 12h, 30m.")]


def _plans(pipeline: Any, tables: list[str] | None, older_than: str) -> list[Any]:
    from datetime import UTC, datetime

    from extractor.cleanup import parse_duration, plan_tables

    return plan_tables(pipeline, tables, parse_duration(older_than), datetime.now(UTC))


def _plan_rows(plans: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for name, _storage, _layout, plan in plans:
        rows += [{"table": name, "action": "delete", "key": o.key, "size": o.size, "reason": "acknowledged"}
                 for o in plan.delete]
        rows += [{"table": name, "action": "keep", "key": o.key, "size": o.size, "reason": why}
                 for o, why in plan.keep]
    return rows


@s3clean_app.command("list")
def s3clean_list(pipeline: PipelineOption = None, table: TablesOption = None,
                 older_than: OlderThanOption = "7d", config_dir: ConfigDirOption = None, env: EnvOption = None,
                 as_json: JsonOption = False) -> None:
    """Show which files would be deleted and which are kept (and why)."""
    rows = _plan_rows(_plans(pick_pipeline(open_project(config_dir, env), pipeline), table, older_than))
    keys = ["table", "action", "size", "reason", "key"]
    emit(rows, as_json, text_columns([{k: k for k in keys}, *rows], keys) if rows else "no files")


@s3clean_app.command("clean")
def s3clean_clean(
    pipeline: PipelineOption = None, table: TablesOption = None, older_than: OlderThanOption = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be deleted; delete nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Delete acknowledged files older than the retention (under each table's lock)."""
    from extractor.cleanup import clean_tables, parse_duration

    pipe = pick_pipeline(open_project(config_dir, env), pipeline)
    plans = _plans(pipe, table, older_than)
    doomed = [r for r in _plan_rows(plans) if r["action"] == "delete"]
    if dry_run or not doomed:
        emit(doomed, as_json, "\n".join(f"would delete {r['key']} ({r['size']} bytes)" for r in doomed)
             or "nothing to delete")
        return
    if not force and not typer.confirm(f"delete {len(doomed)} file(s)?"):
        raise typer.Exit(1)
    deleted = clean_tables(pipe, [name for name, *_ in plans], parse_duration(older_than))
    emit({"deleted": deleted}, as_json, f"deleted {deleted} file(s)")


@lock_app.command("break")
def lock_break(
    table: Annotated[str, typer.Argument(help="schema.table as printed in the lock error, or a table name")],
    pipeline: PipelineOption = None, config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Remove a table's lock left by a dead extractor (make sure none is running)."""
    from extractor import watermarks
    from extractor.state import break_lock

    pipe, cfg = watermarks.find_table(open_project(config_dir, env), table, pipeline)
    storage, layout, _ = watermarks.table_store(pipe, cfg.name)
    holder = break_lock(storage, layout)
    typer.echo(f"broke lock of {layout.display} held by run {holder.run_id} (pid {holder.pid} on {holder.host})"
               if holder else f"{layout.display} was not locked")
