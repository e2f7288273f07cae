"""``extractor verify``: MySQL, the lake and the warehouse compared row by row (:mod:`extractor.verify`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from extractor.cli.common import ConfigDirOption, EnvOption, JsonOption, PipelineOption, TablesOption
from extractor.config import load_project
from extractor.errors import ConfigError


def verify_command(config_dir: Path | None, env: str | None, pipeline: str | None, tables: list[str] | None,
                   as_json: bool, *, target: str | None = None, echo: Any = print) -> int:
    """What ``extractor verify`` does: print the report (text or JSON); its exit code (``VerifyReport.exit_code``)."""
    from extractor.verify import verify_pipeline  # noqa: PLC0415  (the CLI starts without pyarrow)

    project = load_project(config_dir, env)
    if not pipeline:
        raise ConfigError("--pipeline is required", hint=f"pipelines: {', '.join(sorted(project.pipelines))}")
    report = verify_pipeline(project, pipeline, tables=tables, target=target)
    echo(json.dumps(report.to_dict(), indent=2, default=str) if as_json else report.text())
    return report.exit_code


def verify(
    pipeline: PipelineOption = None, table: TablesOption = None,
    target: Annotated[str | None, typer.Option("--target", help="Target name or DuckDB file.")] = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Compare MySQL (up to the watermark), the lake and the warehouse row by row; exit 7 on a mismatch."""
    code = verify_command(config_dir, env, pipeline, table, as_json, target=target, echo=typer.echo)
    if code:
        raise typer.Exit(code)
