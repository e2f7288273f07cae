"""``extractor discover``: a proposed pipeline YAML for a MySQL database (:mod:`extractor.discover`)."""

from __future__ import annotations

from typing import Annotated

import typer

from extractor.cli.common import ConfigDirOption, EnvOption, open_project


def discover(
    source: Annotated[str, typer.Option("--source", help="Source connection (connections.yml).")],
    database: Annotated[str, typer.Option("--database", help="MySQL database to scan.")],
    pipeline: Annotated[str | None, typer.Option("--pipeline", "-p", help="Pipeline name (default: the database).")]
    = None,
    target: Annotated[str | None, typer.Option("--target", help="Target connection (default: the only one).")]
    = None,
    target_schema: Annotated[str | None, typer.Option("--target-schema", help="Lake schema (default: <db>_raw).")]
    = None,
    lake: Annotated[str, typer.Option("--lake", help="Lake URL or directory.")] = "./lake",
    include: Annotated[list[str] | None, typer.Option("--include", help="Only tables matching this glob (repeatable).")]
    = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip tables matching this glob (repeatable).")]
    = None,
    write: Annotated[bool, typer.Option("--write", help="Write config/pipelines/<NAME>.yml instead of printing.")]
    = False,
    force: Annotated[bool, typer.Option("--force", help="With --write: overwrite an existing file.")] = False,
    config_dir: ConfigDirOption = None, env: EnvOption = None,
) -> None:
    """Propose a pipeline YAML for every base table of a MySQL database (key, cursor, strategy, why)."""
    from extractor import discover as disc

    project = open_project(config_dir, env)
    text, found = disc.discover_pipeline(project, source, database, pipeline=pipeline, target=target,
                                         target_schema=target_schema, lake=lake, include=include or (),
                                         exclude=exclude or ())
    typer.echo(disc.summary(found), err=True)
    if not write:
        typer.echo(text, nl=False)
        return
    path = disc.write_pipeline(project.config_dir, pipeline or database, text, force=force)
    typer.echo(f"wrote {path}")
