"""The one MySQL → Arrow → Redshift type map, and how each reader must select a column.

Over 400 lines: the one type map, every MySQL type's Arrow and Redshift form and how each reader selects it.

Schemas are declared from ``information_schema`` (never inferred from values). Redshift has no unsigned
types, so unsigned integers widen to the next signed type and BIGINT UNSIGNED becomes decimal(20,0);
DECIMAL wider than 38 digits is kept as exact text (no engine downstream reads decimal256 correctly).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa

from extractor.errors import SourceError
from extractor.names import LINEAGE_COLUMNS
from extractor.quoting import quote_ident

ReaderKind = Literal["connectorx", "pymysql"]

#: Lineage columns appended to every lake file (after the source columns, in this order).
LINEAGE_FIELDS: list[tuple[str, pa.DataType]] = list(zip(
    LINEAGE_COLUMNS, (pa.timestamp("us", tz="UTC"), pa.string(), pa.string()), strict=True))

#: Marker the connectorx select list returns for a zero (or partly zero) DATE/DATETIME/TIMESTAMP value.
ZERO_DATE_SENTINEL = -(1 << 62)

_INT_TYPES: dict[str, tuple[pa.DataType, pa.DataType, str, str]] = {
    # data_type: (signed arrow, unsigned arrow, signed redshift, unsigned redshift)
    "tinyint": (pa.int8(), pa.int16(), "SMALLINT", "SMALLINT"),
    "smallint": (pa.int16(), pa.int32(), "SMALLINT", "INTEGER"),
    "mediumint": (pa.int32(), pa.int32(), "INTEGER", "INTEGER"),
    "int": (pa.int32(), pa.int64(), "INTEGER", "BIGINT"),
    "integer": (pa.int32(), pa.int64(), "INTEGER", "BIGINT"),
    "bigint": (pa.int64(), pa.decimal128(20, 0), "BIGINT", "NUMERIC(20,0)"),
}
_TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
_SPECIAL_TEXT = {"uuid": 36, "inet4": 15, "inet6": 39}  # MariaDB types read as text: max length
_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_GEOMETRY_TYPES = {
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
    "geometrycollection", "geomcollection",
}
_TEMPORAL_TYPES = {"date", "datetime", "timestamp", "time", "year"}
#: Redshift's widest VARCHAR, in bytes (docs: "Character types", VARCHAR max 65535 bytes).
REDSHIFT_VARCHAR_MAX = 65535
#: Redshift's widest VARBYTE, in bytes (docs: "VARBYTE type", max 16,777,216 bytes — 16 MB).
REDSHIFT_VARBYTE_MAX = 16_777_216
_REDSHIFT_VARCHAR_MAX = REDSHIFT_VARCHAR_MAX
_REDSHIFT_VARBYTE_MAX = REDSHIFT_VARBYTE_MAX
#: Most UTF-8 bytes one character of a MySQL character set needs once written to the (UTF-8) lake.
#: Single-byte sets reach 3: latin1 is cp1252 in MySQL (€ U+20AC, “ U+201C), cp1250/cp1251/… likewise.
#: Multi-byte sets reach 3 (BMP only: utf8mb3, ucs2, the East Asian sets) or 4 (utf8mb4, utf16, utf32,
#: gb18030: characters outside the BMP). ascii is 1. Any set not listed counts as 4 (the safe side).
UTF8_MAX_BYTES: dict[str, int] = {
    "ascii": 1, "utf8mb4": 4, "utf16": 4, "utf16le": 4, "utf32": 4, "gb18030": 4,
    "utf8mb3": 3, "utf8": 3, "ucs2": 3, "latin1": 3, "latin2": 3, "latin5": 3, "latin7": 3,
    "cp1250": 3, "cp1251": 3, "cp1256": 3, "cp1257": 3, "cp850": 3, "cp852": 3, "cp866": 3,
    "dec8": 3, "hp8": 3, "koi8r": 3, "koi8u": 3, "swe7": 3, "greek": 3, "hebrew": 3, "armscii8": 3,
    "keybcs2": 3, "macce": 3, "macroman": 3, "geostd8": 3, "tis620": 3,
    "big5": 3, "gbk": 3, "gb2312": 3, "sjis": 3, "cp932": 3, "ujis": 3, "eucjpms": 3, "euckr": 3,
}


#: MySQL integer types (``information_schema.COLUMNS.DATA_TYPE``): ordered, exact, usable as a key range.
INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})


@dataclass(frozen=True)
class Column:
    """One source column as ``information_schema.COLUMNS`` describes it (``data_type`` lower-case)."""

    name: str
    data_type: str
    column_type: str
    nullable: bool = True
    ordinal: int = 0
    precision: int | None = None
    scale: int | None = None
    datetime_precision: int | None = None
    unsigned: bool = False
    charset: str | None = None
    max_length: int | None = None
    octet_length: int | None = None
    table: str = ""

    @property
    def where(self) -> str:
        """``db.table.column`` (or just the column) for error messages."""
        return f"{self.table}.{self.name}" if self.table else self.name

    @property
    def kind(self) -> str:
        """The family the type map dispatches on; raises SourceError for a type it does not know."""
        dt = self.data_type.lower()
        if dt in _INT_TYPES:
            return "bigint_unsigned" if dt == "bigint" and self.unsigned else "int"
        if dt in ("decimal", "numeric", "float", "double", "real", "bit"):
            return {"numeric": "decimal", "real": "double"}.get(dt, dt)
        if dt in _TEMPORAL_TYPES:
            return dt
        if dt in _TEXT_TYPES:
            return "text"
        if dt in _SPECIAL_TEXT:
            return "special_text"
        if dt in _BINARY_TYPES:
            return "binary"
        if dt in _GEOMETRY_TYPES:
            return "geometry"
        raise SourceError(
            f"unsupported MySQL type {self.column_type or self.data_type!r}",
            where=self.where,
            hint="list it under the table's exclude_columns, or extend extractor/types.py",
        )


def _bit_width(col: Column) -> int:
    return col.precision or 1


def arrow_type(col: Column) -> pa.DataType:
    """The Arrow type a column is written with in the lake."""
    kind = col.kind
    if kind == "int":
        signed, unsigned, _, _ = _INT_TYPES[col.data_type.lower()]
        return unsigned if col.unsigned else signed
    if kind == "bigint_unsigned":
        return pa.decimal128(20, 0)
    if kind == "decimal":
        precision, scale = col.precision or 10, col.scale or 0
        # Wider than 38 digits: exact decimal text. DuckDB 1.5 reads a Parquet decimal256 as a wrong
        # DOUBLE and Redshift NUMERIC stops at 38, so a decimal256 column would be unreadable downstream.
        return pa.decimal128(precision, scale) if precision <= 38 else pa.string()
    if kind == "bit":
        return pa.int64() if _bit_width(col) <= 63 else pa.decimal128(20, 0)
    return {
        "float": pa.float32(),
        "double": pa.float64(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us"),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "time": pa.duration("us"),
        "year": pa.int16(),
        "text": pa.string(),
        "special_text": pa.string(),
        "binary": pa.binary(),
        "geometry": pa.binary(),
    }[kind]


def value_from_text(col: Column, text: str) -> Any:
    """A position value typed as the extractor binds it for ``col``, parsed from what a user typed.

    Integers and decimals are exact; DATETIME and TIMESTAMP take ISO 8601 (with an offset it is converted
    to UTC, the session time zone); DATE takes YYYY-MM-DD; text columns take the text as it is; binary
    columns take hex (``0x…``). Raises ValueError saying what was expected.
    """
    kind = col.kind
    try:
        if kind in ("int", "bigint_unsigned", "year"):
            value = int(text)
            if col.unsigned and value < 0:
                raise ValueError
            return value
        if kind == "decimal":
            number = Decimal(text)
            if not number.is_finite():
                raise ValueError
            return number
        if kind in ("datetime", "timestamp"):
            moment = datetime.fromisoformat(text)
            return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        if kind == "date":
            return date.fromisoformat(text)
        if kind in ("text", "special_text"):
            return text
        if kind == "binary" and text[:2].lower() == "0x":
            return bytes.fromhex(text[2:])
    except (ValueError, ArithmeticError):
        pass
    expected = {
        "int": "an integer" + (" ≥ 0" if col.unsigned else ""), "bigint_unsigned": "an integer ≥ 0",
        "year": "a year", "decimal": "a decimal number", "datetime": "an ISO timestamp (2025-01-31T23:59:59.123456)",
        "timestamp": "an ISO timestamp (2025-01-31T23:59:59.123456, UTC unless it has an offset)",
        "date": "a date (2025-01-31)", "binary": "hex bytes (0x0a1b…)",
    }.get(kind)
    if expected is None:
        raise ValueError(f"{col.column_type} columns cannot be given a position by hand")
    raise ValueError(f"expected {expected} for {col.column_type} column {col.name}, got {text!r}")


def arrow_schema(cols: list[Column]) -> pa.Schema:
    """The declared schema: one field per column in the given order, keeping the MySQL type in metadata.

    Text columns also keep their character set: the Redshift width of a landed file's column depends on it.
    """
    fields = [
        pa.field(c.name, arrow_type(c), nullable=c.nullable, metadata={
            "mysql_type": c.column_type, **({"mysql_charset": c.charset} if c.charset else {})})
        for c in cols
    ]
    return pa.schema(fields)


def redshift_type(col: Column) -> str:
    """The Redshift column type that COPY … FORMAT AS PARQUET loads this column's Parquet data into."""
    kind = col.kind
    if kind == "int":
        _, _, signed, unsigned = _INT_TYPES[col.data_type.lower()]
        return unsigned if col.unsigned else signed
    if kind == "bigint_unsigned":
        return "NUMERIC(20,0)"
    if kind == "decimal":
        precision, scale = col.precision or 10, col.scale or 0
        return f"NUMERIC({precision},{scale})" if precision <= 38 else f"VARCHAR({precision + 2})"
    if kind == "bit":
        return "BIGINT" if _bit_width(col) <= 63 else "NUMERIC(20,0)"
    if kind in ("text", "binary", "geometry"):
        width, _ = redshift_width(col)
        return f"VARBYTE({width})" if kind != "text" else f"VARCHAR({width})"
    if kind == "special_text":
        return f"VARCHAR({_SPECIAL_TEXT[col.data_type.lower()]})"
    return {
        "float": "REAL",
        "double": "DOUBLE PRECISION",
        "date": "DATE",
        "datetime": "TIMESTAMP",
        # UTC instants loaded into TIMESTAMP (UTC by convention), not TIMESTAMPTZ: AWS documents COPY from
        # Parquet timestamps into TIMESTAMP only (docs/warehouse.md, "Running on Redshift").
        "timestamp": "TIMESTAMP",
        "time": "BIGINT",  # microseconds: Parquet duration is a plain INT64 to Redshift
        "year": "SMALLINT",
    }[kind]


