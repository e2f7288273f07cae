"""``extractor plan`` and ``extractor status``: what a scheduler maps into tasks, and what it alerts on."""

from __future__ import annotations

from typing import Annotated

import typer

from extractor.cli.common import (
    ConfigDirOption,
    EnvOption,
    JsonOption,
    PipelineOption,
    TablesOption,
    emit,
    open_project,
    pick_pipeline,
)


def plan(
    pipeline: PipelineOption = None, table: TablesOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Tables in dependency levels (what can run at once), each with its strategy and dbt selection."""
    from extractor.plan import pipeline_plan, plan_text

    result = pipeline_plan(pick_pipeline(open_project(config_dir, env), pipeline), table)
    emit(result.to_dict(), as_json, plan_text(result))


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

    project = open_project(config_dir, env)
    result = pipeline_status(project, pick_pipeline(project, pipeline), tables=table,
                             max_lag=parse_duration(max_lag) if max_lag else None,
                             max_pending_age=parse_duration(max_pending_age) if max_pending_age else None,
                             warehouse=warehouse)
    emit(result.to_dict(), as_json, status_text(result))
    if result.exit_code:
        raise typer.Exit(result.exit_code)
