"""End-to-end behaviour of `extractor sync` against the real MariaDB and a local or S3 lake."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

READERS = ["connectorx", "pymysql"]
TINY = """pipelines:
  sales:
    defaults: {file_max_rows: 300}
    tables: {orders: {batch_rows: 150}}
"""

TIES_PIPELINE = """
pipeline: {{name: ties, source: sales_mysql, target: local_duckdb, target_schema: ties_raw, lake: "{lake}"}}
defaults: {{batch_rows: 7, file_max_rows: 14, safety_lag_seconds: 0, reader: {reader}}}
tables:
  events:
    source_table: "{db}.events"
    cdc_strategy: hybrid
    cursor_column: updated_at
    id_columns: [{ids}]
"""


def _synced_rows(workspace, pipeline: str) -> int:
    """``sync -p pipeline`` must succeed; the rows its first table extracted."""
    result = workspace.cli("sync", "-p", pipeline, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["tables"][0]["rows"]


def _make_events(db, composite: bool) -> None:
    key = "tenant, event_id" if composite else "event_id"
    db.execute(
        f"""CREATE TABLE events (
              tenant INT NOT NULL, event_id INT NOT NULL, payload VARCHAR(20),
              updated_at DATETIME(6) NOT NULL, PRIMARY KEY ({key}), KEY ix (updated_at, {key}))"""
    )
    rows = []
    for i in range(60):
        tenant = i % 3 if composite else 0
        event_id = i // 3 if composite else i
        # 40 rows share one timestamp (a tie group far larger than a 7-row batch), the rest are spread out.
        ts = "2025-01-01 00:00:00.000000" if i < 40 else f"2025-01-01 00:00:{i:02d}.000001"
        rows.append(f"({tenant}, {event_id}, 'v1-{i}', '{ts}')")
    db.execute("INSERT INTO events VALUES " + ", ".join(rows))


def _keys(table, composite: bool) -> list[tuple]:
    cols = ["tenant", "event_id"] if composite else ["event_id"]
    data = table.select(cols).to_pylist()
    return [tuple(r[c] for c in cols) for r in data]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("composite", [False, True], ids=["single-key", "composite-key"])
def test_rows_sharing_a_timestamp_across_batch_boundaries_are_neither_lost_nor_duplicated(
    workspace, reader, composite
):
    db = workspace.db
    _make_events(db, composite)
    workspace.write_pipeline("ties", TIES_PIPELINE.format(
        lake=workspace.lake, reader=reader, db=db.database, ids="tenant, event_id" if composite else "event_id"))

    first = workspace.cli("sync", "-p", "ties", "--json")
    assert first.exit_code == 0, first.output
    landed = workspace.lake_rows("events", schema="ties_raw")
    assert landed.num_rows == 60
    assert len(set(_keys(landed, composite))) == 60

    # Update 30 rows to one new shared timestamp; the next run must see each exactly once.
    db.execute("UPDATE events SET payload = CONCAT('v2-', event_id), updated_at = '2025-02-01 00:00:00'"
               " WHERE event_id % 2 = 0")
    changed = db.query("SELECT COUNT(*) FROM events WHERE event_id % 2 = 0")[0][0]
    second = workspace.cli("sync", "-p", "ties", "--json")
    assert second.exit_code == 0, second.output
    report = json.loads(second.output)
    assert report["tables"][0]["rows"] == changed
    landed = workspace.lake_rows("events", schema="ties_raw")
    v2 = landed.filter(pc.starts_with(landed["payload"], "v2-"))
    assert v2.num_rows == changed
    assert Counter(_keys(v2, composite)).most_common(1)[0][1] == 1


def test_second_run_extracts_exactly_the_changed_rows_and_an_idle_run_writes_nothing(workspace):
    from extractor import mysql as _  # noqa: F401  (import check)

    db = workspace.db
    assert workspace.cli("sample", "create", "--orders", "3000").exit_code == 0
    first = workspace.cli("sync", "-p", "sales", "--env", "ci", "--json")
    assert first.exit_code == 0, first.output
    counts = {t["table"]: t["rows"] for t in json.loads(first.output)["tables"]}
    assert counts["orders"] == 3000

    idle = workspace.cli("sync", "-p", "sales", "--env", "ci")
    assert idle.exit_code == 0, idle.output
    assert "orders: 0 rows — nothing changed" in idle.output
    files_before = sorted(workspace.lake.rglob("orders__*.parquet"))

    past = datetime.now() - timedelta(seconds=30)  # older than now - safety lag, newer than the watermark
    db.execute("UPDATE orders SET status = 'cancelled', updated_at = %s WHERE order_id IN (5, 6, 7)",
               params=(past,))
    db.execute("INSERT INTO orders VALUES (900001, 1, 'placed', 10.00, 'EUR', %s, %s)", params=(past, past))
    again = workspace.cli("sync", "-p", "sales", "--env", "ci", "--json")
    assert again.exit_code == 0, again.output
    by_table = {t["table"]: t for t in json.loads(again.output)["tables"]}
    assert by_table["orders"]["rows"] == 4
    new_files = sorted(set(workspace.lake.rglob("orders__*.parquet")) - set(files_before))
    assert len(new_files) == 1
    got = sorted(pq.read_table(new_files[0]).column("order_id").to_pylist())
    assert got == [5, 6, 7, 900001]
    assert len(list(workspace.lake.rglob("orders__*.parquet"))) == len(files_before) + 1


def test_concurrent_sync_of_one_table_stops_the_second_with_a_clear_message(workspace):
    from extractor.config import load_project
    from extractor.lake import TableLayout, open_lake
    from extractor.state import TableLock

    assert workspace.cli("sample", "create", "--orders", "100").exit_code == 0
    project = load_project(workspace.config_dir)
    pipe = project.pipeline("sales")
    table = pipe.table("orders")
    layout = TableLayout(pipe.source, table.source_db, pipe.target_schema, table.target)
    with TableLock(open_lake(pipe.lake), layout, owner="another-run", ttl_seconds=600):
        result = workspace.cli("sync", "-p", "sales", "-t", "orders")
    assert result.exit_code == 5
    line = next(x for x in result.output.splitlines() if x.startswith("error: orders"))
    assert "locked" in line and "another-run" in line


def test_a_killed_run_resumes_without_loss_or_duplicates(workspace):
    assert workspace.cli("sample", "create", "--orders", "2000").exit_code == 0
    env = {**os.environ, "EXTRACTOR_FAULTS": "file_written:3"}
    cmd = [sys.executable, "-m", "extractor", "sync", "-p", "sales", "-t", "orders", "--env", "ci",
           "--config-dir", str(workspace.config_dir)]
    # ci env: batch 5000 rows… use a small file size so the crash happens mid-table.
    (workspace.config_dir / "environments" / "tiny.yml").write_text(
        TINY)
    cmd[cmd.index("ci")] = "tiny"
    crashed = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert crashed.returncode == -9, crashed.stderr
    resumed = subprocess.run(cmd, env={**os.environ}, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    landed = workspace.lake_rows("orders")
    ids = landed.column("order_id").to_pylist()
    assert len(ids) == 2000 and len(set(ids)) == 2000
    assert "adopted 1 file" in resumed.stdout


def test_watermark_never_points_past_data_that_is_not_durable(workspace):
    from extractor.config import load_project
    from extractor.lake import TableLayout, open_lake
    from extractor.state import WatermarkStore

    assert workspace.cli("sample", "create", "--orders", "1000").exit_code == 0
    (workspace.config_dir / "environments" / "tiny.yml").write_text(
        TINY.replace("150", "100").replace("300", "200"))
    env = {**os.environ, "EXTRACTOR_FAULTS": "file_written:2"}
    subprocess.run([sys.executable, "-m", "extractor", "sync", "-p", "sales", "-t", "orders", "--env", "tiny",
                    "--config-dir", str(workspace.config_dir)], env=env, capture_output=True)
    project = load_project(workspace.config_dir, "tiny")
    pipe = project.pipeline("sales")
    t = pipe.table("orders")
    wm, _ = WatermarkStore(open_lake(pipe.lake), TableLayout(pipe.source, t.source_db, pipe.target_schema,
                                                             t.target)).load()
    # Killed after the 2nd file was uploaded but before its commit: the watermark covers only file 1.
    assert wm.mysql.status == "running"
    assert len(wm.pending_files) == 1
    committed = pq.read_table(workspace.lake / wm.pending_files[0].key)
    assert max(committed.column("order_id").to_pylist()) == wm.snapshot.last_key[0]


def test_unknown_column_in_config_fails_with_file_and_line(workspace):
    assert workspace.cli("sample", "create", "--orders", "50").exit_code == 0
    path = workspace.config_dir / "pipelines" / "sales.yml"
    path.write_text(path.read_text().replace("cursor_column: updated_at\n    id_columns: [order_id]",
                                             "cursor_column: updated_att\n    id_columns: [order_id]"))
    result = workspace.cli("sync", "-p", "sales", "-t", "orders")
    assert result.exit_code == 2
    line = next(x for x in result.output.splitlines() if x.startswith("error: orders"))
    assert "sales.yml:" in line and "updated_att" in line and "did you mean 'updated_at'" in line


def test_s3_lake_round_trip_and_s3clean_keeps_unacknowledged_files(workspace, s3_bucket, monkeypatch):
    monkeypatch.setenv("EXTRACTOR_LAKE", f"s3://{s3_bucket}/lake")
    assert workspace.cli("sample", "create", "--orders", "500").exit_code == 0
    result = workspace.cli("sync", "-p", "sales", "--json")
    assert result.exit_code == 0, result.output
    assert {t["rows"] for t in json.loads(result.output)["tables"] if t["table"] == "orders"} == {500}
    got = workspace.cli("watermark", "get", "-p", "sales", "-t", "orders", "--json")
    doc = json.loads(got.output)
    assert doc["phase"] == "incremental" and len(doc["pending_files"]) == 1
    # Nothing is acknowledged yet: even with zero retention s3clean deletes nothing.
    clean = workspace.cli("s3clean", "clean", "-p", "sales", "--older-than", "0s", "--force")
    assert clean.exit_code == 0, clean.output
    assert "nothing to delete" in clean.output
    listed = workspace.cli("s3clean", "list", "-p", "sales", "--older-than", "0s", "--json")
    assert all(r["action"] == "keep" for r in json.loads(listed.output))


def test_passwords_never_appear_in_sync_output(workspace, monkeypatch):
    monkeypatch.setenv("MYSQL_PASSWORD", "s3cr3t-Pa55")
    result = workspace.cli("sync", "-p", "sales")
    assert result.exit_code != 0
    assert "s3cr3t-Pa55" not in result.output
    assert "error" in result.output


@pytest.mark.parametrize("reader", READERS)
def test_key_reconciliation_turns_hard_deletes_of_cursor_tables_into_tombstones(workspace, reader):
    db = workspace.db
    assert workspace.cli("sample", "create", "--orders", "400").exit_code == 0
    (workspace.config_dir / "environments" / "reconcile.yml").write_text(
        "pipelines:\n  sales:\n    defaults: {reader: " + reader + ", batch_rows: 64, file_max_rows: 128}\n"
        "    tables: {orders: {delete_detection: reconcile, batch_rows: 64}}\n")
    sync = ("sync", "-p", "sales", "-t", "orders", "--env", "reconcile", "--json")
    first = workspace.cli(*sync)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["tables"][0]["tombstones"] == 0

    past = datetime.now() - timedelta(seconds=30)
    db.execute("DELETE FROM orders WHERE order_id IN (3, 150, 399)")
    db.execute("UPDATE orders SET status = 'paid', updated_at = %s WHERE order_id = 7", params=(past,))
    # Inserted and deleted between two runs: extracted by neither, so no tombstone is needed.
    second = workspace.cli(*sync)
    assert second.exit_code == 0, second.output
    table = json.loads(second.output)["tables"][0]
    assert table["rows"] == 1 and table["tombstones"] == 3
    landed = workspace.lake_rows("orders")
    deletes = landed.filter(pc.equal(landed["_op"], "D"))
    assert sorted(deletes.column("order_id").to_pylist()) == [3, 150, 399]

    idle = workspace.cli(*sync)
    assert json.loads(idle.output)["tables"][0]["tombstones"] == 0


@pytest.mark.parametrize("reader", READERS)
def test_tables_and_columns_with_unusual_names_are_quoted_not_refused(workspace, reader):
    db = workspace.db
    db.execute(
        "CREATE TABLE `order-lines` (`key` INT NOT NULL, `line no` INT NOT NULL, `odd``name` VARCHAR(10),"
        " `changed-at` DATETIME(6) NOT NULL, PRIMARY KEY (`key`, `line no`), KEY ix (`changed-at`, `key`, `line no`))",
        "INSERT INTO `order-lines` VALUES (1, 1, 'a', '2025-01-01'), (1, 2, 'b', '2025-01-01'), (2, 1, NULL, '2025-01-02')",
    )
    workspace.write_pipeline("odd", f"""
        pipeline: {{name: odd, source: sales_mysql, target: local_duckdb, target_schema: odd_raw, lake: "{workspace.lake}"}}
        defaults: {{batch_rows: 2, safety_lag_seconds: 0, reader: {reader}}}
        tables:
          order_lines:
            source_table: "{db.database}.order-lines"
            cdc_strategy: hybrid
            cursor_column: changed-at
            id_columns: [key, line no]
        """)
    result = workspace.cli("sync", "-p", "odd", "--json")
    assert result.exit_code == 0, result.output
    db.execute("UPDATE `order-lines` SET `odd``name` = 'c', `changed-at` = '2025-02-01' WHERE `key` = 2")
    again = workspace.cli("sync", "-p", "odd", "--json")
    assert json.loads(again.output)["tables"][0]["rows"] == 1
    landed = workspace.lake_rows("order_lines", schema="odd_raw")
    assert landed.column("odd`name").to_pylist() == ["a", "b", None, "c"]
    assert landed.column("line no").to_pylist() == [1, 2, 1, 1]


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed here")
@pytest.mark.parametrize("reader", READERS)
def test_an_extractor_run_does_not_import_pandas_even_where_it_is_installed(workspace, reader):
    """pyarrow imports an installed pandas on its first Python → Arrow conversion (+0.15 s, +30-50 MB per run)."""
    assert workspace.cli("sample", "create", "--orders", "50").exit_code == 0
    probe = (
        "import sys\nfrom extractor import cli\n"
        f"sys.argv = ['extractor', 'sync', '-p', 'sales', '--reader', '{reader}', '--config-dir', sys.argv[1]]\n"
        "try:\n    cli.main()\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print(code, 'pandas' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", probe, str(workspace.config_dir)], capture_output=True, text=True,
                         check=False, timeout=120)
    assert ran.stdout.split()[-2:] == ["0", "False"], ran.stdout + ran.stderr
    assert workspace.lake_rows("orders").num_rows == 50


@pytest.mark.parametrize("reader", READERS)
def test_a_table_with_a_dot_in_its_name_is_configured_in_backticks(workspace, reader):
    db = workspace.db
    db.execute(
        "CREATE TABLE `order.items` (id INT PRIMARY KEY, note VARCHAR(10), changed_at DATETIME(6) NOT NULL)",
        "INSERT INTO `order.items` VALUES (1, 'a', '2025-01-01'), (2, 'b', '2025-01-02')",
    )
    workspace.write_pipeline("dots", f"""
        pipeline: {{name: dots, source: sales_mysql, target: local_duckdb, target_schema: dots_raw, lake: "{workspace.lake}"}}
        defaults: {{safety_lag_seconds: 0, reader: {reader}}}
        tables:
          order_items: {{source_table: "{db.database}.`order.items`", cdc_strategy: hybrid, cursor_column: changed_at,
                         id_columns: [id]}}
        """)
    result = workspace.cli("sync", "-p", "dots", "--json")
    assert result.exit_code == 0, result.output
    # No (changed_at, id) index: the warning's CREATE INDEX is SQL that runs as it is printed.
    warning = next(w for w in json.loads(result.output)["tables"][0]["warnings"] if "CREATE INDEX" in w)
    db.execute(warning[warning.index("CREATE INDEX"):])
    db.execute("UPDATE `order.items` SET note = 'c', changed_at = '2025-02-01' WHERE id = 2")
    again = workspace.cli("sync", "-p", "dots", "--json")
    assert json.loads(again.output)["tables"][0]["rows"] == 1
    landed = workspace.lake_rows("order_items", schema="dots_raw")
    assert landed.column("note").to_pylist() == ["a", "b", "c"]
    adhoc = workspace.cli("sync", "--source", "sales_mysql", "--target-schema", "dots_adhoc",
                          "-t", f"{db.database}.`order.items`", "--lake", str(workspace.lake), "--json")
    assert adhoc.exit_code == 0, adhoc.output
    assert json.loads(adhoc.output)["tables"][0]["rows"] == 2


def test_ad_hoc_sync_discovers_key_and_cursor(workspace):
    assert workspace.cli("sample", "create", "--orders", "300").exit_code == 0
    result = workspace.cli("sync", "--source", "sales_mysql", "--target-schema", "adhoc_raw",
                           "-t", f"{workspace.db.database}.orders", "-t", f"{workspace.db.database}.products",
                           "--lake", str(workspace.lake), "--json")
    assert result.exit_code == 0, result.output
    tables = {t["table"]: t for t in json.loads(result.output)["tables"]}
    assert tables["orders"]["strategy"] == "timestamp" and tables["orders"]["rows"] == 300
    # created_at does not change on update, so it is no cursor: the table is re-read whole (deletes show).
    assert tables["products"]["strategy"] == "full_sync" and tables["products"]["rows"] == 12


RANGES_PIPELINE = """
pipeline: {{name: ranges, source: sales_mysql, target: local_duckdb, target_schema: ranges_raw, lake: "{lake}"}}
defaults: {{batch_rows: 300, file_max_rows: 600, safety_lag_seconds: 0, reader: {reader}, read_parallelism: 2}}
tables:
  items:
    source_table: "{db}.items"
    cdc_strategy: {strategy}
    {cursor}
    id_columns: [id]
