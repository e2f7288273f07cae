"""The ``extractor`` command line: a thin typer app over the library modules.

An ExtractorError raised by any command prints one line, ``error: <message>``, on stderr and exits with
the error's ``exit_code`` (see :class:`_Group`); tracebacks and locals are never shown for them.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Annotated, Any

import pymysql
import typer
import yaml
from typer.core import TyperGroup

from extractor import __version__
from extractor.config import Project, SourceConnection, TargetConnection, load_project
from extractor.errors import ConfigError, ExtractorError, SourceError, WarehouseError


class _Group(TyperGroup):
    """Root command group: turns an ExtractorError from any (sub)command into one line and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer vendors click
        try:
            return super().invoke(ctx)
        except ExtractorError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None


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
# LEAD: register the remaining commands here — sub-apps (`watermark_app`, `sample_app`, `dbt_app`) with
# `app.add_typer(x_app, name="x")`; single commands (`sync`, `run`, `s3clean`) with `@app.command()` in
# their section below. Reuse ConfigDirOption / EnvOption / JsonOption, `_project()` and `_emit()`.

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
    config_dir: ConfigDirOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate connections and pipelines without touching any database."""
    project = _project(config_dir, env)
    pipelines = [project.pipeline(name)] if name else list(project.pipelines.values())
    if not pipelines:
        raise ConfigError(
            f"no pipelines in {project.config_dir / 'pipelines'}", hint="add a pipelines/<name>.yml"
        )
    result = {p.name: {"status": "ok", "tables": len(p.tables)} for p in pipelines}
    _emit(result, as_json, "\n".join(f"OK  {n}  ({r['tables']} tables)" for n, r in result.items()))


# ------------------------------------------------------------------------------------------- connections


def _address(conn: SourceConnection | TargetConnection) -> str:
    if isinstance(conn, TargetConnection) and conn.type == "duckdb":
        return conn.path or ""
    if not conn.host:
        return "(no host)"
    return f"{conn.host}:{conn.port}/{conn.database or ''}"


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
        from extractor import mysql  # lazy: keeps `extractor --help` fast

        link = mysql.connect(conn)
        try:
            connected = time.perf_counter()
            server = mysql.scalar(link, "SELECT VERSION()")
        except pymysql.err.MySQLError as exc:
            raise SourceError(f"SELECT VERSION() failed: {exc}", where=f"{conn.host}:{conn.port}") from None
        finally:
            link.close()
        result["connect_ms"] = round((connected - start) * 1000, 1)
        result["latency_ms"] = round((time.perf_counter() - connected) * 1000, 1)
        result["detail"] = f"{server} ({result['latency_ms']} ms query, {result['connect_ms']} ms connect)"
    elif conn.type == "duckdb":
        result["detail"] = _check_duckdb(conn)
    elif not conn.host:
        result["status"] = "skipped"
        result["detail"] = "no host configured; Redshift cannot be tested offline"
    else:
        try:
            socket.create_connection((conn.host, conn.port or 5439), timeout=3).close()
        except OSError as exc:
            raise WarehouseError(
                f"cannot reach redshift '{conn.name}': {exc.strerror or exc}",
                where=f"{conn.host}:{conn.port}",
            ) from None
        ms = round((time.perf_counter() - start) * 1000, 1)
        result["latency_ms"] = ms
        result["detail"] = f"TCP reachable in {ms} ms (credentials not tested)"
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


# ------------------------------------------------- LEAD: sync · watermark · s3clean · run · sample · dbt


def main() -> None:
    """Entry point of the ``extractor`` script (error handling lives in :class:`_Group`)."""
    app(prog_name="extractor")
