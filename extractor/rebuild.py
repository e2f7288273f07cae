"""A table whose watermark is gone while its data files are still in the lake: notice it, and rebuild it.

Without this, a deleted watermark makes the next run re-snapshot the whole table, landing every version a
second time. Every data file carries in its Parquet footer the checkpoint after its last row
(``writer.CHECKPOINT_KEY``: the phase, the position, and for snapshot pages the snapshot's upper bound),
so the watermark can be rebuilt from the files: the position of the newest file, every file pending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq

from extractor import cdc, mysql, writer
from extractor.errors import StateError
from extractor.lake import ObjectInfo, Storage, TableLayout
from extractor.lake.faults import read_with_retries
from extractor.quoting import quote_ident
from extractor.state import Watermark, WatermarkStore, parse_watermark
from extractor.strategies import uses_cursor


def data_files(storage: Storage, layout: TableLayout) -> list[ObjectInfo]:
    """The table's data files, in write order (run id, then sequence number)."""
    found = [o for o in storage.list(layout.data_prefix) if layout.parse_data_key(o.key) is not None]
    return sorted(found, key=lambda o: layout.parse_data_key(o.key) or ("", 0))


def rebuild_command(pipeline: str, table: str) -> str:
    """The command that rebuilds ``table``'s watermark."""
    return f"extractor watermark rebuild -p {pipeline} -t {table}"


def refuse_missing_watermark(storage: Storage, layout: TableLayout, *, pipeline: str, table: str,
                             where: str) -> None:
    """Raise when the table has data files but no watermark (a run would land every row again)."""
    files = data_files(storage, layout)
    if not files:
        return
    raise StateError(
        f"{table} has {len(files)} data file(s) in the lake but no watermark, so this run would land every "
        "row again", where=where,
        hint=f"rebuild the watermark from the files' checkpoints with `{rebuild_command(pipeline, table)}`, "
             f"or start over with `extractor sync -p {pipeline} -t {table} --full-refresh`",
    )


#: Whether MySQL holds rows after a snapshot's last key, up to its bound: ``(last_key, upper) → bool``.
SnapshotRowsLeft = Callable[[Sequence[Any], Any], bool]


def snapshot_rows_left(conn: Any, source_db: str, source_name: str, cursor_column: str,
                       id_columns: Sequence[str]) -> SnapshotRowsLeft:
    """A ``SnapshotRowsLeft`` asking MySQL (the snapshot's own page query, one row)."""
    q = quote_ident

    def left(last_key: Sequence[Any], upper: Any) -> bool:
        plan = cdc.ExtractPlan(f"{q(source_db)}.{q(source_name)}", "hybrid", "snapshot", q(cursor_column),
                               tuple(q(i) for i in id_columns), cursor_column, tuple(id_columns), (upper,))
        sql, params = cdc.page_query(plan, tuple(last_key), 1)
        return mysql.scalar(conn, f"SELECT 1 {sql}", params) is not None

    return left


