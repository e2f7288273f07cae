"""dbt build on DuckDB over a lake written to the contract: landing, staging, SCD2, facts.

One project is built three times (round 1, the same again, round 2 of changes) in a module-scoped
fixture; the tests only read the resulting warehouse.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from _dbt_lake import run_id_at, ts, write_batch  # tests/e2e is on sys.path (rootdir imports)

from extractor import dbt, warehouse

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

UNKNOWN = "0" * 32
R1_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
R2_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
R1 = run_id_at(R1_AT, "aaaaaa")
R2 = run_id_at(R2_AT, "bbbbbb")


def customer(cid: int, tier: str, country: str, created: str, updated: str,
             address: str = "1 Main St") -> dict:
    return {"customer_id": cid, "email": f"c{cid}@example.com", "full_name": f"Customer {cid}", "tier": tier,
            "country_code": country, "city": "Springfield", "address": address,
            "created_at": ts(created), "updated_at": ts(updated)}


def product(pid: int, price: str, created: str = "2026-01-01 00:00:00") -> dict:
    return {"product_id": pid, "sku": f"SKU-{pid}", "name": f"Product {pid}", "category": "tools",
            "unit_price": Decimal(price), "is_active": 1, "created_at": ts(created)}


def order(oid: int, cid: int, ordered: str, updated: str | None = None, status: str = "placed",
          total: str = "10.00") -> dict:
    return {"order_id": Decimal(oid), "customer_id": cid, "status": status, "order_total": Decimal(total),
            "currency": "EUR", "ordered_at": ts(ordered), "updated_at": ts(updated or ordered)}


def item(oid: int, line: int, pid: int, updated: str, qty: int = 1) -> dict:
    return {"order_id": Decimal(oid), "line_no": line, "product_id": pid, "quantity": qty,
            "unit_price": Decimal("9.99"), "discount": Decimal("0.1000"), "updated_at": ts(updated)}


ROUND_1: dict[str, list[list[dict]]] = {  # table → files (one list of rows per file)
    "customers": [[
        customer(1, "bronze", "US", "2026-01-01 00:00:00", "2026-01-01 00:00:00"),
        customer(2, "silver", "DE", "2026-01-05 00:00:00", "2026-01-05 00:00:00"),
        customer(3, "gold", "FR", "2026-02-01 00:00:00", "2026-02-01 00:00:00"),
    ]],
    "products": [[product(100, "9.99"), product(101, "19.99"), product(102, "5.00")]],
    "orders": [[
        order(1000, 1, "2026-02-10 10:00:00"),
        order(1001, 2, "2026-02-11 10:00:00"),
        order(1002, 42, "2026-02-12 10:00:00"),  # customer 42 lands only in round 2
    ]],
    "order_items": [[
        item(1000, 1, 100, "2026-02-10 10:00:00", qty=2),
        item(1000, 2, 101, "2026-02-10 10:00:00"),
        item(1001, 1, 102, "2026-02-11 10:00:00"),
        item(1002, 1, 100, "2026-02-12 10:00:00"),
    ]],
}

C1_V2 = customer(1, "silver", "US", "2026-01-01 00:00:00", "2026-03-01 10:00:00", address="2 Side St")
ROUND_2: dict[str, list[list[dict]]] = {
    "customers": [
        [
            C1_V2,
            customer(2, "gold", "DE", "2026-01-05 00:00:00", "2026-03-01 10:00:00"),  # same second, other id
            customer(1, "gold", "US", "2026-01-01 00:00:00", "2026-03-01 11:00:00", address="3 High St"),
            customer(42, "bronze", "GB", "2026-02-01 00:00:00", "2026-02-01 00:00:00"),  # late-arriving
        ],
        [C1_V2],  # the same version landed again (crash window): counted once
    ],
    "products": [[
        product(100, "10.99"),  # price change
        product(101, "19.99"),  # unchanged
        {"product_id": 102, "_op": "D"},  # deleted at the source
        product(103, "3.50", created="2026-02-20 00:00:00"),  # new
    ]],
    "orders": [[
        order(1001, 2, "2026-02-11 10:00:00", updated="2026-03-01 12:00:00", status="shipped"),
        order(1003, 1, "2026-03-01 10:30:00"),
        order(1004, 2, "2026-03-01 09:00:00"),
        order(1005, 77, "2026-03-01 09:30:00"),  # customer 77 never arrives
    ]],
    "order_items": [[
        item(1003, 1, 100, "2026-03-01 10:30:00"),
        item(1004, 1, 103, "2026-03-01 09:00:00", qty=3),
        item(1001, 1, 102, "2026-03-01 12:00:00", qty=5),
    ]],
}


def write_round(lake: Path, run_id: str, at: datetime, files: dict[str, list[list[dict]]]) -> None:
    for table, batches in files.items():
        for seq, rows in enumerate(batches, start=1):
            write_batch(lake, table, run_id, seq, rows, at)


class Warehouse:
    """Read access to the built DuckDB file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        conn = duckdb.connect(str(self.path), read_only=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        conn = duckdb.connect(str(self.path), read_only=True)
        try:
            cur = conn.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            conn.close()


def run_dbt(project: Path, profiles: Path, lake: Path, tmp: Path, *args: str) -> int:
    env = {"DBT_DUCKDB_PATH": str(tmp / "warehouse.duckdb"), "DBT_TARGET": "duckdb"}
    extra = ["--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"), *args]
    return dbt.build(project, profiles, "duckdb", vars={"lake_root": str(lake)}, extra=extra, env=env)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dbt-duckdb")
    lake = tmp / "lake"
    profiles = tmp / "profiles"  # always the example profile: a developer's own profiles.yml must not leak in
    profiles.mkdir()
    (profiles / "profiles.yml").write_text((ROOT / "profiles.example.yml").read_text())
    wh = Warehouse(tmp / "warehouse.duckdb")
    state: dict[str, Any] = {"warehouse": wh, "tmp": tmp}

    write_round(lake, R1, R1_AT, ROUND_1)
    assert run_dbt(ROOT, profiles, lake, tmp) == 0, "dbt build (round 1) failed"
    state["round1"] = snapshot_counts(wh)
    state["round1_orders"] = wh.dicts("select order_id, customer_sk from main_marts.fct_orders")
    state["round1_ack"] = warehouse.acknowledged_batches(
        {"type": "duckdb", "path": str(wh.path)}, "main_landing", list(ROUND_1), pipeline="sales")

    assert run_dbt(ROOT, profiles, lake, tmp) == 0, "dbt build (round 1 again) failed"
    state["round1_again"] = snapshot_counts(wh)

    write_round(lake, R2, R2_AT, ROUND_2)
    assert run_dbt(ROOT, profiles, lake, tmp) == 0, "dbt build (round 2) failed"
    state["round2_staging_sql"] = {
        t: (tmp / "target" / "run" / "lakehouse" / "dbt_project" / "models" / "staging" / f"stg_sales__{t}.sql")
        .read_text() for t in ROUND_1}
    return state


