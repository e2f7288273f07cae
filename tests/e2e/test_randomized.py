"""A seeded random workload against the sample database, interleaved with syncs, crashes and dbt builds.

Each round applies inserts and updates (bursts sharing one microsecond, one row updated many times,
rows committed late with an older timestamp inside the safety lag, a write transaction left open across a
sync) and product deletes, then syncs — sometimes killed at a random fault point first. After each dbt
build: staging equals MySQL row for row (``extractor.verify``), facts equal the source, SCD2 invariants
hold and no batch landed twice.

What the system promises, and so what is asserted: hard deletes are visible only for full_sync tables
(products); customers/orders/order_items are never hard-deleted here because cursor CDC cannot see it
(ARCHITECTURE.md) — ``test_hard_deletes_of_cursor_tables_are_reported_not_hidden`` shows how verify
reports that gap instead.

Replay a failure with ``RANDOMIZED_SEED=<seed printed in the failure>``; ``RANDOMIZED_ROUNDS=50`` runs longer.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _e2e_support import ROOT, TABLES, Stack, assert_lake_matches_source, make_config

SEED = int(os.environ.get("RANDOMIZED_SEED", random.SystemRandom().randrange(1, 1_000_000)))
ROUNDS = int(os.environ.get("RANDOMIZED_ROUNDS", "4"))
FAULTS = ["page_read", "file_written", "watermark_saved", "manifest_written"]


@pytest.fixture
def stack(mysql_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:  # noqa: ANN001
    s = Stack(mysql_db, tmp_path, str(tmp_path / "lake"),
              make_config(tmp_path, batch_rows=300, file_max_rows=900)).apply(monkeypatch)
    s.create_sample(600)
    return s


class Workload:
    """Random source changes; every statement is logged so a failure shows what happened."""

    def __init__(self, stack: Stack, rng: random.Random) -> None:
        self.stack, self.rng, self.log = stack, rng, []
        self.conn = stack.db.connect()

    def _one(self, sql: str) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()

    def execute(self, sql: str, params: Any = None, conn: Any = None) -> None:
        self.log.append(sql if params is None else f"{sql} -- {params}")
        with (conn or self.conn).cursor() as cur:
            cur.execute(sql, params)

    def ids(self, table: str, column: str, k: int) -> list[int]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {column} FROM {table} ORDER BY RAND(%s) LIMIT %s", (self.rng.randrange(10**6), k))
            return [int(r[0]) for r in cur.fetchall()]

    def round(self) -> None:
        rng = self.rng
        actions = [self.burst_same_microsecond, self.hot_row, self.new_orders, self.update_orders,
                   self.products, self.late_commit]
        for action in rng.sample(actions, k=rng.randint(3, len(actions))):
            action()

    def burst_same_microsecond(self) -> None:
        ts = self._one("SELECT NOW(6)")[0]
        for cid in self.ids("customers", "customer_id", self.rng.randint(2, 8)):
            self.execute("UPDATE customers SET tier = %s, city = %s, updated_at = %s WHERE customer_id = %s",
                         (self.rng.choice(["bronze", "silver", "gold", "platinum"]), f"City {self.rng.random():.6f}",
                          ts, cid))

    def hot_row(self) -> None:
        cid = self.ids("customers", "customer_id", 1)[0]
        for i in range(self.rng.randint(3, 15)):
            self.execute("UPDATE customers SET address = %s, updated_at = NOW(6) WHERE customer_id = %s",
                         (f"{i} Hot Row Lane", cid))

    def new_orders(self) -> None:
        top = int(self._one("SELECT COALESCE(MAX(order_id), 0) FROM orders")[0])
        customers = self.ids("customers", "customer_id", 5)
        products = self.ids("products", "product_id", 5)
        for oid in range(top + 1, top + 1 + self.rng.randint(1, 30)):
            self.execute("INSERT INTO orders VALUES (%s, %s, 'placed', %s, 'EUR', NOW(6), NOW(6))",
                         (oid, self.rng.choice(customers), f"{self.rng.randint(1, 99999) / 100:.2f}"))
            for line in range(1, self.rng.randint(1, 4) + 1):
                self.execute("INSERT INTO order_items VALUES (%s, %s, %s, %s, %s, %s, NOW(6))",
                             (oid, line, self.rng.choice(products), self.rng.randint(1, 9),
                              f"{self.rng.randint(100, 9999) / 100:.2f}", f"{self.rng.randint(0, 3000) / 10000:.4f}"))

    def update_orders(self) -> None:
        for oid in self.ids("orders", "order_id", self.rng.randint(1, 40)):
            self.execute("UPDATE orders SET status = %s, order_total = order_total + 0.01, updated_at = NOW(6) "
                         "WHERE order_id = %s", (self.rng.choice(["paid", "shipped", "delivered", "cancelled"]), oid))
            self.execute("UPDATE order_items SET quantity = quantity + 1, updated_at = NOW(6) WHERE order_id = %s",
                         (oid,))

    def products(self) -> None:
        """full_sync: updates, inserts and hard deletes (deletes are visible: tombstones)."""
        for pid in self.ids("products", "product_id", self.rng.randint(1, 5)):
            self.execute("UPDATE products SET unit_price = unit_price + 1 WHERE product_id = %s", (pid,))
        if self.rng.random() < 0.6:
            unused = self._one("SELECT MIN(product_id) FROM products p WHERE NOT EXISTS "
                               "(SELECT 1 FROM order_items i WHERE i.product_id = p.product_id)")[0]
            if unused is not None:
                self.execute("DELETE FROM products WHERE product_id = %s", (unused,))
        top = int(self._one("SELECT MAX(product_id) FROM products")[0])
        self.execute("INSERT INTO products VALUES (%s, %s, 'New', 'misc', 1.50, 1, NOW(6))",
                     (top + 1, f"SKU-R{top + 1}-{self.rng.randrange(10**6)}"))

    def late_commit(self) -> None:
        """Rows stamped NOW(6) but committed ~0.6 s later (inside the 1 s safety lag)."""
        late = self.stack.db.connect()
        late.autocommit(False)
        try:
            for cid in self.ids("customers", "customer_id", 3):
                self.execute("UPDATE customers SET full_name = CONCAT('Late ', customer_id), updated_at = NOW(6) "
                             "WHERE customer_id = %s", (cid,), conn=late)
            time.sleep(0.6)
            late.commit()
        finally:
            late.close()

    def open_transaction_across_a_sync(self) -> None:
        """A write transaction stamped before the sync starts and committed after it ends."""
        held = self.stack.db.connect()
        held.autocommit(False)
        try:
            chosen = self.ids("orders", "order_id", 4)
            for oid in chosen[:3]:
                self.execute("UPDATE orders SET currency = 'USD', updated_at = NOW(6) WHERE order_id = %s", (oid,),
                             conn=held)
            time.sleep(1.2)  # older than the safety lag: only the open-transaction clamp protects these rows
            # A row committed since makes MAX(updated_at) newer than the open transaction: the clamp is what
            # keeps the bound below the held rows' timestamps.
            self.execute("UPDATE orders SET updated_at = NOW(6) WHERE order_id = %s", (chosen[3],))
            done = self.stack.sync()
            assert done.returncode == 0, done.stdout + done.stderr
            assert "held back by an open transaction" in done.stdout, done.stdout
            held.commit()
        finally:
            held.close()


def _fail(seed: int, workload: Workload, message: str) -> str:
    tail = "\n".join(workload.log[-15:])
    return (f"{message}\nseed {seed}: replay with RANDOMIZED_SEED={seed} "
            f"RANDOMIZED_ROUNDS={ROUNDS} pytest {__file__}\nlast statements:\n{tail}")


def check_warehouse(stack: Stack, seed: int, workload: Workload) -> None:
    """Staging = MySQL; facts = source; SCD2 invariants; no batch landed twice."""
    report = stack.verify()
    assert report.ok, _fail(seed, workload, report.text())
    assert all(t.warehouse_rows == t.source_rows for t in report.tables), _fail(seed, workload, report.text())
    assert stack.landing_duplicates() == dict.fromkeys(TABLES, 0), _fail(seed, workload, "a batch landed twice")
    src = sorted((int(r[0]), r[1], r[2], r[3]) for r in stack.db.query(
        "SELECT order_id, status, order_total, updated_at FROM orders"))
    fct = sorted((int(r[0]), r[1], r[2], r[3]) for r in stack.warehouse_rows(
        "select order_id, status, order_total, updated_at from main_marts.fct_orders"))
    assert fct == src, _fail(seed, workload, "fct_orders differs from the source")
    src_items = sorted((int(r[0]), int(r[1]), r[2], r[3]) for r in stack.db.query(
        "SELECT order_id, line_no, quantity, updated_at FROM order_items"))
    fct_items = sorted((int(r[0]), int(r[1]), r[2], r[3]) for r in stack.warehouse_rows(
        "select order_id, line_no, quantity, updated_at from main_marts.fct_order_items"))
    assert fct_items == src_items, _fail(seed, workload, "fct_order_items differs from the source")
    for dim, key in (("dim_customers", "customer_id"), ("dim_products", "product_id")):
        bad_current = stack.warehouse_rows(
            f"select {key} from main_marts.{dim} where {key} <> -1 group by {key} "
            f"having count(*) filter (where is_current) > 1")
        overlaps = stack.warehouse_rows(
            f"select a.{key} from main_marts.{dim} a join main_marts.{dim} b on a.{key} = b.{key} "
            f"and a.valid_from < b.valid_from and coalesce(a.valid_to, 'infinity'::timestamp) > b.valid_from")
        gaps = stack.warehouse_rows(
            f"select {key} from (select {key}, valid_from, lag(valid_to) over (partition by {key} order by valid_from) "
            f"prev_to, lag(is_deleted) over (partition by {key} order by valid_from) prev_deleted "
            f"from main_marts.{dim}) where prev_to is not null and prev_to <> valid_from and not prev_deleted")
        assert not (bad_current or overlaps or gaps), _fail(
            seed, workload, f"{dim}: SCD2 broken: current {bad_current[:3]}, overlaps {overlaps[:3]}, gaps {gaps[:3]}")
    source_customers = stack.db.query("SELECT COUNT(*) FROM customers")[0][0]
    current = stack.warehouse_rows("select count(*) from main_marts.dim_customers where is_current and customer_id <> -1")
    assert current[0][0] == source_customers, _fail(seed, workload, "dim_customers: current rows != source rows")


@pytest.mark.slow
def test_random_workload_with_crashes_keeps_lake_and_warehouse_equal_to_the_source(stack: Stack) -> None:
    rng = random.Random(SEED)
    workload = Workload(stack, rng)
    print(f"randomized seed {SEED} (replay: RANDOMIZED_SEED={SEED})")
    stack.sync_until_current()
    build_rounds = {0, ROUNDS - 1} | {r for r in range(ROUNDS) if r % 10 == 9}
    for round_no in range(ROUNDS):
        workload.round()
        if round_no == 1 or rng.random() < 0.15:
            workload.open_transaction_across_a_sync()
        if rng.random() < 0.5:  # a crash, then the next run must repair it
            fault = f"{rng.choice(FAULTS)}:{rng.randint(1, 3)}"
            workload.log.append(f"-- sync killed at {fault}")
            crashed = stack.sync(faults=fault)
            assert crashed.returncode in (0, -signal.SIGKILL), _fail(SEED, workload, crashed.stdout + crashed.stderr)
        stack.sync_until_current()
        try:
            assert_lake_matches_source(stack)
        except AssertionError as err:
            raise AssertionError(_fail(SEED, workload, f"round {round_no}: {err}")) from None
        if round_no in build_rounds:
            assert stack.dbt_build() == 0, _fail(SEED, workload, f"round {round_no}: dbt build failed")
            check_warehouse(stack, SEED, workload)


def test_hard_deletes_of_cursor_tables_are_reported_not_hidden(stack: Stack) -> None:
    """Cursor CDC cannot see a hard delete: verify says so (deleted_at_source), it does not pass silently."""
    stack.sync_until_current()
    stack.db.execute("DELETE FROM order_items WHERE order_id IN (1, 2)")
    stack.sync_until_current()
    report = stack.verify(warehouse=False)
    items = report.table("order_items")
    expected = items.lake_rows - items.source_rows
    assert expected > 0 and items.deleted_at_source == expected
    assert items.ok  # a documented limitation, not a failure of the cursor table
    assert "deleted at the source are still current in the lake" in report.text()


def test_verify_detects_a_lost_and_a_changed_row(stack: Stack) -> None:
    """The checker itself: a row changed behind the watermark's back, and a row missing from the lake."""
    stack.sync_until_current()
    # Changed without moving the cursor: the extractor cannot see it, verify must.
    stack.db.execute("UPDATE orders SET order_total = order_total + 1 WHERE order_id = 5")
    # Inserted with an old cursor value below the watermark: never extracted (what a lag too short loses).
    stack.db.execute("INSERT INTO orders VALUES (999999, 1, 'placed', 1.00, 'EUR', '2000-01-01', '2000-01-01')")
    report = stack.verify(warehouse=False)
    orders = report.table("orders")
    assert (orders.different_in_lake, orders.missing_in_lake) == (1, 1)
    assert not report.ok
    assert "key (5) differs between MySQL and the lake" in report.text()
    assert "key (999999) missing in the lake" in report.text()
    from extractor.cli.verify import verify_command

    lines: list[str] = []
    assert verify_command(stack.config, "test", "sales", ["orders"], False, echo=lines.append) == 7
    assert lines[0].splitlines()[-1] == "verify sales: MISMATCH"