"""


def _make_items(db) -> list[int]:
    db.execute("CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20), updated_at DATETIME(6),"
               " KEY ix (updated_at, id))")
    # Sparse keys with a dense cluster: some ranges hold several pages, many hold none.
    ids = list(range(1, 3001, 3)) + list(range(50_000, 53_000)) + [10**12, 10**12 + 5]
    rows = ", ".join(f"({i}, 'v{i}', {'NULL' if i % 97 == 0 else repr('2025-01-01 00:00:00')})" for i in ids)
    db.execute(f"INSERT INTO items VALUES {rows}", "ANALYZE TABLE items")
    return ids


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("strategy", ["hybrid", "full_sync", "id"])
def test_initial_loads_read_key_ranges_in_parallel_and_land_every_row_once_in_order(workspace, reader, strategy):
    db = workspace.db
    ids = _make_items(db)
    cursor = "cursor_column: updated_at" if strategy == "hybrid" else ""
    workspace.write_pipeline("ranges", RANGES_PIPELINE.format(lake=workspace.lake, reader=reader, db=db.database,
                                                             strategy=strategy, cursor=cursor))
    result = workspace.cli("sync", "-p", "ranges", "--json")
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)["tables"][0]
    # pymysql decodes under the GIL: a second range would only contend for it, so it reads sequentially.
    assert ("key ranges at once" in table["reader"]) == (reader == "connectorx")
    landed = workspace.lake_rows("items", schema="ranges_raw")
    assert [int(i) for i in landed.column("id").to_pylist()] == ids  # every row once, in key order


@pytest.mark.parametrize("reader", READERS)
def test_the_id_strategy_appends_exactly_the_new_rows_run_after_run(workspace, reader):
    db = workspace.db
    ids = _make_items(db)
    workspace.write_pipeline("ranges", RANGES_PIPELINE.format(lake=workspace.lake, reader=reader, db=db.database,
                                                             strategy="id", cursor=""))
    first = workspace.cli("sync", "-p", "ranges", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["tables"][0]["rows"] == len(ids)

    idle = workspace.cli("sync", "-p", "ranges", "--json")
    assert idle.exit_code == 0, idle.output
    assert json.loads(idle.output)["tables"][0]["rows"] == 0

    # 1,500 appended rows (five pages): a backlog that small is read in sequential pages, after the last id.
    new = list(range(10**12 + 6, 10**12 + 1506))
    db.execute("INSERT INTO items (id, v) VALUES " + ", ".join(f"({i}, 'n{i}')" for i in new))
    second = workspace.cli("sync", "-p", "ranges", "--json")
    assert second.exit_code == 0, second.output
    table = json.loads(second.output)["tables"][0]
    assert table["rows"] == len(new) and "key ranges" not in table["reader"]
    assert table["position_after"] == str(new[-1])
    landed = workspace.lake_rows("items", schema="ranges_raw")
    assert [int(i) for i in landed.column("id").to_pylist()] == ids + new
    verify = workspace.cli("verify", "-p", "ranges", "--json")
    assert verify.exit_code == 0, verify.output


def test_the_id_strategy_waits_for_a_transaction_holding_a_smaller_key_instead_of_skipping_it(workspace, mysql_db):
    db = workspace.db
    db.execute("CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
               "INSERT INTO items (v) VALUES ('a'), ('b'), ('c')")
    pipeline = RANGES_PIPELINE.replace("safety_lag_seconds: 0", "safety_lag_seconds: 0.3")
    workspace.write_pipeline("ranges", pipeline.format(lake=workspace.lake, reader="connectorx", db=db.database,
                                                       strategy="id", cursor=""))
    assert _synced_rows(workspace, "ranges") == 3
    writer = mysql_db.connect()
    try:
        with writer.cursor() as cur:  # takes id 4 and commits only after the next run
            cur.execute("BEGIN")
            cur.execute(f"INSERT INTO `{db.database}`.items (v) VALUES ('late')")
        db.execute("INSERT INTO items (v) VALUES ('e')")  # id 5, committed now
        held = workspace.cli("sync", "-p", "ranges", "--json")
        assert held.exit_code == 0, held.output
        table = json.loads(held.output)["tables"][0]
        assert table["rows"] == 0 and "may still commit keys below 5" in " ".join(table["warnings"])
        writer.commit()
    finally:
        writer.close()
    assert _synced_rows(workspace, "ranges") == 2
    landed = workspace.lake_rows("items", schema="ranges_raw")
    assert sorted(landed.column("v").to_pylist()) == ["a", "b", "c", "e", "late"]  # id 4 is not skipped


@pytest.mark.parametrize("strategy", ["hybrid", "full_sync", "id"])
def test_an_empty_table_lands_a_schema_file_then_its_first_rows(workspace, strategy):
    db = workspace.db
    db.execute("CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20), updated_at DATETIME(6),"
               " KEY ix (updated_at, id))")
    cursor = "cursor_column: updated_at" if strategy == "hybrid" else ""
    workspace.write_pipeline("ranges", RANGES_PIPELINE.format(lake=workspace.lake, reader="connectorx",
                                                             db=db.database, strategy=strategy, cursor=cursor))
    first = workspace.cli("sync", "-p", "ranges", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["tables"][0]["status"] == "success"
    schema_only = workspace.lake_rows("items", schema="ranges_raw")
    assert schema_only.num_rows == 0 and {"id", "v", "updated_at", "_op"} <= set(schema_only.column_names)

    db.execute("INSERT INTO items VALUES (1, 'a', '2025-01-01'), (2, 'b', '2025-01-01')")
    second = workspace.cli("sync", "-p", "ranges", "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["tables"][0]["rows"] == 2
    assert sorted(workspace.lake_rows("items", schema="ranges_raw").column("id").to_pylist()) == [1, 2]


CHANGING_PIPELINE = """
pipeline: {{name: chg, source: sales_mysql, target: local_duckdb, target_schema: chg_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0}}
tables:
  items: {{source_table: "{db}.items", cdc_strategy: {strategy}, {cursor} id_columns: [{ids}]}}
  others: {{source_table: "{db}.others", cdc_strategy: hybrid, cursor_column: updated_at, id_columns: [id]}}
