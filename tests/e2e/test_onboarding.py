"""Issue 17: a database the project has never seen, end to end with two commands and a review.

`discover --write` → `config validate` → `dbt scaffold` → `extractor run` on two schemas unlike `sales`
(tests/e2e/_onboarding_schemas.py); staging equals MySQL table for table, dimensions get SCD2 history
through updates and deletes, and a run with no changes changes nothing.
"""

from __future__ import annotations

import pytest
import yaml
from _onboarding import UserProject, assert_history_sound, assert_staging_equals_mysql
from _onboarding_schemas import CLINIC, CLINIC_ROWS, SHOP, SHOP_ROWS

pytestmark = pytest.mark.slow

SHOP_TABLES = ["price_list", "regions", "staff", "stock", "stock_moves", "warehouses"]


def _discover(project: UserProject, pipeline: str) -> str:
    project.ok("discover", "--source", "sales_mysql", "--database", project.db.database, "--pipeline", pipeline,
               "--target", "local_duckdb", "--write")
    text = (project.root / "config" / "pipelines" / f"{pipeline}.yml").read_text()
    assert project.ok("config", "validate", pipeline).startswith(f"OK  {pipeline}")
    return text


def test_discovered_shop_schema_lands_in_staging_with_history_through_updates_and_deletes(mysql_db, tmp_path):
    mysql_db.execute(*SHOP, *SHOP_ROWS)
    project = UserProject.create(tmp_path, mysql_db)
    text = _discover(project, "shop")
    tables = yaml.safe_load(text)["tables"]
    assert sorted(tables) == SHOP_TABLES  # audit_scratch (no key) commented out, the view skipped
    assert "#   NOT EXTRACTED: no primary key and no unique NOT NULL key" in text
    assert "Views (not extracted: discover reads base tables only): v_stock_value" in text
    assert tables["warehouses"]["cursor_column"] == "last_update"
    assert "cursor: last_update — TIMESTAMP(6) NOT NULL ON UPDATE CURRENT_TIMESTAMP" in text
    assert tables["stock_moves"]["cdc_strategy"] == "id"
    assert tables["price_list"] == {"source_table": f"{mysql_db.database}.price_list", "cdc_strategy": "full_sync",
                                    "id_columns": ["sku", "currency"], "table_type": "fact"}
    assert tables["stock"]["id_columns"] == ["warehouse_id", "sku", "bin"]
    # warehouses ↔ staff: the cycle is broken at the optional foreign key (warehouses.manager_id)
    assert tables["staff"]["depends_on"] == ["warehouses"] and tables["warehouses"]["depends_on"] == ["regions"]
    assert "not staff (foreign key fk_wh_manager): it would close the cycle warehouses → staff → warehouses" in text
    assert f"CREATE INDEX `ix_staff_modified_at_staff_id` ON `{mysql_db.database}`.`staff`" in text
    assert {n for n, t in tables.items() if t["table_type"] == "dimension"} == {"regions", "staff", "warehouses"}

    assert "18 written" in project.ok("dbt", "scaffold", "-p", "shop")
    project.ok("run", "-p", "shop")
    assert_staging_equals_mysql(project, "shop", SHOP_TABLES)

    mysql_db.execute(
        "UPDATE warehouses SET name = 'Oslo Nord', last_update = '2024-06-01 00:00:00' WHERE warehouse_id = 1",
        "UPDATE staff SET full_name = 'Ada L.', modified_at = '2024-06-02 00:00:00' WHERE staff_id = 1",
        "UPDATE stock SET qty = 11, updated_at = '2024-06-03 00:00:00' WHERE warehouse_id = 1 AND bin = 1",
        "UPDATE regions SET population = 5600000 WHERE region_code = 'NO'",
        "DELETE FROM staff WHERE staff_id = 3",
        "DELETE FROM warehouses WHERE warehouse_id = 3",
        "DELETE FROM regions WHERE region_code = 'FI'",
        "DELETE FROM price_list WHERE sku = 'B-7'",
        "INSERT INTO stock_moves (warehouse_id, sku, delta, created_at) VALUES (1, 'A-1', 1, '2024-06-03 00:00:00')",
    )
    out = project.ok("run", "-p", "shop")
    assert "0 written, 18 unchanged" in out
    assert_staging_equals_mysql(project, "shop", SHOP_TABLES)
    for table, key in (("warehouses", ["warehouse_id"]), ("staff", ["staff_id"]), ("regions", ["region_code"])):
        assert_history_sound(project, f"main_history.hist_shop__{table}", key)
    assert project.rows("select name, is_current, valid_to is null from main_history.hist_shop__warehouses"
                        " where warehouse_id = 1 order by valid_from") == [("Oslo", False, False),
                                                                           ("Oslo Nord", True, True)]
    assert project.rows("select is_current, is_deleted from main_history.hist_shop__warehouses"
                        " where warehouse_id = 3") == [(False, True)]
    assert project.rows("select population, is_current, is_deleted from main_history.hist_shop__regions"
                        " where region_code in ('NO', 'FI') order by region_code, valid_from") == [
        (18446744073709551615, False, True), (5500000, False, False), (5600000, True, False)]

    snapshot = {t: project.rows(f"select * exclude (_landed_at, _batch_id, _extracted_at) from "
                                f"main_staging.stg_shop__{t} order by all") for t in SHOP_TABLES}
    history = {t: project.rows(f"select * from main_history.hist_shop__{t} order by all")
               for t in ("warehouses", "staff", "regions")}
    project.ok("run", "-p", "shop")
    assert snapshot == {t: project.rows(f"select * exclude (_landed_at, _batch_id, _extracted_at) from "
                                        f"main_staging.stg_shop__{t} order by all") for t in SHOP_TABLES}
    assert history == {t: project.rows(f"select * from main_history.hist_shop__{t} order by all")
                       for t in ("warehouses", "staff", "regions")}


