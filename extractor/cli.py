"""The ``extractor`` command line: a thin typer app over the library modules.

An ExtractorError raised by any command prints one line, ``error: <message>``, on stderr and exits with
the error's ``exit_code`` (see :class:`_Group`); tracebacks and locals are never shown for them. With
``--json``, stdout carries the error too, as one JSON object, so a script reading stdout always gets JSON.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib.abc
import json
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from typer import _click as typer_click
from typer.core import TyperGroup

from extractor import __version__
from extractor.config import (
    Pipeline,
    Project,
    SourceConnection,
    TargetConnection,
    adhoc_pipeline,
    load_project,
)
from extractor.errors import ConfigError, ExtractorError, SourceError, WarehouseError, suggest

if TYPE_CHECKING:  # imported where a command needs them: `extractor --help`, `version` and the config
    # commands start without pyarrow, pymysql and the pipeline (about 0.3 s of imports)
    from extractor.sync import RunReport, SyncOptions

#: Whether this invocation printed its JSON result already (``_emit``): an error after it must not add a
#: second document to stdout (``connections test --all`` lists each failure, then fails).
_json_printed: contextvars.ContextVar[bool] = contextvars.ContextVar("json_printed", default=False)


def _echo_json_error(message: str, exit_code: int) -> None:
    """The JSON document of a failed command, on stdout (``--json``)."""
    typer.echo(json.dumps({"ok": False, "error": message, "exit_code": exit_code}))


class _Group(TyperGroup):
    """Root command group: turns an ExtractorError from any (sub)command into one line and an exit code.

    With ``--json`` among the arguments, stdout also gets ``{"ok": false, "error": …, "exit_code": …}``
    (unless the command printed its own JSON result before failing).
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta["extractor.json"] = "--json" in args  # the root sees every argument, subcommands' too
        return super().parse_args(ctx, args)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        """Usage errors (a bad option value, an unknown command) are one line too, not a framed box."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer_click.exceptions.NoArgsIsHelpError as err:
            err.show()  # the help text, as typer shows it for a bare group
            sys.exit(err.exit_code)
        except typer_click.exceptions.UsageError as err:
            where = err.ctx.command_path if err.ctx else "extractor"
            message = f"{where}: {err.format_message()} — see '{where} --help'"
            typer.echo(f"error: {message}", err=True)
            argv = kwargs.get("args") or (args[0] if args else None) or sys.argv[1:]
            if "--json" in argv:
                _echo_json_error(message, err.exit_code)
            sys.exit(err.exit_code)
        except typer_click.exceptions.ClickException as err:
            typer.echo(f"error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer vendors click
        printed = _json_printed.set(False)
        try:
            return super().invoke(ctx)
        except ExtractorError as err:
            typer.echo(f"error: {err}", err=True)
            if ctx.meta.get("extractor.json") and not _json_printed.get():
                _echo_json_error(str(err), err.exit_code)
            raise typer.Exit(err.exit_code) from None
        finally:
            _json_printed.reset(printed)


app = typer.Typer(
    name="extractor",
    cls=_Group,
    help="MySQL → Parquet lake extractor (hybrid CDC).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect and validate pipeline configuration.", no_args_is_help=True)
connections_app = typer.Typer(help="List, show and test connections.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(connections_app, name="connections")

ConfigDirOption = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        help="Config directory (default: $EXTRACTOR_CONFIG_DIR, then ./config).",
        show_default=False,
    ),
]
EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        help="Overrides from environments/<ENV>.yml (default: $EXTRACTOR_ENV).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _project(config_dir: Path | None, env: str | None) -> Project:
    """Load the project every command works on (``--config-dir`` / ``--env`` resolution in config.py)."""
    return load_project(config_dir, env)


def _emit(data: Any, as_json: bool, text: str | None = None) -> None:
    """Print ``data`` as JSON (``--json``), else ``text`` if given, else as YAML for humans."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        _json_printed.set(True)
    elif text is not None:
        typer.echo(text)
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


