"""Delete detection's lake side: the keys the lake holds as current, and when the saved key set is trusted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from test_lake import make_storage

from extractor.lake import Storage, TableLayout
from extractor.sync import reconcile
from extractor.writer import FileWriter

LAYOUT = TableLayout("shop", "shopdb", "sales", "orders")
SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("v", pa.string())])
KEYS = pa.schema([pa.field("id", pa.int64())])
T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return make_storage(request, tmp_path)


def _land(storage: Storage, run: str, at: datetime, rows: dict[int, str]) -> None:
    """One published file of run ``run``: ``{id: 'U' | 'D'}``."""
    writer = FileWriter(storage, LAYOUT, run, SCHEMA, clock=lambda: at)
    page = pa.table({"id": list(rows), "v": ["x"] * len(rows), "_op": list(rows.values())})
    writer.write(page, checkpoint={"phase": "full", "position": None})
    writer.finish()
    writer.close()


def test_the_lakes_current_keys_are_those_whose_latest_row_is_an_upsert(storage: Storage) -> None:
    assert reconcile.lake_current_keys(storage, LAYOUT, KEYS).num_rows == 0
    _land(storage, "run-a", T0, {1: "U", 2: "U", 3: "U"})
    _land(storage, "run-b", T0 + timedelta(hours=1), {2: "D", 4: "U"})
    _land(storage, "run-c", T0 + timedelta(hours=2), {2: "U", 3: "D"})  # 2 inserted again, 3 deleted
    keys = reconcile.lake_current_keys(storage, LAYOUT, KEYS)
    assert keys.schema == KEYS and sorted(keys.column("id").to_pylist()) == [1, 2, 4]


def test_the_saved_key_set_is_trusted_only_when_the_previous_run_wrote_it(storage: Storage) -> None:
    _land(storage, "run-a", T0, {1: "U", 2: "U"})
    saved = pa.table({"id": pa.array([2, 9], pa.int64())})
    reconcile.write_key_set(storage, LAYOUT, saved, "run-a")
    assert reconcile.read_key_set(storage, LAYOUT)[1] == "run-a"

    def known(previous: str | None, trust: bool = True) -> set[int]:
        found = reconcile.known_keys(storage, LAYOUT, KEYS, previous_run=previous, trust_key_set=trust)
        return {k for t in found for k in t.column("id").to_pylist()}

    assert known("run-a") == {2, 9}  # fresh: the set alone
    assert known("run-b") == {1, 2, 9}  # another run since (reconcile off, a failed run): the lake too
    assert known("run-a", trust=False) == {1, 2, 9}  # --full-refresh
    gone = reconcile.gone_keys([saved], [pa.table({"id": pa.array([9], pa.int64())})], ["id"], KEYS)
    assert gone.column("id").to_pylist() == [2]