def test_discovered_clinic_schema_uses_unique_keys_on_update_cursors_and_composite_foreign_keys(mysql_db, tmp_path):
    mysql_db.execute(*CLINIC, *CLINIC_ROWS)
    project = UserProject.create(tmp_path, mysql_db)
    text = _discover(project, "clinic")
    tables = yaml.safe_load(text)["tables"]
    assert tables["doctors"]["id_columns"] == ["doctor_code"]
    assert "unique NOT NULL key `uq_doctor` (no primary key)" in text
    assert tables["doctors"]["cursor_column"] == "signed_on"  # found by ON UPDATE, not by its name
    assert tables["patients"]["cursor_column"] == "row_changed"
    assert tables["visits"]["depends_on"] == ["doctors", "patients"]
    assert "consider exclude_columns: [photo] — mediumblob: values may be very large" in text

    project.ok("dbt", "scaffold", "-p", "clinic")
    project.ok("run", "-p", "clinic")
    assert_staging_equals_mysql(project, "clinic", ["doctors", "patients", "visits"])
    mysql_db.execute("UPDATE patients SET balance = 99.5, row_changed = '2024-05-01 00:00:00'"
                     " WHERE clinic_no = 1 AND patient_no = 2",
                     "DELETE FROM patients WHERE clinic_no = 2 AND patient_no = 1 AND NOT EXISTS"
                     " (SELECT 1 FROM visits WHERE clinic_no = 2 AND patient_no = 1)")
    mysql_db.execute("DELETE FROM visits WHERE clinic_no = 2", "DELETE FROM patients WHERE clinic_no = 2")
    project.ok("run", "-p", "clinic")
    assert_staging_equals_mysql(project, "clinic", ["doctors", "patients"])
    assert_history_sound(project, "main_history.hist_clinic__patients", ["clinic_no", "patient_no"])
    assert project.rows("select count(*), count(*) filter (where is_deleted) from main_history.hist_clinic__patients"
                        " where clinic_no = 2") == [(1, 1)]
