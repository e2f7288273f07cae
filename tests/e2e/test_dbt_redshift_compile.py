"""Redshift cannot run here: compile every model, snapshot, analysis and test for the redshift target
offline and parse the SQL with sqlglot's Redshift dialect (both is_incremental() branches)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot.errors import ParseError

from extractor import dbt, redshift, writer
from extractor.lake import TableLayout, open_lake
from extractor.state import PendingFile, Watermark
from extractor.types import Column, arrow_schema

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

OFFLINE_ENV = {  # nothing listens on port 9: a connection attempt would fail loudly
    "REDSHIFT_HOST": "127.0.0.1", "REDSHIFT_PORT": "9", "REDSHIFT_DATABASE": "dev",
    "REDSHIFT_USER": "ci", "REDSHIFT_PASSWORD": "not-a-secret", "REDSHIFT_SCHEMA": "analytics",
}
IAM_ROLE = "arn:aws:iam::123456789012:role/lake-copy"
V1 = [Column("customer_id", "int", "int(11)", nullable=False, ordinal=1),
      Column("email", "varchar", "varchar(255)", ordinal=2, charset="utf8mb4", max_length=255),
      Column("full_name", "varchar", "varchar(10)", ordinal=3, charset="latin1", max_length=10),
      Column("updated_at", "timestamp", "timestamp(6)", ordinal=4, datetime_precision=6)]
V2 = [*V1, Column("loyalty_points", "bigint", "bigint(20) unsigned", ordinal=5, unsigned=True)]


def _write_lake(root: Path) -> tuple[dict, list[list[tuple[str, str]]]]:
    """A local lake whose customers table has three pending files over two schema versions (a column added
    by ALTER TABLE between them), planned by extractor.redshift.plan_table as `extractor run` does."""
    storage = open_lake(str(root))
    layout = TableLayout("sales_mysql", "sales", "sales_raw", "customers")
    wm = Watermark.new(table="customers", pipeline="sales", strategy="hybrid", cursor_column="updated_at",
                       id_columns=["customer_id"])
    schemas = []
    for seq, (run, cols) in enumerate([("20260301T000000000000Z-aaaaaa", V1), ("20260301T000000000000Z-aaaaaa", V1),
                                       ("20260302T000000000000Z-bbbbbb", V2)]):
        schema = writer.output_schema(arrow_schema(cols))
        key = layout.data_key(datetime(2026, 3, 1, tzinfo=UTC).date(), run, seq)
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(schema.empty_table(), root / key)
        size = (root / key).stat().st_size
        wm.pending_files.append(PendingFile(key=key, batch_id=f"{run}-{seq}", rows=0, bytes=size, run_id=run, seq=seq,
                                            written_at=datetime(2026, 3, 1, tzinfo=UTC)))
        schemas.append(schema)
    plan = redshift.plan_table(storage, layout, wm, build_id="build-test")
    expected = [redshift.columns_of_schema(schemas[0]), redshift.columns_of_schema(schemas[2])]
    return plan.to_var(), expected


def _one_step_plan(table: str) -> dict:
    """A single-version plan for the other tables, from the committed sources' columns."""
    columns = dbt.read_source_columns(ROOT / "dbt_project" / "models" / "landing" / "_sales__sources.yml")[table]
    cols = [{"name": c.name, "data_type": c.data_type} for c in columns]
    manifest = f"s3://lake-bucket/prefix/manifests/sales_mysql/sales/sales_raw/{table}/build-test__load01.manifest"
    return {"backfill": False, "acknowledged_before": True, "columns": cols,
            "steps": [{"manifest": manifest, "files": 1, "columns": cols}]}