def utf8_bytes_per_char(charset: str | None) -> int:
    """Most UTF-8 bytes one character of MySQL character set ``charset`` can need (4 when unknown)."""
    return UTF8_MAX_BYTES.get((charset or "").lower(), 4)


_UTF8_FAMILY = {"utf8mb4", "utf8mb3", "utf8"}  # stored as UTF-8 already: source bytes = lake bytes
_MIN_SOURCE_BYTES = {"ucs2": 2, "utf16": 2, "utf16le": 2, "utf32": 4}
_BYTE_LIMITED = {"tinytext", "text", "mediumtext", "longtext"}  # limits count bytes, not characters


def _text_utf8_bytes(col: Column) -> int | None:
    """Most UTF-8 bytes a text column's value can take (None: unknown)."""
    dt = col.data_type.lower()
    charset = (col.charset or "").lower()
    if dt in _BYTE_LIMITED:
        octets = col.octet_length or col.max_length
        if not octets:
            return None
        if charset in _UTF8_FAMILY:
            return octets
        return octets // _MIN_SOURCE_BYTES.get(charset, 1) * utf8_bytes_per_char(charset)
    chars = col.max_length
    if not chars and dt in ("enum", "set"):
        values = re.findall(r"'((?:[^']|'')*)'", col.column_type)
        lengths = [len(v.replace("''", "'")) for v in values]
        chars = max(lengths, default=1) if dt == "enum" else sum(lengths) + max(len(lengths) - 1, 0)
    return None if not chars else chars * utf8_bytes_per_char(charset)


