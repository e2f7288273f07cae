"""Source schema changes classified without MySQL: type pairs, and whole column lists (extractor/schema_change.py)."""

from __future__ import annotations

import re

import pytest

from extractor.schema_change import Change, blocking_message, classify, type_change
from extractor.types import Column

_TEXT_LENGTHS = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295}


def col(column_type: str, name: str = "c", *, nullable: bool = True, charset: str | None = None) -> Column:
    """A Column as information_schema describes ``column_type`` (utf8mb4 text unless ``charset``)."""
    text = column_type.lower()
    match = re.match(r"(\w+)(?:\((.*?)\))?", text)
    assert match
    data_type, args = match.group(1), match.group(2)
    numbers = [int(a) for a in args.split(",")] if args and data_type not in ("enum", "set") else []
    unsigned = "unsigned" in text
    precision = scale = fsp = max_length = octets = None
    if data_type in ("decimal", "numeric"):
        precision, scale = (numbers + [0])[:2] if numbers else (10, 0)
    elif data_type == "bit":
        precision = numbers[0] if numbers else 1
    elif data_type in ("datetime", "timestamp", "time"):
        fsp = numbers[0] if numbers else 0
    elif data_type in ("char", "varchar", "binary", "varbinary"):
        max_length = numbers[0]
    elif data_type in _TEXT_LENGTHS:
        max_length = _TEXT_LENGTHS[data_type]
    elif data_type in ("enum", "set"):
        max_length = max(len(v) for v in re.findall(r"'([^']*)'", args or ""))
    if data_type in ("char", "varchar", "enum", "set", *_TEXT_LENGTHS):
        charset = charset or "utf8mb4"
        octets = max_length * (1 if charset == "latin1" else 4) if max_length else None
    return Column(name=name, data_type=data_type, column_type=text, nullable=nullable, precision=precision,
                  scale=scale, datetime_precision=fsp, unsigned=unsigned, charset=charset,
                  max_length=max_length, octet_length=octets)


TYPE_PAIRS = [
    # (old, new, verdict)
    ("varchar(50)", "varchar(50)", "same"),
    ("varchar(50)", "varchar(200)", "widened"),
    ("varchar(200)", "varchar(50)", "narrowed"),
    ("char(10)", "varchar(10)", "widened"),
    ("varchar(255)", "text", "widened"),
    ("text", "varchar(100)", "narrowed"),
    ("text", "longtext", "widened"),
    ("tinyint", "smallint", "widened"),
    ("int", "bigint", "widened"),
    ("bigint", "int", "narrowed"),
    ("int", "int unsigned", "widened"),
    ("int unsigned", "int", "narrowed"),
    ("tinyint unsigned", "tinyint", "narrowed"),
    ("bigint", "bigint unsigned", "widened"),
    ("smallint unsigned", "int", "widened"),
    ("int", "decimal(10,0)", "widened"),
    ("int", "decimal(12,2)", "widened"),
    ("int", "decimal(9,0)", "narrowed"),
    ("int", "double", "widened"),
    ("bigint", "double", "narrowed"),
    ("decimal(10,2)", "decimal(14,2)", "widened"),
    ("decimal(10,2)", "decimal(12,4)", "widened"),
    ("decimal(10,4)", "decimal(10,2)", "narrowed"),
    ("decimal(14,2)", "decimal(10,2)", "narrowed"),
    ("decimal(30,2)", "decimal(40,2)", "incompatible"),  # the lake type becomes decimal text
    ("float", "double", "widened"),
    ("double", "float", "narrowed"),
    ("datetime", "datetime(6)", "widened"),
    ("datetime(6)", "datetime(3)", "narrowed"),
    ("timestamp", "timestamp(6)", "widened"),
    ("time", "time(6)", "widened"),
    ("datetime", "timestamp", "incompatible"),
    ("date", "datetime", "incompatible"),
    ("year", "smallint", "widened"),
    ("bit(1)", "bit(8)", "widened"),
    ("bit(8)", "tinyint unsigned", "widened"),
    ("varchar(20)", "int", "incompatible"),
    ("text", "decimal(10,2)", "incompatible"),
    ("int", "varchar(20)", "incompatible"),
    ("varchar(20)", "datetime", "incompatible"),
    ("varbinary(16)", "varbinary(32)", "widened"),
    ("varbinary(32)", "varbinary(16)", "narrowed"),
    ("blob", "longblob", "widened"),
    ("varchar(20)", "varbinary(80)", "incompatible"),
    ("enum('a','b')", "enum('a','b','c')", "widened"),
    ("enum('a','b','c')", "enum('a','b')", "narrowed"),
    ("enum('a','bb')", "varchar(10)", "widened"),
]


