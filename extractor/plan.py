"""What a scheduler needs to map a pipeline onto tasks: tables in dependency levels, with their dbt selection.

``pipeline_plan`` reads the configuration only (no MySQL, no lake), so a scheduler can call ``extractor plan
--json`` when it parses its DAG. Each level holds tables whose dependencies are all in earlier levels: the
tables of one level can be extracted at once, on separate machines (every table has its own lock). The
JSON form is versioned (``format_version``); fields are only ever added.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from extractor.config import Pipeline, TableConfig
from extractor.names import model_name

FORMAT_VERSION = 1


@dataclass(frozen=True)
class TablePlan:
    """One table as a task: how it is extracted, what it waits for, and the dbt selection that builds it."""

    name: str
    level: int
    source_table: str
    target: str
    strategy: str
    table_type: str
    cursor_column: str | None
    id_columns: list[str]
    depends_on: list[str]
    #: ``source:<pipeline>.<target>+``: the table's landing model and everything built from it.
    dbt_selector: str
    landing_model: str


@dataclass(frozen=True)
class PipelinePlan:
    """A pipeline's tables in dependency levels (``levels[i]`` only needs tables of ``levels[:i]``)."""

    pipeline: str
    source: str
    target: str | None
    target_schema: str
    lake: str
    levels: list[list[str]]
    tables: list[TablePlan]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (stable: ``format_version`` changes only if a field changes meaning)."""
        return {"format_version": FORMAT_VERSION, **asdict(self),
                "dbt_selector": dbt_selector(self.pipeline, [t.target for t in self.tables])}


def dbt_selector(pipeline: str, targets: list[str]) -> str:
    """The dbt ``--select`` argument that builds what these tables' new batches feed (space-separated union)."""
    return " ".join(f"source:{pipeline}.{target}+" for target in targets)


def dependency_levels(pipeline: Pipeline, names: list[str] | None = None) -> list[list[TableConfig]]:
    """The selected tables (all by default) in levels; configuration order within a level."""
    return pipeline.ordered_tables(names)


def pipeline_plan(pipeline: Pipeline, names: list[str] | None = None) -> PipelinePlan:
    """The plan of a pipeline (or of the named tables): levels, and per table its strategy and dbt selection."""
    levels = dependency_levels(pipeline, names)
    tables = [
        TablePlan(
            name=t.name, level=i, source_table=t.source_table, target=t.target, strategy=t.cdc_strategy,
            table_type=t.table_type, cursor_column=t.cursor_column, id_columns=list(t.id_columns),
            depends_on=list(t.depends_on), dbt_selector=f"source:{pipeline.name}.{t.target}+",
            landing_model=model_name("landing", pipeline.name, t.target),
        )
        for i, level in enumerate(levels) for t in level
    ]
    return PipelinePlan(pipeline=pipeline.name, source=pipeline.source, target=pipeline.target,
                        target_schema=pipeline.target_schema, lake=pipeline.lake,
                        levels=[[t.name for t in level] for level in levels], tables=tables)


def plan_text(plan: PipelinePlan) -> str:
    """The plan for people: one line per table, by level."""
    rows = [{"level": str(t.level), "table": t.name, "strategy": t.strategy,
             "depends_on": ", ".join(t.depends_on) or "-", "dbt selection": t.dbt_selector} for t in plan.tables]
    keys = ["level", "table", "strategy", "depends_on", "dbt selection"]
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    lines += ["  ".join(r[k].ljust(widths[k]) for k in keys).rstrip() for r in rows]
    parallel = max((len(level) for level in plan.levels), default=0)
    lines.append(f"pipeline {plan.pipeline}: {len(plan.tables)} table(s) in {len(plan.levels)} level(s), "
                 f"up to {parallel} at once")
    return "\n".join(lines)


__all__ = ["FORMAT_VERSION", "PipelinePlan", "TablePlan", "dbt_selector", "dependency_levels", "pipeline_plan",
           "plan_text"]