def snapshot_counts(wh: Warehouse) -> dict[str, int]:
    tables = [f"main_landing.lnd_sales__{t}" for t in ROUND_1] + [
        "main_marts.fct_orders", "main_marts.fct_order_items",
        "main_marts.dim_customers", "main_marts.dim_products",
    ]
    return {t: wh.rows(f"select count(*) from {t}")[0][0] for t in tables}


def landed_versions(table: str, key: str) -> dict[int, list[datetime]]:
    """Distinct extracted (key, updated_at) upsert versions per key, in cursor order."""
    versions: dict[int, set[datetime]] = {}
    for rounds in (ROUND_1, ROUND_2):
        for rows in rounds[table]:
            for row in rows:
                if row.get("_op", "U") == "U":
                    versions.setdefault(int(row[key]), set()).add(row["updated_at"])
    return {k: sorted(v) for k, v in versions.items()}


def current_state(table: str, key: tuple[str, ...]) -> dict[tuple, dict]:
    """The source's current rows: the last version per key in landing order, tombstones removing keys."""
    state: dict[tuple, dict] = {}
    for rounds in (ROUND_1, ROUND_2):
        for rows in rounds[table]:
            for row in rows:
                k = tuple(int(row[c]) for c in key)
                if row.get("_op", "U") == "D":
                    state.pop(k, None)
                elif k not in state or "updated_at" not in row or state[k]["updated_at"] <= row["updated_at"]:
                    state[k] = row
    return state


