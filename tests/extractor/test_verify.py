"""`extractor verify` against the real MariaDB and a local lake: what it reports when it cannot check a table,
when no run ever committed anything, and on key types the drivers return differently (binary, TIME, FLOAT)."""

from __future__ import annotations

import json

import pytest

PIPELINE = """
pipeline: {{name: keys, source: sales_mysql, target_schema: keys_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0, null_cursor_policy: {policy}}}
tables:
  things:
    source_table: "{db}.things"
    cdc_strategy: {strategy}
    id_columns: [k]
    {cursor}
"""


def _pipeline(workspace, strategy: str = "full_sync", policy: str = "warn") -> None:  # noqa: ANN001
    cursor = "cursor_column: updated_at" if strategy == "hybrid" else ""
    workspace.write_pipeline("keys", PIPELINE.format(lake=workspace.lake, db=workspace.db.database,
                                                     strategy=strategy, cursor=cursor, policy=policy))


def _things(workspace, key_type: str = "INT", values: str = "(1, 'a'), (2, 'b'), (3, 'c')") -> None:  # noqa: ANN001
    workspace.db.execute(
        f"CREATE TABLE things (k {key_type} NOT NULL PRIMARY KEY, v VARCHAR(5),"
        " updated_at DATETIME(6) NULL DEFAULT '2025-01-01 00:00:00', KEY ix (updated_at, k))",
        f"INSERT INTO things (k, v) VALUES {values}")


def _verify(workspace, *args: str):  # noqa: ANN001, ANN202
    return workspace.cli("verify", "-p", "keys", *args)


# --------------------------------------------------------------------------------- what was not checked


def test_a_table_that_could_not_be_checked_is_an_error_with_the_errors_exit_code(workspace, monkeypatch):
    _things(workspace)
    _pipeline(workspace)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    monkeypatch.setenv("MYSQL_PORT", "1")  # nothing listens there: MySQL refuses the connection

    text = _verify(workspace)
    assert text.exit_code == 3, text.output  # SourceError's code, not 7 (a mismatch)
    lines = text.output.splitlines()
    assert lines[1].split() == ["things", "-", "-", "-", "-", "error", "error"]
    assert lines[2].startswith("error: things: not checked: 127.0.0.1:1: cannot connect to MySQL")
    assert lines[-1] == "verify keys: ERROR: could not check things"
    assert "MISMATCH" not in text.output

    data = json.loads(_verify(workspace, "--json").output)
    [table] = data["tables"]
    assert (data["ok"], data["exit_code"]) == (False, 3)
    assert (table["status"], table["ok"], table["lake_ok"], table["warehouse_ok"], table["exit_code"]) == (
        "error", False, None, None, 3)


def test_an_unreadable_watermark_is_a_lake_error_not_a_mismatch(workspace):
    _things(workspace)
    _pipeline(workspace)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    [state] = (workspace.lake / "state").rglob("things.json")
    state.write_text("{not json")

    result = _verify(workspace, "--json")
    assert result.exit_code == 4, result.output
    [table] = json.loads(result.output)["tables"]
    assert table["status"] == "error" and "corrupt watermark" in table["error"]


def test_a_table_no_run_committed_is_not_reported_ok(workspace):
    """Every run failed (a NULL cursor under `fail`): its rows are not in flight, none were ever extracted."""
    _things(workspace)
    workspace.db.execute("UPDATE things SET updated_at = NULL WHERE k = 3")
    _pipeline(workspace, strategy="hybrid", policy="fail")
    assert workspace.cli("sync", "-p", "keys").exit_code == 8  # a data error
    assert workspace.cli("sync", "-p", "keys").exit_code == 8

    result = _verify(workspace, "--json")
    assert result.exit_code == 7, result.output
    [table] = json.loads(result.output)["tables"]
    assert (table["status"], table["last_run"], table["not_extracted"]) == ("mismatch", "failed", 3)
    # Not missing either: the watermark claims none of them (a failed run never points past durable data).
    assert (table["source_rows"], table["in_flight"], table["lake_rows"], table["missing_in_lake"]) == (0, 0, 0, 0)
    text = _verify(workspace).output
    assert "diff: things: no run has committed anything (last run: failed), so none of its 3 MySQL row(s)" in text
    assert text.splitlines()[-1] == "verify keys: MISMATCH"


def test_a_table_never_synced_is_noted_not_counted_in_flight(workspace):
    _things(workspace)
    _pipeline(workspace)
    result = _verify(workspace, "--json")
    assert result.exit_code == 0, result.output
    [table] = json.loads(result.output)["tables"]
    assert (table["last_run"], table["not_extracted"], table["in_flight"], table["source_rows"]) == (None, 3, 0, 0)
    text = _verify(workspace).output
    assert "note: things: never synced: its 3 MySQL row(s) are not in the lake yet" in text
    assert text.splitlines()[-1] == "verify keys: OK: lake and warehouse match the source (never synced: things)"


def test_rows_after_a_successful_run_that_committed_nothing_are_in_flight(workspace):
    """An empty table synced fine: rows inserted since are the next run's, not missing."""
    _things(workspace, values="(1, 'a')")
    workspace.db.execute("DELETE FROM things")
    _pipeline(workspace, strategy="hybrid")
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    workspace.db.execute("INSERT INTO things (k, v) VALUES (1, 'a'), (2, 'b')")

    result = _verify(workspace, "--json")
    assert result.exit_code == 0, result.output
    [table] = json.loads(result.output)["tables"]
    assert (table["source_rows"], table["in_flight"], table["not_extracted"]) == (0, 2, 0)


