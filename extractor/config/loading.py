"""Loading a config directory: connections.yml, pipelines/*.yml and environments/<env>.yml overrides.

Every error names the file and line of the key at fault (:mod:`extractor.config.source` tracks lines,
:mod:`extractor.config.validation` words the errors).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from extractor.config.models import (
    Connections,
    Defaults,
    Pipeline,
    SourceConnection,
    TableConfig,
    TargetConnection,
    split_source_table,
)
from extractor.config.source import Lines, display, mapping, merge, read_yaml
from extractor.config.validation import check_keys, validate
from extractor.errors import ConfigError, suggest

T = TypeVar("T")


@dataclass(frozen=True)
class Project:
    """Everything loaded from one config directory under one environment."""

    config_dir: Path
    env: str | None
    connections: Connections
    pipelines: dict[str, Pipeline]

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline called ``name``; a ConfigError with a close match otherwise."""
        if name not in self.pipelines:
            raise ConfigError(
                f"no pipeline '{name}' in {display(self.config_dir / 'pipelines')}",
                hint=suggest(name, self.pipelines) or f"known: {', '.join(self.pipelines) or 'none'}",
            )
        return self.pipelines[name]

    def source(self, name: str) -> SourceConnection:
        """The source connection called ``name``."""
        return _named(self.connections.sources, name, "source connection", self.config_dir)

    def target(self, name: str) -> TargetConnection:
        """The target connection called ``name``."""
        return _named(self.connections.targets, name, "target connection", self.config_dir)

    def connection(self, name: str) -> SourceConnection | TargetConnection:
        """The source or target connection called ``name``."""
        both: dict[str, SourceConnection | TargetConnection] = {**self.connections.targets,
                                                                **self.connections.sources}
        return _named(both, name, "connection", self.config_dir)


def _named(items: Mapping[str, T], name: str, kind: str, config_dir: Path) -> T:
    if name not in items:
        raise ConfigError(
            f"no {kind} '{name}' in {display(config_dir / 'connections.yml')}",
            hint=suggest(name, items) or f"known: {', '.join(items) or 'none'}",
        )
    return items[name]


def resolve_config_dir(cli_value: Path | None) -> Path:
    """``--config-dir``, else ``$EXTRACTOR_CONFIG_DIR``, else ``./config`` — as an absolute path."""
    chosen = cli_value or os.environ.get("EXTRACTOR_CONFIG_DIR") or "config"
    return Path(chosen).expanduser().absolute()


def load_project(config_dir: Path | None = None, env: str | None = None) -> Project:
    """Load and validate connections.yml, pipelines/*.yml and the environments/<env>.yml overrides.

    ``env`` defaults to ``$EXTRACTOR_ENV``; ``config_dir`` is resolved by :func:`resolve_config_dir`.
    """
    root = resolve_config_dir(config_dir)
    env = env or os.environ.get("EXTRACTOR_ENV") or None
    if not root.is_dir():
        raise ConfigError(
            f"config directory {display(root)} does not exist",
            hint="pass --config-dir or set EXTRACTOR_CONFIG_DIR",
        )
    env_data, env_lines = _read_env(root, env)

    conn_path = root / "connections.yml"
    if not conn_path.is_file():
        raise ConfigError(
            f"no connections.yml in {display(root)}", hint="pass --config-dir or set EXTRACTOR_CONFIG_DIR"
        )
    data, lines = read_yaml(conn_path)
    data = mapping(data, "connections.yml", lines.file)
    check_keys(data, ["connections"], "connections.yml", (), lines)
    lines.update({k: v for k, v in env_lines.items() if k[:1] == ("connections",)})
    conns = mapping(
        merge(data.get("connections"), env_data.get("connections") or {}),
        "'connections'",
        lines.at(("connections",)),
    )
    connections = _load_connections(conns, lines)

    env_pipelines = mapping(env_data.get("pipelines"), "'pipelines'", env_lines.at(("pipelines",)))
    pipelines: dict[str, Pipeline] = {}
    files = sorted([*(root / "pipelines").glob("*.yml"), *(root / "pipelines").glob("*.yaml")])
    for path in files:
        pipeline = _load_pipeline(path, env_pipelines, env_lines, connections)
        if pipeline.name in pipelines:
            raise ConfigError(
                f"pipeline '{pipeline.name}' is defined twice",
                where=display(path),
                hint=f"also in {display(pipelines[pipeline.name].path or root)}",
            )
        pipelines[pipeline.name] = pipeline
    for name in env_pipelines:
        if name not in pipelines:
            raise ConfigError(
                f"environment '{env}' overrides unknown pipeline '{name}'",
                where=env_lines.at(("pipelines", name)),
                hint=suggest(name, pipelines),
            )
    return Project(config_dir=root, env=env, connections=connections, pipelines=pipelines)


