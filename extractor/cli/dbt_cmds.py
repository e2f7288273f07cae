"""``extractor dbt`` (sources, build) and ``extractor acknowledge``: the dbt side of a pipeline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

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
from extractor.config import Pipeline, Project

dbt_app = typer.Typer(help="dbt helpers: generate sources from the pipeline YAML.", no_args_is_help=True)


@dbt_app.command("scaffold")
def dbt_scaffold(
    pipeline: PipelineOption = None,
    force: Annotated[bool, typer.Option("--force", help="Also overwrite generated files edited by hand.")] = False,
    project_dir: ProjectDirOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Write the pipeline's landing, staging and (dimensions) SCD2 history models and their tests."""
    from extractor import dbt
    from extractor import scaffold as gen

    project = open_project(config_dir, env)
    chosen = pick_pipeline(project, pipeline)
    workdir = dbt.project_dir_for(project.config_dir, project_dir)
    sources = dbt.write_sources(chosen, gen.model_paths(workdir), dbt.discover_columns(project, chosen))
    done = gen.scaffold(chosen, workdir, force=force)
    for path in done.written:
        typer.echo(f"wrote {path}")
    for path in done.kept_edited:
        typer.echo(f"kept {path} (edited by hand; --force overwrites it)")
    typer.echo(f"sources: {sources}\n{done.text()}")


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
    from extractor.acknowledge import acknowledge

    project = open_project(config_dir, env)
    acks = acknowledge(project, pick_pipeline(project, pipeline), tables=table)
    emit([dataclasses.asdict(a) for a in acks], as_json, "\n".join(
        f"acknowledged {a.table}: {a.acknowledged} batch(es), {a.rows:,} rows; {a.still_pending} pending"
        for a in acks))


@dbt_app.command("build")
def dbt_build(
    pipeline: PipelineOption = None,
    select: Annotated[str | None, typer.Option("--select", help="dbt node selection (default: everything).")] = None,
    project_dir: ProjectDirOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """`dbt build` pointed at the pipeline's lake and target (no extract, no acknowledgement); dbt's exit code."""
    from extractor import dbt

    project = open_project(config_dir, env)
    chosen = pick_pipeline(project, pipeline)
    workdir = dbt.project_dir_for(project.config_dir, project_dir)
    code = dbt.build(workdir, None, None, select=select.split() if select else None,
                     vars=dbt.build_vars(project, chosen), env=dbt.build_env(project, chosen))
    if code:
        typer.echo(f"error: dbt build failed with exit code {code}", err=True)
        raise typer.Exit(code)


def scaffold_sync(project: Project, pipeline: Pipeline, workdir: Path, *, discover: bool) -> Any:
    """Regenerate the pipeline's dbt sources and generated models before a build (extractor.scaffold.sync)."""
    from extractor import scaffold
    from extractor.errors import SourceError

    try:
        return scaffold.sync(project, pipeline, workdir, discover=discover)
    except SourceError as exc:  # MySQL unreachable (e.g. --skip-extract offline): keep the sources' columns
        typer.echo(f"note: sources keep their columns ({exc})", err=True)
        return scaffold.sync(project, pipeline, workdir, discover=False)