def test_rows_of_a_write_transaction_open_across_a_run_are_caught_by_the_next_run(stack: Stack) -> None:
    """Stamped before the run, older than the safety lag, committed after it: the upper-bound clamp keeps them."""
    stack.sync_until_current()
    workload = Workload(stack, random.Random(SEED))
    workload.open_transaction_across_a_sync()
    stack.sync_until_current()
    assert_lake_matches_source(stack)


# ------------------------------------------------------------------- cursors coarser than the clock (issue 15)

PRECISION_PIPELINE = """
pipeline: {{name: tick, source: sales_mysql, target_schema: tick_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0, batch_rows: 40, reader: pymysql}}
tables:
  rows:
    source_table: "{db}.rows"
    cdc_strategy: hybrid
    cursor_column: ts
    id_columns: [id]
"""
#: Column type, and the value an update stamps: the column's own precision, as applications write it.
PRECISIONS = {"DATE": "CURDATE()", "DATETIME": "NOW()", "DATETIME(3)": "NOW(3)", "DATETIME(6)": "NOW(6)"}


@pytest.mark.slow
@pytest.mark.parametrize("cursor_type", list(PRECISIONS))
def test_lag_zero_loses_no_update_at_any_cursor_precision_while_syncs_run(
        mysql_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cursor_type: str) -> None:  # noqa: ANN001
    """Rows rewritten in descending key order every 20 ms for 10 s while syncs run back to back, lag 0.

    A bound inside the running tick of the cursor's precision (a second, a millisecond…) takes a row with
    a large key, and a row written later in that tick with a smaller key sorts below the watermark for
    good (issue 15: 96 of 201 rows stale for a whole-second cursor). After one more tick and a last sync,
    verify must find every row due equal to MySQL; DATE rows written today are in flight until tomorrow.
    """
    from extractor.config import load_project
    from extractor.sync import SyncOptions, sync_pipeline
    from extractor.verify import verify_pipeline

    seed = SEED
    mysql_db.execute(f"CREATE TABLE `rows` (id INT PRIMARY KEY, v INT NOT NULL, ts {cursor_type} NOT NULL, "
                     "KEY (ts, id))",
                     "INSERT INTO `rows` SELECT seq, 0, '2024-01-01' FROM seq_1_to_200")
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "pipelines" / "tick.yml").write_text(
        PRECISION_PIPELINE.format(lake=tmp_path / "lake", db=mysql_db.database))
    for key, value in mysql_db.env().items():
        monkeypatch.setenv(key, value)
    project = load_project(config, None)
    pipeline = project.pipeline("tick")
    source = project.source(pipeline.source)

    def sync() -> None:
        report = sync_pipeline(pipeline, source, SyncOptions())
        assert report.ok, [t.error for t in report.tables]

    sync()
    stop = threading.Event()
    writes: list[int] = []

    def rewrite() -> None:
        conn = mysql_db.connect()
        rng, key = random.Random(seed), 200
        try:
            while not stop.is_set():
                with conn.cursor() as cur:
                    cur.execute(f"UPDATE `rows` SET v = v + 1, ts = {PRECISIONS[cursor_type]} WHERE id = %s", (key,))
                writes.append(key)
                key = key - rng.randint(1, 3) if key > 3 else 200
                time.sleep(0.02)
        finally:
            conn.close()

    writer = threading.Thread(target=rewrite, name="rewrite")
    writer.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            sync()
    finally:
        stop.set()
        writer.join()
    time.sleep(1.1)  # one tick of the coarsest clock-bound cursor here, then a last run
    sync()
    report = verify_pipeline(project, pipeline, warehouse=False)
    table = report.table("rows")
    assert len(writes) > 200, "the writer hardly ran"
    assert report.ok, f"seed {seed}, {cursor_type}: {report.text()}"
    if cursor_type == "DATE":  # today's rows wait for the day to end
        assert table.in_flight == len(set(writes)), report.text()
    else:
        assert (table.in_flight, table.source_rows) == (0, 200), report.text()