"""


@pytest.mark.parametrize(("setting", "changed"), [
    ("cdc_strategy", {"strategy": "full_sync", "cursor": ""}),
    ("cursor_column", {"cursor": "cursor_column: created_at,"}),
    ("id_columns", {"ids": "code"}),
])
def test_a_watermark_is_not_applied_to_a_changed_cursor_key_or_strategy(workspace, setting, changed):
    db = workspace.db
    db.execute("CREATE TABLE items (id INT PRIMARY KEY, code VARCHAR(8) NOT NULL UNIQUE, created_at DATETIME(6),"
               " updated_at DATETIME(6))", "CREATE TABLE others LIKE items",
               "INSERT INTO items VALUES (1, 'a', '2025-01-01', '2025-01-02'), (2, 'b', '2025-01-01', '2025-01-03')")
    settings = {"strategy": "hybrid", "cursor": "cursor_column: updated_at,", "ids": "id"}
    workspace.write_pipeline("chg", CHANGING_PIPELINE.format(lake=workspace.lake, db=db.database, **settings))
    assert workspace.cli("sync", "-p", "chg").exit_code == 0

    path = workspace.write_pipeline("chg", CHANGING_PIPELINE.format(lake=workspace.lake, db=db.database,
                                                                   **(settings | changed)))
    refused = workspace.cli("sync", "-p", "chg", "-t", "items", "--json")
    assert refused.exit_code == 2, refused.output
    error = json.loads(refused.output)["tables"][0]["error"]
    assert f"{path}:5" in error and "--full-refresh --table items" in error and setting.split("_")[-1] in error
    fresh = workspace.cli("sync", "-p", "chg", "-t", "items", "--full-refresh", "--json")
    assert fresh.exit_code == 0, fresh.output
    assert json.loads(fresh.output)["tables"][0]["rows"] == 2


def test_a_watermark_copied_from_another_table_is_refused(workspace):
    db = workspace.db
    db.execute("CREATE TABLE items (id INT PRIMARY KEY, code VARCHAR(8) NOT NULL UNIQUE, created_at DATETIME(6),"
               " updated_at DATETIME(6))", "CREATE TABLE others LIKE items",
               "INSERT INTO items VALUES (1, 'a', '2025-01-01', '2025-01-02')",
               "INSERT INTO others VALUES (7, 'z', '2025-01-01', '2026-01-01')")
    workspace.write_pipeline("chg", CHANGING_PIPELINE.format(lake=workspace.lake, db=db.database, strategy="hybrid",
                                                            cursor="cursor_column: updated_at,", ids="id"))
    assert workspace.cli("sync", "-p", "chg").exit_code == 0
    states = {p.stem: p for p in workspace.lake.rglob("state/**/*.json")}
    states["items"].write_bytes(states["others"].read_bytes())  # by hand, or a script gone wrong
    db.execute("INSERT INTO items VALUES (2, 'b', '2025-01-01', '2025-06-01')")  # before others' position
    refused = workspace.cli("sync", "-p", "chg", "-t", "items", "--json")
    assert refused.exit_code == 4, refused.output
    error = json.loads(refused.output)["tables"][0]["error"]
    assert f"tracks {db.database}.others, not {db.database}.items" in error and "--full-refresh" in error


def test_two_tables_landing_as_one_target_are_a_config_error(workspace):
    path = workspace.write_pipeline("dup", """
        pipeline: {name: dup, source: sales_mysql, target: local_duckdb, target_schema: dup_raw, lake: ./lake}
        tables:
          customers: {source_table: sales.customers, cdc_strategy: full_sync, id_columns: [customer_id]}
          customers2: {source_table: sales.orders, cdc_strategy: full_sync, id_columns: [order_id],
                       target_name: customers}
        """)
    result = workspace.cli("config", "validate", "dup")
    assert result.exit_code == 2
    assert f"{path}:6" in result.output and "'customers' and 'customers2' both land as 'customers'" in result.output


def test_watermark_set_moves_the_position_with_values_checked_against_the_column_types(workspace):
    db = workspace.db
    db.execute("CREATE TABLE items (id INT PRIMARY KEY, code VARCHAR(8) NOT NULL UNIQUE, created_at DATETIME(6),"
               " updated_at DATETIME(6))", "CREATE TABLE others LIKE items",
               "INSERT INTO items VALUES (1, 'a', '2025-01-01', '2025-01-02'), (2, 'b', '2025-01-01', '2025-01-02'),"
               " (3, 'c', '2025-01-01', '2025-01-03')")
    workspace.write_pipeline("chg", CHANGING_PIPELINE.format(lake=workspace.lake, db=db.database, strategy="hybrid",
                                                            cursor="cursor_column: updated_at,", ids="id"))
    moved = workspace.cli("watermark", "set", "-p", "chg", "-t", "items", "--value", "2025-01-02T00:00:00",
                          "--id", "1", "--json")
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.output)["position"] == "2025-01-02 00:00:00, 1"
    synced = workspace.cli("sync", "-p", "chg", "-t", "items", "--json")
    assert synced.exit_code == 0, synced.output
    assert sorted(workspace.lake_rows("items", schema="chg_raw").column("id").to_pylist()) == [2, 3]

    for args, expected in [
        (["--value", "notadate"], "expected an ISO timestamp (2025-01-31T23:59:59.123456) for datetime(6) column "
                                  "updated_at, got 'notadate'"),
        (["--value", "2025-13-45"], "got '2025-13-45'"),
        (["--value", "2025-01-02", "--id", "abc"], "expected an integer for int(11) column id, got 'abc'"),
        (["--value", "2025-01-02", "--id", "1", "--id", "2"], "3 values given for the position (updated_at, id)"),
    ]:
        refused = workspace.cli("watermark", "set", "-p", "chg", "-t", "items", *args)
        assert refused.exit_code == 2 and expected in refused.output, (args, refused.output)
    cursor = json.loads(workspace.cli("watermark", "get", "-p", "chg", "-t", "items", "--json").output)["cursor"]
    assert cursor["last_ids"] == [3]  # untouched by the refused attempts


@pytest.mark.parametrize(("key_type", "hint"), [
    ("ENUM('zeta', 'alpha', 'mid')", "use the key ['code'] as id_columns"),
    ("SET('c', 'b', 'a')", "use the key ['code'] as id_columns"),
])
def test_enum_and_set_keys_are_refused_with_another_key_to_use(workspace, key_type, hint):
    db = workspace.db
    db.execute(f"CREATE TABLE k (k {key_type} NOT NULL PRIMARY KEY, code INT NOT NULL UNIQUE, v INT)",
               "INSERT INTO k VALUES ('mid', 1, 1)" if key_type.startswith("ENUM") else
               "INSERT INTO k VALUES ('a,b', 1, 1)")
    path = _write_keys_pipeline(workspace, "pymysql")
    result = workspace.cli("sync", "-p", "keys", "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.output)["tables"][0]["error"]
    assert error.startswith(f"{path}:5: key column 'k' of {db.database}.k is {key_type.lower().replace(' ', '')}")
    assert error.endswith(hint)


@pytest.mark.parametrize("reader", READERS)
def test_percent_signs_in_table_and_column_names_are_names_not_placeholders(workspace, reader):
    db = workspace.db
    db.execute("CREATE TABLE `pct%tbl` (`id%` INT PRIMARY KEY, `discount_%` DECIMAL(5,2), `upd%s` DATETIME(6),"
               " KEY ix (`upd%s`, `id%`))",
               "INSERT INTO `pct%tbl` VALUES (1, 10.5, '2025-01-01'), (2, 20, '2025-01-02'), (3, NULL, '2025-01-02')")
    workspace.write_pipeline("pct", f"""
        pipeline: {{name: pct, source: sales_mysql, target: local_duckdb, target_schema: pct_raw, lake: "{workspace.lake}"}}
        defaults: {{batch_rows: 2, safety_lag_seconds: 0, reader: {reader}}}
        tables:
          pct: {{source_table: "{db.database}.pct%tbl", cdc_strategy: hybrid, cursor_column: "upd%s", id_columns: ["id%"]}}
        """)
    _synced_rows(workspace, "pct")
    db.execute("UPDATE `pct%tbl` SET `upd%s` = '2025-02-01', `discount_%` = 1 WHERE `id%` = 1")
    assert _synced_rows(workspace, "pct") == 1
    landed = workspace.lake_rows("pct", schema="pct_raw")
    assert sorted(landed.column("id%").to_pylist()) == [1, 1, 2, 3]
    assert sorted(str(v) for v in landed.column("discount_%").to_pylist()) == ["1.00", "10.50", "20.00", "None"]


EXCLUDE_PIPELINE = """
pipeline: {{name: ex, source: sales_mysql, target: local_duckdb, target_schema: ex_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0}}
tables:
  people: {{source_table: "{db}.people", cdc_strategy: hybrid, cursor_column: updated_at, id_columns: [id],
           exclude_columns: [{excluded}]}}
