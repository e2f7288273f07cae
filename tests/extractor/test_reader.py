"""Both readers against the real MariaDB: every MySQL type round-trips exactly to the declared schema."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest
from _sources import Source
from pydantic import SecretStr

from extractor import mysql, reader
from extractor.errors import DataError, SourceError
from extractor.reader import ConnectorxReader, PymysqlReader, _bind_literals, _sql_literal, open_reader
from extractor.types import Column, arrow_schema, select_expression

READERS = ["connectorx", "pymysql"]




def source_for(db) -> Source:
    return Source(db.host, db.port, db.user, SecretStr(db.password), db.database)


def wkb_point(x: float, y: float) -> bytes:
    return struct.pack("<BIdd", 1, 1, x, y)


WKB_LINE = struct.pack("<BII4d", 1, 2, 2, 0.0, 0.0, 1.5, -2.25)
WKB_POLYGON = struct.pack("<BIII10d", 1, 3, 1, 5, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0)
WKB_MULTIPOINT = struct.pack("<BII", 1, 4, 2) + wkb_point(1, 2) + wkb_point(3, 4)

DDL = """CREATE TABLE every_type (
    id INT NOT NULL PRIMARY KEY,
    c_tinyint TINYINT, c_tinyint_u TINYINT UNSIGNED, c_bool BOOL,
    c_smallint SMALLINT, c_smallint_u SMALLINT UNSIGNED,
    c_mediumint MEDIUMINT, c_mediumint_u MEDIUMINT UNSIGNED,
    c_int INT, c_int_u INT UNSIGNED, c_bigint BIGINT, c_bigint_u BIGINT UNSIGNED,
    c_dec65 DECIMAL(65,30), c_dec38 DECIMAL(38,10), c_dec12 DECIMAL(12,2),
    c_float FLOAT, c_double DOUBLE,
    c_bit1 BIT(1), c_bit12 BIT(12), c_bit64 BIT(64),
    c_date DATE, c_datetime DATETIME, c_datetime3 DATETIME(3), c_datetime6 DATETIME(6),
    c_timestamp TIMESTAMP NULL, c_timestamp6 TIMESTAMP(6) NULL,
    c_time TIME, c_time6 TIME(6), c_year YEAR,
    c_char CHAR(10), c_varchar VARCHAR(100), c_tinytext TINYTEXT, c_text TEXT, c_mediumtext MEDIUMTEXT,
    c_longtext LONGTEXT, c_latin1 VARCHAR(20) CHARACTER SET latin1,
    c_binary BINARY(4), c_varbinary VARBINARY(16), c_tinyblob TINYBLOB, c_blob BLOB, c_mediumblob MEDIUMBLOB,
    c_longblob LONGBLOB,
    c_enum ENUM('small','large'), c_set SET('a','b','c'), c_json JSON,
    c_geometry GEOMETRY, c_point POINT, c_linestring LINESTRING, c_polygon POLYGON, c_multipoint MULTIPOINT,
    c_uuid UUID, c_inet6 INET6
)"""

GEOMETRY_COLUMNS = {"c_geometry", "c_point", "c_linestring", "c_polygon", "c_multipoint"}

ROW_MAX = {
    "id": 1, "c_tinyint": 127, "c_tinyint_u": 255, "c_bool": 1, "c_smallint": 32767, "c_smallint_u": 65535,
    "c_mediumint": 8388607, "c_mediumint_u": 16777215, "c_int": 2147483647, "c_int_u": 4294967295,
    "c_bigint": 9223372036854775807, "c_bigint_u": Decimal("18446744073709551615"),
    "c_dec65": "12345678901234567890123456789012345.123456789012345678901234567890",  # > 38 digits: text
    "c_dec38": Decimal("1234567890123456789012345678.0123456789"), "c_dec12": Decimal("9999999999.99"),
    "c_float": 1.5, "c_double": 0.1,
    "c_bit1": 1, "c_bit12": 0xABC, "c_bit64": Decimal(2**64 - 1),
    "c_date": date(9999, 12, 31), "c_datetime": datetime(2024, 2, 29, 23, 59, 59),
    "c_datetime3": datetime(2024, 2, 29, 23, 59, 59, 123000),
    "c_datetime6": datetime(2024, 2, 29, 23, 59, 59, 999999),
    "c_timestamp": datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC),
    "c_timestamp6": datetime(2024, 6, 1, 12, 4, 5, 123456, tzinfo=UTC),
    "c_time": timedelta(hours=838, minutes=59, seconds=59),
    "c_time6": -timedelta(hours=838, minutes=59, seconds=59),
    "c_year": 2155,
    "c_char": "abc", "c_varchar": "héllo 😀 wörld", "c_tinytext": "quote ' and \\ backslash \" done",
    "c_text": "x" * 1000, "c_mediumtext": "中文 текст", "c_longtext": "😀" * 100, "c_latin1": "café ÿ",
    "c_binary": b"\x00\x01\x02\x03", "c_varbinary": b"\x00\xff\x00", "c_tinyblob": b"\x00",
    "c_blob": bytes(range(256)), "c_mediumblob": b"\xde\xad\xbe\xef" * 100,
    "c_longblob": b"\x00" * 10 + b"end",
    "c_enum": "large", "c_set": "a,c", "c_json": '{"k": [1, 2, {"x": null}], "e": "😀"}',
    "c_geometry": wkb_point(1, 2), "c_point": wkb_point(-1.5, 1e10), "c_linestring": WKB_LINE,
    "c_polygon": WKB_POLYGON, "c_multipoint": WKB_MULTIPOINT,
    "c_uuid": "123e4567-e89b-12d3-a456-426614174000", "c_inet6": "2001:db8::1",
}
ROW_MIN = {
    "id": 2, "c_tinyint": -128, "c_tinyint_u": 0, "c_bool": 0, "c_smallint": -32768, "c_smallint_u": 0,
    "c_mediumint": -8388608, "c_mediumint_u": 0, "c_int": -2147483648, "c_int_u": 0,
    "c_bigint": -9223372036854775808, "c_bigint_u": Decimal(0),
    "c_dec65": "-0.000000000000000000000000000001",
    "c_dec38": Decimal("-9999999999999999999999999999.9999999999"), "c_dec12": Decimal("-0.01"),
    "c_float": -3.25, "c_double": 1.7976931348623157e308,
    "c_bit1": 0, "c_bit12": 0, "c_bit64": Decimal(0),
    "c_date": date(1000, 1, 1), "c_datetime": datetime(1000, 1, 1, 0, 0, 0),
    "c_datetime3": datetime(1969, 12, 31, 23, 59, 59, 999000),
    "c_datetime6": datetime(1970, 1, 1, 0, 0, 0, 1),
    "c_timestamp": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
    "c_timestamp6": datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    "c_time": -timedelta(seconds=1), "c_time6": timedelta(microseconds=1), "c_year": 1901,
    "c_char": "", "c_varchar": "", "c_tinytext": "", "c_text": "'; DROP TABLE every_type; --",
    "c_mediumtext": "\\", "c_longtext": "\x00 nul", "c_latin1": "",
    "c_binary": b"\xff\xff\xff\xff", "c_varbinary": b"", "c_tinyblob": b"", "c_blob": b"\x00",
    "c_mediumblob": b"", "c_longblob": b"'\\\"",
    "c_enum": "small", "c_set": "", "c_json": "[]",
    "c_geometry": WKB_LINE, "c_point": wkb_point(0, 0), "c_linestring": WKB_LINE,
    "c_polygon": WKB_POLYGON, "c_multipoint": WKB_MULTIPOINT,
    "c_uuid": "00000000-0000-0000-0000-000000000000", "c_inet6": "::",
}
ROW_NULL = {name: None for name in ROW_MAX} | {"id": 3}
ZERO_INSERTS = {  # rows 4 and 5: zero and partly zero dates (allowed without NO_ZERO_DATE / NO_ZERO_IN_DATE)
    4: {"c_date": "0000-00-00", "c_datetime": "0000-00-00 00:00:00", "c_datetime3": "2024-00-10 00:00:00",
        "c_datetime6": "0000-00-00 00:00:00.000000", "c_timestamp": "0000-00-00 00:00:00",
        "c_timestamp6": "0000-00-00 00:00:00.000000"},
    5: {"c_date": "2024-05-00", "c_datetime": "2024-01-02 03:04:05"},
}
EXPECTED_ZERO_DATES = {"c_date": 2, "c_datetime": 1, "c_datetime3": 1, "c_datetime6": 1, "c_timestamp": 1,
                       "c_timestamp6": 1}


def _insert(db, row: dict) -> None:
    names = list(row)
    values = ", ".join("ST_GeomFromWKB(%s)" if n in GEOMETRY_COLUMNS else "%s" for n in names)
    params = []
    for name in names:
        value = row[name]
        if isinstance(value, datetime) and value.tzinfo is not None:
            # Inserted in a +05:00 session: the reader must still return the UTC instant.
            value = value.astimezone(timezone(timedelta(hours=5))).replace(tzinfo=None)
        params.append(value)
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+05:00', sql_mode = ''")
            cur.execute(f"INSERT INTO every_type ({', '.join(names)}) VALUES ({values})", params)
    finally:
        conn.close()


@pytest.fixture
def every_type(mysql_db):
    mysql_db.execute(DDL)
    for row in (ROW_MAX, ROW_MIN, ROW_NULL):
        _insert(mysql_db, row)
    for row_id, zeros in ZERO_INSERTS.items():
        _insert(mysql_db, {"id": row_id} | zeros)
    conn = mysql.connect(source_for(mysql_db))
    info = mysql.describe_table(conn, mysql_db.database, "every_type")
    conn.close()
    return mysql_db, info


def _expected_zero_rows() -> list[dict]:
    row4 = {name: None for name in ROW_MAX} | {"id": 4}
    row5 = row4 | {"id": 5, "c_datetime": datetime(2024, 1, 2, 3, 4, 5)}
    return [row4, row5]


@pytest.fixture(params=READERS)
def read(request, every_type):
    db, info = every_type
    rdr = open_reader(source_for(db), request.param)
    assert rdr.name == request.param
    yield lambda sql, params=(), columns=None: rdr.read(columns or info.columns, sql, params)
    rdr.close()


def test_every_type_round_trips_exactly(read, every_type):
    db, info = every_type
    result = read(f"FROM `{db.database}`.`every_type` ORDER BY `id`")
    assert result.table.schema.equals(arrow_schema(info.columns), check_metadata=True)
    rows = result.table.to_pylist()
    expected = [ROW_MAX, ROW_MIN, ROW_NULL, *_expected_zero_rows()]
    for got, want in zip(rows, expected, strict=True):
        for name, value in want.items():
            assert got[name] == value, (got["id"], name, got[name], value)
            assert type(got[name]) is type(value) or value is None, (name, type(got[name]))
    assert result.zero_dates == EXPECTED_ZERO_DATES


def test_connectorx_reads_dates_natively_until_a_zero_date_then_exactly(every_type):
    """Valid dates travel natively (no server-side arithmetic); the first zero date switches the table to
    the integer expressions for good, the page is re-read, and its zero dates are counted, not lost."""
    db, info = every_type
    where = f"{db.database}.every_type"
    rdr = ConnectorxReader(source_for(db))
    valid = rdr.read(info.columns, f"FROM `{db.database}`.`every_type` WHERE `id` <= %s ORDER BY `id`", [3])
    assert where not in reader._EXACT_DATE_TABLES
    assert valid.table.to_pylist() == PymysqlReader(source_for(db)).read(
        info.columns, f"FROM `{db.database}`.`every_type` WHERE `id` <= %s ORDER BY `id`", [3]).table.to_pylist()
    assert valid.table.column("c_datetime6")[0].as_py() == ROW_MAX["c_datetime6"]
    every = rdr.read(info.columns, f"FROM `{db.database}`.`every_type` ORDER BY `id`", [])
    assert where in reader._EXACT_DATE_TABLES
    assert every.zero_dates == EXPECTED_ZERO_DATES and every.table.num_rows == 5
    assert "TO_SECONDS" in select_expression(info.column("c_datetime6"), "connectorx")
    assert select_expression(info.column("c_datetime6"), "connectorx", native_dates=True) == "`c_datetime6`"


@pytest.mark.parametrize("kind", READERS)
def test_invalid_dates_land_as_null_and_are_counted_like_zero_dates(mysql_db, kind):
    """ALLOW_INVALID_DATES stores 2024-02-30: connectorx's TO_DAYS made it 2024-03-01 (another, valid date),
    and pymysql could not parse it at all; both land it as NULL and count it, as they do zero dates."""
    mysql_db.execute(
        "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
        "CREATE TABLE d (id INT PRIMARY KEY, d DATE, dt DATETIME(6))",
        "INSERT INTO d VALUES (1, '2024-02-30', '2023-02-29 10:00:00.5'), (2, '2024-02-29', '2024-04-31 00:00:00'),"
        " (3, '0000-00-00', NULL), (4, '2024-12-31', '2024-12-31 23:59:59.999999')",
    )
    conn = mysql.connect(source_for(mysql_db))
    info = mysql.describe_table(conn, mysql_db.database, "d")
    conn.close()
    rdr = open_reader(source_for(mysql_db), kind)
    try:
        result = rdr.read(info.columns, f"FROM `{mysql_db.database}`.`d` ORDER BY `id`", [])
    finally:
        rdr.close()
    assert result.table.to_pylist() == [
        {"id": 1, "d": None, "dt": None},
        {"id": 2, "d": date(2024, 2, 29), "dt": None},
        {"id": 3, "d": None, "dt": None},
        {"id": 4, "d": date(2024, 12, 31), "dt": datetime(2024, 12, 31, 23, 59, 59, 999999)},
    ]
    assert result.zero_dates == {"d": 2, "dt": 2}


def test_year_zero_dates_land_as_the_same_day_whichever_way_they_are_read(mysql_db):
    """MySQL's TO_DAYS counts year 0 as a common year; Arrow, connectorx's native dates and the pymysql text
    path count it as the proleptic leap year. The exact-date expressions (used once a table has shown a zero
    date) landed 0000-01-01 and 0000-02-28 one day late."""
    mysql_db.execute(
        "SET SESSION sql_mode = ''",
        "CREATE TABLE y (id INT PRIMARY KEY, d DATE, dt DATETIME(6))",
        "INSERT INTO y VALUES (1, '0000-01-01', '0000-01-01 10:00:00.5'), (2, '0000-02-28', '0000-02-28 23:59:59'),"
        " (3, '0000-03-01', '0000-03-01 00:00:00'), (4, '0001-01-01', '0001-01-01 00:00:00.000001'),"
        " (5, '1582-10-04', '1582-10-15 12:00:00'), (6, '0000-00-00', '0000-00-00 00:00:00')",
    )
    conn = mysql.connect(source_for(mysql_db))
    info = mysql.describe_table(conn, mysql_db.database, "y")
    conn.close()
    sql = f"FROM `{mysql_db.database}`.`y` WHERE `id` <= %s ORDER BY `id`"
    texts = pa.table({
        "d": ["0000-01-01", "0000-02-28", "0000-03-01", "0001-01-01", "1582-10-04"],
        "dt": ["0000-01-01 10:00:00.5", "0000-02-28 23:59:59", "0000-03-01 00:00:00", "0001-01-01 00:00:00.000001",
               "1582-10-15 12:00:00"],
    })
    expected = {"d": texts["d"].cast(pa.date32()).cast(pa.int32()).to_pylist(),
                "dt": texts["dt"].cast(pa.timestamp("us")).cast(pa.int64()).to_pylist()}

    def as_ints(table: pa.Table) -> dict[str, list]:
        return {"d": table["d"].cast(pa.int32()).to_pylist()[:5], "dt": table["dt"].cast(pa.int64()).to_pylist()[:5]}

    cx = ConnectorxReader(source_for(mysql_db))
    native = cx.read(info.columns, sql, [5])
    exact = cx.read(info.columns, sql, [6])  # the zero date switches the table to the exact expressions
    assert f"{mysql_db.database}.y" in reader._EXACT_DATE_TABLES
    text = PymysqlReader(source_for(mysql_db)).read(info.columns, sql, [6])
    assert as_ints(native.table) == as_ints(exact.table) == as_ints(text.table) == expected
    assert exact.zero_dates == text.zero_dates == {"d": 1, "dt": 1}


def test_every_column_of_the_table_is_mapped(every_type):
    _, info = every_type
    assert {c.data_type for c in info.columns} >= {
        "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "bit", "date",
        "datetime", "timestamp", "time", "year", "char", "varchar", "tinytext", "text", "mediumtext",
        "longtext", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "enum", "set",
        "geometry", "point", "linestring", "polygon", "multipoint",
    }
    assert len(arrow_schema(info.columns)) == len(info.columns) == len(ROW_MAX)


def test_where_params_of_every_kind_select_the_right_rows(read, every_type):
    db, info = every_type
    table = f"FROM `{db.database}`.`every_type` WHERE "
    cases = [
        ("`c_bigint_u` = %s", [18446744073709551615], [1]),
        ("`c_bigint` = %s", [-9223372036854775808], [2]),
        ("`c_dec65` = %s", [Decimal(ROW_MAX["c_dec65"])], [1]),
        ("`c_datetime6` = %s", [datetime(2024, 2, 29, 23, 59, 59, 999999)], [1]),
        ("`c_timestamp6` = %s", [datetime(2024, 6, 1, 12, 4, 5, 123456, tzinfo=UTC)], [1]),
        ("`c_timestamp6` = %s", [datetime(2024, 6, 1, 14, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))],
         [1]),
        ("`c_date` = %s", [date(1000, 1, 1)], [2]),
        ("`c_time6` = %s", [-timedelta(hours=838, minutes=59, seconds=59)], [1]),
        ("`c_varchar` = %s", ["héllo 😀 wörld"], [1]),
        ("`c_text` = %s", ["'; DROP TABLE every_type; --"], [2]),
        ("`c_latin1` = %s", ["café ÿ"], [1]),
        ("`c_blob` = %s", [bytes(range(256))], [1]),
        ("`c_bool` = %s", [True], [1]),
        ("`c_varchar` IS %s AND `id` > %s", [None, 3], [4, 5]),
        ("(`c_datetime6`, `id`) > (%s, %s) ORDER BY `c_datetime6`, `id`",
         [datetime(1970, 1, 1, 0, 0, 0, 1), 2], [1]),
        ("`c_varchar` LIKE %s AND 1 = 1 %% 2", ["%😀%"], [1]),
    ]
    for where, params, ids in cases:
        result = read(table + where, params)
        assert result.table.column("id").to_pylist() == ids, where


def test_an_empty_result_has_the_declared_schema(read, every_type):
    db, info = every_type
    result = read(f"FROM `{db.database}`.`every_type` WHERE `id` > %s", [100])
    assert result.table.num_rows == 0 and result.table.schema == arrow_schema(info.columns)
    assert result.zero_dates == {}


def test_a_column_subset_in_any_order(read, every_type):
    db, info = every_type
    cols = [info.column("c_varchar"), info.column("id")]
    result = read(f"FROM `{db.database}`.`every_type` WHERE `id` <= %s ORDER BY `id`", [2], cols)
    assert result.table.to_pylist() == [{"c_varchar": "héllo 😀 wörld", "id": 1}, {"c_varchar": "", "id": 2}]


def test_the_query_must_start_with_from(read):
    with pytest.raises(ValueError, match="FROM"):
        read("SELECT 1")


def test_unknown_table_is_a_source_error(read, every_type):
    db, info = every_type
    with pytest.raises(SourceError) as err:
        read(f"FROM `{db.database}`.`no_such_table`")
    assert "no_such_table" in str(err.value)


# ---- time zones -----------------------------------------------------------------------------------------


def test_connectorx_select_list_is_independent_of_the_session_time_zone(every_type):
    """The integer TIMESTAMP expression (zero-date fallback) does not depend on the session time zone."""
    db, info = every_type
    expr = select_expression(info.column("c_timestamp6"), "connectorx")
    conn = db.connect()
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '-07:00'")
        cur.execute(f"SELECT {expr} FROM every_type WHERE id = 1")
        micros = cur.fetchone()[0]
    conn.close()
    assert datetime.fromtimestamp(micros / 1_000_000, UTC) == ROW_MAX["c_timestamp6"]


def test_aware_datetime_literal_means_the_same_instant_in_any_session(every_type):
    db, _ = every_type
    literal = _sql_literal(datetime(2024, 6, 1, 12, 4, 5, 123456, tzinfo=UTC))
    conn = db.connect()
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+09:30'")
        cur.execute(f"SELECT id FROM every_type WHERE c_timestamp6 = {literal}")
        assert cur.fetchall() == ((1,),)
    conn.close()


# ---- text encodings -------------------------------------------------------------------------------------


def test_invalid_text_never_reaches_the_readers(read, mysql_db, every_type):
    """MariaDB replaces undecodable bytes on write, and converts latin1 to utf8mb4 on read."""
    db, _ = every_type
    db.execute("CREATE TABLE enc (id INT, u VARCHAR(10) CHARACTER SET utf8mb4,"
               " l VARCHAR(10) CHARACTER SET latin1)")
    conn = db.connect()
    with conn.cursor() as cur:
        cur.execute("SET NAMES binary, sql_mode = ''")
        cur.execute("INSERT INTO enc VALUES (1, X'C328FF', X'C328FF81')")
    conn.close()
    cols = [Column("u", "varchar", "varchar(10)", charset="utf8mb4", table=f"{db.database}.enc"),
            Column("l", "varchar", "varchar(10)", charset="latin1", table=f"{db.database}.enc")]
    result = read(f"FROM `{db.database}`.`enc`", [], cols)
    assert result.table.to_pylist() == [{"u": "?(?", "l": "Ã(ÿ\x81"}]


def test_undecodable_text_is_a_data_error_naming_the_table(mysql_db, monkeypatch):
    rdr = PymysqlReader(source_for(mysql_db))
    mysql_db.execute("CREATE TABLE t (s VARCHAR(5))", "INSERT INTO t VALUES ('a')")
    cols = [Column("s", "varchar", "varchar(5)", table=f"{mysql_db.database}.t")]

    def broken(*_args):
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    monkeypatch.setattr(reader.pymysql.cursors.Cursor, "fetchall", broken)
    with pytest.raises(DataError) as err:
        rdr.read(cols, f"FROM `{mysql_db.database}`.`t`", [])
    assert f"{mysql_db.database}.t" in str(err.value) and "s" in str(err.value)
    rdr.close()


# ---- secrets --------------------------------------------------------------------------------------------


def test_connectorx_errors_never_carry_the_uri_or_password(monkeypatch):
    secret = "Sup3r/Secr3t@pw"
    source = Source("127.0.0.1", 3306, "root", SecretStr(secret))
    rdr = ConnectorxReader(source)
    import connectorx

    def explode(uri, sql, **_):
        raise RuntimeError(f"cannot connect to {uri} with password {secret}")

    monkeypatch.setattr(connectorx, "read_sql", explode)
    with pytest.raises(SourceError) as err:
        rdr.read([Column("a", "int", "int", table="db.t")], "FROM t", [])
    assert secret not in str(err.value) and "Sup3r" not in str(err.value)
    assert err.value.__context__ is None and err.value.__cause__ is None


@pytest.mark.parametrize("kind", READERS)
def test_wrong_password_is_a_source_error_without_the_password(mysql_db, kind):
    user, secret = f"u_{uuid.uuid4().hex[:10]}", f"Pw-{uuid.uuid4().hex}"
    mysql_db.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'")
    try:
        source = Source(mysql_db.host, mysql_db.port, user, SecretStr(secret + "!"))
        with pytest.raises(SourceError) as err:
            open_reader(source, kind).read([Column("a", "int", "int")], "FROM `mysql`.`user`", [])
        assert secret not in str(err.value) and f"{mysql_db.host}:{mysql_db.port}" in str(err.value)
    finally:
        mysql_db.execute(f"DROP USER '{user}'@'%'")


# ---- the literal encoder --------------------------------------------------------------------------------

NASTY = [
    "'; DROP TABLE x; --", "\\", "\\'", "'", '"', "a\\'; SELECT 1; --", "%s", "%%", "{}", "\x00", "\n\r\t",
    "😀🇫🇷", "中文", "ÿ", "", "` backtick", "0x41", "_utf8mb4 X'41'", "\u202e", "\\x00",
]


@pytest.mark.parametrize("value", NASTY)
def test_string_literals_round_trip_as_values(mysql_db, value):
    conn = mysql_db.connect(charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute("SELECT " + _sql_literal(value))
        assert cur.fetchone()[0] == value
    conn.close()


@pytest.mark.parametrize("kind", READERS)
def test_injection_strings_match_only_themselves_through_both_readers(mysql_db, kind):
    mysql_db.execute("CREATE TABLE s (id INT PRIMARY KEY, v VARCHAR(100) COLLATE utf8mb4_bin)")
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO s VALUES (%s, %s)", list(enumerate(NASTY)))
    conn.close()
    cols = [Column("id", "int", "int", nullable=False), Column("v", "varchar", "varchar(100)")]
    rdr = open_reader(source_for(mysql_db), kind)
    for i, value in enumerate(NASTY):
        result = rdr.read(cols, f"FROM `{mysql_db.database}`.`s` WHERE `v` = %s", [value])
        assert result.table.to_pylist() == [{"id": i, "v": value}], value
    rdr.close()
    assert mysql_db.query("SELECT COUNT(*) FROM s") == [(len(NASTY),)]


@pytest.mark.parametrize(
    "value",
    [
        0, -1, 18446744073709551615, -9223372036854775808, 10**30, Decimal("-12345.678901234567890"),
        Decimal("1E+5"), Decimal("0.000001"), 1.5, -2.5e-10, b"\x00'\\\xff", b"",
        datetime(2024, 2, 29, 23, 59, 59, 999999), datetime(999, 1, 1), date(2024, 1, 2), time(23, 59, 59, 1),
        timedelta(hours=-838, minutes=-59, seconds=-59), timedelta(hours=838, microseconds=5),
    ],
)
def test_typed_literals_round_trip(mysql_db, value):
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT " + _sql_literal(value))
        got = cur.fetchone()[0]
    conn.close()
    if isinstance(value, time):
        got = (datetime.min + got).time()
    assert got == value
    if not isinstance(value, int | Decimal):  # MySQL types numeric literals by their digits
        assert type(got) is type(value)


@pytest.mark.parametrize("value", [object(), [1], {"a": 1}, float("nan"), float("inf"), Decimal("NaN"),
                                   Decimal("-Infinity")])
def test_other_values_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        _sql_literal(value)


def test_bool_and_none_literals():
    assert (_sql_literal(True), _sql_literal(False), _sql_literal(None)) == ("1", "0", "NULL")


def test_placeholders_must_match_params():
    assert _bind_literals("a = %s AND b LIKE 'x%%'", ["v"]) == "a = _utf8mb4 X'76' AND b LIKE 'x%'"
    with pytest.raises(ValueError):
        _bind_literals("a = %s", [])
    with pytest.raises(ValueError):
        _bind_literals("a = 1", [1])
    with pytest.raises(ValueError):
        _bind_literals("a LIKE 'x%'", [])


@pytest.fixture
def server_time_zone(mysql_db):
    """Set the server's default time zone for new sessions (needs SUPER); restored afterwards."""
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT @@global.time_zone")
        before = cur.fetchone()[0]

    def set_zone(zone: str) -> None:
        with conn.cursor() as cur:
            try:
                cur.execute("SET GLOBAL time_zone = %s", (zone,))
            except Exception as exc:  # noqa: BLE001 - no SUPER privilege on this server
                pytest.skip(f"cannot change the server time zone: {exc}")

    yield set_zone
    with conn.cursor() as cur:
        cur.execute("SET GLOBAL time_zone = %s", (before,))
    conn.close()