def utf8_max_bytes(col: Column) -> int | None:
    """The most UTF-8 bytes a value of a text or binary column can take in the lake (None: unbounded).

    CHAR/VARCHAR/ENUM/SET: characters × the charset's UTF-8 maximum (``CHARACTER_MAXIMUM_LENGTH`` counts
    characters; ``CHARACTER_OCTET_LENGTH`` counts bytes in the *source* charset, not what the lake holds).
    TINYTEXT…LONGTEXT are limited in source bytes: as many UTF-8 bytes for the utf8 sets, else
    (bytes ÷ the set's smallest character) × its UTF-8 maximum. Binary: its byte length. JSON, GEOMETRY:
    unbounded.
    """
    kind = col.kind
    if kind == "text":
        if col.data_type.lower() == "json":
            return None
        return _text_utf8_bytes(col)
    if kind == "binary":
        return col.max_length or col.octet_length or None
    if kind == "special_text":
        return _SPECIAL_TEXT[col.data_type.lower()]
    return None if kind == "geometry" else 0


def redshift_width(col: Column) -> tuple[int, bool]:
    """Bytes of the Redshift VARCHAR/VARBYTE for a text/binary column, and whether a value can exceed it.

    Every value MySQL can hold fits, capped at Redshift's limit (VARCHAR 65535 bytes, VARBYTE 16,777,216):
    ``(width, True)`` for columns whose values may still be longer (latin1 TEXT, MEDIUMTEXT, LONGTEXT,
    JSON, LONGBLOB, GEOMETRY); those need a per-column ``oversize`` choice (``truncate`` or ``exclude``).
    """
    cap = _REDSHIFT_VARCHAR_MAX if col.kind in ("text", "special_text") else _REDSHIFT_VARBYTE_MAX
    need = utf8_max_bytes(col)
    if need is None or need > cap:
        return cap, True
    return max(need, 1), False


