"""`extractor plan`: a pipeline's tables in dependency levels with their dbt selection (configuration only)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor.cli import app
from extractor.config import load_project
from extractor.plan import dependency_levels, pipeline_plan

ROOT = Path(__file__).resolve().parents[2]

WIDE = """
pipeline: {name: wide, source: sales_mysql, target_schema: wide_raw}
tables:
  a: {source_table: db.a, cdc_strategy: full_sync, id_columns: [id]}
  b: {source_table: db.b, cdc_strategy: full_sync, id_columns: [id], depends_on: [a]}
  c: {source_table: db.c, cdc_strategy: full_sync, id_columns: [id], depends_on: [b]}
  d: {source_table: db.d, cdc_strategy: full_sync, id_columns: [id], depends_on: [a], target_name: d_landed}
  e: {source_table: db.e, cdc_strategy: id, id_columns: [id], depends_on: [c, d]}
"""


@pytest.fixture
def config(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "pipelines" / "wide.yml").write_text(WIDE)
    return config


def _names(levels):
    return [[t.name for t in level] for level in levels]


def test_plan_of_the_sample_pipeline_lists_its_levels_strategies_and_dbt_selections(config):
    result = CliRunner().invoke(app, ["plan", "-p", "sales", "--json", "--config-dir", str(config)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1 and doc["pipeline"] == "sales"
    assert doc["levels"] == [["customers", "products"], ["orders"], ["order_items"]]
    tables = {t["name"]: t for t in doc["tables"]}
    assert tables["products"]["strategy"] == "full_sync" and tables["products"]["level"] == 0
    assert tables["order_items"]["depends_on"] == ["orders", "products"]
    assert tables["orders"]["dbt_selector"] == "source:sales.orders+"
    assert tables["orders"]["landing_model"] == "lnd_sales__orders"
    assert doc["dbt_selector"].split() == [f"source:sales.{t}+" for t in ("customers", "products", "orders",
                                                                        "order_items")]


def test_plan_text_shows_one_line_per_table_and_how_many_run_at_once(config):
    result = CliRunner().invoke(app, ["plan", "-p", "wide", "--config-dir", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["level", "table", "strategy", "depends_on"]
    assert lines[3].split()[:2] == ["1", "d"] and lines[3].split()[-1] == "source:wide.d_landed+"
    assert lines[-1] == "pipeline wide: 5 table(s) in 4 level(s), up to 2 at once"


def test_levels_put_a_table_after_its_deepest_dependency(config):
    pipeline = load_project(config, None).pipeline("wide")
    assert _names(dependency_levels(pipeline)) == [["a"], ["b", "d"], ["c"], ["e"]]


def test_a_selection_keeps_the_order_through_tables_it_leaves_out(config):
    pipeline = load_project(config, None).pipeline("wide")
    assert _names(dependency_levels(pipeline, ["e", "a"])) == [["a"], ["e"]]
    assert _names(dependency_levels(pipeline, ["c", "d"])) == [["c", "d"]]  # independent of each other
    assert [t.level for t in pipeline_plan(pipeline, ["e", "b"]).tables] == [0, 1]


def test_plan_of_an_unknown_table_is_a_config_error_with_a_suggestion(config):
    result = CliRunner().invoke(app, ["plan", "-p", "wide", "-t", "ee", "--config-dir", str(config)])
    assert result.exit_code == 2 and "no table 'ee'" in result.stderr
