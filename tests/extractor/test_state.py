"""Watermark documents (exact cursor values, conditional saves) and the table lock, on local and S3 lakes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from test_lake import LAYOUT, make_storage

from extractor.errors import LockError, StateError
from extractor.lake import Storage
from extractor.state import (
    LockInfo,
    PendingFile,
    TableLock,
    Watermark,
    WatermarkStore,
    break_lock,
    decode_value,
    encode_value,
    read_lock,
)

VALUES = [
    (datetime(2026, 11, 23, 15, 30, 0, 123456), 42),
    (datetime(2026, 11, 23, 15, 30, 0, 1, tzinfo=UTC), "k-1"),
    (datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))), 1),
    (Decimal("1.10"), "abc"),
    (Decimal("-0.000001000"), Decimal("18446744073709551615")),
    (date(2024, 2, 29), time(23, 59, 59, 999999), timedelta(hours=838, microseconds=1)),
    (b"\x00\xffbin", True, None, 1.5, "2026-11-23T15:30:00"),
    ({"$type": "looks tagged", "n": [1, (2, 3)]},),
]

@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return make_storage(request, tmp_path)



@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_cursor_values_round_trip_exactly_through_json(value: tuple) -> None:
    back = decode_value(json.loads(json.dumps(encode_value(value))))
    assert back == value
    assert [type(v) for v in back] == [type(v) for v in value]
    assert [getattr(v, "tzinfo", None) for v in back] == [getattr(v, "tzinfo", None) for v in value]
    assert [str(v) for v in back] == [str(v) for v in value]  # Decimal('1.10') keeps its scale


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        encode_value(object())


def _watermark() -> Watermark:
    wm = Watermark(table="orders", pipeline="sales", strategy="hybrid")
    wm.cursor.column, wm.cursor.id_columns = "updated_at", ["tenant", "id"]
    return wm


@pytest.mark.parametrize("position", VALUES[:5], ids=range(5))
def test_watermark_round_trips_cursor_positions(storage: Storage, position: tuple) -> None:
    store = WatermarkStore(storage, LAYOUT)
    assert store.load() == (None, None)
    wm = _watermark()
    wm.cursor.set_position(position)
    wm.pending_files.append(PendingFile(key="data/x.parquet", batch_id="r-00000", rows=3, bytes=10,
                                        run_id="r", seq=0, written_at=datetime.now(UTC)))
    token = store.save(wm, None)
    assert wm.version == 1
    loaded, loaded_token = store.load()
    assert loaded_token == token
    assert loaded.cursor.position() == position
    assert [type(v) for v in loaded.cursor.position()] == [type(v) for v in position]
    assert loaded == wm


def test_stored_document_is_readable_json_with_type_tags(storage: Storage) -> None:
    wm = _watermark()
    wm.cursor.set_position((datetime(2026, 11, 23, 1, 2, 3, 4), 7, "a"))
    WatermarkStore(storage, LAYOUT).save(wm, None)
    doc = json.loads(storage.get_bytes(LAYOUT.state_key)[0])
    assert doc["cursor"]["last_value"] == {"$type": "datetime", "value": "2026-11-23T01:02:03.000004"}
    assert doc["cursor"]["last_ids"] == [7, "a"]
    assert doc["version"] == 1 and doc["phase"] == "snapshot"


def test_save_with_stale_token_is_refused(storage: Storage) -> None:
    store = WatermarkStore(storage, LAYOUT)
    t1 = store.save(_watermark(), None)
    mine, mine_token = store.load()
    theirs, theirs_token = store.load()
    theirs.mysql.rows_extracted = 5
    store.save(theirs, theirs_token)
    mine.mysql.rows_extracted = 9
    with pytest.raises(StateError, match="changed while this run held it") as info:
        store.save(mine, mine_token)
    assert "\n" not in str(info.value)
    assert store.load()[0].mysql.rows_extracted == 5
    with pytest.raises(StateError):
        store.save(_watermark(), None)  # creating again when one exists
    assert t1 != theirs_token or t1 == mine_token


def test_concurrent_saves_have_exactly_one_winner(storage: Storage) -> None:
    store = WatermarkStore(storage, LAYOUT)
    store.save(_watermark(), None)
    wm, token = store.load()
    results: list[str] = []
    barrier = threading.Barrier(5)

    def save(i: int) -> None:
        mine = wm.model_copy(deep=True)
        mine.mysql.rows_extracted = i
        barrier.wait()
        try:
            store.save(mine, token)
            results.append("ok")
        except StateError:
            results.append("conflict")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 4 + ["ok"]


def test_corrupt_watermark_names_the_key_and_the_reset_command(storage: Storage) -> None:
    storage.put_bytes(LAYOUT.state_key, b'{"table": "orders", "pipel')
    with pytest.raises(StateError) as info:
        WatermarkStore(storage, LAYOUT).load()
    text = str(info.value)
    assert LAYOUT.state_key in text and "extractor watermark reset" in text and "\n" not in text
    storage.put_bytes(LAYOUT.state_key, b'{"table": "orders", "pipeline": "p", "strategy": "nope"}')
    with pytest.raises(StateError, match="strategy"):
        WatermarkStore(storage, LAYOUT).load()


# ----------------------------------------------------------------------------------------------- lock


def test_lock_is_exclusive_and_names_the_holder(storage: Storage) -> None:
    with TableLock(storage, LAYOUT, "run-a", ttl_seconds=600):
        with pytest.raises(LockError) as info:
            TableLock(storage, LAYOUT, "run-b", ttl_seconds=600).acquire()
        text = str(info.value)
        assert "table sales.orders is locked by run run-a" in text and "\n" not in text
        assert socket.gethostname() in text and "extractor lock break sales.orders" in text
        assert read_lock(storage, LAYOUT).run_id == "run-a"
    assert not storage.exists(LAYOUT.lock_key)
    with TableLock(storage, LAYOUT, "run-b", ttl_seconds=600):
        pass


def test_concurrent_acquirers_exactly_one_wins(storage: Storage) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(6)
    locks = [TableLock(storage, LAYOUT, f"run-{i}", ttl_seconds=600) for i in range(6)]

    def grab(lock: TableLock) -> None:
        barrier.wait()
        try:
            lock.acquire()
            outcomes.append("won")
        except LockError:
            outcomes.append("locked")

    threads = [threading.Thread(target=grab, args=(lk,)) for lk in locks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["locked"] * 5 + ["won"]


def _plant_lock(storage: Storage, *, pid: int, host: str, expires_in: timedelta) -> str:
    now = datetime.now(UTC)
    info = LockInfo(owner="old", run_id="old-run", host=host, pid=pid, acquired_at=now - timedelta(hours=1),
                    expires_at=now + expires_in)
    return storage.put_bytes(LAYOUT.lock_key, info.model_dump_json().encode())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_expired_lock_is_taken_over_with_a_warning(storage: Storage,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import os

    _plant_lock(storage, pid=os.getpid(), host="elsewhere", expires_in=timedelta(seconds=-1))
    with TableLock(storage, LAYOUT, "new-run", ttl_seconds=60):
        assert read_lock(storage, LAYOUT).run_id == "new-run"
    assert "took over the lock" in caplog.text and "expired" in caplog.text


def test_lock_of_a_dead_process_on_this_host_is_stale(storage: Storage) -> None:
    _plant_lock(storage, pid=_dead_pid(), host=socket.gethostname(), expires_in=timedelta(hours=1))
    with TableLock(storage, LAYOUT, "new-run", ttl_seconds=60):
        assert read_lock(storage, LAYOUT).run_id == "new-run"


def test_live_lock_on_another_host_is_respected(storage: Storage) -> None:
    _plant_lock(storage, pid=_dead_pid(), host="other-host", expires_in=timedelta(hours=1))
    with pytest.raises(LockError, match="pid .* on host other-host"):
        TableLock(storage, LAYOUT, "new-run", ttl_seconds=60).acquire()
    assert break_lock(storage, LAYOUT).host == "other-host"
    with TableLock(storage, LAYOUT, "new-run", ttl_seconds=60):
        pass


def test_racing_takeovers_of_a_stale_lock_have_one_winner(storage: Storage) -> None:
    _plant_lock(storage, pid=1, host="elsewhere", expires_in=timedelta(seconds=-5))
    outcomes: list[str] = []
    barrier = threading.Barrier(5)

    def grab(i: int) -> None:
        barrier.wait()
        try:
            TableLock(storage, LAYOUT, f"run-{i}", ttl_seconds=600).acquire()
            outcomes.append("won")
        except LockError:
            outcomes.append("locked")

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["locked"] * 4 + ["won"]


def test_refresh_extends_and_detects_a_lost_lock(storage: Storage) -> None:
    lock = TableLock(storage, LAYOUT, "run-a", ttl_seconds=60).acquire()
    before = read_lock(storage, LAYOUT).expires_at
    lock.refresh()
    assert read_lock(storage, LAYOUT).expires_at >= before
    _plant_lock(storage, pid=1, host="elsewhere", expires_in=timedelta(hours=1))  # someone took it over
    with pytest.raises(LockError, match="lost the lock"):
        lock.refresh()


def test_release_never_removes_someone_elses_lock(storage: Storage) -> None:
    lock = TableLock(storage, LAYOUT, "run-a", ttl_seconds=60).acquire()
    _plant_lock(storage, pid=1, host="elsewhere", expires_in=timedelta(hours=1))
    lock.release()
    assert read_lock(storage, LAYOUT).run_id == "old-run"


def test_a_failed_release_after_a_failure_does_not_hide_that_failure(storage: Storage,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from extractor.errors import DataError, LakeError

    def unreachable(*_args: object) -> bool:
        raise LakeError("cannot delete: S3 endpoint unreachable")

    with pytest.raises(DataError, match="the real failure"):  # noqa: PT012
        with TableLock(storage, LAYOUT, "run-a", ttl_seconds=60):
            monkeypatch.setattr(storage, "delete_if_match", unreachable)
            raise DataError("the real failure")
    monkeypatch.undo()
    assert read_lock(storage, LAYOUT).run_id == "run-a"  # left behind: it expires, or the next run takes it over
    break_lock(storage, LAYOUT)
    with pytest.raises(LakeError, match="unreachable"):  # noqa: PT012  (no failure in flight: the release error shows)
        with TableLock(storage, LAYOUT, "run-b", ttl_seconds=60):
            monkeypatch.setattr(storage, "delete_if_match", unreachable)


def test_new_watermark_has_empty_progress() -> None:
    wm = Watermark.new(table="orders", pipeline="sales", strategy="id", cursor_column=None, id_columns=["id"])
    assert wm.cursor.position() is None and wm.snapshot.upper_bound is None and wm.version == 0
    wm.cursor.last_ids = None
    assert wm.cursor.position() is None
    wm.cursor.set_position((5,))
    assert wm.cursor.position() == (5,)