@pytest.fixture(scope="module", params=[True, False], ids=["incremental", "first_build"])
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("dbt-redshift")
    (tmp / "profiles").mkdir()
    shutil.copy(ROOT / "profiles.example.yml", tmp / "profiles" / "profiles.yml")
    customers, expected = _write_lake(tmp / "lake")
    # a first build after a backfill plan: creating landing is allowed
    loads = {t: _one_step_plan(t) for t in ("products", "orders", "order_items")}
    loads["customers"] = customers
    if not request.param:
        loads = {t: {**p, "backfill": True} for t, p in loads.items()}
    variables = {"lake_root": "s3://lake-bucket/prefix", "redshift_iam_role": IAM_ROLE,
                 "lake_loads": {"sales": loads}, "assume_incremental": request.param}
    rc = dbt.build(
        ROOT, tmp / "profiles", "redshift", command="compile", vars=variables,
        extra=["--no-introspect", "--no-populate-cache", "--target-path", str(tmp / "target"),
               "--log-path", str(tmp / "logs"), "--quiet"],
        env={**OFFLINE_ENV, "DBT_TARGET": "redshift"},
    )
    assert rc == 0, "dbt compile --target redshift failed offline"
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    kinds = ("model", "snapshot", "analysis", "test")
    nodes = {node_id: node for node_id, node in manifest["nodes"].items()
             if node["resource_type"] in kinds and node.get("compiled_code")}
    return {"incremental": request.param, "nodes": nodes, "expected": expected, "lake": tmp / "lake",
            "customers_plan": customers}


def test_every_node_compiles(compiled: dict) -> None:
    kinds = {n["resource_type"] for n in compiled["nodes"].values()}
    assert {"model", "snapshot", "analysis", "test"} <= kinds
    names = {n["name"] for n in compiled["nodes"].values()}
    assert {"lnd_sales__customers", "stg_sales__order_items", "dim_customers", "fct_orders",
            "snap_sales__products", "lake_copy_statements"} <= names


