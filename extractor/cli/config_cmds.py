"""``extractor config``: list, show and validate pipelines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from extractor.cli.common import ConfigDirOption, EnvOption, JsonOption, emit, open_project, text_columns
from extractor.errors import ConfigError

config_app = typer.Typer(help="Inspect and validate pipeline configuration.", no_args_is_help=True)


@config_app.command("list-pipelines")
def list_pipelines(
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """List the pipelines of the config directory."""
    project = open_project(config_dir, env)
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
    emit(rows, as_json, text_columns(rows, keys) if rows else "no pipelines")


@config_app.command("show-pipeline")
def show_pipeline(
    name: str, config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """Show a pipeline as resolved (environment merged, variables interpolated, secrets redacted)."""
    project = open_project(config_dir, env)
    pipeline = project.pipeline(name)
    data = pipeline.model_dump(mode="json")
    data["connections"] = {
        "source": project.source(pipeline.source).redacted(),
        "target": project.target(pipeline.target).redacted() if pipeline.target else None,
    }
    data["env"] = project.env
    emit(data, as_json)


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
    project = open_project(config_dir, env)
    pipelines = [project.pipeline(name)] if name else list(project.pipelines.values())
    if not pipelines:
        raise ConfigError(
            f"no pipelines in {project.config_dir / 'pipelines'}", hint="add a pipelines/<name>.yml"
        )
    if check_source:
        from extractor import preflight

        checked = [preflight.check_source(p, project.source(p.source)) for p in pipelines]
        emit({c.pipeline: c.to_dict() for c in checked}, as_json,
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
            except ConfigError:  # outside a dbt project there are no generated sources to check
                continue
            warnings = redshift.oversize_warnings(p, dbt.read_source_columns(dbt.sources_file(p, models)))
            if warnings:
                result[p.name].update(status="warn", warnings=warnings)
    emit(result, as_json, "\n".join(
        [f"{'OK' if r['status'] == 'ok' else 'WARN'}  {n}  ({r['tables']} tables)" for n, r in result.items()]
        + [f"warning: {w}" for r in result.values() for w in r.get("warnings", [])]))
