"""Key reconciliation: which keys the lake holds as current, and which of them are gone from the source.

A table that detects deletes (``full_sync``, ``delete_detection: reconcile``) compares the keys present in
MySQL now with the keys the lake holds as current, and lands an ``_op = 'D'`` tombstone for each key that
disappeared. The lake's side comes from the key set the previous run saved (``state/….keys.parquet``)
when that set is *fresh* — written by the table's previous run —, else from the lake's own data files:
after delete detection was switched on later, after a strategy change or a ``--full-refresh``, or after a
run that did not finish, the saved set (if any) does not know every key the lake still shows, and keys
deleted meanwhile would stay current for ever.

"Current in the lake" is the rule staging applies (the ``current_rows`` macro): a key whose latest row, by
``(_extracted_at, _batch_id)``, is an upsert. Tombstoning a key the lake does not hold is harmless (staging
starts from upserts), so every candidate set here may be a superset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extractor.errors import LakeError
from extractor.lake import Storage, TableLayout

#: Footer metadata of the saved key set: the run that wrote it.
_RUN_KEY = b"extractor.keys_run_id"


def open_lake_duckdb(storage: Storage) -> Any:
    """An in-memory DuckDB that can read the lake's files (S3 through s3fs)."""
    import duckdb

    db = duckdb.connect(":memory:")
    if storage.url.startswith("s3://"):
        import s3fs

        endpoint = getattr(storage, "endpoint_url", None)
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint} if endpoint else {})
        db.register_filesystem(fs)
    return db


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lake_current_keys(storage: Storage, layout: TableLayout, key_schema: pa.Schema) -> pa.Table:
    """Every key whose latest row in the table's data files is an upsert, in ``key_schema``."""
    files = [storage.uri(o.key) for o in storage.list(layout.data_prefix) if o.key.endswith(".parquet")]
    if not files:
        return key_schema.empty_table()
    import duckdb

    keys = ", ".join(_dq(f.name) for f in key_schema)
    file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    sql = (f"select {keys} from read_parquet([{file_list}], union_by_name = true, hive_partitioning = false) "
           f"group by {keys} having arg_max(_op, (_extracted_at, _batch_id)) = 'U'")
    db = open_lake_duckdb(storage)
    try:
        found = db.execute(sql).fetch_arrow_table()
    except duckdb.Error as exc:
        detail = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise LakeError(f"cannot read the keys of the lake's data files: {detail}",
                        where=storage.uri(layout.data_prefix.rstrip("/")),
                        hint="check that every .parquet file under it is a file the extractor wrote") from None
    finally:
        db.close()
    return pa.Table.from_arrays([found.column(f.name).cast(f.type) for f in key_schema], schema=key_schema)


def gone_keys(known: Sequence[pa.Table], present: Sequence[pa.Table], ids: Sequence[str],
              key_schema: pa.Schema) -> pa.Table:
    """Keys in ``known`` (the lake's current keys, maybe a superset) that are not in ``present`` (MySQL now)."""
    if not known:
        return key_schema.empty_table()
    candidates = pa.concat_tables([t.cast(key_schema) for t in known]).group_by(list(ids)).aggregate([])
    current = pa.concat_tables([t.cast(key_schema) for t in present]) if present else key_schema.empty_table()
    return candidates.join(current, keys=list(ids), join_type="left anti")


def read_key_set(storage: Storage, layout: TableLayout) -> tuple[pa.Table, str | None] | None:
    """The saved key set and the run that wrote it; None before the first.

    The run is None for a set written by an older version, which did not record it.
    """
    found = storage.get_bytes(layout.keys_key)
    if found is None:
        return None
    table = pq.read_table(pa.BufferReader(found[0]))
    run = (table.schema.metadata or {}).get(_RUN_KEY)
    return table, run.decode() if run else None


def write_key_set(storage: Storage, layout: TableLayout, keys: pa.Table, run_id: str) -> None:
    """Save the keys present at the end of run ``run_id`` (the next run's comparison side)."""
    table = keys.replace_schema_metadata({**(keys.schema.metadata or {}), _RUN_KEY: run_id.encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    storage.put_bytes(layout.keys_key, sink.getvalue().to_pybytes())


def known_keys(storage: Storage, layout: TableLayout, key_schema: pa.Schema, *, previous_run: str | None,
               trust_key_set: bool) -> list[pa.Table]:
    """The keys the lake holds as current (a superset is fine).

    The saved set when the previous run wrote it and ``trust_key_set``, else the lake's data files plus any
    saved set.
    """
    saved = read_key_set(storage, layout)
    if saved is not None and trust_key_set and previous_run is not None and saved[1] == previous_run:
        return [saved[0]]
    found = [lake_current_keys(storage, layout, key_schema)]
    return found + ([saved[0]] if saved is not None else [])


__all__ = ["gone_keys", "known_keys", "lake_current_keys", "open_lake_duckdb", "read_key_set", "write_key_set"]
