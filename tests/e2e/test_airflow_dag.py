"""The Airflow DAG (orchestration/airflow/dags/extractor_nightly.py) runs whole nights with the real Airflow.

``dag.test()`` on SQLite, in an environment of its own (scripts/airflow_env.py creates ``.venv-airflow`` once,
about 1–2.5 minutes here); the tasks run this project's extractor from this environment, against the real
MariaDB, a local lake and DuckDB. Night 1 loads everything, MySQL changes, night 2 loads the changes; the
warehouse then equals MySQL.
"""

from __future__ import annotations

import importlib.util
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
DAGS = ROOT / "orchestration" / "airflow" / "dags"
DAG_ID = "extractor_nightly_sales"
CLI = [sys.executable, "-m", "extractor"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    spec = importlib.util.spec_from_file_location("airflow_env", ROOT / "scripts" / "airflow_env.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = Path(os.environ.get("EXTRACTOR_AIRFLOW_VENV", ROOT / ".venv-airflow"))
    return module.ensure(venv)


def _night(airflow_python: Path, env: dict[str, str], cwd: Path) -> dict:
    done = subprocess.run([str(airflow_python), str(Path(__file__).with_name("_airflow_night.py")),
                           str(DAGS / "extractor_nightly.py"), DAG_ID],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    (cwd / f"night-{len(list(cwd.glob('night-*.log')))}.log").write_text(done.stdout + done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith("NIGHT ")]
    assert done.returncode == 0 and lines, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(lines[-1][len("NIGHT "):])


def _environments(airflow_python: Path, mysql_db, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(the Airflow tasks' environment, the project's) over a migrated SQLite metadata db and a sample database."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    warehouse = tmp_path / "warehouse.duckdb"
    project_env = {**os.environ, **mysql_db.env(), "SALES_DB": mysql_db.database,
                   "EXTRACTOR_LAKE": str(tmp_path / "lake"), "EXTRACTOR_CONFIG_DIR": str(config),
                   "EXTRACTOR_ENV": "demo", "EXTRACTOR_DUCKDB": str(warehouse), "DBT_DUCKDB_PATH": str(warehouse),
                   "TZ": "UTC", "PYTHONPATH": str(ROOT)}
    env = {**project_env, "EXTRACTOR_BIN": " ".join(CLI), "EXTRACTOR_WORKDIR": str(ROOT),
           "EXTRACTOR_TASK_RETRIES": "0", "EXTRACTOR_MAX_LAG": "1h", "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("VIRTUAL_ENV", None)
    migrate = subprocess.run([str(airflow_python.with_name("airflow")), "db", "migrate"], env=env,
                             capture_output=True, text=True, check=False)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    created = subprocess.run([*CLI, "sample", "create", "--orders", "300"], env=project_env,
                             capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    return env, project_env


def test_two_nights_of_the_airflow_dag_leave_the_warehouse_equal_to_mysql(airflow_python, mysql_db, tmp_path):
    env, project_env = _environments(airflow_python, mysql_db, tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"

    first = _night(airflow_python, env, tmp_path)
    tables = ["customers", "products", "orders", "order_items"]
    assert first["state"] == "success", first
    assert {first["tasks"][f"extract_{t}"] for t in tables} == {"success"}
    assert first["tasks"]["status"] == "success"
    assert "dbt_build" in first["xcom"], (first["tasks"], sorted(first["xcom"]))
    assert sorted(first["xcom"]["dbt_build"]) == sorted(tables)  # everything changed on the first night

    changed = subprocess.run([*CLI, "sample", "mutate", "--seed", "3", "--json"], env=project_env,
                             capture_output=True, text=True, check=False)
    assert changed.returncode == 0, changed.stderr
    summary = json.loads(changed.stdout)
    time.sleep(1.2)  # the demo environment's safety lag

    second = _night(airflow_python, env, tmp_path)
    assert second["state"] == "success", second
    assert second["xcom"]["extract_orders"]["rows"] >= len(summary["orders_inserted"])
    assert set(second["xcom"]["status"].values()) == {"fresh"}

    verified = subprocess.run([*CLI, "verify", "-p", "sales", "--target", str(warehouse)],
                              env=project_env, capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    source = {r[0]: r[1:] for r in mysql_db.query("SELECT customer_id, tier, address FROM customers")}
    orders = {r[0]: r[1:] for r in mysql_db.query("SELECT order_id, status, updated_at FROM orders")}
    with duckdb.connect(str(warehouse), read_only=True) as db:
        staged = {r[0]: r[1:] for r in db.execute(
            "select customer_id, tier, address from main_staging.stg_sales__customers").fetchall()}
        facts = {r[0]: r[1:] for r in db.execute(
            "select order_id, status, updated_at from main_staging.stg_sales__orders").fetchall()}
        deleted = db.execute("select bool_or(is_current) from main_marts.dim_products where product_id = ?",
                             [summary["product_deleted"]]).fetchone()
    assert staged == source and facts == orders
    assert deleted == (False,)


def test_a_night_with_a_failing_table_skips_its_dependents_builds_the_rest_and_fails(airflow_python, mysql_db,
                                                                                      tmp_path):
    env, project_env = _environments(airflow_python, mysql_db, tmp_path)
    earlier = subprocess.run([*CLI, "run", "-p", "sales"], env=project_env, capture_output=True, text=True,
                             check=False)  # earlier nights: every table is in the warehouse
    assert earlier.returncode == 0, earlier.stdout[-3000:] + earlier.stderr
    mysql_db.execute("UPDATE customers SET tier = 'gold', updated_at = NOW(6) WHERE customer_id <= 3",
                     "RENAME TABLE orders TO orders_gone")  # tonight, extracting orders fails
    time.sleep(1.2)  # the demo environment's safety lag

    night = _night(airflow_python, env, tmp_path)
    tasks = night["tasks"]
    assert night["state"] == "failed", night
    assert (tasks["extract_orders"], tasks["extract_order_items"]) == ("failed", "upstream_failed")
    assert (tasks["extract_customers"], tasks["extract_products"]) == ("success", "success")
    assert sorted(night["xcom"]["dbt_build"]) == ["customers", "products"], tasks  # what landed is still built
    assert (tasks["dbt_build"], tasks["acknowledge"]) == ("success", "success")
    assert (tasks["status"], tasks["night_failed"]) == ("failed", "failed")
    log = next(tmp_path.glob("night-0.log")).read_text()
    assert "extractor status exited 13" in log and "orders: last run" in log
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        tiers = db.execute("select tier from main_staging.stg_sales__customers where customer_id <= 3").fetchall()
    assert tiers == [("gold",)] * 3
