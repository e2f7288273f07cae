"""Redshift cannot run here: compile every model, snapshot, analysis and test for the redshift target
offline and parse the SQL with sqlglot's Redshift dialect (both is_incremental() branches)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlglot
from sqlglot.errors import ParseError

from extractor import dbt

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

OFFLINE_ENV = {  # nothing listens on port 9: a connection attempt would fail loudly
    "REDSHIFT_HOST": "127.0.0.1", "REDSHIFT_PORT": "9", "REDSHIFT_DATABASE": "dev",
    "REDSHIFT_USER": "ci", "REDSHIFT_PASSWORD": "not-a-secret", "REDSHIFT_SCHEMA": "analytics",
}
VARS = {
    "lake_root": "s3://lake-bucket/prefix",
    "redshift_iam_role": "arn:aws:iam::123456789012:role/lake-copy",
    "lake_manifests": {"sales": {
        t: f"s3://lake-bucket/prefix/manifests/sales_mysql/sales/sales_raw/{t}/20260301T120000000000Z-aaaaaa.manifest"
        for t in ("customers", "products", "orders", "order_items")
    }},
}


@pytest.fixture(scope="module", params=[True, False], ids=["incremental", "first_build"])
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("dbt-redshift")
    (tmp / "profiles").mkdir()
    shutil.copy(ROOT / "profiles.example.yml", tmp / "profiles" / "profiles.yml")
    rc = dbt.build(
        ROOT, tmp / "profiles", "redshift", command="compile",
        vars={**VARS, "assume_incremental": request.param},
        extra=["--no-introspect", "--no-populate-cache", "--target-path", str(tmp / "target"),
               "--log-path", str(tmp / "logs"), "--quiet"],
        env={**OFFLINE_ENV, "DBT_TARGET": "redshift"},
    )
    assert rc == 0, "dbt compile --target redshift failed offline"
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    kinds = ("model", "snapshot", "analysis", "test")
    nodes = {node_id: node for node_id, node in manifest["nodes"].items()
             if node["resource_type"] in kinds and node.get("compiled_code")}
    return {"incremental": request.param, "nodes": nodes}


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


def test_landing_copies_the_manifest_in_parquet_column_order(compiled: dict) -> None:
    sql = next(n for n in compiled["nodes"].values() if n["name"] == "lake_copy_statements")["compiled_code"]
    statements = [s for s in sqlglot.parse(sql, read="redshift") if s is not None]
    copies = [s for s in statements if isinstance(s, sqlglot.exp.Copy)]
    assert len(copies) == 4
    text = " ".join(sql.split()).lower()
    assert "format as parquet manifest" in text
    assert "iam_role 'arn:aws:iam::123456789012:role/lake-copy'" in text
    create = next(s for s in statements if isinstance(s, sqlglot.exp.Create) and "customers" in s.sql())
    columns = [c.name for c in create.find_all(sqlglot.exp.ColumnDef)]
    assert columns[0] == "customer_id" and columns[-3:] == ["_extracted_at", "_batch_id", "_op"]


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
