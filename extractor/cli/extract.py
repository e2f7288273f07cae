"""``extractor sync`` and ``extractor run``: extract into the lake (then build and acknowledge)."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from extractor.cli.common import (
    ConfigDirOption,
    EnvOption,
    JsonOption,
    PipelineOption,
    ProjectDirOption,
    TablesOption,
    emit,
    open_project,
    pick_pipeline,
    text_columns,
)
from extractor.cli.dbt_cmds import scaffold_sync
from extractor.config import Pipeline, Project, adhoc_pipeline
from extractor.errors import ConfigError

if TYPE_CHECKING:  # imported where a command needs them: `extractor --help`, `version` and the config
    # commands start without pyarrow, pymysql and the sync package (about 0.3 s of imports)
    from extractor.sync import RunReport, SyncOptions


#: The progress display shows a table's rows/s once it has been running this long.
_MIN_RATE_SECONDS = 1.0


def _progress_printer(enabled: bool) -> tuple[Any, Any]:
    """A rich progress display fed by the pipeline's per-page callback (terminal only)."""
    if not enabled:
        return None, contextlib.nullcontext()
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), TextColumn("{task.fields[rows]:>12,} rows"),
                        TextColumn("{task.fields[files]:>4} files"), TextColumn("{task.fields[rate]:>10} rows/s"),
                        TimeElapsedColumn(), transient=True)
    tasks: dict[str, Any] = {}
    started: dict[str, float] = {}

    def update(table: str, rows: int, files: int) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=None, rows=0, files=0, rate="")
            started[table] = time.monotonic()
        elapsed = time.monotonic() - started[table]
        # The first page often arrives within microseconds of the table's start (read ahead while the
        # previous table finished): a rate over so short an interval means nothing, so none is shown yet.
        rate = f"{rows / elapsed:,.0f}" if elapsed >= _MIN_RATE_SECONDS else ""
        progress.update(tasks[table], rows=rows, files=files, rate=rate)

    return update, progress


def _report_text(report: RunReport) -> str:
    rows = []
    for t in report.tables:
        rows.append({
            "table": t.table, "strategy": t.strategy, "phase": t.phase or "-", "status": t.status,
            "rows": f"{t.rows:,}" if not report.dry_run else f"~{t.estimated_rows or 0:,}",
            "files": t.files, "seconds": f"{t.seconds:.2f}", "rows/s": f"{t.rows_per_second:,.0f}",
            "position": t.position_after or t.position_before or "-",
        })
    keys = ["table", "strategy", "phase", "status", "rows", "files", "seconds", "rows/s", "position"]
    lines = [text_columns([{k: k for k in keys}, *rows], keys)]
    for t in report.tables:
        if t.status == "success" and t.rows == 0 and not t.adopted_files:
            why = ("the table is empty" if t.strategy == "full_sync"  # every run reads the whole table
                   else f"held back by an open {t.held_back}" if t.held_back
                   else f"nothing changed since {t.position_before or 'the last run'}")
            lines.append(f"{t.table}: 0 rows — {why}")
        for change in t.schema_changes:
            lines.append(f"schema: {t.table}: {change}")
        for note in t.notes:
            lines.append(f"note: {t.table}: {note}")
        for w in t.warnings:
            lines.append(f"warning: {t.table}: {w}")
        if t.null_cursor_rows:
            lines.append(f"note: {t.table}: {t.null_cursor_rows} row(s) with a NULL cursor")
        for col, n in t.zero_dates.items():
            lines.append(f"note: {t.table}.{col}: {n} zero date(s) landed as NULL")
        for col, n in getattr(t, "truncated", {}).items():
            lines.append(f"note: {t.table}.{col}: {n} value(s) truncated to Redshift's limit (oversize: truncate)")
        if t.error:
            lines.append(f"error: {t.table}: {t.error}")
    if report.dry_run:  # nothing is read: the total is the estimates' (COUNT(*) of what the run would read)
        what = f"would read ~{sum(t.estimated_rows or 0 for t in report.tables):,} rows"
    else:
        what = f"extracted {sum(t.rows for t in report.tables):,} rows"
    lines.append(f"run {report.run_id}: {what} from {len(report.tables)} table(s)"
                 + ("" if report.ok else " — FAILED"))
    return "\n".join(lines)


def _run_sync(project: Project, pipeline: Pipeline, options: SyncOptions, as_json: bool) -> RunReport:
    from extractor.sync import sync_pipeline

    show = not as_json and sys.stderr.isatty()
    update, progress = _progress_printer(show)
    with progress:
        report = sync_pipeline(pipeline, project.source(pipeline.source),
                               dataclasses.replace(options, progress=update))
    return report