# -- idempotence ----------------------------------------------------------------------------------------


def test_building_twice_does_not_duplicate(built: dict[str, Any]) -> None:
    assert built["round1"] == built["round1_again"]
    assert built["round1"]["main_landing.lnd_sales__customers"] == 3


def test_landing_keeps_every_landed_row_once(built: dict[str, Any]) -> None:
    wh = built["warehouse"]
    for table in ROUND_1:
        landed = sum(len(rows) for rounds in (ROUND_1, ROUND_2) for rows in rounds[table])
        assert wh.rows(f"select count(*) from main_landing.lnd_sales__{table}")[0][0] == landed, table
        dup = wh.rows(f"select _batch_id, count(distinct _extracted_at) from main_landing.lnd_sales__{table} "
                      "group by 1 having count(distinct _extracted_at) > 1")
        assert dup == []


def test_acknowledged_batches_are_the_landed_batch_ids(built: dict[str, Any]) -> None:
    assert built["round1_ack"] == {t: {f"{R1}-00001"} for t in ROUND_1}
    wh = built["warehouse"]
    after = warehouse.acknowledged_batches({"type": "duckdb", "path": str(wh.path)}, "main_landing",
                                     ["customers", "missing_table"], pipeline="sales")
    assert after == {"customers": {f"{R1}-00001", f"{R2}-00001", f"{R2}-00002"}, "missing_table": set()}


# -- staging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("table", "key"), [
    ("customers", ("customer_id",)), ("products", ("product_id",)),
    ("orders", ("order_id",)), ("order_items", ("order_id", "line_no")),
])
def test_staging_equals_the_current_source_state(
        built: dict[str, Any], table: str, key: tuple[str, ...]) -> None:
    wh = built["warehouse"]
    expected = current_state(table, key)
    rows = wh.dicts(f"select * from main_staging.stg_sales__{table}")
    got = {tuple(int(r[c]) for c in key): r for r in rows}
    assert sorted(got) == sorted(expected)
    for k, row in expected.items():
        for column, value in row.items():
            if not column.startswith("_"):  # generated staging: the source's own names and types
                assert got[k][column] == value, (table, k, column)


def test_staging_applies_the_changed_keys_instead_of_rebuilding(built: dict[str, Any]) -> None:
    for table, sql in built["round2_staging_sql"].items():
        text = " ".join(sql.split()).lower()
        assert text.startswith(f'delete from "warehouse"."main_staging"."stg_sales__{table}"'), table
        assert "where _op <> 'd'" in text, table


