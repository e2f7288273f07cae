"""`extractor run` in a dbt project with two pipelines, on MariaDB, a local lake and DuckDB.

A run builds its own pipeline's part of the project, acknowledges only after a successful build, builds a
table without lake files (never extracted, or cleaned by s3clean), and one DBT_DUCKDB_PATH tells the
extractor, verify and plain dbt where the warehouse is.
"""

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

INV_PIPELINE = """\
pipeline: {name: inv, source: sales_mysql, target: local_duckdb, target_schema: inv_raw, lake: "${EXTRACTOR_LAKE}"}
defaults: {safety_lag_seconds: 0}
tables:
  stock: {source_table: "${SALES_DB}.stock", cdc_strategy: hybrid, cursor_column: updated_at, id_columns: [sku],
          table_type: fact}
"""
INV_LANDING = "{{ config(pre_hook=\"{{ lake_prepare('inv', 'stock') }}\") }}\n{{ landing_batches('inv', 'stock') }}\n"


class Project:
    """A copy of the dbt project with the shipped config plus pipeline `inv`, and a warehouse elsewhere."""

    def __init__(self, db, tmp: Path) -> None:  # noqa: ANN001
        self.db, self.dir = db, tmp / "project"
        self.dir.mkdir()
        for part in ("dbt_project.yml", "profiles.example.yml"):
            shutil.copy(ROOT / part, self.dir / part)
        for part in ("macros", "dbt_project", "seeds", "config", "tests/dbt"):
            shutil.copytree(ROOT / part, self.dir / part)
        (self.dir / "config" / "pipelines" / "inv.yml").write_text(INV_PIPELINE)
        (self.dir / "dbt_project" / "models" / "landing" / "lnd_inv__stock.sql").write_text(INV_LANDING)
        self.warehouse = tmp / "warehouses" / "one.duckdb"
        self.warehouse.parent.mkdir()
        self.env = {**os.environ, **db.env(), "SALES_DB": db.database, "EXTRACTOR_LAKE": str(tmp / "lake"),
                    "EXTRACTOR_ENV": "demo", "DBT_DUCKDB_PATH": str(self.warehouse), "TZ": "UTC"}
        for var in ("EXTRACTOR_CONFIG_DIR", "DBT_PROFILES_DIR", "LAKE_ROOT"):
            self.env.pop(var, None)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "extractor", *args], cwd=self.dir, env=self.env,
                              capture_output=True, text=True, timeout=600, check=False)

    def tables(self) -> dict[str, int]:
        with duckdb.connect(str(self.warehouse), read_only=True) as db:
            names = [r[0] for r in db.execute("select table_schema || '.' || table_name from "
                                              "information_schema.tables").fetchall()]
            return {n: db.execute(f"select count(*) from {n}").fetchone()[0] for n in names}

    def built_nodes(self) -> set[str]:
        results = json.loads((self.dir / "target" / "run_results.json").read_text())
        return {r["unique_id"] for r in results["results"]}

    def pending(self, table: str, pipeline: str = "sales") -> int:
        done = self("watermark", "get", "-p", pipeline, "-t", table, "--json")
        return len(json.loads(done.stdout)["pending_files"])


@pytest.fixture
def project(mysql_db, tmp_path) -> Project:
    p = Project(mysql_db, tmp_path)
    assert p("sample", "create", "--orders", "200").returncode == 0  # (re)creates the database
    mysql_db.execute("CREATE TABLE stock (sku VARCHAR(16) PRIMARY KEY, qty INT NOT NULL, price DECIMAL(10,2),"
                     " updated_at DATETIME(6) NOT NULL, KEY ix_u (updated_at, sku))")
    sources = p("dbt", "sources", "-p", "inv")  # columns from MySQL: what an empty lake table is built with
    assert sources.returncode == 0, sources.stderr
    return p


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done


