"""The MySQL → Arrow → Redshift map: every MySQL type has one declared Arrow and Redshift type."""

from __future__ import annotations

import pyarrow as pa
import pytest

from extractor.errors import SourceError
from extractor.types import (
    LINEAGE_FIELDS,
    Column,
    arrow_schema,
    arrow_type,
    may_exceed_redshift,
    redshift_type,
    select_expression,
)


def col(data_type: str, column_type: str | None = None, **kw) -> Column:
    return Column(name="c", data_type=data_type, column_type=column_type or data_type, table="db.t", **kw)


CASES = [
    # (column, arrow, redshift)
    (col("tinyint", "tinyint(4)"), pa.int8(), "SMALLINT"),
    (col("tinyint", "tinyint(1)"), pa.int8(), "SMALLINT"),  # BOOL stays an integer
    (col("tinyint", "tinyint(3) unsigned", unsigned=True), pa.int16(), "SMALLINT"),
    (col("smallint"), pa.int16(), "SMALLINT"),
    (col("smallint", unsigned=True), pa.int32(), "INTEGER"),
    (col("mediumint"), pa.int32(), "INTEGER"),
    (col("mediumint", unsigned=True), pa.int32(), "INTEGER"),
    (col("int"), pa.int32(), "INTEGER"),
    (col("int", unsigned=True), pa.int64(), "BIGINT"),
    (col("bigint"), pa.int64(), "BIGINT"),
    (col("bigint", "bigint(20) unsigned", unsigned=True), pa.decimal128(20, 0), "NUMERIC(20,0)"),
    (col("decimal", "decimal(12,2)", precision=12, scale=2), pa.decimal128(12, 2), "NUMERIC(12,2)"),
    (col("decimal", "decimal(38,10)", precision=38, scale=10), pa.decimal128(38, 10), "NUMERIC(38,10)"),
    (col("decimal", "decimal(65,30)", precision=65, scale=30), pa.string(), "VARCHAR(67)"),
    (col("float"), pa.float32(), "REAL"),
    (col("double"), pa.float64(), "DOUBLE PRECISION"),
    (col("bit", "bit(1)", precision=1), pa.int64(), "BIGINT"),
    (col("bit", "bit(63)", precision=63), pa.int64(), "BIGINT"),
    (col("bit", "bit(64)", precision=64), pa.decimal128(20, 0), "NUMERIC(20,0)"),
    (col("date"), pa.date32(), "DATE"),
    (col("datetime", "datetime(6)", datetime_precision=6), pa.timestamp("us"), "TIMESTAMP"),
    (col("datetime", "datetime", datetime_precision=0), pa.timestamp("us"), "TIMESTAMP"),
    (col("timestamp", "timestamp(3)", datetime_precision=3), pa.timestamp("us", tz="UTC"), "TIMESTAMP"),
    (col("time", "time(6)", datetime_precision=6), pa.duration("us"), "BIGINT"),
    (col("year", "year(4)"), pa.int16(), "SMALLINT"),
    (col("char", "char(10)", max_length=10, octet_length=40, charset="utf8mb4"), pa.string(), "VARCHAR(40)"),
    (col("varchar", "varchar(255)", max_length=255, octet_length=1020, charset="utf8mb4"), pa.string(),
     "VARCHAR(1020)"),
    (col("varchar", "varchar(20000)", max_length=20000, octet_length=80000, charset="utf8mb4"), pa.string(),
     "VARCHAR(65535)"),
    (col("tinytext", max_length=255, octet_length=255, charset="utf8mb4"), pa.string(), "VARCHAR(255)"),
    (col("text", max_length=65535, octet_length=65535, charset="utf8mb4"), pa.string(), "VARCHAR(65535)"),
    (col("mediumtext", max_length=16777215, octet_length=16777215, charset="utf8mb4"), pa.string(),
     "VARCHAR(65535)"),
    (col("longtext", max_length=4294967295, octet_length=4294967295, charset="utf8mb4"), pa.string(),
     "VARCHAR(65535)"),
    (col("enum", "enum('a','bb')", max_length=2, octet_length=8, charset="utf8mb4"), pa.string(), "VARCHAR(8)"),
    (col("set", "set('a','b')", max_length=3, octet_length=12, charset="utf8mb4"), pa.string(), "VARCHAR(12)"),
    (col("json"), pa.string(), "VARCHAR(65535)"),
    (col("uuid"), pa.string(), "VARCHAR(36)"),
    (col("inet6"), pa.string(), "VARCHAR(39)"),
    (col("binary", "binary(16)", max_length=16), pa.binary(), "VARBYTE(16)"),
    (col("varbinary", "varbinary(300)", max_length=300), pa.binary(), "VARBYTE(300)"),
    (col("tinyblob", max_length=255, octet_length=255), pa.binary(), "VARBYTE(255)"),
    (col("blob", max_length=65535, octet_length=65535), pa.binary(), "VARBYTE(65535)"),
    (col("mediumblob", max_length=16777215, octet_length=16777215), pa.binary(), "VARBYTE(16777215)"),
    (col("longblob", max_length=4294967295, octet_length=4294967295), pa.binary(), "VARBYTE(16777216)"),
    *[(col(g), pa.binary(), "VARBYTE(16777216)") for g in (
        "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
        "geometrycollection",
    )],
]


