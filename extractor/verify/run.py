"""Verifying a table and a pipeline: the sides opened, merged and reported."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import extractor.warehouse as warehouse_db
from extractor import cdc, mysql
from extractor.config import Pipeline, Project, TableConfig, TargetConnection
from extractor.errors import ExtractorError, LakeError, SourceError, WarehouseError
from extractor.lake import Storage, TableLayout, open_lake
from extractor.names import model_name
from extractor.state import WatermarkStore
from extractor.sync.reconcile import open_lake_duckdb
from extractor.verify.compare import _guarded, _merge, _reading, _reshape
from extractor.verify.report import TableVerification, VerifyReport
from extractor.verify.sides import _dq, _duckdb_rows, _lake_sql, _Row, _source_rows, _Window


def _warehouse_path(project: Project, pipeline: Pipeline, target: str | None) -> Path | None:
    """The DuckDB file of the pipeline's (or the named) target; None for a non-DuckDB target."""
    if target and (target.endswith(".duckdb") or "/" in target):
        return Path(target)
    name = target or pipeline.target
    if not name:
        return None
    conn: TargetConnection = project.target(name)
    if conn.type != "duckdb" or not conn.path:
        return None
    return Path(conn.path)


def _staging_relation(db: Any, pipeline: str, table: str, schema: str) -> list[str] | None:
    return warehouse_db.relation_columns(db, schema, model_name("staging", pipeline, table))


def verify_table(project: Project, pipeline: Pipeline, table: TableConfig, *, storage: Storage,
                 warehouse: Any = None, staging_schema: str = "main_staging") -> TableVerification:
    """Compare one table's MySQL rows, lake state and staging model (see the module docstring)."""
    from extractor.sync import resolve_table

    source = project.source(pipeline.source)
    conn = mysql.connect(source)
    try:
        rt = resolve_table(conn, table)
        now = mysql.server_now(conn).replace(tzinfo=None)
    finally:
        conn.close()
    layout = TableLayout.of(pipeline, table)
    wm, _ = WatermarkStore(storage, layout).load()
    columns = rt.columns
    names = [c.name for c in columns]
    kinds = [c.kind for c in columns]
    key_kinds = [kinds[names.index(i)] for i in rt.ids]
    cursor_kind = kinds[names.index(rt.cursor)] if rt.cursor else None
    future = None
    if rt.cursor:
        cursor_col = columns[names.index(rt.cursor)]
        future = cdc.future_cursor_threshold(now, timedelta(seconds=pipeline.defaults.safety_lag_seconds),
                                             cursor_col.data_type, cursor_col.datetime_precision)
    window = _Window(rt.strategy, wm, cursor_kind, key_kinds, future)
    result = TableVerification(table.name, rt.strategy, last_run=wm.mysql.status if wm else None,
                               delete_detection=table.delete_detection)

    staging_cols = None
    if warehouse is not None:
        staging_cols = _staging_relation(warehouse, pipeline.name, table.target, staging_schema)
    lowered = {c.lower(): c for c in staging_cols or []}
    common = [i for i, n in enumerate(names) if n.lower() in lowered]
    if staging_cols is not None:
        result.warehouse_skipped_columns = [n for n in names if n.lower() not in lowered]

    files = [storage.uri(o.key) for o in storage.list(layout.data_prefix) if o.key.endswith(".parquet")]
    lake_db = open_lake_duckdb(storage)
    lake = (LakeError, "the lake's data files", storage.uri(layout.data_prefix.rstrip("/")),
            "check the lake's credentials and that every .parquet file under it is a Parquet file")
    try:
        if files:
            with _reading(*lake):
                described = lake_db.execute(
                    f"describe select * from read_parquet([{', '.join(repr(f) for f in files)}], "
                    "union_by_name = true, hive_partitioning = false)").fetchall()
            present = {r[0] for r in described}
            order = [rt.cursor, *rt.ids] if rt.cursor else []
            lake_sql = _lake_sql(files, columns, rt.ids, order, present)
            lake_rows: Iterator[_Row] = _guarded(_reshape(lake_db, lake_sql, key_kinds, kinds, common),
                                                 _reading(*lake))
        else:
            lake_rows = iter(())
        wh_rows = None
        if staging_cols is not None:
            select = ", ".join(_dq(lowered[names[i].lower()]) for i in common)
            keys = ", ".join(_dq(lowered[i.lower()]) for i in rt.ids)
            staging = model_name("staging", pipeline.name, table.target)
            sql = f"select {keys}, {select} from {staging_schema}.{_dq(staging)} order by {keys}"
            wh_kinds = [*key_kinds, *[kinds[i] for i in common]]
            wh_rows = _guarded(_duckdb_rows(warehouse, sql, wh_kinds, len(rt.ids),
                                            list(range(len(rt.ids), len(rt.ids) + len(common)))),
                               _reading(WarehouseError, "the staging model", staging,
                                        "run `dbt build`, then verify"))
        src_rows = _guarded(_source_rows(source, table, columns, rt.ids, common, window, rt.cursor),
                            _reading(SourceError, "the table from MySQL", table.source_table,
                                     "check the server and the user's SELECT privilege on the table"))
        _merge(src_rows, lake_rows, wh_rows, result, rt.strategy == "full_sync", key_kinds)
    finally:
        lake_db.close()
    if window.never_committed:  # nothing was due: its rows are not in flight behind a position either
        result.not_extracted, result.in_flight = result.in_flight, 0
    return result


def verify_pipeline(project: Project, pipeline: str | Pipeline, *, tables: Sequence[str] | None = None,
                    target: str | None = None, warehouse: bool = True) -> VerifyReport:
    """Verify a pipeline's tables (all, or ``tables``); ``target`` names a target or a DuckDB file path."""
    pipe = project.pipeline(pipeline) if isinstance(pipeline, str) else pipeline
    chosen = [pipe.table(t) for t in tables] if tables else list(pipe.tables.values())
    storage = open_lake(pipe.lake)
    report = VerifyReport(pipe.name, datetime.now(UTC))
    wh_db = None
    path = _warehouse_path(project, pipe, target) if warehouse else None
    if path is not None and path.exists():
        wh_db = warehouse_db.open_duckdb(path)
    try:
        for table in chosen:
            try:
                report.tables.append(verify_table(project, pipe, table, storage=storage, warehouse=wh_db))
            except ExtractorError as err:
                report.tables.append(TableVerification(table.name, table.cdc_strategy, error=str(err),
                                                       exit_code=err.exit_code))
            except OSError as err:  # reading lake files
                report.tables.append(TableVerification(table.name, table.cdc_strategy, error=str(err),
                                                       exit_code=LakeError.exit_code))
    finally:
        if wh_db is not None:
            wh_db.close()
    return report