def _read_env(root: Path, env: str | None) -> tuple[dict[str, Any], Lines]:
    if not env:
        return {}, Lines("")
    path = root / "environments" / f"{env}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "environments").glob("*.yml"))
        raise ConfigError(
            f"no environment '{env}' ({display(path)} does not exist)",
            hint=suggest(env, known) or f"known: {', '.join(known) or 'none'}",
        )
    data, lines = read_yaml(path)
    data = mapping(data, f"environment '{env}'", lines.file)
    check_keys(data, ["connections", "pipelines"], f"environment '{env}'", (), lines)
    return data, lines


def _load_connections(conns: dict[str, Any], lines: Lines) -> Connections:
    check_keys(conns, ["sources", "targets"], "'connections'", ("connections",), lines)
    built: dict[str, dict[str, Any]] = {}
    for kind, model in (("sources", SourceConnection), ("targets", TargetConnection)):
        path = ("connections", kind)
        built[kind] = {}
        for name, body in mapping(conns.get(kind), f"'{kind}'", lines.at(path)).items():
            what = f"{kind[:-1]} connection '{name}'"
            body = mapping(body, what, lines.at(path + (name,)))
            if "name" in body:
                raise ConfigError(
                    f"unknown key 'name' in {what}",
                    where=lines.at(path + (name, "name")),
                    hint="the connection's name is its key",
                )
            built[kind][name] = validate(
                model, {**body, "name": name}, lines=lines, base=path + (name,), what=what
            )
    for name in set(built["sources"]) & set(built["targets"]):
        raise ConfigError(
            f"'{name}' is both a source and a target connection",
            where=lines.at(("connections", "targets", name)),
            hint="give each connection its own name",
        )
    return Connections(**built)