def _case_id(value: object) -> str | None:
    return getattr(value, "column_type", None)


@pytest.mark.parametrize(("column", "arrow", "redshift"), CASES, ids=_case_id)
def test_every_mysql_type_has_an_arrow_and_a_redshift_type(column, arrow, redshift):
    assert arrow_type(column) == arrow
    assert redshift_type(column) == redshift
    for reader in ("connectorx", "pymysql"):
        assert select_expression(column, reader).endswith("`c`")


# (column as MariaDB's information_schema describes it, Redshift type, may a value still exceed it)
SIZING = [
    # A latin1 VARCHAR(10) counts 10 bytes of latin1 (cp1252), but "€€€€€€€€€€" is 30 UTF-8 bytes.
    (col("varchar", "varchar(10)", max_length=10, octet_length=10, charset="latin1"), "VARCHAR(30)", False),
    (col("varchar", "varchar(10)", max_length=10, octet_length=30, charset="utf8mb3"), "VARCHAR(30)", False),
    (col("varchar", "varchar(10)", max_length=10, octet_length=40, charset="utf8mb4"), "VARCHAR(40)", False),
    (col("varchar", "varchar(10)", max_length=10, octet_length=20, charset="ucs2"), "VARCHAR(30)", False),
    (col("varchar", "varchar(10)", max_length=10, octet_length=10, charset="ascii"), "VARCHAR(10)", False),
    (col("char", "char(5)", max_length=5, octet_length=20, charset="utf8mb4"), "VARCHAR(20)", False),
    (col("varchar", "varchar(30000)", max_length=30000, octet_length=30000, charset="latin1"),
     "VARCHAR(65535)", True),
    # TEXT limits are bytes in the source charset: utf8 TEXT is ≤ 65535 UTF-8 bytes, latin1 TEXT is not.
    (col("text", max_length=65535, octet_length=65535, charset="utf8mb4"), "VARCHAR(65535)", False),
    (col("text", max_length=65535, octet_length=65535, charset="latin1"), "VARCHAR(65535)", True),
    (col("tinytext", max_length=255, octet_length=255, charset="latin1"), "VARCHAR(765)", False),
    (col("mediumtext", max_length=16777215, octet_length=16777215, charset="utf8mb4"), "VARCHAR(65535)", True),
    (col("longtext", max_length=4294967295, octet_length=4294967295, charset="utf8mb4"), "VARCHAR(65535)", True),
    (col("enum", "enum('ab','cde')", max_length=3, octet_length=12, charset="utf8mb4"), "VARCHAR(12)", False),
    (col("json", "longtext"), "VARCHAR(65535)", True),
    (col("mediumblob", max_length=16777215, octet_length=16777215), "VARBYTE(16777215)", False),
    (col("longblob", max_length=4294967295, octet_length=4294967295), "VARBYTE(16777216)", True),
    (col("int"), "INTEGER", False),
]


@pytest.mark.parametrize(("column", "redshift", "exceeds"), SIZING,
                         ids=[f"{c.charset}-{c.column_type}" for c, _, _ in SIZING])
def test_text_is_sized_in_utf8_bytes_per_charset_capped_at_redshifts_limit(column, redshift, exceeds):
    assert redshift_type(column) == redshift
    assert may_exceed_redshift(column) is exceeds


def test_a_latin1_value_fits_its_redshift_width_in_utf8():
    column = col("varchar", "varchar(10)", max_length=10, octet_length=10, charset="latin1")
    value = "Zürich–Köl"  # 10 latin1 (cp1252) bytes
    assert len(value.encode("cp1252")) == 10
    assert len(value.encode()) <= int(redshift_type(column)[len("VARCHAR("):-1])
    worst = "€" * 10
    assert len(worst.encode()) <= int(redshift_type(column)[len("VARCHAR("):-1])


