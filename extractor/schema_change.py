"""What a source schema change means for the lake: a pure comparison of two column lists.

The lake's copy of a row stays right across an ``ALTER TABLE`` only when MySQL kept every stored value
as it was: the cursor does not move for rows an ``ALTER`` rewrites, so those are never read again. So

- an added column is a new schema version; older versions have no such column (NULL downstream);
- a dropped column is a new version; the warehouse keeps the column, NULL from then on;
- a widened type (every old value is exactly a value of the new type: VARCHAR(50) → VARCHAR(200),
  INT → BIGINT, DECIMAL(10,2) → DECIMAL(14,2), DATETIME(0) → DATETIME(6)) is a new version;
- a narrowed type (same family, some old values do not fit: BIGINT → INT, a DECIMAL scale cut,
  VARCHAR(200) → VARCHAR(50)) or an incompatible one (another family: VARCHAR → INT, INT → VARCHAR)
  stops the table: MySQL may have rounded or converted values in place, which only a re-read finds;
- a dropped and an added column of the same type at the same position look like a rename: treated as a
  drop plus an add, and said so.

Lake types come from ``extractor.types`` (the one type map); nothing here talks to MySQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from extractor.types import Column, arrow_type

ChangeKind = Literal["added", "dropped", "renamed", "widened", "narrowed", "incompatible", "nullability", "moved"]
TypeVerdict = Literal["same", "widened", "narrowed", "incompatible"]

#: Change kinds that stop the table's run until the user resolves them.
BLOCKING: frozenset[str] = frozenset({"narrowed", "incompatible"})

_INT_RANGES = {  # data_type: (signed low, signed high, unsigned high)
    "tinyint": (-(1 << 7), (1 << 7) - 1, (1 << 8) - 1),
    "smallint": (-(1 << 15), (1 << 15) - 1, (1 << 16) - 1),
    "mediumint": (-(1 << 23), (1 << 23) - 1, (1 << 24) - 1),
    "int": (-(1 << 31), (1 << 31) - 1, (1 << 32) - 1),
    "integer": (-(1 << 31), (1 << 31) - 1, (1 << 32) - 1),
    "bigint": (-(1 << 63), (1 << 63) - 1, (1 << 64) - 1),
}
_TEXT_LENGTHS = {"tinytext": 255, "text": 65535, "mediumtext": (1 << 24) - 1, "longtext": (1 << 32) - 1,
                 "json": (1 << 32) - 1}
_BINARY_LENGTHS = {"tinyblob": 255, "blob": 65535, "mediumblob": (1 << 24) - 1, "longblob": (1 << 32) - 1}
_DOUBLE_EXACT_INTEGER = 1 << 53
_ENUM_VALUE = re.compile(r"'((?:[^']|'')*)'")


@dataclass(frozen=True)
class Change:
    """One column's change between two schema versions, with the sentence a report shows for it."""

    kind: ChangeKind
    column: str
    old_type: str | None = None
    new_type: str | None = None
    detail: str = ""
    renamed_from: str | None = None

    @property
    def blocking(self) -> bool:
        """Whether the table's run stops on this change."""
        return self.kind in BLOCKING

    def describe(self) -> str:
        """One clause for the run report."""
        if self.kind == "added":
            return f"column {self.column} added ({self.new_type}): older rows have it NULL"
        if self.kind == "dropped":
            return (f"column {self.column} dropped ({self.old_type}): the warehouse keeps it, NULL from "
                    "this run on")
        if self.kind == "renamed":
            return (f"column {self.renamed_from} → {self.column} looks like a rename ({self.new_type}): "
                    f"treated as a drop plus an add ({self.renamed_from} is NULL from this run on, "
                    f"{self.column} NULL in older rows)")
        if self.kind == "nullability":
            return f"column {self.column} is now {self.detail}"
        if self.kind == "moved":
            return f"column {self.column} moved ({self.detail})"
        verdict = {"widened": "widened", "narrowed": "narrowed", "incompatible": "changed type"}[self.kind]
        extra = f" ({self.detail})" if self.detail else ""
        return f"column {self.column} {verdict}: {self.old_type} → {self.new_type}{extra}"


# ---------------------------------------------------------------------------------------------------
# One column's type change


def _int_range(col: Column) -> tuple[int, int] | None:
    """The values an integer-like column can hold (YEAR and BIT included), else None."""
    dt = col.data_type.lower()
    if dt in _INT_RANGES:
        low, high, unsigned_high = _INT_RANGES[dt]
        return (0, unsigned_high) if col.unsigned else (low, high)
    if dt == "year":
        return 0, 2155
    if dt == "bit":
        return 0, (1 << (col.precision or 1)) - 1
    return None


