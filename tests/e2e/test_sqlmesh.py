"""The same dbt project under SQLMesh (its dbt loader) on DuckDB gives the same warehouse as dbt.

Over one lake written by the extractor, dbt builds one DuckDB file and SQLMesh plans and applies the project
into another; marts, staging and snapshots must be equal row for row on every column but those that record
*when* a tool built something (``NOT_COMPARED``). Then a round of source changes (new and updated rows, three
in one microsecond, a deleted product) is synced, dbt builds again, SQLMesh runs again (``run`` with
``ignore_cron``: the project's models are daily and the day is not over), and the two are compared again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlmesh.core.console
from _e2e_support import ROOT, Stack, make_config
from sqlmesh import Context
from sqlmesh.core.config import ModelDefaultsConfig, PlanConfig
from sqlmesh.core.context import CompletionStatus
from sqlmesh.dbt.loader import sqlmesh_config

pytestmark = pytest.mark.slow

ORDERS = 300
# relation → columns not compared, and why. Every other column must be equal.
NOT_COMPARED: dict[str, set[str]] = {
    **{f"main_marts.{m}": set() for m in ("dim_customers", "dim_products", "fct_orders", "fct_order_items")},
    # _landed_at: the warehouse clock of the build that landed the row.
    **{f"main_staging.stg_sales__{t}": {"_landed_at"} for t in ("customers", "products", "orders", "order_items")},
    # timestamp strategy: validity comes from updated_at, the same in both.
    "main_snapshots.snap_sales__customers": {"_landed_at"},
    # check strategy: validity is the time of the build (dbt) or of the run's execution (SQLMesh); whether a
    # version is still current is compared instead.
    "main_snapshots.snap_sales__products": {"_landed_at", "dbt_valid_from", "dbt_valid_to"},
}
# Snapshot columns only dbt writes (SQLMesh's SCD Type 2 kinds keep dbt_valid_from/dbt_valid_to only).
DBT_ONLY = {"dbt_scd_id", "dbt_updated_at"}


@pytest.fixture
def stack(mysql_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:  # noqa: ANN001
    s = Stack(mysql_db, tmp_path, str(tmp_path / "lake"), make_config(tmp_path)).apply(monkeypatch)
    s.create_sample(ORDERS)
    # SQLMesh reports failed models and audits on its console (silent by default): shown with a failure.
    monkeypatch.setattr(sqlmesh.core.console, "_CONSOLE", sqlmesh.core.console.TerminalConsole())
    return s


def sqlmesh_context(stack: Stack, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    """SQLMesh over the project root as `sqlmesh init -t dbt` configures it, into the DuckDB file `warehouse`.

    The lake comes from LAKE_ROOT (var lake_root's fallback), as in the documented command; the dbt profile
    reads DBT_DUCKDB_PATH when SQLMesh loads it.
    """
    monkeypatch.setenv("DBT_DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("LAKE_ROOT", stack.lake)
    config = sqlmesh_config(
        ROOT,
        profiles_dir=stack.tmp / "profiles",  # written by stack.dbt_build()
        variables={"sales_source_db": stack.db.database},
        infer_state_schema_name=True,  # the rest as in the sqlmesh.yaml that `sqlmesh init -t dbt` writes
        virtual_environment_mode="dev_only",
        plan=PlanConfig(always_recreate_environment=True),
        model_defaults=ModelDefaultsConfig(start="2020-01-01"),
        cache_dir=str(stack.tmp / "sqlmesh-cache"),
    )
    return Context(paths=ROOT, config=config)


def differences(dbt_warehouse: Path, sqlmesh_warehouse: Path) -> dict[str, dict[str, Any]]:
    """Per relation: row counts, and (the first 5 of) the rows only one side has, on the compared columns."""
    out: dict[str, dict[str, Any]] = {}
    # Attached under their file names: objects SQLMesh creates are qualified with that catalog name.
    left, right = dbt_warehouse.stem, sqlmesh_warehouse.stem
    with duckdb.connect() as conn:
        conn.execute(f"attach '{dbt_warehouse}' as {left} (read_only)")
        conn.execute(f"attach '{sqlmesh_warehouse}' as {right} (read_only)")
        for relation, excluded in NOT_COMPARED.items():
            columns = [r[0] for r in conn.execute(f"describe {left}.{relation}").fetchall()]
            other = [r[0] for r in conn.execute(f"describe {right}.{relation}").fetchall()]
            assert other == [c for c in columns if c not in DBT_ONLY], f"{relation}: dbt {columns}, SQLMesh {other}"
            compared = [f'"{c}"' for c in other if c not in excluded]
            if "dbt_valid_to" in excluded:
                compared.append("dbt_valid_to is null as is_current")
            select = ", ".join(compared)
            only = {side: conn.execute(f"select {select} from {a}.{relation} except all "
                                       f"select {select} from {b}.{relation} order by all limit 5").fetchall()
                    for side, a, b in (("dbt", left, right), ("sqlmesh", right, left))}
            rows = [conn.execute(f"select count(*) from {w}.{relation}").fetchone()[0] for w in (left, right)]
            out[relation] = {"rows": rows, "only_dbt": only["dbt"], "only_sqlmesh": only["sqlmesh"]}
    return out


def assert_same_warehouse(dbt_warehouse: Path, sqlmesh_warehouse: Path) -> dict[str, dict[str, Any]]:
    diff = differences(dbt_warehouse, sqlmesh_warehouse)
    drift = {r: d for r, d in diff.items() if d["only_dbt"] or d["only_sqlmesh"] or d["rows"][0] != d["rows"][1]}
    assert drift == {}, f"dbt and SQLMesh differ (rows only one side has, first 5):\n{drift}"
    assert all(d["rows"][0] > 0 for d in diff.values()), diff
    return diff


def test_sqlmesh_plans_and_applies_the_project_to_the_same_marts_as_dbt(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlmesh_warehouse = stack.tmp / "by_sqlmesh.duckdb"
    stack.sync_until_current()
    assert stack.dbt_build() == 0

    context = sqlmesh_context(stack, sqlmesh_warehouse, monkeypatch)
    context.plan(auto_apply=True, no_prompts=True)  # raises PlanError when a model or a blocking audit fails
    context.close()  # releases the DuckDB file, so that it can be attached to compare
    first = assert_same_warehouse(stack.warehouse, sqlmesh_warehouse)
    assert first["main_marts.fct_orders"]["rows"][0] == ORDERS

    done = stack.cli("sample", "mutate", "--seed", "1", "--database", stack.db.database)
    assert done.returncode == 0, done.stderr
    stack.sync_until_current()
    assert stack.dbt_build() == 0

    context = sqlmesh_context(stack, sqlmesh_warehouse, monkeypatch)
    assert not context.plan_builder().build().has_changes  # the project did not change: new data is a run
    assert context.run(ignore_cron=True) == CompletionStatus.SUCCESS
    context.close()
    second = assert_same_warehouse(stack.warehouse, sqlmesh_warehouse)
    # the changes reached both warehouses: new orders, and a deleted product left staging incrementally
    assert second["main_marts.fct_orders"]["rows"][0] > ORDERS
    products = "main_staging.stg_sales__products"
    assert second[products]["rows"][0] == first[products]["rows"][0] - 1