"""


def test_excluded_columns_are_never_read_or_landed_and_keys_cannot_be_excluded(workspace):
    db = workspace.db
    # `_op` would clash with the lake's own lineage column; `ssn` is PII.
    db.execute("CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(20), ssn CHAR(11), _op CHAR(1),"
               " updated_at DATETIME(6))", "INSERT INTO people VALUES (1, 'Ann', '123-45-6789', 'x', '2025-01-01')")
    workspace.write_pipeline("ex", EXCLUDE_PIPELINE.format(lake=workspace.lake, db=db.database, excluded="SSN, _op"))
    result = workspace.cli("sync", "-p", "ex", "--json")
    assert result.exit_code == 0, result.output
    landed = workspace.lake_rows("people", schema="ex_raw")
    assert [n for n in landed.column_names if not n.startswith("_")] == ["id", "name", "updated_at"]
    assert landed.column("_op").to_pylist() == ["U"] and "123-45-6789" not in str(landed.to_pylist())
    project = workspace.lake.parent / "dbt"
    assert workspace.cli("dbt", "sources", "-p", "ex", "--project-dir", str(project)).exit_code == 0
    sources = next(project.rglob("_ex__sources.yml")).read_text()
    assert "name: name" in sources and "ssn" not in sources.lower() and sources.count("name: _op\n") == 1  # lineage only

    for excluded, message in [("id", "cannot exclude 'id' of {db}.people: it is the table's key"),
                              ("updated_at", "cannot exclude 'updated_at' of {db}.people: it is the table's cursor"),
                              ("snn", "column 'snn' does not exist in {db}.people — did you mean 'ssn'?")]:
        path = workspace.write_pipeline("ex", EXCLUDE_PIPELINE.format(lake=workspace.lake, db=db.database,
                                                                      excluded=excluded))
        refused = workspace.cli("sync", "-p", "ex", "--json")
        assert refused.exit_code == 2, refused.output
        error = json.loads(refused.output)["tables"][0]["error"]
        assert error.startswith(f"{path}:6: " + message.format(db=db.database)), error


DATES_PIPELINE = """
pipeline: {{name: days, source: sales_mysql, target: local_duckdb, target_schema: days_raw, lake: "{lake}"}}
defaults: {{batch_rows: 2, file_max_rows: 4, safety_lag_seconds: 0, reader: {reader}}}
tables:
  d: {{source_table: "{db}.d", cdc_strategy: hybrid, cursor_column: {cursor}, id_columns: [day, n]}}