def _digits(value: int) -> int:
    return len(str(abs(value)))


def _decimal_shape(col: Column) -> tuple[int, int]:
    """(integer digits, scale) of a DECIMAL column."""
    precision, scale = col.precision or 10, col.scale or 0
    return precision - scale, scale


def _enum_values(col: Column) -> list[str] | None:
    if col.data_type.lower() not in ("enum", "set"):
        return None
    inner = col.column_type[col.column_type.find("("):]
    return [v.replace("''", "'") for v in _ENUM_VALUE.findall(inner)]


def _text_length(col: Column) -> tuple[int, int]:
    """(characters, bytes) a text column holds."""
    fixed = _TEXT_LENGTHS.get(col.data_type.lower())
    chars = col.max_length or fixed or 0
    octets = col.octet_length or chars * 4
    return chars, octets


def _binary_length(col: Column) -> int:
    return col.max_length or _BINARY_LENGTHS.get(col.data_type.lower(), 0)


def _fsp(col: Column) -> int:
    return col.datetime_precision or 0


def _family(col: Column) -> str:
    kind = col.kind
    if _int_range(col) is not None:
        return "integer"
    if kind == "decimal":
        return "decimal"
    if kind in ("float", "double"):
        return "float"
    if kind in ("text", "special_text"):
        return "text"
    if kind in ("binary", "geometry"):
        return kind
    return kind  # date, datetime, timestamp, time


def type_change(old: Column, new: Column) -> tuple[TypeVerdict, str]:
    """Whether every value ``old`` can hold is exactly a value of ``new`` (and why not), without MySQL.

    ``same`` when the declared type did not change, ``widened`` when it did and every old value fits,
    ``narrowed`` when it stayed in its family but some old values do not fit, ``incompatible`` across
    families (text ↔ number, number ↔ date, DATETIME ↔ TIMESTAMP, …) or when the lake type changes family.
    """
    if old.column_type.lower() == new.column_type.lower() and (old.charset or "") == (new.charset or "") \
            and (old.octet_length or 0) == (new.octet_length or 0):
        return "same", ""
    old_family, new_family = _family(old), _family(new)
    old_range, new_range = _int_range(old), _int_range(new)
    if old_range and new_range:
        if new_range[1] >= old_range[1] and (new_range[0] <= old_range[0] or new_range[0] == 0):
            # Signed → unsigned of a wider upper range: strict sql_mode refuses the ALTER while a negative
            # value exists, so every stored value is unchanged.
            note = "no negative values (MySQL refused the ALTER otherwise)" if new_range[0] > old_range[0] else ""
            return "widened", note
        return "narrowed", f"holds {new_range[0]}..{new_range[1]}, was {old_range[0]}..{old_range[1]}"
    if old_range and new_family == "decimal":
        int_digits, _ = _decimal_shape(new)
        if int_digits >= max(_digits(old_range[0]), _digits(old_range[1])) and pa.types.is_decimal(arrow_type(new)):
            return "widened", ""
        return "narrowed", f"{int_digits} integer digit(s) cannot hold every {old.column_type} value"
    if old_range and new.kind == "double":
        if max(abs(old_range[0]), old_range[1]) <= _DOUBLE_EXACT_INTEGER:
            return "widened", ""
        return "narrowed", "a DOUBLE holds integers exactly only up to 2^53"
    if old_family == new_family == "decimal":
        (old_int, old_scale), (new_int, new_scale) = _decimal_shape(old), _decimal_shape(new)
        if pa.types.is_decimal(arrow_type(old)) != pa.types.is_decimal(arrow_type(new)):
            return "incompatible", "the lake type changes between decimal and decimal text (38 digits)"
        if new_scale < old_scale:
            return "narrowed", f"scale cut from {old_scale} to {new_scale}: MySQL rounded the stored values"
        if new_int < old_int:
            return "narrowed", f"integer digits cut from {old_int} to {new_int}"
        return "widened", ""
    if old_family == new_family == "float":
        if old.kind == "float" and new.kind == "double":
            return "widened", ""
        if old.kind == new.kind:
            return "same", ""
        return "narrowed", "DOUBLE → FLOAT rounds to 7 digits"
    if old_family == new_family == "text":
        old_values, new_values = _enum_values(old), _enum_values(new)
        if old_values is not None and new_values is not None:
            if old.data_type.lower() == new.data_type.lower() and set(old_values) <= set(new_values):
                return "widened", ""
            missing = [v for v in old_values if v not in new_values]
            return "narrowed", (f"value(s) {', '.join(missing)} removed" if missing else "ENUM ↔ SET")
        old_chars, old_octets = _text_length(old)
        new_chars, new_octets = _text_length(new)
        if new_chars >= old_chars and new_octets >= old_octets:
            return "widened", ""
        if new_chars < old_chars:
            return "narrowed", f"{new_chars} characters, was {old_chars}: MySQL truncated longer values"
        return "narrowed", f"{new.charset or 'the new character set'} holds fewer characters than {old.charset}"
    if old_family == new_family == "binary":
        if _binary_length(new) >= _binary_length(old):
            return "widened", ""
        return "narrowed", f"{_binary_length(new)} bytes, was {_binary_length(old)}"
    if old_family == new_family and old_family in ("datetime", "timestamp", "time"):
        if _fsp(new) >= _fsp(old):
            return "widened", ""
        return "narrowed", f"fractional seconds cut from {_fsp(old)} to {_fsp(new)} digits: MySQL rounded them"
    if old_family == new_family and arrow_type(old) == arrow_type(new):
        return "widened", ""  # e.g. GEOMETRY → POINT: same lake type
    return "incompatible", f"{_family_name(old_family)} → {_family_name(new_family)}"


