"""Which column tells when a row last changed: the cursor rule of discovery, pure (no database).

Ad-hoc ``sync --source … -t db.table`` uses it for each table it is given; ``extractor discover`` builds
whole pipeline files on it. Input is what ``information_schema.COLUMNS`` says of each column (name, data
type, EXTRA, nullability, whether an index starts with it); output is the chosen cursor, or none, and one
sentence saying why — which the CLI prints, so a user sees why a table became ``full_sync``.

The rule, best first:

1. a DATETIME/TIMESTAMP column with ``ON UPDATE CURRENT_TIMESTAMP``: the server itself sets it on every
   change, whatever client wrote the row;
2. a DATETIME/TIMESTAMP column with a last-modified name (``updated_at``, ``last_update``, ``modified``,
   ``changed_at``, ``last_modified``, …, in that order of preference);
3. a DATETIME/TIMESTAMP column whose name merely contains ``updat``, ``modif`` or ``chang``.

Within a tier a NOT NULL column beats a nullable one, then one an index starts with (incremental reads
are range scans), then the name's rank, then column order. No candidate: ``full_sync`` (the whole table
every run; deletes show), with the reason. Creation times (``created_at``) never qualify: they do not move
when a row changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from extractor.quoting import quote_ident

if TYPE_CHECKING:
    from extractor.mysql import TableInfo

#: Types a discovered cursor may have: a point in time. DATE (a day) and integers are accepted in a
#: pipeline file, where a person chose them, but are never guessed.
CURSOR_TYPES = ("datetime", "timestamp")
#: Last-modified names, most telling first (compared lower-case).
LAST_MODIFIED_NAMES = (
    "updated_at", "last_updated_at", "last_update", "last_updated", "last_update_at", "modified_at",
    "last_modified_at", "last_modified", "modified", "updated", "changed_at", "last_changed_at", "last_changed",
    "changed", "updated_on", "modified_on", "changed_on", "update_time", "update_ts", "updated_ts",
    "modify_time", "modified_time", "modification_time", "change_time", "date_modified", "date_updated",
    "modified_date", "updated_date", "last_modified_date", "lastupdate", "lastupdated", "lastmodified",
    "mtime", "ts",
)
_NAME_PATTERN = re.compile(r"updat|modif|chang")
_ON_UPDATE = re.compile(r"on\s+update\s+(current_timestamp|now|localtimestamp)", re.IGNORECASE)
_SHOWN_NAMES = "updated_at, last_update, modified, modified_at, changed_at, last_modified, …"


@dataclass(frozen=True)
class ColumnFacts:
    """One column as ``information_schema.COLUMNS`` describes it, plus whether an index starts with it."""

    name: str
    data_type: str
    extra: str = ""
    nullable: bool = True
    indexed: bool = False
    column_type: str = ""

    @property
    def on_update_now(self) -> bool:
        """``ON UPDATE CURRENT_TIMESTAMP`` (MySQL and MariaDB spell EXTRA differently; both match)."""
        return bool(_ON_UPDATE.search(self.extra or ""))

    def describe(self) -> str:
        """``last_update TIMESTAMP NOT NULL ON UPDATE CURRENT_TIMESTAMP, indexed`` — for the reason."""
        parts = [self.name, (self.column_type or self.data_type).upper()]
        if not self.nullable:
            parts.append("NOT NULL")
        if self.on_update_now:
            parts.append("ON UPDATE CURRENT_TIMESTAMP")
        text = " ".join(parts)
        return text + (", indexed" if self.indexed else ", no index starts with it")


@dataclass(frozen=True)
class CursorChoice:
    """The discovered cursor (None: ``full_sync``), the strategy that follows, and why, in one sentence."""

    column: str | None
    strategy: Literal["timestamp", "full_sync"]
    reason: str
    alternatives: tuple[str, ...] = ()


def _tier(col: ColumnFacts) -> int | None:
    """0 server-maintained, 1 a last-modified name, 2 a name containing updat/modif/chang; None: no cursor."""
    if col.data_type.lower() not in CURSOR_TYPES:
        return None
    if col.on_update_now:
        return 0
    name = col.name.lower()
    if name in LAST_MODIFIED_NAMES:
        return 1
    if _NAME_PATTERN.search(name):
        return 2
    return None


def _rank(col: ColumnFacts, position: int) -> tuple[int, int, int, int, int]:
    tier = _tier(col)
    assert tier is not None
    name = col.name.lower()
    by_name = LAST_MODIFIED_NAMES.index(name) if name in LAST_MODIFIED_NAMES else len(LAST_MODIFIED_NAMES)
    return (tier, int(col.nullable), int(not col.indexed), by_name, position)


def choose_cursor(columns: Sequence[ColumnFacts]) -> CursorChoice:
    """The column that best tells when a row last changed, by the rule in this module's docstring."""
    candidates = sorted(((c, i) for i, c in enumerate(columns) if _tier(c) is not None),
                        key=lambda pair: _rank(*pair))
    if not candidates:
        times = [c.name for c in columns if c.data_type.lower() in CURSOR_TYPES]
        near = [f"{c.name} ({c.data_type.upper()})" for c in columns
                if c.data_type.lower() not in CURSOR_TYPES
                and (c.name.lower() in LAST_MODIFIED_NAMES or _NAME_PATTERN.search(c.name.lower()))]
        seen = (f"its DATETIME/TIMESTAMP column(s) {', '.join(times)} neither have ON UPDATE CURRENT_TIMESTAMP "
                f"nor a last-modified name ({_SHOWN_NAMES})" if times else "it has no DATETIME/TIMESTAMP column")
        if near:
            seen += f"; {', '.join(near)} is not a DATETIME/TIMESTAMP and is not guessed"
        return CursorChoice(
            None, "full_sync",
            f"full_sync (the whole table every run): no change cursor found — {seen}; to read changes only, "
            "name the column in a pipeline file (cdc_strategy: timestamp, cursor_column: …)",
        )
    best, _ = candidates[0]
    tier = _tier(best)
    why = ("the server sets it on every change" if tier == 0 else
           "its name says last-modified" if tier == 1 else "its name looks like a change time")
    if tier != 0:
        why += " (no ON UPDATE CURRENT_TIMESTAMP: every writer must set it)"
    others = tuple(c.name for c, _ in candidates[1:])
    also = f"; also considered: {', '.join(others)}" if others else ""
    return CursorChoice(best.name, "timestamp", f"cursor {best.describe()}: {why}{also}", others)


def facts_from_table(info: TableInfo) -> list[ColumnFacts]:
    """The columns of a table described by ``mysql.describe_table``, as the rule's input."""
    leading = {cols[0].lower() for cols in info.indexes.values() if cols}
    return [
        ColumnFacts(name=c.name, data_type=c.data_type, extra=info.extra.get(c.name, ""), nullable=c.nullable,
                    indexed=c.name.lower() in leading, column_type=c.column_type)
        for c in info.columns
    ]


def create_index_sql(database: str, table: str, columns: Sequence[str]) -> str:
    """A ``CREATE INDEX`` on ``columns`` that runs as printed (quoted names, an index name of at most 64)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", f"ix_{table}_{'_'.join(columns)}")[:64]
    return f"CREATE INDEX {quote_ident(name)} ON {quote_ident(database)}.{quote_ident(table)} " \
           f"({', '.join(quote_ident(c) for c in columns)})"
