"""`sync -t T` in one process while another extracts what T depends on: T waits, or is refused (real MariaDB)."""

from __future__ import annotations

import threading
import time

from _nightly import dead_pid, edit_watermark, layout, plant_lock, setup, sync

from extractor.lake import open_lake
from extractor.state import TableLock


def test_a_table_waits_while_another_process_extracts_its_dependency_then_runs(workspace):
    setup(workspace)
    lock = TableLock(open_lake(str(workspace.lake)), layout(workspace, "dim"), owner="worker-2", ttl_seconds=60)
    lock.acquire()  # this process is alive: the lock is a live run of dim on another worker
    releaser = threading.Timer(1.5, lock.release)
    releaser.start()
    started = time.monotonic()
    report = sync(workspace, "fact")
    releaser.join()
    [fact] = report.tables
    assert time.monotonic() - started >= 1.5
    assert fact.status == "success" and fact.rows == 20
    assert any("waited" in w and "another process" in w for w in fact.warnings), fact.warnings


def test_a_table_is_refused_when_its_dependency_stays_locked_longer_than_the_wait(workspace):
    setup(workspace, wait=0.5)
    with TableLock(open_lake(str(workspace.lake)), layout(workspace, "dim"), owner="worker-2", ttl_seconds=60):
        report = sync(workspace, "fact")
    [fact] = report.tables
    assert fact.status == "skipped" and not report.ok
    assert "depends on dim, still being extracted by run worker-2" in (fact.error or "")
    assert "dependency_wait_seconds" in (fact.error or "")


def test_a_table_is_refused_after_its_dependency_failed_and_the_cli_exits_non_zero(workspace):
    setup(workspace)
    assert sync(workspace, "dim").ok
    edit_watermark(workspace, "dim", lambda wm: setattr(wm.mysql, "status", "failed"))
    result = workspace.cli("sync", "-p", "night", "-t", "fact")
    assert result.exit_code == 1, result.output
    assert "error: fact: skipped: depends on dim, whose last run" in result.stdout
    assert "failed: fix and re-run dim first" in result.stdout


def test_a_table_is_refused_when_its_dependency_died_holding_the_lock(workspace):
    setup(workspace)
    plant_lock(workspace, "dim", pid=dead_pid())
    [fact] = sync(workspace, "fact").tables
    assert fact.status == "skipped"
    assert "died holding its lock" in (fact.error or "") and "extractor lock break night_raw.dim" in (fact.error or "")


def test_a_dependency_extracted_in_the_same_run_is_ordered_not_waited_for(workspace):
    setup(workspace, wait=0)
    report = sync(workspace, "fact", "dim")
    assert [t.table for t in report.tables] == ["dim", "fact"] and report.ok
    assert not any("waited" in w for t in report.tables for w in t.warnings)