def may_exceed_redshift(col: Column) -> bool:
    """Whether a value of ``col`` can be longer than the widest Redshift column for it."""
    if col.kind not in ("text", "special_text", "binary", "geometry"):
        return False
    return redshift_width(col)[1]


_TO_DAYS_EPOCH = 719528  # TO_DAYS('1970-01-01')
_TO_SECONDS_EPOCH = 62167219200  # TO_SECONDS('1970-01-01 00:00:00')
#: connectorx decodes DECIMAL through rust_decimal (28 significant digits) rescaled to decimal(38,10):
#: exact when the scale is at most 10 and the integer part has at most 28 - 10 digits.
_CX_DECIMAL_MAX_SCALE = 10
_CX_DECIMAL_MAX_INTEGER_DIGITS = 18


def _connectorx_decimal_is_exact(col: Column) -> bool:
    precision, scale = col.precision or 10, col.scale or 0
    return scale <= _CX_DECIMAL_MAX_SCALE and precision - scale <= _CX_DECIMAL_MAX_INTEGER_DIGITS


#: Column kinds connectorx decodes natively and exactly (binary protocol, microseconds, years 1000–9999,
#: TIMESTAMP in the UTC session ``open_reader`` insists on) unless a value is a zero or invalid date.
DATE_KINDS = ("date", "datetime", "timestamp")


