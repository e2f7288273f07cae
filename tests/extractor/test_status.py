"""`extractor status`: every state it reports, each with its exit code (real MariaDB, local lake)."""

from __future__ import annotations

import os
import time

import pytest
from _nightly import by_table, dead_pid, edit_watermark, plant_lock, setup, status_json, sync

from extractor import status as status_module


def _acknowledged(workspace) -> None:
    """As if dbt had loaded every batch: what `extractor acknowledge` records after a build."""
    for table in ("dim", "fact", "ref", "log"):
        edit_watermark(workspace, table, lambda wm: setattr(wm, "pending_files", []))


def test_status_of_tables_never_extracted_is_ok_without_max_lag_and_behind_with_it(workspace):
    setup(workspace)
    code, doc = status_json(workspace)
    assert code == 0 and doc["ok"] and doc["format_version"] == 1
    assert {t["state"] for t in doc["tables"]} == {"never_extracted"}
    assert by_table(doc)["dim"]["source"]["rows_waiting"] == 20
    code, doc = status_json(workspace, "--max-lag", "1d")
    assert code == status_module.EXIT_BEHIND == 10
    assert [a["kind"] for a in by_table(doc)["fact"]["alerts"]] == ["behind"]


def test_status_after_a_sync_is_pending_until_acknowledged_then_fresh(workspace):
    setup(workspace)
    assert sync(workspace).ok
    code, doc = status_json(workspace, "--max-lag", "1h")
    assert code == 0
    dim = by_table(doc)["dim"]
    assert dim["state"] == "pending"
    assert dim["pending"]["batches"] == 1 and dim["pending"]["rows"] == 20
    assert dim["last_run"]["status"] == "success" and dim["last_run"]["rows"] == 20
    assert dim["source"]["rows_waiting"] == 0 and dim["source"]["lag_seconds"] == 0
    assert dim["watermark"]["position"].startswith("2025-01-01 00:00:00")
    _acknowledged(workspace)
    code, doc = status_json(workspace, "--max-lag", "1h")
    assert code == 0 and {t["state"] for t in doc["tables"]} == {"fresh"}


def test_status_exits_11_when_a_batch_waits_for_the_warehouse_longer_than_max_pending_age(workspace):
    setup(workspace)
    assert sync(workspace).ok
    time.sleep(1.1)
    code, doc = status_json(workspace, "--max-pending-age", "1s")
    assert code == status_module.EXIT_PENDING_TOO_OLD == 11
    assert by_table(doc)["dim"]["alerts"][0]["kind"] == "pending_too_old"
    assert status_json(workspace, "--max-pending-age", "1h")[0] == 0


def test_status_counts_rows_waiting_and_exits_10_when_behind_more_than_max_lag(workspace):
    setup(workspace)
    assert sync(workspace).ok
    _acknowledged(workspace)
    workspace.db.execute("UPDATE dim SET val = val + 1, updated_at = NOW(6) - INTERVAL 2 SECOND WHERE id <= 3",
                         "INSERT INTO log (val) VALUES (1), (2)")
    code, doc = status_json(workspace)
    dim, log = by_table(doc)["dim"], by_table(doc)["log"]
    assert code == 0 and dim["state"] == "behind"  # behind, but no --max-lag to hold it to
    assert dim["source"]["rows_waiting"] == 3 and dim["source"]["rows_waiting_exact"]
    assert dim["source"]["lag_seconds"] >= 2 and dim["source"]["oldest_waiting"].endswith(", 1")
    assert log["source"]["rows_waiting"] == 2
    result = workspace.cli("status", "-p", "night", "--max-lag", "1s")
    assert result.exit_code == 10
    assert "alert: dim: behind by 2s (more than --max-lag 1s): 3 row(s) waiting" in result.stdout
    assert result.stdout.splitlines()[-1] == "status night: 4 table(s) — exit 10"
    assert status_json(workspace, "--max-lag", "1h")[0] == 0


def test_status_estimates_rows_waiting_beyond_the_count_cap(workspace, monkeypatch):
    setup(workspace)
    assert sync(workspace).ok
    workspace.db.execute("UPDATE dim SET updated_at = NOW(6)")
    monkeypatch.setattr(status_module, "WAITING_COUNT_CAP", 5)
    _, doc = status_json(workspace)
    waiting = by_table(doc)["dim"]["source"]
    assert waiting["rows_waiting_exact"] is False and waiting["rows_waiting"] >= 6


