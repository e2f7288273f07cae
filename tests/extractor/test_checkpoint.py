"""The watermark's checkpoint transitions, as pure functions: no MySQL, no lake."""

from __future__ import annotations

from datetime import UTC, datetime

from extractor.state import PendingFile
from extractor.sync import checkpoint

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _wm(strategy="hybrid", cursor="updated_at", ids=("id",)):
    return checkpoint.new_watermark(table="orders", pipeline="shop", strategy=strategy, cursor=cursor, ids=list(ids),
                                    source_table="shopdb.orders", now=NOW)


def _file(seq, rows=10, run_id="run-1"):
    return PendingFile(key=f"data/f{seq}.parquet", batch_id=f"{run_id}-{seq:05d}", rows=rows, bytes=100,
                       run_id=run_id, seq=seq, written_at=NOW)


def test_cursor_tables_start_with_a_snapshot_and_the_others_incremental():
    assert _wm("hybrid").phase == "snapshot"
    assert _wm("timestamp").phase == "snapshot"
    assert _wm("id", cursor=None).phase == "incremental"
    assert _wm("full_sync", cursor=None).phase == "incremental"


def test_a_snapshot_resumes_after_its_last_key_and_an_incremental_run_after_its_cursor_tuple():
    wm = _wm()
    assert checkpoint.position(wm, "hybrid") is None
    checkpoint.record_file(wm, "snapshot", _file(0), checkpoint.file_checkpoint("snapshot", (42,), (NOW,)))
    assert checkpoint.position(wm, "hybrid") == (42,)
    checkpoint.complete_snapshot(wm, (NOW,), NOW)
    assert wm.phase == "incremental" and checkpoint.position(wm, "hybrid") == (NOW,)
    checkpoint.record_file(wm, "incremental", _file(1), {"phase": "incremental", "position": [NOW, 7]})
    assert checkpoint.position(wm, "hybrid") == (NOW, 7)


def test_full_sync_has_no_position_and_its_files_do_not_move_one():
    wm = _wm("full_sync", cursor=None)
    checkpoint.record_file(wm, "full", _file(0), {"phase": "full", "position": None})
    assert checkpoint.position(wm, "full_sync") is None
    assert wm.mysql.committed_seq == 0 and wm.mysql.rows_extracted == 10 and len(wm.pending_files) == 1


def test_a_snapshot_file_records_its_bound_so_a_rebuild_can_resume_it():
    assert checkpoint.file_checkpoint("snapshot", (5,), (NOW,)) == {"phase": "snapshot", "position": [5], "upper": NOW}
    assert checkpoint.file_checkpoint("incremental", (NOW, 5), (NOW,)) == {"phase": "incremental",
                                                                           "position": [NOW, 5]}


def test_recovery_adopts_only_the_next_file_of_the_committed_sequence_in_the_same_phase():
    wm = _wm()
    assert checkpoint.crashed_run(wm) is None
    checkpoint.start_run(wm, "run-1")
    assert checkpoint.crashed_run(wm) == "run-1" and checkpoint.next_seq(wm) == 0
    assert checkpoint.continues(wm, 0, {"phase": "snapshot", "position": [1]})
    assert not checkpoint.continues(wm, 1, {"phase": "snapshot", "position": [1]})  # a gap
    assert not checkpoint.continues(wm, 0, {"phase": "incremental", "position": [1]})  # another phase
    assert not checkpoint.continues(wm, 0, {"phase": "snapshot", "position": None})  # no position to resume at
    checkpoint.record_file(wm, "snapshot", _file(0), {"phase": "snapshot", "position": [1]})
    assert checkpoint.next_seq(wm) == 1


def test_finish_records_the_run_and_the_newest_cursor_timestamp():
    wm = _wm()
    checkpoint.start_run(wm, "run-1")
    checkpoint.complete_snapshot(wm, (NOW,), NOW)
    checkpoint.finish(wm, rows=10, manifest_key="manifests/m.json", now=NOW)
    assert wm.mysql.status == "success" and wm.mysql.last_run_rows == 10
    assert wm.load.manifest_key == "manifests/m.json" and wm.mysql.last_data_timestamp == NOW
    assert checkpoint.crashed_run(wm) is None


def test_a_full_refresh_keeps_unacknowledged_files_and_the_documents_identity():
    old = _wm()
    old.pending_files.append(_file(0))
    old.version = 7
    fresh = checkpoint.refreshed(old, _wm())
    assert fresh.pending_files == old.pending_files and fresh.version == 7 and fresh.created_at == old.created_at
    assert fresh.mysql.rows_extracted == 0
