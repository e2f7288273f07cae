"""What every command shares: the option types, loading the project, and printing results."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from extractor.config import Pipeline, Project, load_project
from extractor.errors import ConfigError

#: Whether this invocation printed its JSON result already (:func:`emit`): an error after it must not add a
#: second document to stdout (``connections test --all`` lists each failure, then fails).
json_printed: contextvars.ContextVar[bool] = contextvars.ContextVar("json_printed", default=False)

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
PipelineOption = Annotated[str | None, typer.Option("--pipeline", "-p", help="Pipeline name (config/pipelines).")]
TablesOption = Annotated[
    list[str] | None, typer.Option("--table", "-t", help="Only these tables (repeatable); db.table in ad-hoc mode.")
]
TableOption = Annotated[str, typer.Option("--table", "-t", help="Table name (its key under tables:).")]
ProjectDirOption = Annotated[Path | None, typer.Option(
    "--project-dir", help="dbt project (default: beside the config directory, else the current one or a parent).")]


def open_project(config_dir: Path | None, env: str | None) -> Project:
    """Load the project every command works on (``--config-dir`` / ``--env`` resolution in config)."""
    return load_project(config_dir, env)


def pick_pipeline(project: Project, name: str | None) -> Pipeline:
    """The pipeline ``--pipeline`` names (required)."""
    if not name:
        names = ", ".join(sorted(project.pipelines)) or "none defined"
        raise ConfigError("--pipeline is required", hint=f"pipelines: {names}")
    return project.pipeline(name)


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    """Print ``data`` as JSON (``--json``), else ``text`` if given, else as YAML for humans."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        json_printed.set(True)
    elif text is not None:
        typer.echo(text)
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


def text_columns(rows: list[dict[str, Any]], keys: list[str]) -> str:
    """Rows as left-aligned text columns."""
    widths = {k: max(len(str(r.get(k, ""))) for r in rows) for k in keys}
    return "\n".join("  ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys).rstrip() for r in rows)


def table_store(project: Project, pipeline: str | None, table: str) -> tuple[Any, Any, Any]:
    """The lake, layout and watermark store of ``--pipeline``'s table ``table``."""
    from extractor.watermarks import table_store as store  # noqa: PLC0415  (the CLI starts without pyarrow)

    return store(pick_pipeline(project, pipeline), table)
