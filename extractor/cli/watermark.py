"""``extractor watermark``: read and edit watermarks (the work is done by :mod:`extractor.watermarks`)."""

from __future__ import annotations

from typing import Annotated

import typer

from extractor.cli.common import (
    ConfigDirOption,
    EnvOption,
    JsonOption,
    PipelineOption,
    TableOption,
    emit,
    open_project,
    pick_pipeline,
    table_store,
    text_columns,
)

watermark_app = typer.Typer(help="Read and edit watermarks (the lake's record of what was extracted).",
                            no_args_is_help=True)


@watermark_app.command("get")
def watermark_get(pipeline: PipelineOption = None, table: TableOption = ..., config_dir: ConfigDirOption = None,  # type: ignore[assignment]
                  env: EnvOption = None, as_json: JsonOption = False) -> None:
    """Show one table's watermark (``--json``: the whole document)."""
    from extractor import watermarks

    _, _, store = table_store(open_project(config_dir, env), pipeline, table)
    wm, _ = store.load()
    if as_json:
        typer.echo(wm.to_json().decode() if wm else "null")
    else:
        emit(watermarks.summary(table, wm), False)


@watermark_app.command("list")
def watermark_list(pipeline: PipelineOption = None, config_dir: ConfigDirOption = None, env: EnvOption = None,
                   as_json: JsonOption = False) -> None:
    """Every table's watermark in a pipeline.

    One that cannot be read (corrupt, or the lake refused) is a row with its error, not the end of the
    listing: the healthy tables are still shown, then the command exits with the error's code (4).
    """
    from extractor import watermarks
    from extractor.errors import LakeError, StateError

    pipe = pick_pipeline(open_project(config_dir, env), pipeline)
    rows, failures = [], []
    for name in pipe.tables:
        _, _, store = watermarks.table_store(pipe, name)
        try:
            wm, _ = store.load()
        except LakeError as err:
            failures.append(err)
            rows.append({"table": name, "status": "corrupt" if isinstance(err, StateError) else "unreadable",
                         "error": str(err)})
            continue
        rows.append(watermarks.summary(name, wm))
    keys = ["table", "strategy", "phase", "status", "rows", "pending_files", "position"]
    text = text_columns([{k: k for k in keys}, *({k: r.get(k, "-") for k in keys} for r in rows)], keys)
    errors = [f"error: {r['table']}: {r['error']}" for r in rows if "error" in r]
    emit(rows, as_json, "\n".join([text, *errors]))
    if failures:
        raise typer.Exit(failures[0].exit_code)


@watermark_app.command("set")
def watermark_set(
    pipeline: PipelineOption = None, table: TableOption = ...,  # type: ignore[assignment]
    value: Annotated[str, typer.Option("--value", help="Cursor value (ISO timestamp, integer or text); "
                                                      "for the id strategy, the first key column.")] = ...,  # type: ignore[assignment]
    ids: Annotated[list[str] | None, typer.Option("--id", help="Key columns after it, in order (repeatable); "
                                                               "omitted: after every row up to --value.")] = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Move a table's cursor (the next run reads rows after it), under the table's lock.

    Values are checked against the columns' MySQL types, so the source must be reachable.
    """
    from extractor import watermarks

    project = open_project(config_dir, env)
    wm = watermarks.set_position(project, pick_pipeline(project, pipeline), table, value, ids or [])
    emit(watermarks.summary(table, wm), as_json)


@watermark_app.command("reset")
def watermark_reset(
    pipeline: PipelineOption = None, table: TableOption = ...,  # type: ignore[assignment]
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Delete a table's watermark: its next run starts again with a full load."""
    from extractor import watermarks

    storage, layout, store = table_store(open_project(config_dir, env), pipeline, table)
    if not yes and not typer.confirm(f"reset the watermark of {layout.display}? Its next run reloads everything"):
        raise typer.Exit(1)
    reset = watermarks.reset(storage, layout, store)
    typer.echo(f"reset {layout.display}: the next sync starts with a full load" if reset else
               f"reset {layout.display}: its watermark was missing or unreadable and is removed; the next sync "
               f"asks whether to rebuild it from the data files or to start over with --full-refresh")


@watermark_app.command("rebuild")
def watermark_rebuild(
    pipeline: PipelineOption = None, table: TableOption = ...,  # type: ignore[assignment]
    force: Annotated[bool, typer.Option("--force", help="Replace a readable watermark too.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Rebuild a lost or corrupt watermark from the checkpoints in the table's data files (under its lock).

    The position is that of the newest data file, and every file is pending again (landing skips the
    batches it holds). The source is read to resolve the table's strategy, cursor and key.
    """
    from extractor import watermarks

    project = open_project(config_dir, env)
    wm, layout = watermarks.rebuild(project, pick_pipeline(project, pipeline), table, force=force)
    summary = watermarks.summary(table, wm)
    emit(summary, as_json, f"rebuilt the watermark of {layout.display} from {len(wm.pending_files)} data file(s): "
                           f"phase {summary['phase']}, position {summary['position']}")
