"""`extractor run`: extract → dbt build → acknowledge, on a real MariaDB, a local lake and DuckDB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def env(mysql_db, tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    return {
        **os.environ, **mysql_db.env(), "SALES_DB": mysql_db.database, "EXTRACTOR_LAKE": str(tmp_path / "lake"),
        "EXTRACTOR_CONFIG_DIR": str(config), "EXTRACTOR_ENV": "demo",
    }


def extractor(env, tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "extractor", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True)


def test_run_builds_the_warehouse_acknowledges_batches_and_tracks_history(env, tmp_path, mysql_db):
    assert extractor(env, tmp_path, "sample", "create", "--orders", "1500").returncode == 0
    first = extractor(env, tmp_path, "run", "-p", "sales", "--project-dir", str(ROOT))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert "Completed successfully" in first.stdout  # dbt's own output is shown
    assert "acknowledged orders: 1 batch(es), 1,500 rows; 0 pending" in first.stdout

    wm = json.loads(extractor(env, tmp_path, "watermark", "get", "-p", "sales", "-t", "orders", "--json").stdout)
    assert wm["load"]["status"] == "loaded" and wm["pending_files"] == []

    changed = extractor(env, tmp_path, "sample", "mutate", "--seed", "3", "--json")
    summary = json.loads(changed.stdout)
    time.sleep(1.2)  # the demo environment's safety lag
    second = extractor(env, tmp_path, "run", "-p", "sales", "--project-dir", str(ROOT))
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr

    source = {r[0]: r[1:] for r in mysql_db.query("SELECT customer_id, tier, address FROM customers")}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        staged = {r[0]: r[1:] for r in db.execute(
            "select customer_id, tier, address from main_staging.stg_sales__customers").fetchall()}
        assert staged == source
        for cid in summary["customers_updated"]:
            versions = db.execute(
                "select count(*), count(*) filter (where is_current) from main_marts.dim_customers"
                " where customer_id = ?", [cid]).fetchone()
            assert versions == (2, 1)
        deleted = db.execute("select bool_or(is_current) from main_marts.dim_products where product_id = ?",
                             [summary["product_deleted"]]).fetchone()
        assert deleted == (False,)
        facts = db.execute("select count(*) from main_marts.fct_orders").fetchone()[0]
        # The sample's customers and products exist before the orders that reference them.
        unknown = "'" + "0" * 32 + "'"
        unresolved = db.execute(
            f"select (select count(*) from main_marts.fct_orders where customer_sk = {unknown}),"
            f" (select count(*) from main_marts.fct_order_items where product_sk = {unknown})").fetchone()
        assert unresolved == (0, 0)
        landed_twice = db.execute(
            "select count(*) from (select _batch_id, order_id from main_landing.lnd_sales__orders"
            " group by all having count(*) > 1)").fetchone()[0]
    assert facts == mysql_db.query("SELECT COUNT(*) FROM orders")[0][0]
    assert landed_twice == 0


def test_run_propagates_dbt_failure_and_acknowledges_nothing(env, tmp_path):
    (Path(env["EXTRACTOR_CONFIG_DIR"]) / "environments" / "broken.yml").write_text(
        "connections:\n  targets:\n    local_duckdb: {path: /nonexistent-dir/warehouse.duckdb}\n")
    env = {**env, "EXTRACTOR_ENV": "broken"}
    assert extractor(env, tmp_path, "sample", "create", "--orders", "100").returncode == 0
    result = extractor(env, tmp_path, "run", "-p", "sales", "--project-dir", str(ROOT), "--json")
    assert result.returncode not in (0, 1), result.stdout[-2000:]  # dbt's own exit code
    assert "dbt build failed with exit code" in result.stderr
    report = json.loads(result.stdout[result.stdout.rindex('{\n  "pipeline"'):])
    assert report["dbt_exit_code"] == result.returncode and report["dbt_seconds"] > 0
    assert report["extract"]["ok"] and report["acknowledged"] == []
    wm = json.loads(extractor(env, tmp_path, "watermark", "get", "-p", "sales", "-t", "orders", "--json").stdout)
    assert len(wm["pending_files"]) == 1 and wm["load"]["acknowledged_batches"] == []
