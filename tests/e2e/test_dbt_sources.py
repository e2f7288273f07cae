"""The dbt sources are generated from the pipeline YAML: the committed file must match a regeneration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _dbt_lake import SCHEMAS  # tests/e2e is on sys.path (rootdir imports)

from extractor import dbt, warehouse
from extractor.errors import WarehouseError

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "dbt_project" / "models" / "landing" / "_sales__sources.yml"


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    for var in ("SALES_DB", "EXTRACTOR_LAKE"):
        monkeypatch.delenv(var, raising=False)
    return dbt.load_pipeline("sales", ROOT / "config")


def test_committed_sources_match_the_pipeline_yaml(pipeline) -> None:  # noqa: ANN001
    regenerated = dbt.render_sources(pipeline, dbt.read_source_columns(COMMITTED))
    assert regenerated == COMMITTED.read_text(), (
        "dbt sources drifted from config/pipelines/sales.yml: run "
        "`python -c \"from extractor import dbt; "
        "dbt.write_sources(dbt.load_pipeline('sales'), 'dbt_project/models')\"`"
    )


def test_keys_cursor_strategy_and_type_travel_in_table_meta(pipeline) -> None:  # noqa: ANN001
    doc = yaml.safe_load(dbt.render_sources(pipeline))
    (source,) = doc["sources"]
    tables = {t["name"]: t["config"]["meta"] for t in source["tables"]}
    assert tables["order_items"] == {
        "source_table": "sales.order_items", "cdc_strategy": "hybrid", "cursor_column": "updated_at",
        "id_columns": ["order_id", "line_no"], "unique_key": ["order_id", "line_no"], "table_type": "fact",
    }
    assert tables["products"]["cdc_strategy"] == "full_sync" and tables["products"]["cursor_column"] is None
    assert source["config"]["loaded_at_field"] == "_extracted_at"


def test_lake_location_is_source_level_meta(pipeline) -> None:  # noqa: ANN001
    (source,) = yaml.safe_load(dbt.render_sources(pipeline))["sources"]
    assert source["name"] == "sales"
    assert source["meta"]["external_location"] == (
        "read_parquet('{{ var(\"lake_root\", env_var(\"LAKE_ROOT\", \"./lake\")) }}/data/sales_mysql/{{ var(\"sales_source_db\", \"sales\") }}"
        "/sales_raw/{name}/*/*.parquet', "
        "union_by_name=true, hive_partitioning=true)"
    )
    assert all("external_location" not in t.get("config", {}).get("meta", {}) for t in source["tables"])


def test_columns_come_in_parquet_order_with_redshift_types(pipeline, tmp_path: Path) -> None:  # noqa: ANN001
    columns = {t: dbt.columns_from_arrow_schema(s) for t, s in SCHEMAS.items()}
    path = dbt.write_sources(pipeline, tmp_path, columns)
    written = dbt.read_source_columns(path)
    assert [(c.name, c.data_type) for c in written["orders"]] == [
        ("order_id", "NUMERIC(20,0)"), ("customer_id", "INTEGER"), ("status", "VARCHAR(65535)"),
        ("order_total", "NUMERIC(14,2)"), ("currency", "VARCHAR(65535)"), ("ordered_at", "TIMESTAMP"),
        ("updated_at", "TIMESTAMP"), ("_extracted_at", "TIMESTAMP"), ("_batch_id", "VARCHAR(64)"),
        ("_op", "CHAR(1)"),
    ]
    # regenerating without columns keeps the ones already written
    dbt.write_sources(pipeline, tmp_path)
    assert dbt.read_source_columns(path) == written


def test_committed_columns_match_the_lake_contract() -> None:
    committed = dbt.read_source_columns(COMMITTED)
    for table, schema in SCHEMAS.items():
        assert [c.name for c in committed[table]] == schema.names, table


def test_pipeline_over_several_databases_is_refused() -> None:
    pipeline = {"name": "mixed", "source": "m", "target_schema": "raw", "tables": {
        "a": {"source_table": "db1.a", "id_columns": ["id"]},
        "b": {"source_table": "db2.b", "id_columns": ["id"]},
    }}
    with pytest.raises(WarehouseError, match="several MySQL databases"):
        dbt.render_sources(pipeline)


def test_acknowledged_batches_of_a_missing_warehouse_are_empty(tmp_path: Path) -> None:
    got = warehouse.acknowledged_batches({"type": "duckdb", "path": str(tmp_path / "none.duckdb")}, "main_landing",
                                   ["orders"], pipeline="sales")
    assert got == {"orders": set()}


def test_unknown_warehouse_type_is_a_warehouse_error() -> None:
    with pytest.raises(WarehouseError, match="unknown warehouse type"):
        warehouse.acknowledged_batches({"type": "oracle"}, "s", ["t"])
