"""A watermark deleted while the table's files stay in the lake: the next run stops and says what to do
(instead of landing every row again), and `extractor watermark rebuild` restores it from the files'
footer checkpoints, so the next sync lands only what changed and no version twice.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from _e2e_support import TABLES, Stack, assert_lake_matches_source, make_config

ORDERS = 1_000  # order_items: 2,500 rows; pages of 500, files of 1,000 rows
SIZES = {"batch_rows": 500, "file_max_rows": 1000}


@pytest.fixture
def stack(mysql_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:  # noqa: ANN001
    s = Stack(mysql_db, tmp_path, str(tmp_path / "lake"), make_config(tmp_path, safety_lag=0.5, **SIZES))
    s.apply(monkeypatch).create_sample(ORDERS)
    return s


def _delete_watermark(stack: Stack, table: str) -> None:
    stack.storage().delete([stack.layout(table).state_key])


def _rows(stdout: str, table: str) -> int:
    """The rows column of ``table``'s line in the sync report."""
    line = next(line for line in stdout.splitlines() if line.split()[:1] == [table])
    return int(line.split()[4].replace(",", ""))


def test_a_table_with_data_files_but_no_watermark_is_refused_with_both_ways_out(stack: Stack) -> None:
    assert stack.sync().returncode == 0
    files = len(stack.data_keys("orders"))
    _delete_watermark(stack, "orders")

    refused = stack.sync()
    assert refused.returncode == 4, refused.stdout + refused.stderr
    errors = [line for line in refused.stdout.splitlines() if line.startswith("error: orders: ")]
    assert errors == [
        f"error: orders: {stack.storage().uri(stack.layout('orders').state_key)}: orders has {files} data file(s) "
        "in the lake but no watermark, so this run would land every row again — rebuild the watermark from the "
        "files' checkpoints with `extractor watermark rebuild -p sales -t orders`, or start over with "
        "`extractor sync -p sales -t orders --full-refresh`"], refused.stdout
    assert len(stack.data_keys("orders")) == files  # nothing landed again
    planned = stack.sync("-t", "orders", "--dry-run")
    assert planned.returncode == 0 and "warning: orders: " in planned.stdout
    assert "but no watermark, so this run would land every row again" in planned.stdout
    assert stack.watermark("orders") is None
    assert {line.split()[0] for line in refused.stdout.splitlines() if " success " in line} == \
        {"customers", "products"}  # the other tables ran (order_items depends on orders)


def test_a_rebuilt_watermark_resumes_after_the_newest_file_and_lands_no_version_twice(stack: Stack) -> None:
    assert stack.sync().returncode == 0
    stack.db.execute("UPDATE customers SET city = 'Rebuilt', updated_at = NOW(6) WHERE customer_id <= 7",
                     "UPDATE order_items SET quantity = quantity + 1, updated_at = NOW(6) WHERE order_id <= 4")
    time.sleep(0.7)  # past the safety lag
    assert stack.sync().returncode == 0  # incremental files on top of the snapshot's
    before = {t: stack.watermark(t) for t in TABLES}
    for table in TABLES:
        _delete_watermark(stack, table)

    for table in TABLES:
        rebuilt = stack.cli("watermark", "rebuild", "-p", "sales", "-t", table)
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert re.match(rf"rebuilt the watermark of sales_raw\.{table} from \d+ data file\(s\): ", rebuilt.stdout)
        wm, old = stack.watermark(table), before[table]
        # orders did not change after its snapshot (its newest file is a snapshot file): MySQL shows the
        # snapshot finished, so it is incremental from the snapshot's bound, as before
        assert (wm.phase, wm.cursor.position()) == (old.phase, old.cursor.position()), table
        assert {p.key for p in wm.pending_files} == set(stack.data_keys(table))

    stack.db.execute("UPDATE customers SET city = 'After', updated_at = NOW(6) WHERE customer_id IN (3, 11)",
                     "UPDATE orders SET status = 'paid', updated_at = NOW(6) WHERE order_id = 9")
    time.sleep(0.7)
    done = stack.sync()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (_rows(done.stdout, "customers"), _rows(done.stdout, "orders"), _rows(done.stdout, "order_items")) \
        == (2, 1, 0), done.stdout  # only what changed since the newest file
    assert_lake_matches_source(stack)  # no version landed twice, every file listed by its watermark


