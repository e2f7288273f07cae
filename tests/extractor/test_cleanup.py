"""s3clean: only acknowledged files older than the retention go; pending, current and unknown files stay."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from test_lake import LAYOUT, make_storage

from extractor.cleanup import execute_cleanup, parse_duration, plan_cleanup
from extractor.errors import ConfigError
from extractor.lake import Storage, batch_id
from extractor.state import PendingFile, Watermark, WatermarkStore

RUNS = [f"2026110{d}T000000000000Z-aaaaa{d}" for d in range(1, 5)]
LATER = datetime.now(UTC) + timedelta(days=30)  # "now" for planning: every file is 30 days old

@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return make_storage(request, tmp_path)



def _write_run(storage: Storage, run_id: str, n: int) -> list[str]:
    keys = [LAYOUT.data_key(date(2026, 11, 1), run_id, seq) for seq in range(n)]
    for key in keys:
        storage.put_bytes(key, b"PAR1....PAR1")
    entries = [{"url": storage.uri(k), "mandatory": True, "meta": {"content_length": 12}} for k in keys]
    storage.put_bytes(LAYOUT.manifest_key(run_id), json.dumps({"entries": entries}).encode())
    return keys


def _watermark(acknowledged: list[str], pending: list[str] | None = None,
               running: str | None = None) -> Watermark:
    wm = Watermark(table="orders", pipeline="sales", strategy="hybrid")
    wm.load.acknowledged_batches = acknowledged
    for bid in pending or []:
        run_id, seq = bid.rsplit("-", 1)
        key = LAYOUT.data_key(date(2026, 11, 1), run_id, int(seq))
        wm.pending_files.append(PendingFile(key=key, batch_id=bid, rows=1, bytes=12, run_id=run_id,
                                            seq=int(seq), written_at=datetime.now(UTC)))
    if running:
        wm.mysql.last_run_id, wm.mysql.status = running, "running"
    return wm


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
    (" 45s ", timedelta(seconds=45)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "1.5d", "-1d", "7 days", "1w"])
def test_parse_duration_rejects_other_forms_clearly(text: str) -> None:
    with pytest.raises(ConfigError, match="e.g. 7d, 12h, 30m"):
        parse_duration(text)


def test_acknowledged_old_files_and_their_manifest_are_deleted(storage: Storage) -> None:
    old = _write_run(storage, RUNS[0], 2)
    kept = _write_run(storage, RUNS[1], 2)
    WatermarkStore(storage, LAYOUT).save(_watermark([]), None)
    wm = _watermark([batch_id(RUNS[0], 0), batch_id(RUNS[0], 1), batch_id(RUNS[1], 0)])
    plan = plan_cleanup(storage, LAYOUT, wm, older_than=timedelta(days=7), now=LATER)
    assert sorted(i.key for i in plan.delete) == sorted([*old, kept[0], LAYOUT.manifest_key(RUNS[0])])
    reasons = {i.key: r for i, r in plan.keep}
    assert reasons[kept[1]] == "not acknowledged by the warehouse"
    assert reasons[LAYOUT.manifest_key(RUNS[1])] == "still lists data files that are kept"
    assert plan.bytes_to_free == sum(i.size for i in plan.delete)
    assert execute_cleanup(storage, plan) == 4
    remaining = {i.key for i in storage.list("")}
    assert remaining == {kept[1], LAYOUT.manifest_key(RUNS[1]), LAYOUT.state_key}


def test_retention_keeps_young_acknowledged_files(storage: Storage) -> None:
    keys = _write_run(storage, RUNS[0], 1)
    wm = _watermark([batch_id(RUNS[0], 0)])
    plan = plan_cleanup(storage, LAYOUT, wm, older_than=timedelta(days=7), now=datetime.now(UTC))
    assert plan.delete == []
    assert dict((i.key, r) for i, r in plan.keep)[keys[0]] == "younger than the retention"


def test_pending_running_and_unknown_files_are_kept(storage: Storage) -> None:
    pending = _write_run(storage, RUNS[0], 1)
    running = _write_run(storage, RUNS[1], 1)
    stray = "data/shop/shopdb/sales/orders/dt=2026-11-01/someone-elses.parquet"
    storage.put_bytes(stray, b"x")
    acked = [batch_id(r, 0) for r in RUNS[:2]]
    wm = _watermark(acked, pending=[batch_id(RUNS[0], 0)], running=RUNS[1])
    plan = plan_cleanup(storage, LAYOUT, wm, older_than=timedelta(0), now=LATER)
    reasons = {i.key: r for i, r in plan.keep}
    assert plan.delete == []
    assert reasons[pending[0]].startswith("pending")
    assert reasons[running[0]] == "belongs to the run in progress"
    assert reasons[stray] == "not a data file written by the extractor"
    assert reasons[LAYOUT.manifest_key(RUNS[1])] == "belongs to the run in progress"


def test_no_watermark_means_nothing_is_deleted(storage: Storage) -> None:
    _write_run(storage, RUNS[0], 2)
    plan = plan_cleanup(storage, LAYOUT, None, older_than=timedelta(0), now=LATER)
    assert plan.delete == [] and len(plan.keep) == 3


def test_high_water_batch_acknowledges_everything_up_to_it(storage: Storage) -> None:
    first, second = _write_run(storage, RUNS[0], 2), _write_run(storage, RUNS[1], 1)
    wm = _watermark([])
    wm.load.high_water_batch = batch_id(RUNS[0], 1)
    plan = plan_cleanup(storage, LAYOUT, wm, older_than=timedelta(0), now=LATER)
    assert {i.key for i in plan.delete} == {*first, LAYOUT.manifest_key(RUNS[0])}
    assert second[0] in {i.key for i, _ in plan.keep}


def test_cleanup_never_deletes_unacknowledged_files_over_random_cases(storage: Storage) -> None:
    rng = random.Random(20261123)
    all_keys = {run: _write_run(storage, run, 3) for run in RUNS}
    batches = [batch_id(run, seq) for run in RUNS for seq in range(3)]
    for _case in range(25):
        acknowledged = rng.sample(batches, rng.randint(0, len(batches)))
        pending = rng.sample(batches, rng.randint(0, 3))
        running = rng.choice([None, *RUNS])
        wm = _watermark(acknowledged, pending=pending, running=running)
        plan = plan_cleanup(storage, LAYOUT, wm, older_than=timedelta(days=rng.randint(0, 3)), now=LATER)
        deleted = {i.key for i in plan.delete}
        for run, keys in all_keys.items():
            for seq, key in enumerate(keys):
                bid = batch_id(run, seq)
                safe = bid in acknowledged and bid not in pending and run != running
                assert (key in deleted) == safe, (bid, acknowledged, pending, running)
        for run in RUNS:
            manifest = LAYOUT.manifest_key(run)
            all_gone = all(k in deleted for k in all_keys[run])
            assert (manifest in deleted) == (all_gone and run != running)
        assert not any(k.startswith("state/") for k in deleted)
