"""Issue 15's correctness edges against the real MariaDB: cursor precision, late reconcile, full refresh after a
strategy change, future-dated and NULL cursors in `verify`, the suggested index, open transactions elsewhere."""

from __future__ import annotations

import json
import re
import time

import duckdb
import pymysql
import pytest

PIPELINE = """
pipeline: {{name: edge, source: sales_mysql, target_schema: edge_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0{defaults}}}
tables:
  things:
    source_table: "{db}.things"
    cdc_strategy: {strategy}
    id_columns: [{ids}]
    {extra}
"""


def _pipeline(workspace, strategy: str = "hybrid", *, cursor: str | None = "updated_at", ids: str = "id",  # noqa: ANN001
              extra: str = "", defaults: str = "") -> None:
    lines = [f"cursor_column: {cursor}"] if cursor and strategy in ("hybrid", "timestamp") else []
    if extra:
        lines.append(extra)
    workspace.write_pipeline("edge", PIPELINE.format(lake=workspace.lake, db=workspace.db.database, strategy=strategy,
                                                     ids=ids, extra="\n    ".join(lines), defaults=defaults))


def _sync(workspace, *args: str) -> dict:  # noqa: ANN001
    result = workspace.cli("sync", "-p", "edge", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["tables"][0]


def _current(workspace, where: str = "") -> dict[int, tuple]:  # noqa: ANN001
    """Key → (_op, v) of each key's latest row in the lake (what staging keeps, tombstones included)."""
    glob = str(workspace.lake / "data" / "sales_mysql" / workspace.db.database / "edge_raw" / "things" / "*" / "*.parquet")
    rows = duckdb.sql(
        f"select id, _op, v from (select *, row_number() over (partition by id order by _extracted_at desc, "
        f"_batch_id desc) rn from read_parquet('{glob}', union_by_name = true)) where rn = 1 {where}").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _verify(workspace) -> tuple[int, str, dict]:  # noqa: ANN001
    text = workspace.cli("verify", "-p", "edge")
    data = workspace.cli("verify", "-p", "edge", "--json")
    return text.exit_code, text.output, json.loads(data.output)["tables"][0]


# ------------------------------------------------------------------------------- 1. the cursor's precision


def test_a_row_rewritten_later_in_the_watermarks_second_with_a_smaller_key_is_not_lost(workspace):
    """Whole-second TIMESTAMP cursor, lag 0: a run in second T must not take rows of T, or a row written
    later in T with a smaller key sorts below the watermark (T, larger key) and is never read."""
    db = workspace.db
    db.execute("CREATE TABLE things (id INT PRIMARY KEY, v INT NOT NULL, updated_at TIMESTAMP NOT NULL DEFAULT "
               "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (updated_at, id))",
               "INSERT INTO things (id, v, updated_at) SELECT seq, 0, '2024-01-01' FROM seq_1_to_200")
    _pipeline(workspace)
    _sync(workspace)
    for _attempt in range(5):
        while time.time() % 1 > 0.2:  # start early in a second, so that the three steps share it
            time.sleep(0.01)
        db.execute("UPDATE things SET v = v + 1 WHERE id = 150")
        _sync(workspace)
        db.execute("UPDATE things SET v = v + 1 WHERE id = 100")
        if len({r[0] for r in db.query("SELECT updated_at FROM things WHERE id IN (100, 150)")}) == 1:
            break
    else:
        pytest.skip("this machine never ran an update, a sync and an update within one second")
    time.sleep(1.1)
    _sync(workspace)
    assert {k: v for k, (_op, v) in _current(workspace, "and id in (100, 150)").items()} == {
        100: db.query("SELECT v FROM things WHERE id = 100")[0][0], 150: db.query("SELECT v FROM things WHERE id = 150")[0][0]}
    assert _verify(workspace)[0] == 0


# ---------------------------------------------------------------------- 2. and 3. deletes a run never saw


def _things(workspace, rows: int = 5) -> None:  # noqa: ANN001
    workspace.db.execute(
        "CREATE TABLE things (id INT PRIMARY KEY, v INT, updated_at DATETIME(6) NOT NULL, KEY (updated_at, id))",
        f"INSERT INTO things SELECT seq, seq, '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_{rows}")


def test_reconcile_switched_on_later_tombstones_keys_deleted_before_and_verify_notes_say_what_applies(workspace):
    _things(workspace)
    _pipeline(workspace)
    _sync(workspace)
    workspace.db.execute("DELETE FROM things WHERE id = 1")
    _sync(workspace)
    code, text, _table = _verify(workspace)
    assert code == 0 and "set delete_detection: reconcile and the next run lands their tombstones" in text

    _pipeline(workspace, extra="delete_detection: reconcile")
    workspace.db.execute("DELETE FROM things WHERE id = 2")  # while reconcile is on: the next run's
    code, text, _table = _verify(workspace)
    assert "the next run lands their tombstones (delete_detection: reconcile)" in text
    assert _sync(workspace)["tombstones"] == 2
    assert _current(workspace, "and _op = 'D'").keys() == {1, 2}
    code, text, table = _verify(workspace)
    assert code == 0 and table["deleted_at_source"] == 0 and "note:" not in text, text
    # the key set the run saved is fresh now: the next run trusts it and lands nothing more
    assert _sync(workspace)["tombstones"] == 0


@pytest.mark.parametrize("strategy", ["hybrid", "id"])
def test_a_full_refresh_leaves_no_key_deleted_before_it_current(workspace, strategy):
    _things(workspace)
    _pipeline(workspace, strategy)
    _sync(workspace)
    workspace.db.execute("DELETE FROM things WHERE id IN (1, 4)")
    assert _sync(workspace, "--full-refresh")["tombstones"] == 2
    assert {k for k, (op, _v) in _current(workspace).items() if op == "U"} == {2, 3, 5}
    assert _sync(workspace)["tombstones"] == 0
    assert _verify(workspace)[2]["deleted_at_source"] == 0


def test_a_strategy_change_and_the_full_refresh_the_tool_asks_for_leave_no_ghost_row(workspace):
    """id → full_sync with a key deleted before: every later verify failed with the key current in the lake."""
    _things(workspace)
    _pipeline(workspace, "id")
    _sync(workspace)
    workspace.db.execute("DELETE FROM things WHERE id = 1")
    _pipeline(workspace, "full_sync")
    refused = workspace.cli("sync", "-p", "edge")
    assert refused.exit_code != 0 and "--full-refresh --table things" in refused.output
    assert _sync(workspace, "--full-refresh", "--table", "things")["tombstones"] == 1
    _sync(workspace)
    assert {k for k, (op, _v) in _current(workspace).items() if op == "U"} == {2, 3, 4, 5}
    code, text, table = _verify(workspace)
    assert code == 0 and table["extra_in_lake"] == 0, text


# -------------------------------------------------------------------- 4. and 5. rows no run will bring


@pytest.mark.parametrize("cursor_type", ["DATE", "DATETIME"])
def test_future_dated_cursor_values_are_counted_warned_and_fail_verify(workspace, cursor_type):
    workspace.db.execute(
        f"CREATE TABLE things (id INT PRIMARY KEY, v INT, valid_to {cursor_type} NOT NULL, KEY (valid_to, id))",
        "INSERT INTO things SELECT seq, seq, IF(seq % 3 = 0, '2024-01-01', '9999-01-01') FROM seq_1_to_9")
    _pipeline(workspace, cursor="valid_to")
    result = workspace.cli("sync", "-p", "edge")
    assert result.exit_code == 0, result.output
    assert "warning: things: 6 row(s) of" in result.output and "valid_to in the future (up to 9999-01-01" in result.output
    assert _sync(workspace)["future_cursor_rows"] == 6
    code, text, table = _verify(workspace)
    assert code == 7, text
    assert (table["source_rows"], table["in_flight"], table["future_cursor_rows"], table["missing_in_lake"]) == (
        9, 0, 6, 6)
    assert "diff: things: 6 MySQL row(s) have a cursor dated in the future" in text
    assert "missing in the lake until the clock passes its cursor" in text


def test_a_row_whose_cursor_became_null_after_it_was_extracted_fails_verify(workspace):
    workspace.db.execute(
        "CREATE TABLE things (id INT PRIMARY KEY, v INT, updated_at DATETIME(6) NULL, KEY (updated_at, id))",
        "INSERT INTO things SELECT seq, seq, '2024-01-01' FROM seq_1_to_3")
    _pipeline(workspace)
    _sync(workspace)
    assert _verify(workspace)[0] == 0
    workspace.db.execute("UPDATE things SET v = 20, updated_at = NULL WHERE id = 2")
    _sync(workspace)
    code, text, table = _verify(workspace)
    assert code == 7, text
    assert (table["null_cursor_stale"], table["different_in_lake"], table["in_flight"]) == (1, 1, 0)
    assert "diff: things: 1 row(s) with a NULL cursor differ from the lake, and no run will change that" in text
    assert "key (2) differs between MySQL and the lake and will stay so: its cursor is NULL" in text
    # the way out the line gives (a full refresh would not do: staging keeps the version with the latest cursor)
    workspace.db.execute("UPDATE things SET updated_at = NOW(6) - INTERVAL 1 SECOND WHERE updated_at IS NULL")
    _sync(workspace)
    assert _verify(workspace)[0] == 0


# ------------------------------------------------------------------------------------ 6. the suggested index


def test_the_suggested_create_index_runs_as_printed_when_the_cursor_is_a_key_column(workspace):
    workspace.db.execute(
        "CREATE TABLE things (account_id INT NOT NULL, valid_from DATETIME NOT NULL, v INT,"
        " PRIMARY KEY (account_id, valid_from))",
        "INSERT INTO things VALUES (1, '2024-01-01', 1), (2, '2024-01-02', 2)")
    _pipeline(workspace, cursor="valid_from", ids="account_id, valid_from")
    result = workspace.cli("sync", "-p", "edge")
    assert result.exit_code == 0, result.output
    [statement] = re.findall(r"CREATE INDEX .*", result.output)
    assert statement.endswith("(`valid_from`, `account_id`)")
    workspace.db.execute(statement)  # runs as printed (MariaDB refused the repeated column before)
    again = workspace.cli("sync", "-p", "edge")
    assert again.exit_code == 0 and "CREATE INDEX" not in again.output


# ------------------------------------------------------------------ 7. open transactions in other databases


def test_an_open_write_in_another_database_holds_back_only_under_server_scope_and_is_named(workspace):
    db = workspace.db
    other = f"{db.database}_other"
    db.execute(f"CREATE DATABASE `{other}`", f"CREATE TABLE `{other}`.t (id INT PRIMARY KEY)",
               "CREATE TABLE things (id INT PRIMARY KEY, v INT, updated_at DATETIME(6) NOT NULL DEFAULT NOW(6),"
               " KEY (updated_at, id))")
    writer = pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password, database=other)
    try:
        with writer.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("INSERT INTO t VALUES (1)")
        time.sleep(1.2)
        db.execute("INSERT INTO things (id, v) VALUES (1, 1)")  # newer than the open transaction
        time.sleep(1.2)
        _pipeline(workspace, defaults=", open_transaction_scope: server")
        held = workspace.cli("sync", "-p", "edge")
        assert held.exit_code == 0, held.output
        line = next(x for x in held.output.splitlines() if x.startswith("things: 0 rows"))
        # (on a shared server another session's older transaction may be the one named)
        assert re.match(r"things: 0 rows — held back by an open transaction \d+ \(session \d+(, database \S+)?\) "
                        r"open since \d{4}-", line), line
        assert "nothing changed" not in held.output

        _pipeline(workspace)  # the default scope: the table's own database
        assert _sync(workspace)["rows"] == 1
    finally:
        writer.rollback()
        writer.close()
        db.execute(f"DROP DATABASE `{other}`")


@pytest.mark.parametrize("strategy", ["hybrid", "id", "full_sync"])
def test_a_full_refresh_of_a_table_emptied_at_the_source_tombstones_every_key(workspace, strategy):
    _things(workspace, rows=3)
    _pipeline(workspace, strategy)
    _sync(workspace)
    workspace.db.execute("DELETE FROM things")
    assert _sync(workspace, "--full-refresh")["tombstones"] == 3
    assert {op for op, _v in _current(workspace).values()} == {"D"}
    code, text, _table = _verify(workspace)
    assert code == 0, text