def select_expression(col: Column, reader: ReaderKind, *, native_dates: bool = False) -> str:
    """The SELECT-list expression (aliased to the column name) that ``reader`` can decode exactly.

    connectorx panics or rounds on DECIMAL, zero dates, TIME beyond 24 h and GEOMETRY, so those are
    rewritten to text or exact integers. ``native_dates`` leaves DATE/DATETIME/TIMESTAMP as they are:
    cheaper for the server (no per-row date arithmetic), and connectorx panics on the first zero date
    instead of misreading it, so the caller can re-read with the rewritten list.
    """
    q = quote_ident(col.name)
    kind = col.kind
    expr = q
    if kind == "geometry":
        expr = f"ST_AsWKB({q})"
    elif kind == "bit":
        expr = f"CAST({q} AS UNSIGNED)"
    elif reader == "connectorx" and native_dates and kind in DATE_KINDS:
        pass
    elif reader == "connectorx":
        zero = f"MONTH({q}) = 0 OR DAYOFMONTH({q}) = 0"
        # TO_DAYS/TO_SECONDS are NULL exactly for zero and partly zero dates, and cost far less than
        # MONTH()/DAYOFMONTH() tests plus DATEDIFF/TIMESTAMPDIFF (2M rows × 3 DATETIME(6): 7.6 s → 4.3 s).
        sentinel = f"IF({q} IS NULL, NULL, {ZERO_DATE_SENTINEL})"
        # An invalid date (2024-02-30, stored under ALLOW_INVALID_DATES) has a TO_DAYS, of the day it rolls
        # over to (2024-03-01): it becomes the sentinel too, like a zero date, not another valid date.
        invalid = f"DAYOFMONTH({q}) > DAYOFMONTH(LAST_DAY({q}))"
        # TO_DAYS/TO_SECONDS count year 0 as a common year, the other readers (and Arrow) as the proleptic
        # Gregorian leap year it is: its January and February are one day earlier than TO_DAYS says.
        year0_jan_feb = f"({q} < '0000-03-01')"
        if kind == "decimal" and _connectorx_decimal_is_exact(col):
            pass  # read natively as decimal(38,10), cast exactly to decimal(p,s) afterwards
        elif kind in ("decimal", "special_text") or col.data_type.lower() == "json":  # MySQL 8 JSON type
            expr = f"CAST({q} AS CHAR)"
        elif kind == "date":
            days = f"TO_DAYS({q}) - {_TO_DAYS_EPOCH} - {year0_jan_feb}"
            expr = f"IF({invalid}, {ZERO_DATE_SENTINEL}, IFNULL({days}, {sentinel}))"
        elif kind == "datetime":
            seconds = f"TO_SECONDS({q}) - {_TO_SECONDS_EPOCH} - {year0_jan_feb} * 86400"
            micros = f"({seconds}) * 1000000 + MICROSECOND({q})"
            expr = f"IF({invalid}, {ZERO_DATE_SENTINEL}, IFNULL({micros}, {sentinel}))"
        elif kind == "timestamp":
            # UNIX_TIMESTAMP of a TIMESTAMP column is its stored UTC value: no session time zone involved.
            expr = f"IF({zero}, {ZERO_DATE_SENTINEL}, CAST(UNIX_TIMESTAMP({q}) * 1000000 AS SIGNED))"
        elif kind == "time":
            expr = f"CAST(TIME_TO_SEC({q}) * 1000000 AS SIGNED)"
    elif reader != "pymysql":
        raise ValueError(f"unknown reader kind {reader!r}")
    return expr if expr == q else f"{expr} AS {q}"


_ARROW_TO_REDSHIFT: list[tuple[tuple[Callable[[pa.DataType], bool], ...], str]] = [
    ((pa.types.is_int8, pa.types.is_int16, pa.types.is_uint8), "SMALLINT"),
    ((pa.types.is_int32, pa.types.is_uint16), "INTEGER"),
    ((pa.types.is_int64, pa.types.is_uint32), "BIGINT"),
    ((pa.types.is_uint64,), "NUMERIC(20,0)"),
    ((pa.types.is_boolean,), "BOOLEAN"),
    ((pa.types.is_float32,), "REAL"),
    ((pa.types.is_floating,), "DOUBLE PRECISION"),
    ((pa.types.is_date,), "DATE"),
    ((pa.types.is_time,), "TIME"),
    ((pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary),
     f"VARBYTE({REDSHIFT_VARBYTE_MAX})"),
]


def redshift_type_for_arrow(data_type: pa.DataType) -> str:
    """Redshift type for an Arrow type: the fallback when only a Parquet schema is at hand."""
    if pa.types.is_decimal(data_type):
        return f"NUMERIC({data_type.precision},{data_type.scale})"
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMP"  # UTC instants too: COPY from Parquet is documented into TIMESTAMP only
    for tests, redshift in _ARROW_TO_REDSHIFT:
        if any(test(data_type) for test in tests):
            return redshift
    return "VARCHAR(65535)"