def rebuild_watermark(storage: Storage, layout: TableLayout, *, table: str, pipeline: str, strategy: str,
                      cursor_column: str | None, id_columns: Sequence[str], source_table: str,
                      rows_left: SnapshotRowsLeft | None = None) -> Watermark:
    """The watermark the table's data files describe (not saved): the newest position, every file pending.

    The phase and position are those of the newest file whose checkpoint has one; a snapshot checkpoint
    also needs the snapshot's upper bound (recorded in the checkpoint, else the largest cursor value the
    snapshot files hold, which is at most that bound: reading on from it repeats no landed version).
    ``rows_left`` tells a finished snapshot (no row left after its last key, up to its bound) from one
    cut short; without it a finished snapshot is resumed, which reads nothing and then goes on from the
    bound — one run later.
    Every file becomes pending: landing skips batches it already holds, by ``_batch_id``.
    """
    files = data_files(storage, layout)
    where = storage.uri(layout.data_prefix.rstrip("/"))
    if not files:
        raise StateError(f"{table} has no data files to rebuild its watermark from", where=where,
                         hint=f"run `extractor sync -p {pipeline} -t {table}`: it starts with a full load")
    wm = Watermark.new(table=table, pipeline=pipeline, strategy=strategy, cursor_column=cursor_column,
                       id_columns=list(id_columns), source_table=source_table)
    wm.phase = "snapshot" if uses_cursor(strategy) else "incremental"
    written = [writer.read_written_file(storage, layout, o.key) for o in files]
    last: dict[str, Any] | None = None
    for file in written:
        phase = file.checkpoint.get("phase")
        if phase in ("snapshot", "incremental") and file.checkpoint.get("position") is not None:
            last = file.checkpoint
    if last is not None and strategy != "full_sync":
        position = tuple(last["position"])
        if last["phase"] == "incremental":
            wm.phase = "incremental"
            wm.cursor.set_position(position)
        else:
            wm.phase = "snapshot"
            wm.snapshot.last_key = list(position)
            wm.snapshot.upper_bound = last.get("upper")
            if wm.snapshot.upper_bound is None:
                snapshot_files = [f.key for f in written if f.checkpoint.get("phase") == "snapshot"]
                wm.snapshot.upper_bound = _largest_value(storage, snapshot_files, cursor_column)
            if wm.snapshot.upper_bound is None:
                raise StateError(
                    f"the snapshot files of {table} record neither the snapshot's upper bound nor "
                    f"{cursor_column} statistics, so its position cannot be rebuilt exactly", where=where,
                    hint=f"start over with `extractor sync -p {pipeline} -t {table} --full-refresh`")
            if rows_left is not None and not rows_left(position, wm.snapshot.upper_bound):
                # The snapshot had finished (later runs found no change): go on from its bound, as it did.
                wm.phase = "incremental"
                wm.cursor.last_value, wm.cursor.last_ids = wm.snapshot.upper_bound, None
                wm.snapshot.finished_at = datetime.now(UTC)
    newest = written[-1]
    wm.pending_files = [f.pending() for f in written]
    wm.mysql.rows_extracted = sum(f.rows for f in written)
    wm.mysql.last_run_id = newest.run_id
    wm.mysql.committed_seq = newest.seq
    wm.mysql.status = "success"
    wm.mysql.finished_at = datetime.now(UTC)
    return wm


def _largest_value(storage: Storage, keys: Sequence[str], column: str | None) -> Any:
    """The largest ``column`` value the files' row-group statistics record (None without statistics)."""
    if column is None:
        return None
    fs, root = storage.arrow_filesystem()
    best = None
    for key in keys:
        def footer(key: str = key) -> pq.FileMetaData:
            with fs.open_input_file(f"{root}/{key}") as handle:
                return pq.ParquetFile(handle).metadata

        meta = read_with_retries(footer, storage.uri(key))
        if meta.num_rows == 0:
            continue
        index = meta.schema.to_arrow_schema().get_field_index(column)
        if index < 0:
            continue
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            stats = meta.row_group(group).column(index).statistics
            if stats is None or not stats.has_min_max:
                if rows and (stats is None or stats.null_count != rows):
                    return None  # rows without statistics: the largest value is unknown
                continue
            value = stats.max
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            best = value if best is None or value > best else best
    return best


def rebuild_and_save(store: WatermarkStore, *, table: str, pipeline: str, strategy: str,
                     cursor_column: str | None, id_columns: Sequence[str], source_table: str,
                     rows_left: SnapshotRowsLeft | None = None, force: bool = False) -> Watermark:
    """Rebuild the watermark from the data files and publish it (call under the table's lock).

    A missing or corrupt watermark is replaced; a readable one only with ``force``.
    """
    storage, layout = store.storage, store.layout
    found = storage.get_bytes(layout.state_key)
    token = None
    if found is not None:
        token = found[1]
        try:
            parse_watermark(found[0], store.where)
        except StateError:
            pass  # corrupt: what the rebuild is for
        else:
            if not force:
                raise StateError(f"{table} already has a watermark", where=store.where,
                                 hint="`extractor watermark get` shows it; add --force to replace it with one "
                                      "rebuilt from the data files")
    wm = rebuild_watermark(storage, layout, table=table, pipeline=pipeline, strategy=strategy,
                           cursor_column=cursor_column, id_columns=id_columns, source_table=source_table,
                           rows_left=rows_left)
    store.save(wm, token)
    return wm