def test_staging_built_before_it_was_incremental_asks_for_one_full_refresh(
        built: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    tmp = built["tmp"]
    old = tmp / "before-incremental-staging.duckdb"
    shutil.copy(tmp / "warehouse.duckdb", old)
    with duckdb.connect(str(old)) as conn:
        conn.execute("alter table main_staging.stg_sales__orders drop column _landed_at")
    capfd.readouterr()
    rc = dbt.build(ROOT, tmp / "profiles", "duckdb", select="stg_sales__orders", vars={"lake_root": str(tmp / "lake")},
                   extra=["--target-path", str(tmp / "target-old"), "--log-path", str(tmp / "logs-old")],
                   env={"DBT_DUCKDB_PATH": str(old), "DBT_TARGET": "duckdb"})
    out = " ".join(capfd.readouterr().out.split())
    assert rc != 0
    assert ("has no _landed_at column (built before staging was incremental, or the model does not select "
            "current_rows._landed_at): select it, then rebuild once with "
            "`dbt build --full-refresh --select stg_sales__orders`") in out


def test_deleted_product_is_not_in_staging(built: dict[str, Any]) -> None:
    ids = {r[0] for r in built["warehouse"].rows("select product_id from main_staging.stg_sales__products")}
    assert ids == {100, 101, 103}


# -- SCD2 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dim", "key"), [("dim_customers", "customer_id"), ("dim_products", "product_id")])
def test_scd2_windows_are_one_current_non_overlapping_gap_free(
        built: dict[str, Any], dim: str, key: str) -> None:
    rows = built["warehouse"].dicts(f"select * from main_marts.{dim} order by {key}, valid_from")
    by_key: dict[int, list[dict]] = {}
    for r in rows:
        by_key.setdefault(r[key], []).append(r)
    for k, versions in by_key.items():
        assert sum(v["is_current"] for v in versions) <= 1, k
        for a, b in zip(versions, versions[1:], strict=False):
            assert a["valid_to"] == b["valid_from"], (k, a, b)  # no gap, no overlap
            assert not a["is_current"]
        last = versions[-1]
        assert (last["valid_to"] is None) == last["is_current"], k


def test_customer_history_equals_the_extracted_versions(built: dict[str, Any]) -> None:
    rows = built["warehouse"].rows(
        "select customer_id, updated_at from main_marts.dim_customers where customer_id > 0 "
        "order by customer_id, valid_from")
    got: dict[int, list[datetime]] = {}
    for cid, updated in rows:
        got.setdefault(cid, []).append(updated)
    assert got == landed_versions("customers", "customer_id")
    assert got[1] == [ts("2026-01-01 00:00:00"), ts("2026-03-01 10:00:00"), ts("2026-03-01 11:00:00")]


def test_customer_dimension_is_enriched_from_seeds(built: dict[str, Any]) -> None:
    rows = built["warehouse"].dicts(
        "select tier, tier_rank, country_name from main_marts.dim_customers "
        "where customer_id = 2 and is_current")
    assert rows == [{"tier": "gold", "tier_rank": 3, "country_name": "Germany"}]


def test_deleted_product_is_closed(built: dict[str, Any]) -> None:
    wh = built["warehouse"]
    rows = wh.dicts("select * from main_marts.dim_products where product_id = 102")
    assert len(rows) == 1
    assert rows[0]["is_current"] is False and rows[0]["is_deleted"] is True
    assert rows[0]["valid_to"] == R2_AT.replace(tzinfo=None)
    snap = wh.rows("select count(*), count(dbt_valid_to) from main_snapshots.snap_sales__products "
                   "where product_id = 102")
    assert snap == [(1, 1)]


def test_changed_product_gets_a_new_version(built: dict[str, Any]) -> None:
    rows = built["warehouse"].rows(
        "select unit_price, valid_from, valid_to, is_current from main_marts.dim_products "
        "where product_id = 100 order by valid_from")
    assert rows == [
        (Decimal("9.99"), ts("2026-01-01 00:00:00"), R2_AT.replace(tzinfo=None), False),
        (Decimal("10.99"), R2_AT.replace(tzinfo=None), None, True),
    ]
    unchanged = built["warehouse"].rows("select count(*) from main_marts.dim_products where product_id = 101")
    assert unchanged == [(1,)]


def test_snapshots_have_one_current_row_per_key(built: dict[str, Any]) -> None:
    for snap, key in (("snap_sales__customers", "customer_id"), ("snap_sales__products", "product_id")):
        dup = built["warehouse"].rows(
            f"select {key} from main_snapshots.{snap} where dbt_valid_to is null "
            "group by 1 having count(*) > 1")
        assert dup == [], snap


# -- facts ------------------------------------------------------------------------------------------


def test_fct_orders_equal_the_source_row_for_row(built: dict[str, Any]) -> None:
    expected = current_state("orders", ("order_id",))
    rows = built["warehouse"].dicts("select * from main_marts.fct_orders")
    got = {(int(r["order_id"]),): r for r in rows}
    assert sorted(got) == sorted(expected)
    for k, row in expected.items():
        for column in ("customer_id", "status", "order_total", "currency", "ordered_at", "updated_at"):
            assert got[k][column] == row[column], (k, column)


def test_fct_order_items_equal_the_source_row_for_row(built: dict[str, Any]) -> None:
    expected = current_state("order_items", ("order_id", "line_no"))
    rows = built["warehouse"].dicts("select * from main_marts.fct_order_items")
    got = {(int(r["order_id"]), r["line_no"]): r for r in rows}
    assert sorted(got) == sorted(expected)
    for k, row in expected.items():
        for column in ("product_id", "quantity", "unit_price", "discount", "updated_at"):
            assert got[k][column] == row[column], (k, column)
    assert got[(1004, 1)]["net_amount"] == Decimal("3") * Decimal("9.99") * Decimal("0.9")


def _customer_version(wh: Warehouse, order_id: int) -> tuple[int, datetime] | None:
    rows = wh.rows(
        "select c.customer_id, c.updated_at from main_marts.fct_orders as o "
        "join main_marts.dim_customers as c on c.customer_sk = o.customer_sk "
        f"where o.order_id = {order_id}")
    return rows[0] if rows else None


@pytest.mark.parametrize(("order_id", "version"), [
    (1000, (1, ts("2026-01-01 00:00:00"))),   # before any change
    (1003, (1, ts("2026-03-01 10:00:00"))),   # between the two changes of the same batch
    (1004, (2, ts("2026-01-05 00:00:00"))),   # before customer 2's tier change
    (1001, (2, ts("2026-01-05 00:00:00"))),   # updated order, ordered before the change
])
def test_fct_orders_point_at_the_customer_version_valid_at_ordered_at(
        built: dict[str, Any], order_id: int, version: tuple[int, datetime]) -> None:
    assert _customer_version(built["warehouse"], order_id) == version


def test_late_arriving_customer_is_the_unknown_member_until_it_lands(built: dict[str, Any]) -> None:
    round1 = {int(r["order_id"]): r["customer_sk"] for r in built["round1_orders"]}
    assert round1[1002] == UNKNOWN
    wh = built["warehouse"]
    assert _customer_version(wh, 1002) == (42, ts("2026-02-01 00:00:00"))  # re-resolved once it landed
    never = wh.rows("select customer_sk from main_marts.fct_orders where order_id = 1005")
    assert never == [(UNKNOWN,)]
    unknown = wh.rows("select customer_id, is_current from main_marts.dim_customers "
                      f"where customer_sk = '{UNKNOWN}'")
    assert unknown == [(-1, True)]


def test_fct_order_items_point_at_the_product_version_valid_at_ordered_at(built: dict[str, Any]) -> None:
    rows = built["warehouse"].rows(
        "select i.order_id, p.product_id, p.unit_price from main_marts.fct_order_items as i "
        "join main_marts.dim_products as p on p.product_sk = i.product_sk order by i.order_id, i.line_no")
    prices = {(int(o), pid): price for o, pid, price in rows}
    assert prices[(1003, 100)] == Decimal("9.99")   # ordered before the price change was extracted
    assert prices[(1004, 103)] == Decimal("3.50")
    assert prices[(1001, 102)] == Decimal("5.00")   # product since deleted: the version valid then
