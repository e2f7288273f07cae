"""``extractor dbt`` (sources, build) and ``extractor acknowledge``: the dbt side of a pipeline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

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
)

dbt_app = typer.Typer(help="dbt helpers: generate sources from the pipeline YAML.", no_args_is_help=True)


@dbt_app.command("sources")
def dbt_sources(
    pipeline: PipelineOption = None,
    discover: Annotated[bool, typer.Option("--discover/--keep-columns",
                                           help="Read column types from MySQL (default) or keep the file's.")]
    = True,
    project_dir: ProjectDirOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Write dbt_project/models/landing/_<pipeline>__sources.yml from the pipeline YAML."""
    from extractor import dbt

    project = open_project(config_dir, env)
    chosen = pick_pipeline(project, pipeline)
    workdir = dbt.project_dir_for(project.config_dir, project_dir)
    columns = dbt.discover_columns(project, chosen) if discover else None
    path = dbt.write_sources(chosen, workdir / "dbt_project" / "models", columns)
    typer.echo(f"wrote {path}")


def acknowledge(
    pipeline: PipelineOption = None, table: TablesOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Record in each watermark which pending batches reached the warehouse's landing models."""
    from extractor import dbt

    project = open_project(config_dir, env)
    acks = dbt.acknowledge(project, pick_pipeline(project, pipeline), tables=table)
    emit([dataclasses.asdict(a) for a in acks], as_json, "\n".join(
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

    project = open_project(config_dir, env)
    chosen = pick_pipeline(project, pipeline)
    workdir = project_dir or dbt.project_dir_for(project.config_dir)
    code = dbt.build(workdir, None, None, select=select.split() if select else None,
                     vars=dbt.build_vars(project, chosen), env=dbt.build_env(project, chosen))
    if code:
        typer.echo(f"error: dbt build failed with exit code {code}", err=True)
        raise typer.Exit(code)