def test_a_run_builds_its_own_pipeline_and_a_table_without_files(project: Project) -> None:
    # inv has never been extracted: its lake table has no file. A run of sales neither builds nor fails on it.
    first = _ok(project("run", "-p", "sales"))
    assert "acknowledged orders: 1 batch(es), 200 rows; 0 pending" in first.stdout
    nodes = project.built_nodes()
    assert any("lnd_sales__orders" in n for n in nodes) and any("dim_customers" in n for n in nodes)
    assert not any("inv" in n for n in nodes), sorted(n for n in nodes if "inv" in n)
    built = project.tables()
    assert built["main_landing.lnd_sales__orders"] == 200 and "main_landing.lnd_inv__stock" not in built

    # One setting: DBT_DUCKDB_PATH put the warehouse there, and verify reads the same file.
    assert project.warehouse.exists() and not (project.dir / "warehouse.duckdb").exists()
    verified = _ok(project("verify", "-p", "sales", "--json"))
    tables = json.loads(verified.stdout)["tables"]
    assert len(tables) == 4 and all(t["warehouse_rows"] is not None and t["warehouse_ok"] for t in tables), tables

    # A run of inv before its first extract builds an empty landing table with the declared columns ...
    empty = _ok(project("run", "-p", "inv", "--skip-extract"))
    assert "No files found" not in empty.stdout
    assert not any("sales" in n for n in project.built_nodes())
    assert project.tables()["main_landing.lnd_inv__stock"] == 0
    with duckdb.connect(str(project.warehouse), read_only=True) as db:
        columns = [r[0] for r in db.execute("describe main_landing.lnd_inv__stock").fetchall()]
    assert columns[:4] == ["sku", "qty", "price", "updated_at"] and "_batch_id" in columns and "dt" in columns
    # ... into which the first extracted rows then land.
    project.db.execute("INSERT INTO stock VALUES ('a', 3, 9.50, '2025-01-01'), ('b', 0, NULL, '2025-01-02')")
    landed = _ok(project("run", "-p", "inv"))
    assert "acknowledged stock: 1 batch(es), 2 rows; 0 pending" in landed.stdout
    assert project.tables()["main_landing.lnd_inv__stock"] == 2


def test_a_table_whose_files_were_all_cleaned_still_builds(project: Project) -> None:
    _ok(project("run", "-p", "sales"))
    cleaned = _ok(project("s3clean", "clean", "-p", "sales", "--older-than", "0s", "--force"))
    assert cleaned.stdout.strip().startswith("deleted") and "deleted 0 " not in cleaned.stdout
    lake = Path(project.env["EXTRACTOR_LAKE"])
    assert not list((lake / "data").rglob("orders__*.parquet"))
    again = _ok(project("run", "-p", "sales"))  # nothing changed: orders and customers get no new file
    assert "No files found" not in again.stdout
    assert project.tables()["main_landing.lnd_sales__orders"] == 200

    changed = json.loads(_ok(project("sample", "mutate", "--seed", "2", "--json")).stdout)
    time.sleep(1.2)  # the demo environment's safety lag
    _ok(project("run", "-p", "sales"))
    source = {r[0]: r[1:] for r in project.db.query("SELECT customer_id, tier, address FROM customers")}
    with duckdb.connect(str(project.warehouse), read_only=True) as db:
        staged = {r[0]: r[1:] for r in db.execute(
            "select customer_id, tier, address from main_staging.stg_sales__customers").fetchall()}
    assert staged == source and changed["customers_updated"]


def test_a_failed_build_acknowledges_nothing(project: Project) -> None:
    _ok(project("run", "-p", "sales"))
    products = project.tables()["main_landing.lnd_sales__products"]
    (project.dir / "dbt_project" / "models" / "marts" / "boom.sql").write_text(
        "select error('boom') as x, product_id from {{ ref('lnd_sales__products') }}\n")
    failed = project("run", "-p", "sales", "--json")
    assert failed.returncode == 1, failed.stdout[-3000:]  # dbt: a node failed
    assert "error: dbt build failed with exit code" in failed.stderr
    report = json.loads(failed.stdout[failed.stdout.rindex('{\n  "pipeline"'):])
    assert report["acknowledged"] == [] and report["dbt_select"] == ["@source:sales"]
    # products (full_sync) landed a new batch before the failing mart: it stays pending, not acknowledged.
    assert project.tables()["main_landing.lnd_sales__products"] == 2 * products
    assert project.pending("products") == 1
    (project.dir / "dbt_project" / "models" / "marts" / "boom.sql").unlink()
    _ok(project("run", "-p", "sales", "--skip-extract"))
    assert project.pending("products") == 0


def test_a_table_without_files_or_declared_columns_stops_the_build_saying_what_to_run(project: Project) -> None:
    sources = project.dir / "dbt_project" / "models" / "landing" / "_inv__sources.yml"
    sources.unlink()
    _ok(project("dbt", "sources", "-p", "inv", "--keep-columns"))  # from the YAML alone: no column list
    failed = project("dbt", "build", "-p", "inv", "--select", "lnd_inv__stock")  # plain dbt: nothing regenerated
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert ("source inv.stock has no files in the lake and declares no columns: regenerate the sources with "
            "`extractor dbt sources -p inv` (it reads the columns from MySQL), or extract the table first"
            ) in " ".join(failed.stdout.split())
    # `extractor run` keeps the generated sources in step with MySQL first, so it builds the empty table.
    _ok(project("run", "-p", "inv", "--skip-extract"))
    assert project.tables()["main_landing.lnd_inv__stock"] == 0