def test_unknown_type_names_the_column_and_the_type():
    with pytest.raises(SourceError) as err:
        arrow_type(col("vector", "vector(3)"))
    assert "db.t.c" in str(err.value) and "vector(3)" in str(err.value)


def test_schema_keeps_order_nullability_and_mysql_type():
    cols = [
        Column("id", "bigint", "bigint(20) unsigned", nullable=False, ordinal=1, unsigned=True),
        Column("name", "varchar", "varchar(10)", nullable=True, ordinal=2),
    ]
    schema = arrow_schema(cols)
    assert schema.names == ["id", "name"]
    assert not schema.field("id").nullable and schema.field("name").nullable
    assert schema.field("id").metadata == {b"mysql_type": b"bigint(20) unsigned"}


def test_lineage_fields():
    assert LINEAGE_FIELDS == [
        ("_extracted_at", pa.timestamp("us", tz="UTC")), ("_batch_id", pa.string()), ("_op", pa.string()),
    ]


@pytest.mark.parametrize(
    ("column", "connectorx", "pymysql"),
    [
        (col("int"), "`c`", "`c`"),
        (col("decimal", precision=12, scale=2), "`c`", "`c`"),  # exact through connectorx's decimal(38,10)
        (col("decimal", precision=28, scale=10), "`c`", "`c`"),
        (col("decimal", precision=38, scale=10), "CAST(`c` AS CHAR) AS `c`", "`c`"),  # beyond rust_decimal
        (col("decimal", precision=20, scale=12), "CAST(`c` AS CHAR) AS `c`", "`c`"),  # scale > 10 would round
        (col("json"), "CAST(`c` AS CHAR) AS `c`", "`c`"),
        (col("uuid"), "CAST(`c` AS CHAR) AS `c`", "`c`"),
        (col("time"), "CAST(TIME_TO_SEC(`c`) * 1000000 AS SIGNED) AS `c`", "`c`"),
        (col("geometry"), "ST_AsWKB(`c`) AS `c`", "ST_AsWKB(`c`) AS `c`"),
        (col("bit", precision=3), "CAST(`c` AS UNSIGNED) AS `c`", "CAST(`c` AS UNSIGNED) AS `c`"),
    ],
)
def test_select_expressions_wrap_what_a_reader_cannot_decode(column, connectorx, pymysql):
    assert select_expression(column, "connectorx") == connectorx
    assert select_expression(column, "pymysql") == pymysql


def test_connectorx_reads_timestamps_as_utc_epoch_not_session_time():
    expr = select_expression(col("timestamp"), "connectorx")
    assert "UNIX_TIMESTAMP(`c`)" in expr


def test_select_expression_quotes_any_mysql_name_and_refuses_what_mysql_refuses():
    assert select_expression(Column("a`b", "int", "int"), "pymysql") == "`a``b`"
    with pytest.raises(SourceError):
        select_expression(Column("trailing ", "int", "int"), "pymysql")


def test_positions_typed_by_hand_are_parsed_as_the_column_binds_them():
    from datetime import date, datetime
    from decimal import Decimal

    from extractor.types import value_from_text

    assert value_from_text(col("timestamp", "timestamp(6)"), "2025-01-31T23:00:00-02:00") == datetime(2025, 2, 1, 1)
    assert value_from_text(col("datetime", "datetime(6)"), "2025-01-31 23:59:59.000001") \
        == datetime(2025, 1, 31, 23, 59, 59, 1)
    assert value_from_text(col("date", "date"), "2025-01-31") == date(2025, 1, 31)
    assert value_from_text(col("decimal", "decimal(30,10)", precision=30, scale=10), "1.5") == Decimal("1.5")
    assert value_from_text(col("bigint", "bigint(20) unsigned", unsigned=True), "18446744073709551615") == 2**64 - 1
    assert value_from_text(col("varbinary", "varbinary(16)"), "0x00ff") == b"\x00\xff"
    assert value_from_text(col("varchar", "varchar(8)"), " a b ") == " a b "
    for column, text in [(col("int", "int(10) unsigned", unsigned=True), "-1"), (col("date", "date"), "2025-02-30"),
                         (col("decimal", "decimal(10,2)"), "NaN"), (col("varbinary", "varbinary(4)"), "zz")]:
        with pytest.raises(ValueError, match=f"got '{text}'"):
            value_from_text(column, text)
    with pytest.raises(ValueError, match="double columns cannot be given a position by hand"):
        value_from_text(col("double", "double"), "1.5")