def test_a_snapshot_cut_short_resumes_from_its_rebuilt_watermark(stack: Stack) -> None:
    """Mid-snapshot (stopped by --limit), the footers carry the last key and the snapshot's upper bound."""
    assert stack.sync("-t", "order_items", "--limit", "1000").returncode == 0
    before = stack.watermark("order_items")
    assert before.phase == "snapshot" and before.snapshot.last_key
    stack.db.execute("UPDATE order_items SET quantity = quantity + 5, updated_at = NOW(6) WHERE order_id IN (2, 900)")
    _delete_watermark(stack, "order_items")

    rebuilt = stack.cli("watermark", "rebuild", "-p", "sales", "-t", "order_items")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    wm = stack.watermark("order_items")
    assert (wm.phase, wm.snapshot.last_key, wm.snapshot.upper_bound) == \
        ("snapshot", before.snapshot.last_key, before.snapshot.upper_bound)

    time.sleep(0.7)
    stack.sync_until_current("-t", "order_items")
    assert_lake_matches_source(stack, tables=("order_items",))


def test_rebuild_leaves_an_existing_watermark_alone_unless_forced(stack: Stack) -> None:
    assert stack.sync("-t", "customers").returncode == 0
    refused = stack.cli("watermark", "rebuild", "-p", "sales", "-t", "customers")
    assert refused.returncode == 4
    assert "customers already has a watermark" in refused.stderr and "--force" in refused.stderr
    forced = stack.cli("watermark", "rebuild", "-p", "sales", "-t", "customers", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_watermark_reset_still_reloads_the_table_on_the_next_run(stack: Stack) -> None:
    assert stack.sync("-t", "customers").returncode == 0
    pending = len(stack.watermark("customers").pending_files)
    reset = stack.cli("watermark", "reset", "-p", "sales", "-t", "customers", "--yes")
    assert reset.returncode == 0 and "the next sync starts with a full load" in reset.stdout
    reloaded = stack.sync("-t", "customers")
    assert reloaded.returncode == 0, reloaded.stdout
    assert _rows(reloaded.stdout, "customers") == stack.db.query("SELECT COUNT(*) FROM customers")[0][0]
    assert len(stack.watermark("customers").pending_files) > pending  # the earlier files stay pending


@pytest.mark.slow  # two dbt builds (~80 s here)
def test_history_models_count_a_version_landed_twice_once(stack: Stack) -> None:
    """Starting over with --full-refresh lands every version a second time; the history built on landing
    (dim_customers, dim_products, the snapshots over staging) keeps one row per version."""
    stack.sync_until_current()
    stack.db.execute("UPDATE customers SET tier = 'gold', updated_at = NOW(6) WHERE customer_id <= 5")
    time.sleep(0.7)
    stack.sync_until_current()
    assert stack.dbt_build() == 0
    models = ("main_marts.dim_customers", "main_marts.dim_products", "main_snapshots.snap_sales__customers",
              "main_snapshots.snap_sales__products")
    before = {m: stack.warehouse_rows(f"select count(*) from {m}")[0][0] for m in models}

    for table in TABLES:
        _delete_watermark(stack, table)
    assert stack.sync("--full-refresh").returncode == 0
    assert stack.dbt_build() == 0

    doubled = stack.warehouse_rows(
        "select count(*) from (select customer_id, updated_at from main_landing.lnd_sales__customers"
        " where _op = 'U' group by all having count(distinct _batch_id) > 1)")[0][0]
    assert doubled == stack.db.query("SELECT COUNT(*) FROM customers")[0][0]  # every current version, twice
    after = {m: stack.warehouse_rows(f"select count(*) from {m}")[0][0] for m in models}
    assert after == before
