"""Issue 18 (DuckDB): a column added, widened, dropped in MySQL flows through `extractor run` alone.

No --full-refresh and no model edit: run regenerates the sources and generated models from MySQL, landing and
staging take the new columns (on_schema_change: sync_all_columns), history is rebuilt from every version.
After each step staging equals MySQL, and the SCD2 history has no gaps or overlaps.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from _onboarding import UserProject, assert_history_sound, assert_staging_equals_mysql

pytestmark = pytest.mark.slow


def test_added_widened_and_dropped_columns_reach_landing_staging_and_history_without_full_refresh(mysql_db, tmp_path):
    mysql_db.execute(
        "CREATE TABLE items (item_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL,"
        " qty INT NOT NULL, price DECIMAL(10,2) NOT NULL, updated_at DATETIME(6) NOT NULL)",
        "INSERT INTO items (name, qty, price, updated_at) VALUES ('a', 1, 1.50, '2024-01-01 00:00:00'),"
        " ('b', 2, 2.50, '2024-01-01 00:00:01'), ('c', 3, 3.50, '2024-01-01 00:00:02')")
    project = UserProject.create(tmp_path, mysql_db)
    project.ok("discover", "--source", "sales_mysql", "--database", mysql_db.database, "--pipeline", "inv",
               "--target", "local_duckdb", "--write")
    path = project.root / "config" / "pipelines" / "inv.yml"
    path.write_text(path.read_text().replace("table_type: fact", "table_type: dimension"))  # the user's review
    project.ok("dbt", "scaffold", "-p", "inv")
    project.ok("run", "-p", "inv")
    assert_staging_equals_mysql(project, "inv", ["items"])

    # added column: older versions NULL, newer ones carry it, in landing, staging and history
    mysql_db.execute("ALTER TABLE items ADD COLUMN colour VARCHAR(20) NULL",
                     "UPDATE items SET colour = 'red', updated_at = '2024-02-01 00:00:00' WHERE item_id = 1",
                     "INSERT INTO items (name, qty, price, colour, updated_at) VALUES ('d', 4, 4.50, 'blue',"
                     " '2024-02-01 00:00:01')")
    out = project.ok("run", "-p", "inv")
    assert "full-refresh" not in out.lower()
    assert_staging_equals_mysql(project, "inv", ["items"])
    assert "colour" in project.columns("main_landing.lnd_inv__items")
    assert project.rows("select colour from main_history.hist_inv__items where item_id = 1 order by valid_from") == [
        (None,), ("red",)]
    assert_history_sound(project, "main_history.hist_inv__items", ["item_id"])

    # widened types: values beyond the old types stay exact
    mysql_db.execute("ALTER TABLE items MODIFY name VARCHAR(200) NOT NULL, MODIFY qty BIGINT NOT NULL,"
                     " MODIFY price DECIMAL(14,2) NOT NULL",
                     f"UPDATE items SET name = '{'n' * 150}', qty = 5000000000, price = 123456789012.34,"
                     " updated_at = '2024-03-01 00:00:00' WHERE item_id = 2")
    project.ok("run", "-p", "inv")
    assert_staging_equals_mysql(project, "inv", ["items"])
    assert project.rows("select qty, price from main_staging.stg_inv__items where item_id = 2") == [
        (5000000000, Decimal("123456789012.34"))]
    assert_history_sound(project, "main_history.hist_inv__items", ["item_id"])

    # dropped column: the run goes on; the warehouse keeps the column, NULL for versions from then on
    mysql_db.execute("ALTER TABLE items DROP COLUMN colour",
                     "UPDATE items SET qty = 7, updated_at = '2024-04-01 00:00:00' WHERE item_id = 4")
    project.ok("run", "-p", "inv")
    assert_staging_equals_mysql(project, "inv", ["items"])
    assert "colour" in project.columns("main_staging.stg_inv__items")
    assert project.rows("select item_id, colour from main_staging.stg_inv__items order by item_id") == [
        (1, "red"), (2, None), (3, None), (4, None)]
    assert project.rows("select colour, qty from main_history.hist_inv__items where item_id = 4"
                        " order by valid_from") == [("blue", 4), (None, 7)]
    assert_history_sound(project, "main_history.hist_inv__items", ["item_id"])