def test_status_exits_13_when_the_last_run_failed(workspace):
    setup(workspace)
    assert sync(workspace).ok
    edit_watermark(workspace, "dim", lambda wm: setattr(wm.mysql, "status", "failed"))
    code, doc = status_json(workspace, "--max-lag", "1h")
    assert code == status_module.EXIT_FAILED == 13
    assert by_table(doc)["dim"]["state"] == "failed"


def test_status_reports_a_table_a_run_skipped_before_touching_its_watermark(workspace):
    setup(workspace)
    assert sync(workspace).ok
    edit_watermark(workspace, "dim", lambda wm: setattr(wm.mysql, "status", "failed"))
    assert not sync(workspace, "fact").ok  # refused: its dependency failed; only the run report knows
    code, doc = status_json(workspace)
    fact = by_table(doc)["fact"]
    assert code == 13 and fact["state"] == "failed"
    assert fact["last_run"]["status"] == "skipped" and "depends on dim" in fact["last_run"]["error"]


def test_status_exits_13_when_a_run_stopped_without_finishing(workspace):
    setup(workspace)
    assert sync(workspace).ok
    edit_watermark(workspace, "ref", lambda wm: setattr(wm.mysql, "status", "running"))  # no lock: it died
    code, doc = status_json(workspace)
    assert code == 13 and by_table(doc)["ref"]["alerts"][0]["kind"] == "interrupted"


def test_status_exits_14_when_a_dead_process_holds_a_lock_and_0_for_a_live_one(workspace):
    setup(workspace)
    assert sync(workspace).ok
    plant_lock(workspace, "fact", pid=dead_pid())
    code, doc = status_json(workspace)
    fact = by_table(doc)["fact"]
    assert code == status_module.EXIT_DEAD_LOCK == 14
    assert fact["state"] == "locked_by_dead_process" and "is gone" in fact["lock"]["stale"]
    plant_lock(workspace, "fact", pid=os.getpid())  # alive: a run in progress is not an alert
    code, doc = status_json(workspace)
    assert code == 0 and by_table(doc)["fact"]["state"] == "running"


def test_status_exit_code_is_the_highest_alert(workspace):
    setup(workspace)
    assert sync(workspace).ok
    edit_watermark(workspace, "dim", lambda wm: setattr(wm.mysql, "status", "failed"))
    plant_lock(workspace, "ref", pid=dead_pid())
    workspace.db.execute("UPDATE log SET updated_at = NOW(6)", "INSERT INTO log (val) VALUES (1)")
    code, doc = status_json(workspace, "--max-lag", "0s")
    assert code == 14 and sorted({a["code"] for t in doc["tables"] for a in t["alerts"]}) == [10, 13, 14]


def test_status_exits_12_when_the_source_cannot_be_reached_and_still_shows_the_lake(workspace, monkeypatch):
    setup(workspace)
    assert sync(workspace).ok
    monkeypatch.setenv("MYSQL_PORT", "1")
    code, doc = status_json(workspace)
    dim = by_table(doc)["dim"]
    assert code == status_module.EXIT_NOT_CHECKED == 12
    assert dim["state"] == "unknown" and dim["pending"]["batches"] == 1 and "error" in dim["source"]


@pytest.mark.parametrize("bad", ["soon", "5w", "-1h"])
def test_status_refuses_a_malformed_duration(workspace, bad):
    setup(workspace)
    result = workspace.cli("status", "-p", "night", "--max-lag", bad)
    assert result.exit_code == 2 and f"invalid duration '{bad}'" in result.stderr


def test_status_of_an_unknown_table_is_a_config_error(workspace):
    setup(workspace)
    result = workspace.cli("status", "-p", "night", "-t", "dimm")
    assert result.exit_code == 2 and "no table 'dimm'" in result.stderr and "dim" in result.stderr


def test_human_duration_shows_two_units_at_most():
    assert [status_module.human_duration(s) for s in (0, 59, 61, 3_700, 90_061)] == [
        "0s", "59s", "1m 1s", "1h 1m", "1d 1h"]