"""


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("cursor", ["changed_on", "updated_at"])
def test_date_cursors_and_date_keys_run_and_show_their_positions(workspace, reader, cursor):
    db = workspace.db
    db.execute("CREATE TABLE d (day DATE NOT NULL, n INT NOT NULL, changed_on DATE NOT NULL,"
               " updated_at DATETIME(6) NOT NULL, bin VARBINARY(4), PRIMARY KEY (day, n))",
               "INSERT INTO d VALUES ('2025-01-01', 1, '2025-01-01', '2025-01-01 10:00', x'00ff'),"
               " ('2025-01-01', 2, '2025-01-02', '2025-01-02 10:00', NULL), ('2025-01-03', 1, '2025-01-02',"
               " '2025-01-02 10:00', NULL)")
    workspace.write_pipeline("days", DATES_PIPELINE.format(lake=workspace.lake, reader=reader, db=db.database,
                                                          cursor=cursor))
    first = workspace.cli("sync", "-p", "days", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["tables"][0]["upper_bound"].startswith("2025-01-02")
    db.execute(f"UPDATE d SET {cursor} = '2025-02-01' WHERE n = 2")
    second = workspace.cli("sync", "-p", "days", "--json")
    assert second.exit_code == 0, second.output
    table = json.loads(second.output)["tables"][0]
    assert table["rows"] == 1 and table["position_after"].startswith("2025-02-01") \
        and table["position_after"].endswith("2025-01-01, 2")


KEYS_PIPELINE = """
pipeline: {{name: keys, source: sales_mysql, target: local_duckdb, target_schema: keys_raw, lake: "{lake}"}}
defaults: {{batch_rows: 2, file_max_rows: 4, safety_lag_seconds: 0, reader: {reader}}}
tables:
  k: {{source_table: "{db}.k", cdc_strategy: {strategy}, id_columns: [{ids}]}}
