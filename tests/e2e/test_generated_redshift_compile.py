"""Generated models of a user's pipeline compile for Redshift offline and parse with sqlglot's Redshift dialect.

A pipeline with a composite key, a cursor table, a full_sync dimension and an id table is scaffolded into a
project of its own (sources with Redshift column types, as `extractor dbt sources` writes them), then
compiled with `--no-introspect` for both is_incremental() answers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlglot
from test_dbt_redshift_compile import OFFLINE_ENV

from extractor import dbt, scaffold
from extractor.config import load_project
from extractor.dbt import ColumnSpec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

PIPELINE = """pipeline:
  name: shop
  source: sales_mysql
  target: redshift
  target_schema: shop_raw
tables:
  stock:
    source_table: shop.stock
    cdc_strategy: hybrid
    cursor_column: updated_at
    id_columns: [warehouse_id, sku, bin]
  warehouses:
    source_table: shop.warehouses
    cdc_strategy: hybrid
    cursor_column: last_update
    id_columns: [warehouse_id]
    table_type: dimension
  regions:
    source_table: shop.regions
    cdc_strategy: full_sync
    id_columns: [region_code]
    table_type: dimension
  moves:
    source_table: shop.stock_moves
    cdc_strategy: id
    id_columns: [move_id]
    table_type: dimension
"""
LINEAGE = [ColumnSpec("_extracted_at", "TIMESTAMPTZ"), ColumnSpec("_batch_id", "VARCHAR(64)"), ColumnSpec("_op", "CHAR(1)")]
COLUMNS = {
    "stock": [ColumnSpec("warehouse_id", "INTEGER"), ColumnSpec("sku", "VARCHAR(80)"), ColumnSpec("bin", "SMALLINT"),
              ColumnSpec("qty", "INTEGER"), ColumnSpec("Unit Cost", "DECIMAL(10,2)"),
              ColumnSpec("updated_at", "TIMESTAMP")] + LINEAGE,
    "warehouses": [ColumnSpec("warehouse_id", "INTEGER"), ColumnSpec("name", "VARCHAR(320)"),
                   ColumnSpec("last_update", "TIMESTAMPTZ")] + LINEAGE,
    "regions": [ColumnSpec("region_code", "CHAR(8)"), ColumnSpec("population", "DECIMAL(20,0)")] + LINEAGE,
    "moves": [ColumnSpec("move_id", "BIGINT"), ColumnSpec("delta", "INTEGER"), ColumnSpec("note", "VARCHAR(65535)")]
    + LINEAGE,
}


@pytest.fixture(scope="module", params=[True, False], ids=["incremental", "first_build"])
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("generated-redshift")
    (tmp / "dbt_project" / "models").mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.example.yml"):
        shutil.copy(ROOT / name, tmp / name)
    shutil.copytree(ROOT / "macros", tmp / "macros")
    shutil.copytree(ROOT / "config", tmp / "config")
    (tmp / "config" / "pipelines" / "sales.yml").unlink()
    (tmp / "config" / "pipelines" / "shop.yml").write_text(PIPELINE)
    pipeline = load_project(tmp / "config", None).pipeline("shop")
    dbt.write_sources(pipeline, scaffold.model_paths(tmp), COLUMNS)
    scaffold.scaffold(pipeline, tmp)
    (tmp / "profiles").mkdir()
    shutil.copy(ROOT / "profiles.example.yml", tmp / "profiles" / "profiles.yml")
    rc = dbt.build(tmp, tmp / "profiles", "redshift", command="compile",
                   vars={"lake_root": "s3://b/p", "redshift_iam_role": "arn:aws:iam::1:role/r",
                         "lake_manifests": {"shop": {"stock": "s3://b/p/manifests/x.manifest"}},
                         "assume_incremental": request.param},
                   extra=["--no-introspect", "--no-populate-cache", "--target-path", str(tmp / "target"),
                          "--log-path", str(tmp / "logs"), "--quiet"],
                   env={**OFFLINE_ENV, "DBT_TARGET": "redshift"})
    assert rc == 0, "dbt compile --target redshift failed offline"
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    compiled = {n["name"]: n["compiled_code"] for n in manifest["nodes"].values()
                if n["resource_type"] in ("model", "test") and n.get("compiled_code")}
    compiled["on_schema_change"] = {n["name"]: n["config"].get("on_schema_change") for n in manifest["nodes"].values()
                                    if n["name"].startswith(("lnd_", "stg_"))}
    return compiled


def test_generated_models_and_tests_compile_and_parse_as_redshift(compiled: dict) -> None:
    assert {"lnd_shop__stock", "stg_shop__stock", "hist_shop__warehouses", "hist_shop__regions",
            "hist_shop__moves"} <= set(compiled)
    assert "stg_shop__regions" in compiled and "hist_shop__stock" not in compiled  # history for dimensions only
    failures = []
    for name, sql in sorted(compiled.items()):
        if name == "on_schema_change":
            continue
        try:
            assert [s for s in sqlglot.parse(sql, read="redshift") if s is not None], "no statement"
        except (sqlglot.errors.ParseError, AssertionError) as exc:
            failures.append(f"{name}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_generated_staging_orders_by_cursor_then_key_and_quotes_odd_column_names(compiled: dict) -> None:
    staging = " ".join(compiled["stg_shop__stock"].split()).lower()
    assert "versions.updated_at desc nulls last, versions.warehouse_id desc nulls last" in staging
    assert 'current_rows."unit cost" as "unit cost"' in staging


def test_generated_history_uses_the_cursor_or_the_run_and_utc_validity(compiled: dict) -> None:
    by_cursor = " ".join(compiled["hist_shop__warehouses"].split()).lower()
    assert "convert_timezone('utc', sequenced.last_update)::timestamp as _valid_from" in by_cursor
    by_run = " ".join(compiled["hist_shop__regions"].split()).lower()
    assert "_previous_row_hash <> changes._row_hash" in by_run


def test_a_column_dropped_from_the_source_never_drops_a_redshift_column(compiled: dict) -> None:
    assert set(compiled["on_schema_change"].values()) == {"append_new_columns"}