@pytest.mark.parametrize("zone", ["+05:00", "-07:00"])
def test_connectorx_reads_in_utc_whatever_the_server_default_time_zone(every_type, server_time_zone, zone):
    """connectorx sessions are pinned to UTC: TIMESTAMP values, native datetimes and bound instants agree."""
    db, info = every_type
    server_time_zone(zone)
    assert open_reader(source_for(db), "auto").name == "connectorx"
    columns = [info.column(n) for n in ("id", "c_datetime6", "c_timestamp6")]
    instant = ROW_MAX["c_timestamp6"]
    sql = f"FROM `{db.database}`.`every_type` WHERE `c_timestamp6` = %s ORDER BY `id`"
    for value in (instant, instant.replace(tzinfo=None)):  # aware instant, and naive UTC wall clock
        got = ConnectorxReader(source_for(db)).read(columns, sql, [value]).table.to_pylist()
        assert [r["id"] for r in got] == [1]
        assert got[0]["c_timestamp6"] == instant
        assert got[0]["c_datetime6"] == ROW_MAX["c_datetime6"]


def test_memory_pool_is_one_the_heap_trim_returns_unless_the_user_chose_one(monkeypatch):
    before = pa.default_memory_pool()
    try:
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
        assert reader.use_returnable_memory_pool() == "system"
        pa.set_memory_pool(pa.mimalloc_memory_pool())
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
        assert reader.use_returnable_memory_pool() == "mimalloc"
    finally:
        pa.set_memory_pool(before)


def test_connectorx_is_preloaded_in_the_background():
    import subprocess
    import sys

    probe = ("import sys; from extractor import reader; before = 'connectorx' in sys.modules; "
             "t = reader.preload_connectorx(); t.join(30); print(before, 'connectorx' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