"""


def _write_keys_pipeline(workspace, reader: str, strategy: str = "full_sync", ids: str = "k"):
    """Pipeline ``keys`` over table ``k`` of the workspace's database; returns the file's path."""
    return workspace.write_pipeline("keys", KEYS_PIPELINE.format(lake=workspace.lake, reader=reader,
                                                                 db=workspace.db.database, strategy=strategy, ids=ids))


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("key_type", "keys"), [
    # Read as text by connectorx (CAST … AS CHAR AS k): text order is not the key's order.
    ("DECIMAL(20,0)", ["1", "2", "3", "5", "8", "10", "20", "100", "12345678901234567890", "12345678901234567891"]),
    ("DECIMAL(30,10)", ["-10.5", "-2.0000000001", "0.0000000001", "3", "25", "100.25"]),
    ("DECIMAL(65,30)", ["1.000000000000000000000000000001", "1.000000000000000000000000000002", "9", "10"]),
    ("INET6", ["::1", "::2", "::a", "::10", "1::", "a::", "fe80::1"]),
    ("UUID", ["00000000-0000-0000-0000-000000000002", "10000000-0000-0000-0000-000000000001",
              "ffffffff-0000-0000-0000-000000000000", "00000000-ffff-0000-0000-000000000001"]),
])
def test_keys_read_as_text_page_in_the_keys_own_order(workspace, reader, key_type, keys):
    db = workspace.db
    db.execute(f"CREATE TABLE k (k {key_type} PRIMARY KEY, v INT)",
               "INSERT INTO k VALUES " + ", ".join(f"('{key}', {i})" for i, key in enumerate(keys)))
    expected = [r[0] for r in db.query("SELECT CAST(k AS CHAR) FROM k ORDER BY k")]
    _write_keys_pipeline(workspace, reader)
    result = workspace.cli("sync", "-p", "keys", "--json")
    assert result.exit_code == 0, result.output
    landed = workspace.lake_rows("k", schema="keys_raw")
    typed = Decimal if key_type.startswith("DECIMAL") else str
    assert [typed(v) for v in landed.column("k").to_pylist()] == [typed(v) for v in expected]  # each once, in order


@pytest.mark.parametrize("reader", READERS)
def test_the_id_strategy_reads_its_largest_float_key_that_text_would_round(workspace, reader):
    db = workspace.db
    # FLOAT keys are float32: as text MariaDB shows 0.3 for 0.30000001192…, and `k <= 0.3` misses that row.
    db.execute("CREATE TABLE k (k FLOAT PRIMARY KEY, v INT)", "INSERT INTO k VALUES (0.1, 1), (0.2, 2), (0.3, 3)")
    _write_keys_pipeline(workspace, reader, "id")
    assert _synced_rows(workspace, "keys") == 3
    db.execute("INSERT INTO k VALUES (0.7, 4)")
    assert _synced_rows(workspace, "keys") == 1
    landed = workspace.lake_rows("k", schema="keys_raw")
    assert sorted(landed.column("v").to_pylist()) == [1, 2, 3, 4]


@pytest.mark.parametrize("reader", READERS)
def test_the_id_strategy_reads_every_bit_key_up_to_its_largest(workspace, reader):
    db = workspace.db
    # A BIT value arrives as bytes; MariaDB compares `k <= X'ff'` as strings, which only the zero key passes.
    db.execute("CREATE TABLE k (k BIT(16) PRIMARY KEY, v INT)",
               "INSERT INTO k VALUES (b'0', 1), (b'1', 2), (b'10000000', 3), (b'11111111', 4)")
    _write_keys_pipeline(workspace, reader, "id")
    assert _synced_rows(workspace, "keys") == 4
    db.execute("INSERT INTO k VALUES (b'100000000', 5)")
    assert _synced_rows(workspace, "keys") == 1
    landed = workspace.lake_rows("k", schema="keys_raw")
    assert landed.column("k").to_pylist() == [0, 1, 128, 255, 256]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("strategy", ["full_sync", "id"])
def test_a_zero_date_in_a_key_stops_the_table_instead_of_skipping_the_rows_after_it(workspace, reader, strategy):
    db = workspace.db
    rows = ", ".join(f"('{'0000-00-00' if i < 3 else f'2025-01-{i:02d}'}', {i})" for i in range(10))
    db.execute("SET SESSION sql_mode = ''", "CREATE TABLE k (k DATE NOT NULL, v INT, PRIMARY KEY (k, v))",
               f"INSERT INTO k VALUES {rows}")
    _write_keys_pipeline(workspace, reader, strategy, ids="k, v")
    # A zero date lands as NULL; a position of NULL matched nothing, so 2 of 10 rows landed and the run succeeded.
    result = workspace.cli("sync", "-p", "keys", "--json")
    assert result.exit_code == 8, result.output  # a data error, not MySQL's code
    error = json.loads(result.output)["tables"][0]["error"]
    assert error.startswith(f"{db.database}.k.k: key column k holds a zero or invalid date"), error


def test_keys_spread_over_the_whole_64_bit_range_read_in_a_handful_of_ranges(workspace):
    db = workspace.db
    db.execute("CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20), updated_at DATETIME(6),"
               " KEY ix (updated_at, id))")
    ids = [1, *(i * 6_100_000_000_000_000 for i in range(1, 3001)), 2**64 - 1]  # random-id style keys
    db.execute("INSERT INTO items VALUES " + ", ".join(f"({i}, 'v', '2025-01-01')" for i in ids), "ANALYZE TABLE items")
    workspace.write_pipeline("ranges", RANGES_PIPELINE.format(lake=workspace.lake, reader="connectorx", db=db.database,
                                                             strategy="hybrid", cursor="cursor_column: updated_at"))
    cmd = [sys.executable, "-m", "extractor", "sync", "-p", "ranges", "--json", "--config-dir", str(workspace.config_dir)]
    # Before: a step clamped by a minimum density made ~3e7 ranges (one query each) for these 3,002 rows.
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "key ranges at once" in json.loads(done.stdout)["tables"][0]["reader"]
    landed = workspace.lake_rows("items", schema="ranges_raw")
    assert [int(i) for i in landed.column("id").to_pylist()] == ids


COMPOSITE_RANGES_PIPELINE = """
pipeline: {{name: lines, source: sales_mysql, target: local_duckdb, target_schema: lines_raw, lake: "{lake}"}}
defaults: {{batch_rows: 200, file_max_rows: 400, safety_lag_seconds: 0, reader: connectorx, read_parallelism: 2}}
tables:
  lines: {{source_table: "{db}.order_lines", cdc_strategy: {strategy}, {cursor} id_columns: [order_id, line_no]}}