@pytest.mark.parametrize(("old", "new", "verdict"), TYPE_PAIRS, ids=[f"{o}->{n}" for o, n, _ in TYPE_PAIRS])
def test_a_type_change_is_same_widened_narrowed_or_incompatible(old: str, new: str, verdict: str) -> None:
    assert type_change(col(old), col(new))[0] == verdict


def test_a_character_set_that_holds_fewer_characters_is_a_narrowing() -> None:
    assert type_change(col("varchar(10)", charset="latin1"), col("varchar(10)"))[0] == "widened"
    verdict, detail = type_change(col("varchar(10)"), col("varchar(10)", charset="latin1"))
    assert verdict == "narrowed" and "latin1" in detail


def test_a_narrowing_says_why_values_may_have_changed() -> None:
    assert "scale cut from 4 to 2" in type_change(col("decimal(10,4)"), col("decimal(10,2)"))[1]
    assert type_change(col("varchar(20)"), col("int"))[1] == "text → number"


def test_an_added_and_a_dropped_column_are_changes_that_do_not_block() -> None:
    old = [col("int", "id"), col("varchar(20)", "city")]
    new = [col("int", "id"), col("int", "loyalty")]
    changes = classify(old, new)
    kinds = {(c.kind, c.column) for c in changes}
    assert kinds == {("dropped", "city"), ("added", "loyalty")}
    assert not any(c.blocking for c in changes)
    dropped = next(c for c in changes if c.kind == "dropped")
    assert dropped.describe() == "column city dropped (varchar(20)): the warehouse keeps it, NULL from this run on"


def test_a_dropped_and_an_added_column_of_one_type_at_one_position_look_like_a_rename() -> None:
    old = [col("int", "id"), col("varchar(20)", "city"), col("int", "n")]
    new = [col("int", "id"), col("varchar(20)", "town"), col("int", "n")]
    (change,) = classify(old, new)
    assert change == Change("renamed", "town", "varchar(20)", "varchar(20)", renamed_from="city")
    assert "city → town looks like a rename" in change.describe()
    assert "treated as a drop plus an add" in change.describe()


def test_a_drop_and_an_add_of_different_types_are_not_a_rename() -> None:
    old = [col("int", "id"), col("varchar(20)", "city")]
    new = [col("int", "id"), col("int", "town")]
    assert {c.kind for c in classify(old, new)} == {"dropped", "added"}


def test_column_names_compare_case_insensitively_like_mysql() -> None:
    assert classify([col("int", "Id")], [col("int", "id")]) == []


def test_widened_narrowed_and_incompatible_types_of_kept_columns() -> None:
    old = [col("int", "id"), col("varchar(50)", "name"), col("decimal(10,4)", "price"), col("varchar(9)", "age")]
    new = [col("bigint", "id"), col("varchar(200)", "name"), col("decimal(10,2)", "price"), col("int", "age")]
    changes = classify(old, new)
    assert [(c.kind, c.column) for c in changes] == [
        ("widened", "id"), ("widened", "name"), ("narrowed", "price"), ("incompatible", "age")]
    message = blocking_message("sales.items", changes)
    assert message == ("sales.items: price decimal(10,4) → decimal(10,2) (scale cut from 4 to 2: MySQL rounded "
                       "the stored values); age varchar(9) → int (text → number)")


def test_nullability_and_position_changes_are_recorded_and_do_not_block() -> None:
    old = [col("int", "id", nullable=False), col("int", "a", nullable=False), col("int", "b")]
    new = [col("int", "id", nullable=False), col("int", "b"), col("int", "a")]
    changes = classify(old, new)
    assert ("nullability", "a") in {(c.kind, c.column) for c in changes}
    assert ("moved", "b") in {(c.kind, c.column) for c in changes}
    assert not any(c.blocking for c in changes)
