"""``extractor connections``: list, show and test connections."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from extractor.cli.common import ConfigDirOption, EnvOption, JsonOption, emit, open_project, text_columns
from extractor.config import SourceConnection, TargetConnection
from extractor.errors import ConfigError, ExtractorError

connections_app = typer.Typer(help="List, show and test connections.", no_args_is_help=True)


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
    conns = open_project(config_dir, env).connections
    rows = [
        {"name": c.name, "kind": kind, "type": c.type, "address": _address(c)}
        for kind, group in (("source", conns.sources), ("target", conns.targets))
        for c in group.values()
    ]
    emit(rows, as_json, text_columns(rows, ["name", "kind", "type", "address"]) if rows else "no connections")


@connections_app.command("info")
def connection_info(
    name: str, config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """Show one connection with its secrets redacted."""
    conn = open_project(config_dir, env).connection(name)
    kind = "source" if isinstance(conn, SourceConnection) else "target"
    emit({"kind": kind, **conn.redacted()}, as_json)


@connections_app.command("test")
def test_connections(
    name: Annotated[str | None, typer.Argument(help="Connection to test.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Test every connection.")] = False,
    config_dir: ConfigDirOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect to sources (SELECT VERSION()) and targets; exits non-zero if one fails."""
    project = open_project(config_dir, env)
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
    emit(results, as_json, text_columns(results, ["status", "name", "type", "detail"]))
    if failures:
        failed = [r["name"] for r in results if r["status"] == "failed"]
        raise type(failures[0])(f"{len(failed)} of {len(results)} connections failed: {', '.join(failed)}")


def _check(conn: SourceConnection | TargetConnection) -> dict[str, Any]:
    """Test one connection; a failure raises (SourceError / WarehouseError), never with a password."""
    result: dict[str, Any] = {"name": conn.name, "type": conn.type, "status": "ok"}
    if isinstance(conn, SourceConnection):
        from extractor import mysql  # noqa: PLC0415  (keeps `extractor --help` fast)

        result.update(mysql.check(conn))  # through the SSH tunnel, opened here, when the connection has one
    else:
        from extractor import warehouse  # noqa: PLC0415

        result.update(warehouse.check_target(conn))
    return result