"""


def _make_lines(db) -> list[tuple[int, int]]:
    db.execute("CREATE TABLE order_lines (order_id INT NOT NULL, line_no SMALLINT NOT NULL, v VARCHAR(20),"
               " updated_at DATETIME(6), PRIMARY KEY (order_id, line_no), KEY ix (updated_at, order_id, line_no))")
    # Orders of 1-5 lines, sparse ids, and one order in the middle far larger than a page (several pages).
    keys = sorted([(o, n) for o in range(1, 4000, 2) for n in range(1, 2 + o % 5)] + [(2000, n) for n in range(1, 700)])
    rows = ", ".join(f"({o}, {n}, 'v{o}-{n}', '2025-01-01')" for o, n in keys)
    db.execute(f"INSERT INTO order_lines VALUES {rows}", "ANALYZE TABLE order_lines")
    return keys


@pytest.mark.parametrize("strategy", ["hybrid", "full_sync", "id"])
def test_composite_keys_read_ranges_of_their_leading_column_and_land_every_row_once_in_order(workspace, strategy):
    db = workspace.db
    keys = _make_lines(db)
    cursor = "cursor_column: updated_at," if strategy == "hybrid" else ""
    workspace.write_pipeline("lines", COMPOSITE_RANGES_PIPELINE.format(lake=workspace.lake, db=db.database,
                                                                      strategy=strategy, cursor=cursor))
    result = workspace.cli("sync", "-p", "lines", "--json")
    assert result.exit_code == 0, result.output
    assert "key ranges at once" in json.loads(result.output)["tables"][0]["reader"]
    landed = workspace.lake_rows("lines", schema="lines_raw")
    got = list(zip(landed.column("order_id").to_pylist(), landed.column("line_no").to_pylist(), strict=True))
    assert got == keys  # every row once, in key order


def test_a_killed_composite_key_initial_load_resumes_mid_key_without_loss_or_duplicates(workspace):
    db = workspace.db
    keys = _make_lines(db)
    workspace.write_pipeline("lines", COMPOSITE_RANGES_PIPELINE.format(
        lake=workspace.lake, db=db.database, strategy="hybrid", cursor="cursor_column: updated_at,"))
    cmd = [sys.executable, "-m", "extractor", "sync", "-p", "lines", "--config-dir", str(workspace.config_dir)]
    # Killed right after the watermark of file 8 is saved: a range page of the 699-line order 2000 ended
    # inside that order, so the next run resumes from (2000, n) with lines of order 2000 (and later key
    # ranges) still to read.
    crashed = subprocess.run(cmd, env={**os.environ, "EXTRACTOR_FAULTS": "watermark_saved:8"},
                             capture_output=True, text=True)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    state = json.loads(next(workspace.lake.rglob("state/**/lines.json")).read_text())
    order_id, line_no = state["snapshot"]["last_key"]
    assert (order_id, line_no + 1) in keys and order_id < keys[-1][0], f"not inside a key group: {order_id, line_no}"
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    landed = workspace.lake_rows("lines", schema="lines_raw")
    got = list(zip(landed.column("order_id").to_pylist(), landed.column("line_no").to_pylist(), strict=True))
    assert sorted(got) == keys and len(got) == len(keys)


def test_a_killed_parallel_initial_load_resumes_without_loss_or_duplicates(workspace):
    db = workspace.db
    ids = _make_items(db)
    workspace.write_pipeline("ranges", RANGES_PIPELINE.format(lake=workspace.lake, reader="connectorx",
                                                             db=db.database, strategy="hybrid",
                                                             cursor="cursor_column: updated_at"))
    cmd = [sys.executable, "-m", "extractor", "sync", "-p", "ranges", "--config-dir", str(workspace.config_dir)]
    crashed = subprocess.run(cmd, env={**os.environ, "EXTRACTOR_FAULTS": "file_written:3"}, capture_output=True,
                             text=True)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    landed = workspace.lake_rows("items", schema="ranges_raw")
    assert sorted(int(i) for i in landed.column("id").to_pylist()) == ids


WIDE_PIPELINE = """
pipeline: {{name: wide, source: sales_mysql, target: local_duckdb, target_schema: wide_raw, lake: "{lake}"}}
defaults: {{batch_rows: 5000, batch_max_bytes: 2000000, safety_lag_seconds: 0, read_parallelism: {parallelism}}}
tables:
  rows:
    source_table: "{db}.wide_rows"
    cdc_strategy: full_sync
    id_columns: [id]