# ---------------------------------------------------------------------------------------------- key types


def test_binary_keys_that_are_not_utf8_are_shown_as_hex(workspace):
    _things(workspace, "VARBINARY(4)", "(X'FF', 'a'), (X'41', 'b'), (X'C328', 'c')")
    _pipeline(workspace)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    workspace.db.execute("UPDATE things SET v = 'z' WHERE k = X'FF'", "DELETE FROM things WHERE k = X'C328'",
                         "INSERT INTO things (k, v) VALUES (X'FE00', 'd')")

    result = _verify(workspace, "--json")
    assert result.exit_code == 7, result.output
    [table] = json.loads(result.output)["tables"]
    assert sorted(table["samples"]) == [
        "key (0xc328) is current in the lake but gone from MySQL",
        "key (0xfe00) missing in the lake",
        "key (0xff) differs between MySQL and the lake",
    ]


def test_keys_are_formatted_only_for_the_differences_reported(workspace, monkeypatch):
    import extractor.verify.report

    def fail(*_args: object) -> str:
        raise AssertionError("a key was formatted for a message nobody sees")

    _things(workspace, "VARBINARY(4)", "(X'FF', 'a'), (X'41', 'b')")
    _pipeline(workspace)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    monkeypatch.setattr(extractor.verify.report, "_show_key", fail)
    result = _verify(workspace)
    assert result.exit_code == 0, result.output


KEY_TYPES = {  # key type, rows (k, v), the v of the row changed, how its key is shown
    # pymysql gives TIME as timedelta, DuckDB the lake's duration as an integer: one type per column.
    "time": ("TIME(6)", "('10:00:00', 'a'), ('-01:00:00', 'b'), ('100:00:00.5', 'c')", "c", "100:00:00.5"),
    # The lake stores FLOAT as float32; MySQL hands out the double 3.3 for the float32 3.2999999523…
    # (The largest key is exact: the id strategy's `<= MAX(k)` misses an inexact one — see the report.)
    "float": ("FLOAT", "(3.3, 'a'), (100.01, 'b'), (-1.5, 'c'), (1024.5, 'd')", "a", "3.3"),
}


@pytest.mark.parametrize("strategy", ["full_sync", "id", "hybrid"])
@pytest.mark.parametrize("key", KEY_TYPES)
def test_keys_whose_drivers_return_different_types_compare_equal(workspace, key, strategy):
    key_type, values, changed, shown = KEY_TYPES[key]
    _things(workspace, key_type, values)
    _pipeline(workspace, strategy=strategy)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0

    result = _verify(workspace, "--json")
    assert result.exit_code == 0, result.output
    [table] = json.loads(result.output)["tables"]
    rows = values.count("(")
    assert (table["source_rows"], table["in_flight"], table["lake_rows"]) == (rows, 0, rows)

    workspace.db.execute("UPDATE things SET v = 'z' WHERE v = %s", params=(changed,))
    result = _verify(workspace, "--json")
    assert result.exit_code == 7, result.output
    [table] = json.loads(result.output)["tables"]
    assert table["samples"] == [f"key ({shown}) differs between MySQL and the lake"]


def test_a_float_key_at_the_watermark_is_due_not_in_flight(workspace):
    """The watermark holds the lake's float32 3.2999999523…; MySQL's 3.3 for the same value is not after it."""
    _things(workspace, "FLOAT", "(-1.5, 'a'), (3.3, 'b'), (100.01, 'c')")
    _pipeline(workspace, strategy="id")
    assert workspace.cli("sync", "-p", "keys", "--limit", "2").exit_code == 0

    result = _verify(workspace, "--json")
    assert result.exit_code == 0, result.output
    [table] = json.loads(result.output)["tables"]
    assert (table["source_rows"], table["in_flight"], table["lake_rows"], table["deleted_at_source"]) == (2, 1, 2, 0)


def test_a_lake_file_that_cannot_be_read_is_a_lake_error_not_a_traceback(workspace):
    _things(workspace)
    _pipeline(workspace)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    sorted(workspace.lake.glob("data/**/*.parquet"))[0].write_bytes(b"not parquet")

    result = _verify(workspace)
    assert result.exit_code == 4, result.output
    error = next(line for line in result.output.splitlines() if line.startswith("error: "))
    assert error.startswith("error: things: not checked: ") and "cannot read the lake's data files" in error
    assert "too small to be a Parquet file" in error and "Traceback" not in result.output


@pytest.mark.parametrize("strategy", ["id", "full_sync"])
def test_updates_to_an_id_table_are_explained_by_its_strategy(workspace, strategy):
    _things(workspace)
    _pipeline(workspace, strategy=strategy)
    assert workspace.cli("sync", "-p", "keys").exit_code == 0
    workspace.db.execute("UPDATE things SET v = 'z' WHERE k IN (1, 2)")

    result = _verify(workspace)
    assert result.exit_code == 7, result.output
    note = ("note: things: 2 row(s) changed in MySQL after they were extracted: cdc_strategy id lands each key "
            "once and never sees updates — use hybrid with a cursor column for a table whose rows change")
    assert (note in result.output.splitlines()) == (strategy == "id")
