"""What an operator does to watermarks: read them, move a cursor, reset, rebuild, find a locked table.

The ``extractor watermark`` and ``extractor lock`` commands are thin wrappers over these functions. Every
change happens under the table's lock, so it never races a running sync.
"""

from __future__ import annotations

import socket
from typing import Any

from extractor import mysql
from extractor.config import Pipeline, Project, TableConfig
from extractor.errors import ConfigError, suggest
from extractor.lake import Storage, TableLayout, open_lake
from extractor.rebuild import rebuild_and_save, snapshot_rows_left
from extractor.state import TableLock, Watermark, WatermarkStore
from extractor.sync import check_watermark_fits, resolve_table
from extractor.types import value_from_text


def table_store(pipeline: Pipeline, table_name: str) -> tuple[Storage, TableLayout, WatermarkStore]:
    """The lake, the layout and the watermark store of a pipeline's table (a ConfigError if unknown)."""
    table = pipeline.table(table_name)
    storage = open_lake(pipeline.lake)
    layout = TableLayout.of(pipeline, table)
    return storage, layout, WatermarkStore(storage, layout)


def summary(table: str, wm: Watermark | None) -> dict[str, Any]:
    """A watermark as ``watermark get``/``list`` show it."""
    if wm is None:
        return {"table": table, "phase": "-", "position": "(none: next run starts with a full load)"}
    position = wm.snapshot.last_key if wm.phase == "snapshot" else wm.cursor.position()
    return {
        "table": table, "strategy": wm.strategy, "phase": "full" if wm.strategy == "full_sync" else wm.phase,
        "position": ", ".join(str(v) for v in position) if position else "-",
        "status": wm.mysql.status or "-", "last_run": wm.mysql.last_run_id or "-",
        "rows": wm.mysql.rows_extracted, "pending_files": len(wm.pending_files),
        "updated_at": wm.updated_at.isoformat(timespec="seconds"),
    }


def set_position(project: Project, pipeline: Pipeline, table: str, value: str, ids: list[str]) -> Watermark:
    """Move a table's cursor to ``(value, *ids)`` (the next run reads rows after it), under its lock.

    Values are checked against the columns' MySQL types, so the source must be reachable.
    """
    cfg = pipeline.table(table)
    conn = mysql.connect(project.source(pipeline.source))
    try:
        rt = resolve_table(conn, cfg)
    finally:
        conn.close()
    if rt.strategy == "full_sync":
        raise ConfigError(f"{table} is a full_sync table: it has no cursor to set", where=cfg.where("cdc_strategy"),
                          hint="every full_sync run reads the whole table; `watermark reset` forgets its key set")
    order = [*([rt.cursor] if rt.cursor else []), *rt.ids]
    texts = [value, *ids]
    if len(texts) > len(order):
        raise ConfigError(f"{len(texts)} values given for the position ({', '.join(order)}) of {table}",
                          where="--value/--id", hint=f"give at most {len(order)}: --value for {order[0]}, "
                                                     "then one --id per key column in order")
    columns = {c.name: c for c in rt.columns}
    position = []
    for name, text in zip(order, texts, strict=False):
        try:
            position.append(value_from_text(columns[name], text))
        except ValueError as err:
            raise ConfigError(str(err), where="--value" if name == order[0] else "--id",
                              hint=f"the position is ({', '.join(order)}) of {cfg.source_table}") from None
    storage, layout, store = table_store(pipeline, table)
    with TableLock(storage, layout, owner=f"watermark-set:{socket.gethostname()}", ttl_seconds=300):
        wm, token = store.load()
        if wm is None:
            wm = Watermark.new(table=table, pipeline=pipeline.name, strategy=rt.strategy, cursor_column=rt.cursor,
                               id_columns=list(rt.ids), source_table=cfg.source_table)
        check_watermark_fits(wm, rt, store.where)
        wm.phase = "incremental"
        wm.cursor.set_position(tuple(position))
        store.save(wm, token)
    return wm


def reset(storage: Storage, layout: TableLayout, store: WatermarkStore) -> bool:
    """Delete a table's watermark under its lock; False when it was missing or unreadable."""
    with TableLock(storage, layout, owner=f"watermark-reset:{socket.gethostname()}", ttl_seconds=300):
        return store.reset()


def rebuild(project: Project, pipeline: Pipeline, table: str, *, force: bool) -> tuple[Watermark, TableLayout]:
    """Rebuild a lost or corrupt watermark from the checkpoints in the table's data files (under its lock).

    The source is read to resolve the table's strategy, cursor and key.
    """
    cfg = pipeline.table(table)
    storage, layout, store = table_store(pipeline, table)
    conn = mysql.connect(project.source(pipeline.source))
    try:
        rt = resolve_table(conn, cfg)
        left = snapshot_rows_left(conn, cfg.source_db, cfg.source_name, rt.cursor, rt.ids) if rt.cursor else None
        with TableLock(storage, layout, owner=f"watermark-rebuild:{socket.gethostname()}", ttl_seconds=300):
            wm = rebuild_and_save(store, table=table, pipeline=pipeline.name, strategy=rt.strategy,
                                  cursor_column=rt.cursor, id_columns=rt.ids, source_table=cfg.source_table,
                                  rows_left=left, force=force)
    finally:
        conn.close()
    return wm, layout


def find_table(project: Project, table: str, pipeline: str | None) -> tuple[Pipeline, TableConfig]:
    """The table named as a lock error prints it (``schema.table``) or by name, in one pipeline or any."""
    name = table.split(".")[-1]
    candidates = [p for p in project.pipelines.values() if (not pipeline or p.name == pipeline)
                  and any(t.target == name or t.name == name for t in p.tables.values())
                  and ("." not in table or p.target_schema == table.split(".")[0])]
    if not candidates:
        pipe = project.pipeline(pipeline) if pipeline else None  # an unknown pipeline says so itself
        tables = sorted({t.target for p in ([pipe] if pipe else project.pipelines.values()) for t in p.tables.values()})
        raise ConfigError(f"no table '{table}' in " + (f"pipeline '{pipeline}'" if pipeline else "any pipeline"),
                          hint=suggest(name, tables) or f"tables are: {', '.join(tables)}")
    if len(candidates) > 1:
        raise ConfigError(f"cannot tell which pipeline's table '{table}' is meant ({len(candidates)} match)",
                          hint="pass --pipeline NAME")
    pipe = candidates[0]
    return pipe, next(t for t in pipe.tables.values() if t.target == name or t.name == name)


def accept_schema(project: Project, pipeline: Pipeline, table: str) -> Any:
    """Record the table's current MySQL columns as a new schema version (under its lock); the tracked version.

    For a narrowing change that rewrote no stored value: the next sync goes on from the watermark.
    """
    from extractor.schema_versions import accept_current  # noqa: PLC0415

    cfg = pipeline.table(table)
    storage, layout, _ = table_store(pipeline, cfg.name)
    conn = mysql.connect(project.source(pipeline.source))
    try:
        rt = resolve_table(conn, cfg)
    finally:
        conn.close()
    with TableLock(storage, layout, owner=f"schema-accept:{socket.gethostname()}", ttl_seconds=300):
        return accept_current(storage, layout, rt.columns, pipeline=pipeline.name, table=cfg.name,
                              source_table=cfg.source_table)
