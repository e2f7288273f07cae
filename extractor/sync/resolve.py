"""Resolution: a table's configuration checked against the live MySQL table, and against its watermark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extractor import cdc, discovery, mysql
from extractor.config import TableConfig
from extractor.errors import ConfigError, StateError, suggest
from extractor.quoting import quote_ident
from extractor.schema_versions import fingerprint as schema_fingerprint
from extractor.state import Watermark
from extractor.strategies import uses_cursor
from extractor.types import INTEGER_TYPES, Column

_q = quote_ident

#: Column types a cursor can order changes by.
CURSOR_TYPES = {"datetime", "timestamp", "date", *INTEGER_TYPES}


@dataclass(frozen=True)
class ResolvedTable:
    """A table's configuration checked against MySQL: strategy, keys and declared columns."""

    config: TableConfig
    strategy: str
    cursor: str | None
    ids: tuple[str, ...]
    columns: list[Column]
    fingerprint: str
    warnings: tuple[str, ...]
    approx_rows: int | None = None
    avg_row_length: int | None = None
    notes: tuple[str, ...] = ()  # what discovery chose and why (ad-hoc tables)


def resolve_table(conn: Any, table: TableConfig) -> ResolvedTable:
    """Check a table's configuration against MySQL; errors name the config file and line."""
    try:
        info = mysql.describe_table(conn, table.source_db, table.source_name)
    except mysql.TableNotFound as err:
        raise mysql.TableNotFound(err.table, where=table.where("source_table"), hint=err.hint) from None
    excluded = {name.lower() for name in table.exclude_columns}
    names = {c.name.lower(): c for c in info.columns}
    strategy = table.cdc_strategy
    cursor = table.cursor_column
    warnings: list[str] = []

    def column(name: str, key: str) -> Column:
        col = names.get(name.lower())
        if col is None:
            known = [c.name for c in info.columns]
            hint = suggest(name, known) or f"columns are: {', '.join(known)}"
            raise ConfigError(f"column '{name}' does not exist in {table.source_table}", where=table.where(key),
                              hint=hint)
        return col

    # The key when none is configured: the primary key, else the first unique key over NOT NULL columns.
    keys = [list(k) for k in [info.primary_key, *info.unique_keys.values()] if k and _is_unique_key(info, tuple(k))]
    notes: list[str] = []
    if strategy == "auto":
        choice = discovery.choose_cursor(discovery.facts_from_table(info))
        cursor, strategy = choice.column, choice.strategy
        notes.append(choice.reason)
        if not keys:
            raise ConfigError(f"{table.source_table} has no primary key, so rows cannot be tracked",
                              where=table.where(), hint="add a primary key, or use a pipeline file with id_columns")
    ids = tuple(table.id_columns) or tuple(keys[0] if keys else [])
    if not ids:
        raise ConfigError(
            f"{table.source_table} has no primary key and no id_columns are configured", where=table.where(),
            hint="set id_columns to a unique, NOT NULL column set",
        )
    id_cols = [column(name, "id_columns") for name in ids]
    ids = tuple(c.name for c in id_cols)
    for col in id_cols:
        if col.data_type.lower() in ("enum", "set"):
            # ORDER BY sorts them by their index, a bound value compares them as text: keyset pages would
            # skip or repeat rows.
            others = [k for k in keys if col.name.lower() not in {c.lower() for c in k}]
            hint = f"use the key {others[0]} as id_columns" if others else "store the column as VARCHAR (ALTER TABLE)"
            raise ConfigError(f"key column '{col.name}' of {table.source_table} is {col.column_type}, which "
                              "cannot be paged by value", where=table.where("id_columns"), hint=hint)
    if not _is_unique_key(info, ids):
        raise ConfigError(
            f"id_columns {list(ids)} of {table.source_table} are not a primary or unique NOT NULL key, so rows "
            "sharing a cursor value could be lost or duplicated at page boundaries",
            where=table.where("id_columns"),
            hint=f"use {keys[0]}, a primary or unique NOT NULL key" if keys else
            "add a primary key (or make a unique key's columns NOT NULL)",
        )
    if uses_cursor(strategy):
        if not cursor:
            raise ConfigError(f"strategy '{strategy}' needs a cursor_column", where=table.where("cdc_strategy"),
                              hint="set cursor_column to the row's last-modified DATETIME/TIMESTAMP column")
        cur_col = column(cursor, "cursor_column")
        cursor = cur_col.name
        if cur_col.data_type not in CURSOR_TYPES:
            raise ConfigError(
                f"cursor_column '{cursor}' is {cur_col.column_type}, which cannot order changes",
                where=table.where("cursor_column"), hint="use a DATETIME, TIMESTAMP, DATE or integer column",
            )
        if not mysql.has_index_prefix(info, [cursor]):
            warnings.append(
                f"no index starts with {cursor}: every incremental run scans the whole table — "
                + discovery.create_index_sql(table.source_db, table.source_name, cdc.order_columns(cursor, ids))
            )
    else:
        cursor = None
    for required in table.validation.required_columns:
        column(required, "validation")
    for name in table.validation.max_null_percentage:
        column(name, "validation")
    for name in table.exclude_columns:
        col = column(name, "exclude_columns")
        if col.name in (cursor, *ids):
            raise ConfigError(f"cannot exclude '{col.name}' of {table.source_table}: it is the table's "
                              f"{'cursor' if col.name == cursor else 'key'}", where=table.where("exclude_columns"),
                              hint="the extractor needs it to track changes; remove it from exclude_columns")
    columns = [c for c in info.columns if c.name.lower() not in excluded]
    for name in [*table.validation.required_columns, *table.validation.max_null_percentage]:
        if name.lower() in excluded:
            raise ConfigError(f"column '{name}' is both excluded and validated", where=table.where("validation"),
                              hint="remove it from exclude_columns or from validation")
    return ResolvedTable(table, strategy, cursor, ids, columns, schema_fingerprint(columns), tuple(warnings),
                         info.approx_rows, info.avg_row_length, tuple(notes))