def _columns(rows: list[dict[str, Any]], keys: list[str]) -> str:
    """Rows as left-aligned text columns."""
    widths = {k: max(len(str(r.get(k, ""))) for r in rows) for k in keys}
    return "\n".join("  ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys).rstrip() for r in rows)


@app.command()
def version() -> None:
    """Print the extractor's version."""
    typer.echo(f"extractor {__version__}")


# ------------------------------------------------------------------------------------------------ config


@config_app.command("list-pipelines")
def list_pipelines(
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """List the pipelines of the config directory."""
    project = _project(config_dir, env)
    rows = [
        {
            "name": p.name,
            "source": p.source,
            "target": p.target,
            "target_schema": p.target_schema,
            "tables": len(p.tables),
            "path": str(p.path),
        }
        for p in project.pipelines.values()
    ]
    keys = ["name", "source", "target", "target_schema", "tables", "path"]
    _emit(rows, as_json, _columns(rows, keys) if rows else "no pipelines")


@config_app.command("show-pipeline")
def show_pipeline(
    name: str, config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """Show a pipeline as resolved (environment merged, variables interpolated, secrets redacted)."""
    project = _project(config_dir, env)
    pipeline = project.pipeline(name)
    data = pipeline.model_dump(mode="json")
    data["connections"] = {
        "source": project.source(pipeline.source).redacted(),
        "target": project.target(pipeline.target).redacted() if pipeline.target else None,
    }
    data["env"] = project.env
    _emit(data, as_json)


@config_app.command("validate")
def validate(
    name: Annotated[str | None, typer.Argument(help="Pipeline to validate (default: all).")] = None,
    check_source: Annotated[bool, typer.Option(
        "--check-source", help="Also connect to each pipeline's MySQL and run the checks sync runs before "
        "reading: every table and configured column exists, the cursor's type can order changes, id_columns "
        "are a primary or unique NOT NULL key, an index serves incremental reads (warning). Reads only "
        "information_schema.")] = False,
    config_dir: ConfigDirOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate connections and pipelines.

    Without --check-source no database is touched: keys, types, ${VAR}s, connections, depends_on.

    With --check-source, also the checks sync runs against MySQL before reading (see the option).
    """
    project = _project(config_dir, env)
    pipelines = [project.pipeline(name)] if name else list(project.pipelines.values())
    if not pipelines:
        raise ConfigError(
            f"no pipelines in {project.config_dir / 'pipelines'}", hint="add a pipelines/<name>.yml"
        )
    if check_source:
        from extractor import preflight

        checked = [preflight.check_source(p, project.source(p.source)) for p in pipelines]
        _emit({c.pipeline: c.to_dict() for c in checked}, as_json,
              "\n".join(line for c in checked for line in c.lines()))
        codes = [c.exit_code for c in checked if c.exit_code]
        if codes:
            raise typer.Exit(codes[0])
        return
    from extractor import dbt, redshift  # lazy: keeps `extractor --help` fast

    result: dict[str, dict[str, Any]] = {}
    for p in pipelines:
        result[p.name] = {"status": "ok", "tables": len(p.tables)}
        if p.target and project.target(p.target).type == "redshift":
            try:
                models = dbt.project_dir_for(project.config_dir) / "dbt_project" / "models"
            except WarehouseError:
                continue
            warnings = redshift.oversize_warnings(p, dbt.read_source_columns(dbt.sources_file(p, models)))
            if warnings:
                result[p.name].update(status="warn", warnings=warnings)
    _emit(result, as_json, "\n".join(
        [f"{'OK' if r['status'] == 'ok' else 'WARN'}  {n}  ({r['tables']} tables)" for n, r in result.items()]
        + [f"warning: {w}" for r in result.values() for w in r.get("warnings", [])]))


# ------------------------------------------------------------------------------------------- connections


def _address(conn: SourceConnection | TargetConnection) -> str:
    if isinstance(conn, TargetConnection) and conn.type == "duckdb":
        return conn.path or ""
    if not conn.host:
        return "(no host)"
    bastion = conn.ssh_tunnel if isinstance(conn, SourceConnection) else None
    via = f" via ssh {bastion.host}:{bastion.port}" if bastion else ""
    return f"{conn.host}:{conn.port}/{conn.database or ''}{via}"


@connections_app.command("list")
def list_connections(
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """List source and target connections."""
    conns = _project(config_dir, env).connections
    rows = [
        {"name": c.name, "kind": kind, "type": c.type, "address": _address(c)}
        for kind, group in (("source", conns.sources), ("target", conns.targets))
        for c in group.values()
    ]
    _emit(rows, as_json, _columns(rows, ["name", "kind", "type", "address"]) if rows else "no connections")


@connections_app.command("info")
def connection_info(
    name: str, config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """Show one connection with its secrets redacted."""
    conn = _project(config_dir, env).connection(name)
    kind = "source" if isinstance(conn, SourceConnection) else "target"
    _emit({"kind": kind, **conn.redacted()}, as_json)


@connections_app.command("test")
def test_connections(
    name: Annotated[str | None, typer.Argument(help="Connection to test.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Test every connection.")] = False,
    config_dir: ConfigDirOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect to sources (SELECT VERSION()) and targets; exits non-zero if one fails."""
    project = _project(config_dir, env)
    if all_ == (name is not None):
        raise ConfigError("give one connection NAME or --all")
    names = [*project.connections.sources, *project.connections.targets] if all_ else [name or ""]
    results, failures = [], []
    for each in names:
        try:
            results.append(_check(project.connection(each)))
        except ExtractorError as err:
            if not all_:
                raise
            failures.append(err)
            results.append(
                {"name": each, "type": project.connection(each).type, "status": "failed", "detail": str(err)}
            )
    _emit(results, as_json, _columns(results, ["status", "name", "type", "detail"]))
    if failures:
        failed = [r["name"] for r in results if r["status"] == "failed"]
        raise type(failures[0])(f"{len(failed)} of {len(results)} connections failed: {', '.join(failed)}")


def _check(conn: SourceConnection | TargetConnection) -> dict[str, Any]:
    """Test one connection; a failure raises (SourceError / WarehouseError), never with a password."""
    result: dict[str, Any] = {"name": conn.name, "type": conn.type, "status": "ok"}
    start = time.perf_counter()
    if isinstance(conn, SourceConnection):
        import pymysql

        from extractor import mysql, tunnel  # lazy: keeps `extractor --help` fast

        link = mysql.connect(conn)  # through the SSH tunnel, opened here, when the connection has one
        try:
            connected = time.perf_counter()
            server = mysql.scalar(link, "SELECT VERSION()")
        except pymysql.err.MySQLError as exc:
            raise SourceError(f"SELECT VERSION() failed: {exc}", where=tunnel.address(conn)) from None
        finally:
            link.close()
        result["connect_ms"] = round((connected - start) * 1000, 1)
        result["latency_ms"] = round((time.perf_counter() - connected) * 1000, 1)
        via = f", via SSH {conn.ssh_tunnel.host}:{conn.ssh_tunnel.port}" if conn.ssh_tunnel else ""
        result["detail"] = f"{server} ({result['latency_ms']} ms query, {result['connect_ms']} ms connect{via})"
    elif conn.type == "duckdb":
        result["detail"] = _check_duckdb(conn)
    elif not conn.host:
        result["status"] = "skipped"
        result["detail"] = "no host configured; Redshift cannot be tested offline"
    else:
        from extractor import redshift  # lazy: keeps `extractor --help` fast

        result.update(redshift.check(conn))  # logs in and runs a query (redshift_connector)
    return result


def _check_duckdb(conn: TargetConnection) -> str:
    import duckdb

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


# ------------------------------------------------------------------------------------------------- sync

PipelineOption = Annotated[str | None, typer.Option("--pipeline", "-p", help="Pipeline name (config/pipelines).")]
TablesOption = Annotated[
    list[str] | None, typer.Option("--table", "-t", help="Only these tables (repeatable); db.table in ad-hoc mode.")
]


def _pipeline(project: Project, name: str | None) -> Pipeline:
    if not name:
        names = ", ".join(sorted(project.pipelines)) or "none defined"
        raise ConfigError("--pipeline is required", hint=f"pipelines: {names}")
    return project.pipeline(name)


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
    lines = [_columns([{k: k for k in keys}, *rows], keys)]
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


@app.command()
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
    project = _project(config_dir, env)
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
        chosen = _pipeline(project, pipeline)
    from extractor.sync import SyncOptions

    options = SyncOptions(tables=table, limit=limit, full_refresh=full_refresh, dry_run=dry_run, reader=reader)
    report = _run_sync(project, chosen, options, as_json)
    _emit(report.to_dict(), as_json, _report_text(report))
    if not report.ok:
        raise typer.Exit(_exit_code(report))


def _exit_code(report: RunReport) -> int:
    """The exit code of the first failed table (config errors 2, MySQL 3, lake 4, lock 5); 1 otherwise."""
    codes = [t.exit_code for t in report.tables if t.status == "failed" and t.exit_code]
    return codes[0] if codes else 1


# -------------------------------------------------------------------------------------------- watermark

watermark_app = typer.Typer(help="Read and edit watermarks (the lake's record of what was extracted).",
                            no_args_is_help=True)
app.add_typer(watermark_app, name="watermark")
TableOption = Annotated[str, typer.Option("--table", "-t", help="Table name (its key under tables:).")]


def _store(project: Project, pipeline_name: str | None, table_name: str) -> tuple[Any, Any, Any]:
    from extractor.lake import TableLayout, open_lake
    from extractor.state import WatermarkStore

    pipe = _pipeline(project, pipeline_name)
    table = pipe.table(table_name)
    storage = open_lake(pipe.lake)
    layout = TableLayout.of(pipe, table)
    return storage, layout, WatermarkStore(storage, layout)


def _watermark_summary(table: str, wm: Any) -> dict[str, Any]:
    if wm is None:
        return {"table": table, "phase": "-", "position": "(none: next run starts with a full load)"}
    position = wm.snapshot.last_key if wm.phase == "snapshot" else wm.cursor.position()
    return {
        "table": table, "strategy": wm.strategy, "phase": "full" if wm.strategy == "full_sync" else wm.phase,
        "position": ", ".join(str(v) for v in position) if position else "-",
        "status": wm.mysql.status or "-", "last_run": wm.mysql.last_run_id or "-",
        "rows": wm.mysql.rows_extracted, "pending_files": len(wm.pending_files),
        "updated_at": wm.updated_at.isoformat(timespec="seconds"),
    }


@watermark_app.command("get")
def watermark_get(pipeline: PipelineOption = None, table: TableOption = ..., config_dir: ConfigDirOption = None,
                  env: EnvOption = None, as_json: JsonOption = False) -> None:
    """Show one table's watermark (``--json``: the whole document)."""
    project = _project(config_dir, env)
    _, _, store = _store(project, pipeline, table)
    wm, _ = store.load()
    if as_json:
        typer.echo(wm.to_json().decode() if wm else "null")
    else:
        _emit(_watermark_summary(table, wm), False)


@watermark_app.command("list")
def watermark_list(pipeline: PipelineOption = None, config_dir: ConfigDirOption = None, env: EnvOption = None,
                   as_json: JsonOption = False) -> None:
    """Every table's watermark in a pipeline.

    One that cannot be read (corrupt, or the lake refused) is a row with its error, not the end of the
    listing: the healthy tables are still shown, then the command exits with the error's code (4).
    """
    from extractor.errors import LakeError, StateError

    project = _project(config_dir, env)
    pipe = _pipeline(project, pipeline)
    rows, failures = [], []
    for name in pipe.tables:
        _, _, store = _store(project, pipe.name, name)
        try:
            wm, _ = store.load()
        except LakeError as err:
            failures.append(err)
            rows.append({"table": name, "status": "corrupt" if isinstance(err, StateError) else "unreadable",
                         "error": str(err)})
            continue
        rows.append(_watermark_summary(name, wm))
    keys = ["table", "strategy", "phase", "status", "rows", "pending_files", "position"]
    text = _columns([{k: k for k in keys}, *({k: r.get(k, "-") for k in keys} for r in rows)], keys)
    errors = [f"error: {r['table']}: {r['error']}" for r in rows if "error" in r]
    _emit(rows, as_json, "\n".join([text, *errors]))
    if failures:
        raise typer.Exit(failures[0].exit_code)


@watermark_app.command("set")
def watermark_set(
    pipeline: PipelineOption = None, table: TableOption = ...,
    value: Annotated[str, typer.Option("--value", help="Cursor value (ISO timestamp, integer or text); "
                                                      "for the id strategy, the first key column.")] = ...,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Key columns after it, in order (repeatable); "
                                                               "omitted: after every row up to --value.")] = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Move a table's cursor (the next run reads rows after it), under the table's lock.

    Values are checked against the columns' MySQL types, so the source must be reachable.
    """
    from extractor import mysql
    from extractor.state import TableLock, Watermark
    from extractor.sync import check_watermark_fits, resolve_table
    from extractor.types import value_from_text

    project = _project(config_dir, env)
    pipe = _pipeline(project, pipeline)
    cfg = pipe.table(table)
    conn = mysql.connect(project.source(pipe.source))
    try:
        rt = resolve_table(conn, cfg)
    finally:
        conn.close()
    if rt.strategy == "full_sync":
        raise ConfigError(f"{table} is a full_sync table: it has no cursor to set", where=cfg.where("cdc_strategy"),
                          hint="every full_sync run reads the whole table; `watermark reset` forgets its key set")
    order = [*([rt.cursor] if rt.cursor else []), *rt.ids]
    texts = [value, *(ids or [])]
    if len(texts) > len(order):
        raise ConfigError(f"{len(texts)} values given for the position ({', '.join(order)}) of {table}",
                          where="--value/--id", hint=f"give at most {len(order)}: --value for {order[0]}, "
                                                     "then one --id per key column in order")
    columns = {c.name: c for c in rt.columns}
    position = []
    for name, text in zip(order, texts, strict=False):
        try:
            position.append(value_from_text(columns[name], text))
        except ValueError as err:
            raise ConfigError(str(err), where="--value" if name == order[0] else "--id",
                              hint=f"the position is ({', '.join(order)}) of {cfg.source_table}") from None
    storage, layout, store = _store(project, pipe.name, table)
    with TableLock(storage, layout, owner=f"watermark-set:{socket.gethostname()}", ttl_seconds=300):
        wm, token = store.load()
        if wm is None:
            wm = Watermark.new(table=table, pipeline=pipe.name, strategy=rt.strategy, cursor_column=rt.cursor,
                               id_columns=list(rt.ids), source_table=cfg.source_table)
        check_watermark_fits(wm, rt, store.where)
        wm.phase = "incremental"
        wm.cursor.set_position(tuple(position))
        store.save(wm, token)
    _emit(_watermark_summary(table, wm), as_json)


@watermark_app.command("reset")
def watermark_reset(
    pipeline: PipelineOption = None, table: TableOption = ...,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Delete a table's watermark: its next run starts again with a full load."""
    from extractor.state import TableLock

    project = _project(config_dir, env)
    storage, layout, store = _store(project, pipeline, table)
    if not yes and not typer.confirm(f"reset the watermark of {layout.display}? Its next run reloads everything"):
        raise typer.Exit(1)
    with TableLock(storage, layout, owner=f"watermark-reset:{socket.gethostname()}", ttl_seconds=300):
        reset = store.reset()
    typer.echo(f"reset {layout.display}: the next sync starts with a full load" if reset else
               f"reset {layout.display}: its watermark was missing or unreadable and is removed; the next sync "
               f"asks whether to rebuild it from the data files or to start over with --full-refresh")


@watermark_app.command("rebuild")
def watermark_rebuild(
    pipeline: PipelineOption = None, table: TableOption = ...,
    force: Annotated[bool, typer.Option("--force", help="Replace a readable watermark too.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Rebuild a lost or corrupt watermark from the checkpoints in the table's data files (under its lock).

    The position is that of the newest data file, and every file is pending again (landing skips the
    batches it holds). The source is read to resolve the table's strategy, cursor and key.
    """
    from extractor import mysql
    from extractor.rebuild import rebuild_and_save, snapshot_rows_left
    from extractor.state import TableLock
    from extractor.sync import resolve_table

    project = _project(config_dir, env)
    pipe = _pipeline(project, pipeline)
    cfg = pipe.table(table)
    storage, layout, store = _store(project, pipe.name, table)
    conn = mysql.connect(project.source(pipe.source))
    try:
        rt = resolve_table(conn, cfg)
        left = snapshot_rows_left(conn, cfg.source_db, cfg.source_name, rt.cursor, rt.ids) if rt.cursor else None
        with TableLock(storage, layout, owner=f"watermark-rebuild:{socket.gethostname()}", ttl_seconds=300):
            wm = rebuild_and_save(store, table=table, pipeline=pipe.name, strategy=rt.strategy,
                                  cursor_column=rt.cursor, id_columns=rt.ids, source_table=cfg.source_table,
                                  rows_left=left, force=force)
    finally:
        conn.close()
    summary = _watermark_summary(table, wm)
    _emit(summary, as_json, f"rebuilt the watermark of {layout.display} from {len(wm.pending_files)} data file(s): "
                            f"phase {summary['phase']}, position {summary['position']}")


# ---------------------------------------------------------------------------------------------- s3clean

s3clean_app = typer.Typer(help="Delete lake files the warehouse has acknowledged, after a retention.",
                          no_args_is_help=True)
app.add_typer(s3clean_app, name="s3clean")
OlderThanOption = Annotated[str, typer.Option("--older-than", help="Retention: 7d, 12h, 30m.")]


def _cleanup_plans(project: Project, pipeline: str | None, tables: list[str] | None, older_than: str) -> list:
    from datetime import UTC, datetime

    from extractor.cleanup import parse_duration, plan_cleanup

    pipe = _pipeline(project, pipeline)
    retention = parse_duration(older_than)
    plans = []
    for name in tables or list(pipe.tables):
        storage, layout, store = _store(project, pipe.name, name)
        wm, _ = store.load()
        plans.append((name, storage, layout, plan_cleanup(storage, layout, wm, older_than=retention,
                                                          now=datetime.now(UTC))))
    return plans


def _plan_rows(plans: list) -> list[dict[str, Any]]:
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
    rows = _plan_rows(_cleanup_plans(_project(config_dir, env), pipeline, table, older_than))
    keys = ["table", "action", "size", "reason", "key"]
    _emit(rows, as_json, _columns([{k: k for k in keys}, *rows], keys) if rows else "no files")


@s3clean_app.command("clean")
def s3clean_clean(
    pipeline: PipelineOption = None, table: TablesOption = None, older_than: OlderThanOption = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be deleted; delete nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Delete acknowledged files older than the retention (under each table's lock)."""
    from extractor.cleanup import execute_cleanup
    from extractor.state import TableLock

    project = _project(config_dir, env)
    plans = _cleanup_plans(project, pipeline, table, older_than)
    doomed = [r for r in _plan_rows(plans) if r["action"] == "delete"]
    if dry_run or not doomed:
        _emit(doomed, as_json, "\n".join(f"would delete {r['key']} ({r['size']} bytes)" for r in doomed)
              or "nothing to delete")
        return
    if not force and not typer.confirm(f"delete {len(doomed)} file(s)?"):
        raise typer.Exit(1)
    deleted = 0
    for name, storage, layout, _ in plans:
        with TableLock(storage, layout, owner=f"s3clean:{socket.gethostname()}", ttl_seconds=600):
            # Re-plan under the lock: a sync may have run since the first look.
            fresh = _cleanup_plans(project, pipeline, [name], older_than)[0][3]
            deleted += execute_cleanup(storage, fresh)
    _emit({"deleted": deleted}, as_json, f"deleted {deleted} file(s)")


# ------------------------------------------------------------------------------------------------- lock

lock_app = typer.Typer(help="Inspect and break table locks.", no_args_is_help=True)
app.add_typer(lock_app, name="lock")


@lock_app.command("break")
def lock_break(
    table: Annotated[str, typer.Argument(help="schema.table as printed in the lock error, or a table name")],
    pipeline: PipelineOption = None, config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Remove a table's lock left by a dead extractor (make sure none is running)."""
    from extractor.state import break_lock

    project = _project(config_dir, env)
    name = table.split(".")[-1]
    candidates = [p for p in project.pipelines.values() if (not pipeline or p.name == pipeline)
                  and any(t.target == name or t.name == name for t in p.tables.values())
                  and ("." not in table or p.target_schema == table.split(".")[0])]
    if not candidates:
        pipe = _pipeline(project, pipeline) if pipeline else None  # an unknown pipeline says so itself
        tables = sorted({t.target for p in ([pipe] if pipe else project.pipelines.values()) for t in p.tables.values()})
        raise ConfigError(f"no table '{table}' in " + (f"pipeline '{pipeline}'" if pipeline else "any pipeline"),
                          hint=suggest(name, tables) or f"tables are: {', '.join(tables)}")
    if len(candidates) > 1:
        raise ConfigError(f"cannot tell which pipeline's table '{table}' is meant ({len(candidates)} match)",
                          hint="pass --pipeline NAME")
    pipe = candidates[0]
    cfg = next(t for t in pipe.tables.values() if t.target == name or t.name == name)
    storage, layout, _ = _store(project, pipe.name, cfg.name)
    holder = break_lock(storage, layout)
    typer.echo(f"broke lock of {layout.display} held by run {holder.run_id} (pid {holder.pid} on {holder.host})"
               if holder else f"{layout.display} was not locked")


# ----------------------------------------------------------------------------------------------- sample

sample_app = typer.Typer(help="The sample `sales` database for the demo, tests and benchmarks.",
                         no_args_is_help=True)
app.add_typer(sample_app, name="sample")
SampleSourceOption = Annotated[str, typer.Option("--source", help="Source connection to create it on.")]
DatabaseOption = Annotated[str | None, typer.Option("--database", help="Database name (default: the source's).")]


def _admin_connection(project: Project, source: str, database: str | None) -> tuple[str, Any]:
    """The sample database's name and a connection to its server without a default database."""
    from extractor import mysql

    conn = project.source(source)
    return database or conn.database or "sales", mysql.connect(conn.model_copy(update={"database": None}))


@sample_app.command("create")
def sample_create(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Orders to generate (the rest scales).")] = 5000,
    source: SampleSourceOption = "sales_mysql", database: DatabaseOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """(Re)create the sample database with deterministic generated data."""
    from extractor import sample

    db, conn = _admin_connection(_project(config_dir, env), source, database)
    try:
        started = time.monotonic()
        counts = sample.create(conn, db, sample.SampleSize.scaled(orders))
    finally:
        conn.close()
    _emit({"database": db, "rows": counts, "seconds": round(time.monotonic() - started, 2)}, as_json,
          f"created {db}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


@sample_app.command("mutate")
def sample_mutate(
    seed: Annotated[int, typer.Option("--seed", help="Which round of changes.")] = 1,
    source: SampleSourceOption = "sales_mysql", database: DatabaseOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Apply a round of source changes (tier/address updates, new orders, a deleted product)."""
    from extractor import sample

    db, conn = _admin_connection(_project(config_dir, env), source, database)
    try:
        summary = sample.mutate(conn, db, seed=seed)
    finally:
        conn.close()
    data = dataclasses.asdict(summary)
    _emit(data, as_json, (
        f"changed {db}: {len(summary.customers_updated)} customers (3 in the same microsecond), "
        f"{len(summary.orders_inserted)} new orders, {len(summary.orders_updated)} updated orders, "
        f"deleted product {summary.product_deleted}"))


# -------------------------------------------------------------------------------------------- run · dbt


@app.command()
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
    project_dir: Annotated[Path | None, typer.Option("--project-dir", help="dbt project (default: beside the config "
                                                                    "directory, else the current one or a parent).")]
    = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Extract, then `dbt build`, then record which batches reached the warehouse (load stage)."""
    from extractor import dbt
    from extractor.sync import SyncOptions

    project = _project(config_dir, env)
    chosen = _pipeline(project, pipeline)
    result: dict[str, Any] = {"pipeline": chosen.name}
    dbt_env = dbt.build_env(project, chosen)  # first: a Redshift target without iam_role stops here, in one line
    if not skip_extract:
        report = _run_sync(project, chosen, SyncOptions(tables=table, full_refresh=full_refresh), as_json)
        result["extract"] = report.to_dict()
        if not as_json:
            typer.echo(_report_text(report))
        if not report.ok:
            _emit(result, as_json, "extract failed: dbt build skipped")
            raise typer.Exit(_exit_code(report))
    workdir = dbt.project_dir_for(project.config_dir, project_dir)
    if not as_json:
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
        _emit(result, as_json, "nothing acknowledged: the build failed")
        typer.echo(f"error: dbt build failed with exit code {code}", err=True)
        raise typer.Exit(code)
    acks = dbt.acknowledge(project, chosen, tables=table)
    result["acknowledged"] = [dataclasses.asdict(a) for a in acks]
    text = "\n".join(f"acknowledged {a.table}: {a.acknowledged} batch(es), {a.rows:,} rows; "
                     f"{a.still_pending} pending" for a in acks)
    _emit(result, as_json, text)


dbt_app = typer.Typer(help="dbt helpers: generate sources from the pipeline YAML.", no_args_is_help=True)
app.add_typer(dbt_app, name="dbt")


@dbt_app.command("sources")
def dbt_sources(
    pipeline: PipelineOption = None,
    discover: Annotated[bool, typer.Option("--discover/--keep-columns",
                                           help="Read column types from MySQL (default) or keep the file's.")]
    = True,
    project_dir: Annotated[Path | None, typer.Option("--project-dir", help="dbt project (default: beside the config "
                                                                    "directory, else the current one or a parent).")]
    = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Write dbt_project/models/landing/_<pipeline>__sources.yml from the pipeline YAML."""
    from extractor import dbt

    project = _project(config_dir, env)
    chosen = _pipeline(project, pipeline)
    workdir = dbt.project_dir_for(project.config_dir, project_dir)
    columns = dbt.discover_columns(project, chosen) if discover else None
    path = dbt.write_sources(chosen, workdir / "dbt_project" / "models", columns)
    typer.echo(f"wrote {path}")



# ----------------------------------------------------------------------------------------------- verify


@app.command()
def verify(
    pipeline: PipelineOption = None, table: TablesOption = None,
    target: Annotated[str | None, typer.Option("--target", help="Target name or DuckDB file.")] = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Compare MySQL (up to the watermark), the lake and the warehouse row by row; exit 7 on a mismatch."""
    from extractor.verify import verify_command

    code = verify_command(config_dir, env, pipeline, table, as_json, target=target, echo=typer.echo)
    if code:
        raise typer.Exit(code)


# ------------------------------------------------------------------- nightly: plan · status · build · ack


@app.command()
def plan(
    pipeline: PipelineOption = None, table: TablesOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Tables in dependency levels (what can run at once), each with its strategy and dbt selection."""
    from extractor.plan import pipeline_plan, plan_text

    result = pipeline_plan(_pipeline(_project(config_dir, env), pipeline), table)
    _emit(result.to_dict(), as_json, plan_text(result))


@app.command()
def status(
    pipeline: PipelineOption = None, table: TablesOption = None,
    max_lag: Annotated[str | None, typer.Option("--max-lag", help="Exit 10 when a table is further behind "
                                                "the source than this (1s, 15m, 2h, 1d).")] = None,
    max_pending_age: Annotated[str | None, typer.Option("--max-pending-age", help="Exit 11 when a batch waits "
                                                        "longer than this for the warehouse.")] = None,
    warehouse: Annotated[bool, typer.Option("--warehouse/--no-warehouse", help="Read landing freshness.")] = True,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Per table: last run, position, lag behind the source, pending batches, lock, warehouse freshness.

    Exit codes: 0 ok, 10 behind --max-lag, 11 pending past --max-pending-age, 12 source or lake not
    readable, 13 last run failed, 14 locked by a dead process (the highest that applies).
    """
    from extractor.cleanup import parse_duration
    from extractor.status import pipeline_status, status_text

    project = _project(config_dir, env)
    result = pipeline_status(project, _pipeline(project, pipeline), tables=table,
                             max_lag=parse_duration(max_lag) if max_lag else None,
                             max_pending_age=parse_duration(max_pending_age) if max_pending_age else None,
                             warehouse=warehouse)
    _emit(result.to_dict(), as_json, status_text(result))
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command()
def acknowledge(
    pipeline: PipelineOption = None, table: TablesOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Record in each watermark which pending batches reached the warehouse's landing models."""
    from extractor import dbt

    project = _project(config_dir, env)
    acks = dbt.acknowledge(project, _pipeline(project, pipeline), tables=table)
    _emit([dataclasses.asdict(a) for a in acks], as_json, "\n".join(
        f"acknowledged {a.table}: {a.acknowledged} batch(es), {a.rows:,} rows; {a.still_pending} pending"
        for a in acks))


@dbt_app.command("build")
def dbt_build(
    pipeline: PipelineOption = None,
    select: Annotated[str | None, typer.Option("--select", help="dbt node selection (default: everything).")] = None,
    project_dir: Annotated[Path | None, typer.Option("--project-dir", help="dbt project (default: beside config).")]
    = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """`dbt build` pointed at the pipeline's lake and target (no extract, no acknowledgement); dbt's exit code."""
    from extractor import dbt

    project = _project(config_dir, env)
    chosen = _pipeline(project, pipeline)
    workdir = project_dir or dbt.project_dir_for(project.config_dir)
    code = dbt.build(workdir, None, None, select=select.split() if select else None,
                     vars=dbt.build_vars(project, chosen), env=dbt.build_env(project, chosen))
    if code:
        typer.echo(f"error: dbt build failed with exit code {code}", err=True)
        raise typer.Exit(code)


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Refuses ``import pandas`` in an ``extractor`` process.

    When pandas is installed, pyarrow imports it on the first conversion of Python values (``pa.scalar``,
    ``pa.array``, a compute kernel given a Python number), only to recognise pandas' NA objects, which the
    extractor never produces: about 0.15 s and 50 MB of peak RSS per run (measured on the 2M-row benchmark
    table). pyarrow takes the ImportError as "pandas is not installed". Nothing in the extractor uses
    pandas; dbt runs in a process of its own.
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        """Refuse pandas and its submodules; leave every other import to the next finder."""
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"{fullname} is not imported by the extractor", name=fullname)


from extractor.cli_schema import schema_app  # noqa: E402  (after the helpers it imports from here)

app.add_typer(schema_app, name="schema")


def main() -> None:
    """Entry point of the ``extractor`` script (error handling lives in :class:`_Group`)."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    app(prog_name="extractor")
