"""Typed configuration: connections, pipelines and environment overrides, with ``${VAR}`` interpolation.

The package: :mod:`.models` (the pydantic models), :mod:`.ordering` (``depends_on`` levels),
:mod:`.source` (YAML with lines, interpolation), :mod:`.validation` (errors at ``file:line``) and
:mod:`.loading` (reading a config directory). Import the names from here.
"""

from extractor.config.loading import Project, adhoc_pipeline, load_project, resolve_config_dir
from extractor.config.models import (
    Connections,
    Defaults,
    Ident,
    Pipeline,
    SourceConnection,
    SourceName,
    SshTunnel,
    TableConfig,
    TargetConnection,
    Validation,
    split_source_table,
)

__all__ = [
    "Connections", "Defaults", "Ident", "Pipeline", "Project", "SourceConnection", "SourceName", "SshTunnel",
    "TableConfig", "TargetConnection", "Validation", "adhoc_pipeline", "load_project", "resolve_config_dir",
    "split_source_table",
]