def _family_name(family: str) -> str:
    return {"integer": "number", "decimal": "number", "float": "number"}.get(family, family)


# ---------------------------------------------------------------------------------------------------
# Two column lists


def classify(old: Sequence[Column], new: Sequence[Column]) -> list[Change]:
    """Every change from the column list ``old`` to ``new`` (MySQL column names compare case-insensitively).

    Order: renames, drops, adds, type changes, nullability and position — each in column order.
    """
    old_by = {c.name.lower(): c for c in old}
    new_by = {c.name.lower(): c for c in new}
    dropped = [c for c in old if c.name.lower() not in new_by]
    added = [c for c in new if c.name.lower() not in old_by]
    changes: list[Change] = []
    renames: dict[str, Column] = {}  # new name (lower) → old column
    taken: set[str] = set()
    for col in added:
        position = _position(new, col)
        for gone in dropped:
            if gone.name.lower() in taken or gone.column_type.lower() != col.column_type.lower():
                continue
            if _position(old, gone) == position:
                renames[col.name.lower()] = gone
                taken.add(gone.name.lower())
                break
    for col in added:
        gone_col = renames.get(col.name.lower())
        if gone_col is not None:
            changes.append(Change("renamed", col.name, gone_col.column_type, col.column_type,
                                  renamed_from=gone_col.name))
    changes += [Change("dropped", c.name, old_type=c.column_type) for c in dropped if c.name.lower() not in taken]
    changes += [Change("added", c.name, new_type=c.column_type) for c in added if c.name.lower() not in renames]
    kept = [(old_by[c.name.lower()], c) for c in new if c.name.lower() in old_by]
    for before, after in kept:
        verdict, detail = type_change(before, after)
        if verdict != "same":
            changes.append(Change(verdict, after.name, before.column_type, after.column_type, detail))
    for before, after in kept:
        if before.nullable != after.nullable:
            changes.append(Change("nullability", after.name, before.column_type, after.column_type,
                                  "nullable" if after.nullable else "NOT NULL"))
    old_order = [b.name.lower() for b, _ in sorted(kept, key=lambda p: _position(old, p[0]))]
    new_order = [a.name.lower() for _, a in kept]
    if old_order != new_order:
        for index, name in enumerate(new_order):
            if old_order[index] != name:
                moved = new_by[name]
                changes.append(Change("moved", moved.name, detail=f"now column {_position(new, moved) + 1}"))
                break
    return changes


def _position(columns: Sequence[Column], col: Column) -> int:
    return next(i for i, c in enumerate(columns) if c.name.lower() == col.name.lower())


def blocking_message(table: str, changes: Sequence[Change]) -> str:
    """The clause naming what stops ``table``: ``a VARCHAR(50) → INT (text → number), b …``."""
    parts = []
    for c in changes:
        if c.blocking:
            extra = f" ({c.detail})" if c.detail else ""
            parts.append(f"{c.column} {c.old_type} → {c.new_type}{extra}")
    return f"{table}: {'; '.join(parts)}"


__all__ = ["BLOCKING", "Change", "ChangeKind", "blocking_message", "classify", "type_change"]