def test_compiled_sql_parses_as_redshift(compiled: dict) -> None:
    failures = []
    for node_id, node in sorted(compiled["nodes"].items()):
        try:
            statements = [s for s in sqlglot.parse(node["compiled_code"], read="redshift") if s is not None]
            assert statements, "no statement"
        except (ParseError, AssertionError) as exc:
            failures.append(f"{node_id}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def _statements(compiled: dict, name: str) -> list:
    sql = next(n for n in compiled["nodes"].values() if n["name"] == name)["compiled_code"]
    return [s for s in sqlglot.parse(sql, read="redshift") if s is not None]


def test_landing_copies_each_schema_version_into_a_staging_table_of_its_parquet_columns(compiled: dict) -> None:
    sql = next(n for n in compiled["nodes"].values() if n["name"] == "lake_copy_statements")["compiled_code"]
    text = " ".join(sql.split()).lower()
    assert text.count("format as parquet manifest") == 5  # customers: two versions; the others: one each
    assert f"iam_role '{IAM_ROLE}'" in text
    statements = _statements(compiled, "lake_copy_statements")
    start = next(i for i, s in enumerate(statements)
                 if isinstance(s, sqlglot.exp.Create) and "lnd_sales__customers__copy" in s.sql())
    end = next(i for i, s in enumerate(statements) if i > start and "lnd_sales__customers" not in s.sql())
    customers = statements[start:end]
    copies = [i for i, s in enumerate(customers) if isinstance(s, sqlglot.exp.Copy)]
    assert len(copies) == 2
    for copy_at, expected in zip(copies, compiled["expected"], strict=True):
        staging = customers[copy_at].this.name
        create = next(s for s in reversed(customers[:copy_at])
                      if isinstance(s, sqlglot.exp.Create) and s.this.this.name == staging)
        assert "temporary" in create.sql(dialect="redshift").lower()
        columns = [(c.name, c.args["kind"].sql(dialect="redshift")) for c in create.find_all(sqlglot.exp.ColumnDef)]
        assert [n for n, _ in columns] == [n for n, _ in expected]
        assert [t for _, t in columns] == [
            sqlglot.exp.DataType.build(t, dialect="redshift").sql(dialect="redshift") for _, t in expected]
    manifests = [customers[i].args["files"][0].sql(dialect="redshift").strip("'") for i in copies]
    assert manifests == [s["manifest"] for s in compiled["customers_plan"]["steps"]]
    alters = [i for i, s in enumerate(customers) if isinstance(s, sqlglot.exp.Alter)]
    if compiled["incremental"]:
        # landing gains the column the second version brings, after the first COPY and before the second
        assert len(alters) == 1 and copies[0] < alters[0] < copies[1]
        assert 'add column "loyalty_points" decimal(20, 0)' in customers[alters[0]].sql(dialect="redshift").lower()
    else:
        assert not alters  # landing is created from the union of both versions


def test_each_version_manifest_lists_exactly_its_files(compiled: dict) -> None:
    steps = compiled["customers_plan"]["steps"]
    assert [s["files"] for s in steps] == [2, 1]
    for step in steps:
        body = json.loads(Path(step["manifest"]).read_text())
        assert len(body["entries"]) == step["files"]
        assert all(e["mandatory"] and e["meta"]["content_length"] > 0 for e in body["entries"])


def test_latin1_text_and_utc_timestamps_get_utf8_widths_and_plain_timestamp(compiled: dict) -> None:
    v1 = dict(compiled["expected"][0])
    assert v1["full_name"] == "VARCHAR(30)"  # latin1 VARCHAR(10): up to 30 UTF-8 bytes
    assert v1["email"] == "VARCHAR(1020)"
    assert v1["updated_at"] == v1["_extracted_at"] == "TIMESTAMP"
    sql = " ".join(next(n for n in compiled["nodes"].values()
                        if n["name"] == "lake_copy_statements")["compiled_code"].split()).lower()
    assert "timestamptz" not in sql


def test_staging_tables_are_temporary_and_the_old_permanent_copy_is_dropped(compiled: dict) -> None:
    statements = _statements(compiled, "lake_copy_statements")
    creates = [s for s in statements if isinstance(s, sqlglot.exp.Create)]
    assert creates and all("TEMPORARY" in s.sql(dialect="redshift").upper() for s in creates)
    drops = [s.sql(dialect="redshift").lower() for s in statements if isinstance(s, sqlglot.exp.Drop)]
    assert 'drop table if exists "dev"."analytics_landing"."lnd_sales__orders__copy"' in drops


def test_landing_is_protected_from_full_refresh_on_redshift(compiled: dict) -> None:
    landing = next(n for n in compiled["nodes"].values() if n["name"] == "lnd_sales__orders")
    assert landing["config"]["full_refresh"] is False


def test_is_incremental_is_answered_offline(compiled: dict) -> None:
    landing = next(n for n in compiled["nodes"].values() if n["name"] == "lnd_sales__orders")["compiled_code"]
    fact = next(n for n in compiled["nodes"].values() if n["name"] == "fct_orders")["compiled_code"]
    assert ("landed._batch_id" in landing) is compiled["incremental"]
    assert ("unresolved.order_id" in fact) is compiled["incremental"]


def test_landing_stamps_each_build_with_a_strictly_increasing_landed_at(compiled: dict) -> None:
    landing = " ".join(next(n for n in compiled["nodes"].values()
                            if n["name"] == "lnd_sales__orders")["compiled_code"].split()).lower()
    assert "as _landed_at" in landing and "sysdate" in landing  # current_timestamp is leader-node only
    assert ("max(landed._landed_at)" in landing) is compiled["incremental"]


def test_incremental_staging_reads_only_keys_landed_since_its_last_build(compiled: dict) -> None:
    staging = " ".join(next(n for n in compiled["nodes"].values()
                            if n["name"] == "stg_sales__order_items")["compiled_code"].split()).lower()
    assert ("changed._landed_at >" in staging) is compiled["incremental"]
    assert ("(versions.order_id, versions.line_no) in" in staging) is compiled["incremental"]


def test_staging_changes_apply_as_redshift_delete_and_insert(compiled: dict) -> None:
    sql = next(n for n in compiled["nodes"].values() if n["name"] == "staging_apply_changes")["compiled_code"]
    statements = [s for s in sqlglot.parse(sql, read="redshift") if s is not None]
    deletes = [s for s in statements if isinstance(s, sqlglot.exp.Delete)]
    inserts = [s for s in statements if isinstance(s, sqlglot.exp.Insert)]
    assert len(deletes) == len(inserts) == 4
    text = " ".join(sql.split()).lower()
    assert "where (order_id, line_no) in ( select order_id, line_no from" in text
    assert text.count("where _op <> 'd'") == 4