def _load_pipeline(
    path: Path, env_pipelines: dict[str, Any], env_lines: Lines, connections: Connections
) -> Pipeline:
    data, lines = read_yaml(path)
    data = mapping(data, display(path), lines.file)
    if not data:
        raise ConfigError("empty pipeline file", where=lines.file)
    check_keys(data, ["pipeline", "defaults", "tables"], "a pipeline file", (), lines)
    header = mapping(data.get("pipeline"), "'pipeline'", lines.at(("pipeline",)))
    name = str(header.get("name") or path.stem)
    if name in env_pipelines:
        over = mapping(
            env_pipelines[name], f"override of pipeline '{name}'", env_lines.at(("pipelines", name))
        )
        check_keys(
            over,
            ["pipeline", "defaults", "tables"],
            f"override of pipeline '{name}'",
            ("pipelines", name),
            env_lines,
        )
        data = merge(data, over)
        lines.update({k[2:]: v for k, v in env_lines.items() if k[:2] == ("pipelines", name) and len(k) > 2})
        header = mapping(data.get("pipeline"), "'pipeline'", lines.at(("pipeline",)))
    what = f"pipeline '{name}'"
    header_keys = [f for f in Pipeline.model_fields if f not in ("defaults", "tables", "path")]
    check_keys(header, header_keys, f"'pipeline' of {what}", ("pipeline",), lines)

    defaults = validate(
        Defaults,
        mapping(data.get("defaults"), "'defaults'", lines.at(("defaults",))),
        lines=lines,
        base=("defaults",),
        what=f"defaults of {what}",
    )
    tables: dict[str, TableConfig] = {}
    for key, body in mapping(data.get("tables"), "'tables'", lines.at(("tables",))).items():
        key = str(key)
        t_what = f"table '{key}'"
        body = mapping(body, t_what, lines.at(("tables", key)))
        if "name" in body:
            raise ConfigError(
                f"unknown key 'name' in {t_what}",
                where=lines.at(("tables", key, "name")),
                hint="the table's name is its key under 'tables:'; rename with 'target_name'",
            )
        table = validate(TableConfig, {**body, "name": key}, lines=lines, base=("tables", key), what=t_what)
        table._location = lines.at(("tables", key))
        table._locations = {f: lines[("tables", key, f)] for f in body if ("tables", key, f) in lines}
        tables[key] = table

    pipeline = validate(
        Pipeline,
        {**header, "name": name, "defaults": defaults, "tables": tables, "path": path},
        lines=lines,
        base=("pipeline",),
        what=what,
        loc_map={"defaults": ("defaults",), "tables": ("tables",)},
    )
    if pipeline.source not in connections.sources:
        raise ConfigError(
            f"{what} uses unknown source connection '{pipeline.source}'",
            where=lines.at(("pipeline", "source")),
            hint=suggest(pipeline.source, connections.sources),
        )
    if pipeline.target and pipeline.target not in connections.targets:
        raise ConfigError(
            f"{what} uses unknown target connection '{pipeline.target}'",
            where=lines.at(("pipeline", "target")),
            hint=suggest(pipeline.target, connections.targets),
        )
    target = connections.targets.get(pipeline.target) if pipeline.target else None
    if target is not None and target.type == "redshift" and "compression" not in pipeline.defaults.model_fields_set:
        # COPY from Parquet goes through Redshift Spectrum, whose documentation names SNAPPY (and GZIP) page
        # compression for Parquet; zstd is not listed there (docs/warehouse.md, "Running on Redshift").
        defaults = pipeline.defaults.model_copy(update={"compression": "snappy"})
        pipeline = pipeline.model_copy(update={"defaults": defaults})
    return pipeline


def adhoc_pipeline(
    project: Project, *, source: str, target_schema: str, tables: list[str], lake: str = "./lake"
) -> Pipeline:
    """An in-memory pipeline for ``extractor sync --source … --table db.t`` without a pipeline file.

    Tables get ``cdc_strategy='auto'``: the pipeline module discovers their key and cursor column.
    """
    conn = project.source(source)
    built: dict[str, TableConfig] = {}
    for spec in tables:
        full = spec if _is_db_dot_table(spec) or not conn.database else f"{conn.database}.{spec}"
        # The lake and warehouse name must be a plain identifier; the MySQL name may be anything. A name
        # that had to change gets a short digest of the original, so `a-b` and `a_b` never share a prefix.
        try:
            original = split_source_table(full)[1]
        except ValueError:  # refused with the reason by TableConfig below; the name only has to exist till then
            original = full.split(".")[-1]
        name = re.sub(r"[^A-Za-z0-9_$]", "_", original)
        if name != original:
            name = f"{name[:55]}_{hashlib.sha256(original.encode()).hexdigest()[:8]}"
        name = name[:64]
        where = f"--table {spec}"
        if name in built:
            raise ConfigError(
                f"two ad-hoc tables are named '{name}'",
                where=where,
                hint="extract tables from different databases in separate runs",
            )
        lines = Lines(where)
        table = validate(
            TableConfig,
            {"name": name, "source_table": full, "cdc_strategy": "auto"},
            lines=lines,
            base=(),
            what=f"ad-hoc table '{spec}'",
            context={"adhoc": True},
        )
        table._location = where
        built[name] = table
    return validate(
        Pipeline,
        {
            "name": f"adhoc_{source}",
            "source": source,
            "target_schema": target_schema,
            "lake": lake,
            "tables": built,
        },
        lines=Lines("ad-hoc pipeline"),
        base=(),
        what=f"ad-hoc pipeline of '{source}'",
    )


def _is_db_dot_table(value: str) -> bool:
    try:
        split_source_table(value)
    except ValueError:
        return False
    return True