@pytest.mark.slow
def test_tombstones_of_a_late_reconcile_and_of_a_full_refresh_remove_the_keys_from_staging(stack: Stack) -> None:
    """Issue 15 items 2 and 3 through dbt: keys deleted before reconcile was switched on (orders) and before a
    full refresh (order_items) end as tombstones that staging honours — staging equals the lake and MySQL."""
    import yaml

    stack.sync_until_current()
    assert stack.dbt_build() == 0
    stack.db.execute("DELETE FROM order_items WHERE order_id IN (1, 2)", "DELETE FROM orders WHERE order_id IN (1, 2)")
    stack.sync_until_current()
    assert stack.verify(warehouse=False).table("orders").deleted_at_source == 2

    overlay_path = stack.config / "environments" / "test.yml"
    overlay = yaml.safe_load(overlay_path.read_text())
    overlay["pipelines"]["sales"]["tables"] = {"orders": {"delete_detection": "reconcile"}}
    overlay_path.write_text(yaml.safe_dump(overlay))
    assert stack.sync("--table", "orders").returncode == 0
    refreshed = stack.sync("--full-refresh", "--table", "order_items")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    stack.sync_until_current()
    # Staging only: the sample's fct_orders/fct_order_items merge on the key and keep a deleted order (no
    # hard deletes of cursor tables reached them before), which their equal_rowcount tests then report.
    assert stack.dbt_build("--select", "+stg_sales__orders", "+stg_sales__order_items",
                           "--indirect-selection", "cautious") == 0
    report = stack.verify()
    assert report.ok, report.text()
    assert [t.deleted_at_source for t in report.tables] == [0] * len(report.tables), report.text()
    assert stack.warehouse_rows("select count(*) from main_staging.stg_sales__orders where order_id in (1, 2)") == [(0,)]
    assert stack.warehouse_rows(
        "select count(*) from main_staging.stg_sales__order_items where order_id in (1, 2)") == [(0,)]