"""


def _make_wide_rows(db) -> None:
    """12,000 rows of about 1,000 bytes each."""
    db.execute("CREATE TABLE wide_rows (id INT PRIMARY KEY, payload VARCHAR(2000))")
    db.execute("INSERT INTO wide_rows SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_12000",
               "ANALYZE TABLE wide_rows")


def _row_groups(root) -> list[int]:
    """Rows per Parquet row group (one per page) of every file below ``root``, in file order."""
    return [pq.ParquetFile(f).metadata.row_group(i).num_rows for f in sorted(root.rglob("*.parquet"))
            for i in range(pq.ParquetFile(f).metadata.num_row_groups)]


@pytest.mark.parametrize("parallelism", [2, 4])
def test_wide_rows_shrink_pages_to_the_byte_budget_and_extra_ranges_must_fit_it(workspace, parallelism):
    """Pages (one Parquet row group each) stay near ``batch_max_bytes`` however wide the rows; two key
    ranges hold no more pages than sequential reads, more than two only when the extra pages fit."""
    db = workspace.db
    _make_wide_rows(db)
    workspace.write_pipeline("wide", WIDE_PIPELINE.format(lake=workspace.lake, db=db.database,
                                                         parallelism=parallelism))
    result = workspace.cli("sync", "-p", "wide", "--json")
    assert result.exit_code == 0, result.output
    assert ("key ranges at once" in json.loads(result.output)["tables"][0]["reader"]) == (parallelism == 2)
    groups = _row_groups(workspace.lake / "data" / "sales_mysql" / db.database / "wide_raw" / "rows")
    assert sum(groups) == 12000
    assert 1000 <= max(groups) <= 2100  # ≈ 2,000,000 bytes / 1,000-byte rows (batch_rows 5,000)


TWO_WIDE_PIPELINE = """
pipeline: {{name: wide2, source: sales_mysql, target: local_duckdb, target_schema: wide2_raw, lake: "{lake}"}}
defaults: {{batch_rows: 5000, batch_max_bytes: 2000000, safety_lag_seconds: 0, parallelism: {parallelism}}}
tables:
  first: {{source_table: "{db}.wide_rows", cdc_strategy: full_sync, id_columns: [id]}}
  second: {{source_table: "{db}.wide_rows", cdc_strategy: full_sync, id_columns: [id], target_name: second}}
"""


@pytest.mark.parametrize(("parallelism", "largest_page"), [(1, 2100), (2, 1050)])
def test_tables_extracted_at_once_share_the_page_budget(workspace, parallelism, largest_page):
    """Memory is bounded by ``batch_max_bytes`` for the whole run: two tables at once get half each."""
    db = workspace.db
    _make_wide_rows(db)
    workspace.write_pipeline("wide2", TWO_WIDE_PIPELINE.format(lake=workspace.lake, db=db.database,
                                                              parallelism=parallelism))
    result = workspace.cli("sync", "-p", "wide2", "--json")
    assert result.exit_code == 0, result.output
    for table in ("first", "second"):
        groups = _row_groups(workspace.lake / "data" / "sales_mysql" / db.database / "wide2_raw" / table)
        assert sum(groups) == 12000
        assert largest_page // 2 <= max(groups) <= largest_page