def check_watermark_fits(wm: Watermark, rt: ResolvedTable, where: str) -> None:
    """The stored watermark must be this table's, read the way it is configured now.

    A position means nothing for another table (a copied document) or for another cursor, key or
    strategy: applied to them it would silently skip or repeat rows. ``where`` names the document.
    """
    table = rt.config
    refresh = f"run with --full-refresh --table {table.name} to start over"
    if wm.source_table is not None and wm.source_table.lower() != table.source_table.lower():
        raise StateError(f"the watermark of {table.name} tracks {wm.source_table}, not {table.source_table}",
                         where=where, hint=f"the document was copied or the table's source changed; {refresh}")
    changes = [
        ("cdc_strategy", "strategy", wm.strategy, rt.strategy),
        ("cursor_column", "cursor_column", wm.cursor.column, rt.cursor),
        ("id_columns", "id_columns", wm.cursor.id_columns or list(rt.ids), list(rt.ids)),
    ]
    for key, label, before, now in changes:
        if str(before).lower() != str(now).lower():  # MySQL column names are case-insensitive
            raise ConfigError(
                f"{table.name} was extracted with {label} {_quoted(before)}, now configured {_quoted(now)}",
                where=table.where(key), hint=f"{refresh} with the new setting",
            )
    if wm.source_table is None:
        wm.source_table = table.source_table


def _is_unique_key(info: Any, ids: tuple[str, ...]) -> bool:
    """True if some unique index (or the primary key) is covered by ``ids`` and those are NOT NULL."""
    wanted = {i.lower() for i in ids}
    nullable = {c.name.lower() for c in info.columns if c.nullable}
    if wanted & nullable:
        return False
    keys = [info.primary_key, *info.unique_keys.values()]
    return any(key and {k.lower() for k in key} <= wanted for key in keys)


def _quoted(value: Any) -> str:
    """A setting as a message shows it: 'name', ['a', 'b'] or none."""
    if value is None:
        return "none"
    return f"'{value}'" if isinstance(value, str) else str(value)