def sync(
    pipeline: PipelineOption = None,
    table: TablesOption = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N rows per table this run.")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Forget the watermark; reload.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and row estimates; write nothing.")] = False,
    source: Annotated[str | None, typer.Option("--source", help="Ad-hoc: source connection name.")] = None,
    target_schema: Annotated[str | None, typer.Option("--target-schema", help="Ad-hoc: lake schema.")] = None,
    lake: Annotated[str | None, typer.Option("--lake", help="Ad-hoc: lake URL (default ./lake).")] = None,
    reader: Annotated[str | None, typer.Option("--reader", help="auto | connectorx | pymysql")] = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Extract changed rows into the lake (a pipeline, or ad-hoc tables with --source)."""
    project = open_project(config_dir, env)
    if reader not in (None, "auto", "connectorx", "pymysql"):
        raise ConfigError(f"unknown reader '{reader}'", where="--reader", hint="use auto, connectorx or pymysql")
    if source:
        if pipeline:
            raise ConfigError("--source (ad-hoc) and --pipeline cannot be combined", hint="pick one")
        if not target_schema or not table:
            raise ConfigError("ad-hoc sync needs --target-schema and at least one --table db.table",
                              hint="e.g. extractor sync --source sales_mysql --target-schema raw --table sales.orders")
        chosen = adhoc_pipeline(project, source=source, target_schema=target_schema, tables=table,
                                lake=lake or "./lake")
        table = None
    else:
        chosen = pick_pipeline(project, pipeline)
    from extractor.sync import SyncOptions

    options = SyncOptions(tables=table, limit=limit, full_refresh=full_refresh, dry_run=dry_run, reader=reader)
    report = _run_sync(project, chosen, options, as_json)
    emit(report.to_dict(), as_json, _report_text(report))
    if not report.ok:
        raise typer.Exit(_exit_code(report))


def _exit_code(report: RunReport) -> int:
    """The exit code of the first failed table (config errors 2, MySQL 3, lake 4, lock 5); 1 otherwise."""
    codes = [t.exit_code for t in report.tables if t.status == "failed" and t.exit_code]
    return codes[0] if codes else 1


def run(
    pipeline: PipelineOption = None,
    table: TablesOption = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Reload the lake tables first.")] = False,
    select: Annotated[str | None, typer.Option(
        "--select", help="dbt node selection (default: @source:<pipeline> — the pipeline's models, what is "
        "downstream of them and what that needs; with -t, of those tables).")] = None,
    skip_extract: Annotated[bool, typer.Option("--skip-extract", help="Only build and acknowledge.")] = False,
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="Redshift: load every file still in the lake (new cluster or schema), not only pending.")]
    = False,
    project_dir: ProjectDirOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Extract, then `dbt build`, then record which batches reached the warehouse (load stage)."""
    from extractor import dbt
    from extractor.acknowledge import acknowledge
    from extractor.sync import SyncOptions

    project = open_project(config_dir, env)
    chosen = pick_pipeline(project, pipeline)
    result: dict[str, Any] = {"pipeline": chosen.name}
    dbt_env = dbt.build_env(project, chosen)  # first: a Redshift target without iam_role stops here, in one line
    if not skip_extract:
        report = _run_sync(project, chosen, SyncOptions(tables=table, full_refresh=full_refresh), as_json)
        result["extract"] = report.to_dict()
        if not as_json:
            typer.echo(_report_text(report))
        if not report.ok:
            emit(result, as_json, "extract failed: dbt build skipped")
            raise typer.Exit(_exit_code(report))
    workdir = dbt.project_dir_for(project.config_dir, project_dir)
    _, generated = scaffold_sync(project, chosen, workdir, discover=True)
    result["generated_models"] = dataclasses.asdict(generated)
    if not as_json:
        typer.echo(generated.text())
        typer.echo(f"dbt build in {workdir} (target {chosen.target})")
    started = time.monotonic()
    selection = select or dbt.default_selection(chosen, table)
    for warning in dbt.warehouse_warnings(project, chosen):
        typer.echo(f"warning: {warning}", err=True)
    code = dbt.build(workdir, None, None, select=selection, vars=dbt.build_vars(project, chosen, backfill=backfill),
                     env=dbt_env, extra=("--quiet",) if as_json else ())
    result["dbt_select"] = selection
    result["dbt_exit_code"] = code
    result["dbt_seconds"] = round(time.monotonic() - started, 3)
    if code != 0:  # batches stay pending: the next successful build acknowledges them
        result["acknowledged"] = []
        emit(result, as_json, "nothing acknowledged: the build failed")
        typer.echo(f"error: dbt build failed with exit code {code}", err=True)
        raise typer.Exit(code)
    acks = acknowledge(project, chosen, tables=table)
    result["acknowledged"] = [dataclasses.asdict(a) for a in acks]
    text = "\n".join(f"acknowledged {a.table}: {a.acknowledged} batch(es), {a.rows:,} rows; "
                     f"{a.still_pending} pending" for a in acks)
    emit(result, as_json, text)
