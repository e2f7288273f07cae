"""Parquet files: rolling by rows and bytes, lineage columns, footer checkpoint, manifests, read-back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_lake import LAYOUT, make_storage

from extractor.errors import DataError
from extractor.lake import Storage
from extractor.writer import FileWriter, read_checkpoint, read_written_file, write_manifest

SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("amount", pa.decimal128(12, 2)),
    pa.field("updated_at", pa.timestamp("us")),
    pa.field("note", pa.string()),
])
RUN = "20261123T153000123456Z-ab12cd"
STAMP = datetime(2026, 11, 23, 15, 30, 0, 654321, tzinfo=UTC)

@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return make_storage(request, tmp_path)



def _page(start: int, n: int, *, note: str = "x") -> pa.Table:
    return pa.table({
        "id": pa.array(range(start, start + n), pa.int64()),
        "amount": pa.array([Decimal("1.10")] * n, pa.decimal128(12, 2)),
        "updated_at": pa.array([datetime(2026, 1, 1, 0, 0, 0, 1)] * n, pa.timestamp("us")),
        "note": pa.array([note] * n, pa.string()),
    }, schema=SCHEMA)


def _read(storage: Storage, key: str) -> pa.Table:
    fs, root = storage.arrow_filesystem()
    return pq.read_table(f"{root}/{key}", filesystem=fs)


def _writer(storage: Storage, **kwargs) -> FileWriter:  # noqa: ANN003
    return FileWriter(storage, LAYOUT, RUN, SCHEMA, clock=lambda: STAMP, **kwargs)


def test_files_roll_by_rows_on_page_boundaries(storage: Storage) -> None:
    written = []
    with _writer(storage, max_rows=250) as writer:
        for i in range(7):
            done = writer.write(_page(i * 100, 100), checkpoint={"after": i})
            if done:
                written.append(done)
        last = writer.finish()
        written.append(last)
        assert writer.finish() is None
    assert [f.rows for f in written] == [300, 300, 100]
    assert [f.seq for f in written] == [0, 1, 2]
    assert [f.checkpoint for f in written] == [{"after": 2}, {"after": 5}, {"after": 6}]
    assert written[0].key == f"data/shop/shopdb/sales/orders/dt=2026-11-23/orders__{RUN}__00000.parquet"
    keys = [i.key for i in storage.list(LAYOUT.data_prefix)]
    assert keys == [f.key for f in written]
    ids = pa.concat_tables([_read(storage, f.key) for f in written]).column("id").to_pylist()
    assert ids == list(range(700))


def test_files_roll_by_bytes(storage: Storage) -> None:
    written = []
    with _writer(storage, max_bytes=20_000, compression="snappy") as writer:
        for i in range(20):
            page = _page(i * 500, 500, note=f"{i:04d}" * 50)
            if done := writer.write(page, checkpoint={"i": i}):
                written.append(done)
        if done := writer.finish():
            written.append(done)
    assert len(written) > 2
    assert sum(f.rows for f in written) == 10_000
    assert all(f.rows % 500 == 0 for f in written)
    assert [f.bytes for f in written] == [i.size for i in storage.list(LAYOUT.data_prefix)]


def test_lineage_columns_are_added(storage: Storage) -> None:
    with _writer(storage) as writer:
        writer.write(_page(0, 3), checkpoint={})
        tombstones = _page(10, 2).append_column("_op", pa.array(["D", "D"], pa.string()))
        writer.write(tombstones, checkpoint={})
        f = writer.finish()
    table = _read(storage, f.key)
    assert table.schema.names == ["id", "amount", "updated_at", "note", "_extracted_at", "_batch_id", "_op"]
    assert table.schema.field("_extracted_at").type == pa.timestamp("us", tz="UTC")
    assert set(table.column("_extracted_at").to_pylist()) == {STAMP}
    assert set(table.column("_batch_id").to_pylist()) == {f"{RUN}-00000"} == {f.batch_id}
    assert table.column("_op").to_pylist() == ["U", "U", "U", "D", "D"]
    assert table.column("amount").type == pa.decimal128(12, 2)
    assert table.column("updated_at").to_pylist()[0] == datetime(2026, 1, 1, 0, 0, 0, 1)


def test_batch_ids_are_unique_per_file(storage: Storage) -> None:
    with _writer(storage, max_rows=1) as writer:
        files = [writer.write(_page(i, 1), checkpoint={}) for i in range(3)]
    assert len({f.batch_id for f in files}) == 3
    stored = [_read(storage, f.key).column("_batch_id")[0].as_py() for f in files]
    assert stored == [f.batch_id for f in files]


def test_checkpoint_is_stored_in_the_footer_exactly(storage: Storage) -> None:
    checkpoint = {"position": (datetime(2026, 11, 23, 1, 2, 3, 123456), Decimal("1.10"), 42), "rows": 5}
    with _writer(storage) as writer:
        writer.write(_page(0, 5), checkpoint=checkpoint)
        f = writer.finish()
    back = read_checkpoint(storage, f.key)
    assert back == checkpoint and type(back["position"]) is tuple
    assert str(back["position"][1]) == "1.10"
    adopted = read_written_file(storage, LAYOUT, f.key)
    assert (adopted.batch_id, adopted.rows, adopted.bytes, adopted.seq, adopted.run_id) == (
        f.batch_id, 5, f.bytes, 0, RUN)
    assert adopted.pending().batch_id == f.batch_id


def test_empty_pages_and_empty_runs_write_nothing(storage: Storage) -> None:
    with _writer(storage) as writer:
        assert writer.write(_page(0, 0), checkpoint={}) is None
        assert writer.finish() is None
    assert storage.list("") == []


def test_nonconforming_pages_are_refused_not_cast(storage: Storage) -> None:
    with _writer(storage) as writer:
        wrong_type = _page(0, 2).set_column(0, pa.field("id", pa.int32(), nullable=False),
                                             pa.array([1, 2], pa.int32()))
        with pytest.raises(DataError, match="column id is int32, declared int64"):
            writer.write(wrong_type, checkpoint={})
        with pytest.raises(DataError, match="missing"):
            writer.write(_page(0, 2).drop_columns(["note"]), checkpoint={})
        with pytest.raises(DataError, match="unexpected"):
            writer.write(_page(0, 2).append_column("extra", pa.array([1, 2])), checkpoint={})


def test_first_seq_continues_after_a_crash(storage: Storage) -> None:
    with _writer(storage, first_seq=7) as writer:
        writer.write(_page(0, 1), checkpoint={})
        f = writer.finish()
    assert f.seq == 7 and f.key.endswith("__00007.parquet") and f.batch_id.endswith("-00007")


def test_manifest_lists_files_with_their_real_sizes(storage: Storage) -> None:
    files = []
    with _writer(storage, max_rows=2) as writer:
        for i in range(3):
            if f := writer.write(_page(i * 2, 2), checkpoint={}):
                files.append(f)
    key = write_manifest(storage, LAYOUT, RUN, files)
    assert key == LAYOUT.manifest_key(RUN)
    doc = json.loads(storage.get_bytes(key)[0])
    sizes = {storage.uri(i.key): i.size for i in storage.list(LAYOUT.data_prefix)}
    assert [e["url"] for e in doc["entries"]] == [storage.uri(f.key) for f in files]
    assert all(e["mandatory"] is True for e in doc["entries"])
    assert {e["url"]: e["meta"]["content_length"] for e in doc["entries"]} == sizes
    if storage.url.startswith("s3://"):
        assert all(e["url"].startswith("s3://") for e in doc["entries"])
    else:
        assert all(e["url"].startswith("/") for e in doc["entries"])


def test_lineage_names_in_the_declared_schema_are_refused(storage: Storage) -> None:
    schema = SCHEMA.append(pa.field("_batch_id", pa.string()))
    with pytest.raises(DataError, match="lineage"):
        FileWriter(storage, LAYOUT, RUN, schema)
