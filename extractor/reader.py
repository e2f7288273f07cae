"""Rows → Arrow: a fast connectorx reader and a pure-Python pymysql reader with identical output.

Over 400 lines: two readers with identical output, and the error mapping they share.

The caller hands over the query *after* the select list (``FROM `db`.`t` WHERE … ORDER BY … LIMIT n``
with ``%s`` placeholders) and the columns to read; the reader writes the select list itself, because
what each driver can decode exactly differs. Both return a table that conforms to ``arrow_schema``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pymysql
import pymysql.converters
from pymysql.constants import FIELD_TYPE

from extractor import mysql, retry, tunnel
from extractor.errors import ConfigError, DataError, SourceError, SourceUnreachable
from extractor.quoting import as_template
from extractor.secrets import redact, secret_value
from extractor.types import (
    DATE_KINDS,
    ZERO_DATE_SENTINEL,
    Column,
    ReaderKind,
    arrow_schema,
    arrow_type,
    select_expression,
)

ReaderChoice = Literal["auto", "connectorx", "pymysql"]
log = logging.getLogger(__name__)

# A page query lost with its connection is re-run under extractor.retry (bounded, with backoff, a warning
# per retry). A page query is idempotent: positions only advance after a page has been written.
# connectorx reports errors as text only: these fragments mean the connection, not the query, failed.
_TRANSIENT_TEXT = ("lost connection", "gone away", "connection refused", "connection reset", "broken pipe",
                   "connection was killed", "unexpected eof", "timed out", "connection closed",
                   "server shutdown", "server disconnected", "ioerror", "io error", "(2013)", "(2006)", "1927")

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_FLOAT = re.compile(r"^-?\d+(\.\d+)?(e[+-]?\d+)?$")
_PLACEHOLDER = re.compile(r"%s|%%|%")
_ZERO_DATE = r"^\d{4}-00|^\d{4}-\d\d-00"  # '0000-00-00…' and partly zero dates such as '2024-00-10'

# pymysql decoders without the slow Python parsing of dates and decimals: those arrive as text and are
# parsed column-wise by Arrow (exact for decimals; zero dates are visible as text).
_PYMYSQL_CONV = {
    k: v for k, v in pymysql.converters.conversions.items()
    if k not in (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATE, FIELD_TYPE.DECIMAL,
                 FIELD_TYPE.NEWDECIMAL)
}


@dataclass
class ReadResult:
    """One read: the rows as a table conforming to ``arrow_schema(columns)``, and zero dates per column."""

    table: pa.Table
    zero_dates: dict[str, int] = field(default_factory=dict)


class Reader(Protocol):
    """Reads ``SELECT <columns> <from_sql>`` into Arrow; ``from_sql`` starts with FROM and uses ``%s``."""

    name: str
    #: Whether reads in several threads run at once (the decoding releases the GIL): only then are
    #: initial loads split into key ranges read in parallel.
    parallel_reads: bool

    def read(self, columns: Sequence[Column], from_sql: str, params: Sequence[Any]) -> ReadResult:
        """Run the query and return every row it yields."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def build_select(columns: Sequence[Column], from_sql: str, reader: ReaderKind, *, native_dates: bool = False) -> str:
    """``SELECT <select list for reader> <from_sql>``, a %-template; ``from_sql`` must begin with FROM."""
    if not columns:
        raise ValueError("no columns to read")
    if not from_sql.lstrip()[:5].upper().startswith("FROM") or not from_sql.lstrip()[4:5].isspace():
        raise ValueError(f"the query must start with FROM, got {from_sql[:40]!r}")
    select_list = ", ".join(select_expression(c, reader, native_dates=native_dates) for c in columns)
    return as_template(f"SELECT {select_list} {from_sql.strip()}")


def _libc_malloc_trim() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def release_memory() -> None:
    """Give freed heap pages back to the OS after a page is written.

    connectorx allocates each result on fresh threads; glibc keeps what they free in per-thread arenas, so
    without a trim the process grows by a few MB per page (measured: 45k-row wide pages, 40 pages →
    216 MB peak without, 99 MB with). A no-op where the C library has no ``malloc_trim``.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def use_returnable_memory_pool() -> str:
    """Make Arrow allocate from the C library's heap, which ``release_memory`` hands back to the OS.

    pyarrow's default pool (mimalloc in the Linux wheels) keeps what a page freed for reuse, so peak
    RSS carried an extra ~35 MB (2M-row extracts, narrow 236 → 201 MB, wide 268 → 236 MB) at the same
    speed. An explicit ``ARROW_DEFAULT_MEMORY_POOL`` is left as the user set it. Returns the pool's name.
    """
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())
    return pa.default_memory_pool().backend_name


def preload_connectorx() -> threading.Thread:
    """Import connectorx in the background while a run's first control queries go out.

    Its import takes ~55 ms, which every run's first table otherwise waits for; ``open_reader``'s own
    import then finds the module loaded (or waits for this one to finish: Python locks a module while
    it is imported). A missing connectorx is ``open_reader``'s to report.
    """

    def load() -> None:
        with contextlib.suppress(ImportError):
            import connectorx  # noqa: F401

    thread = threading.Thread(target=load, name="preload-connectorx", daemon=True)
    thread.start()
    return thread


def open_reader(source: mysql.SourceLike, kind: ReaderChoice = "auto") -> Reader:
    """A reader for ``source``: connectorx (fast) when available and asked for or ``auto``, else pymysql."""
    if kind not in ("auto", "connectorx", "pymysql"):
        raise ConfigError(f"unknown reader {kind!r}", hint="use auto, connectorx or pymysql")
    if kind == "pymysql":
        return PymysqlReader(source)
    try:
        import connectorx  # noqa: F401
    except ImportError:
        if kind == "connectorx":
            hint = "pip install connectorx==0.4.6"
            raise ConfigError("reader 'connectorx' is not installed", hint=hint) from None
        return PymysqlReader(source)
    # connectorx retries a refused login for ~30 s and its errors are terse: check once, quickly, here.
    mysql.connect(source).close()
    return ConnectorxReader(source)


def _sql_literal(value: Any) -> str:
    """``value`` as a MySQL literal of its own type — the only place values are spliced into SQL.

    Text and bytes are hex-encoded (nothing in them is ever parsed as SQL); numbers are validated text;
    dates and times are formatted from the object's fields. Naive datetimes are DATETIME values; aware
    ones are instants, converted to the session time zone the way a TIMESTAMP column compares them.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else ""
        if not _NUMBER.match(text):
            raise ValueError(f"not a finite decimal: {value!r}")
        return text
    if isinstance(value, float):
        text = repr(value)
        text = text if "e" in text else f"{text}e0"  # exponent form: MySQL reads it as DOUBLE, not DECIMAL
        if not _FLOAT.match(text):
            raise ValueError(f"not a finite float: {value!r}")
        return text
    if isinstance(value, str):
        return f"_utf8mb4 X'{value.encode('utf-8').hex()}'"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"X'{bytes(value).hex()}'"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            utc = value.astimezone(dt.UTC).replace(tzinfo=None)
            return f"CONVERT_TZ(TIMESTAMP'{_format_datetime(utc)}', '+00:00', @@session.time_zone)"
        return f"TIMESTAMP'{_format_datetime(value)}'"
    if isinstance(value, dt.date):
        return f"DATE'{value.year:04d}-{value.month:02d}-{value.day:02d}'"
    if isinstance(value, dt.time):
        return f"TIME'{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}'"
    if isinstance(value, dt.timedelta):
        micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
        sign, micros = ("-" if micros < 0 else ""), abs(micros)
        seconds, micro = divmod(micros, 1_000_000)
        return f"TIME'{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{micro:06d}'"
    raise TypeError(f"cannot use a {type(value).__name__} as a query parameter")


def _format_datetime(value: dt.datetime) -> str:
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}")


def _bind_literals(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with each ``%s`` replaced by ``_sql_literal(param)`` and ``%%`` by ``%`` (pymysql's rules)."""
    values = iter(params)
    used = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal used
        token = match.group(0)
        if token == "%%":
            return "%"
        if token == "%":
            raise ValueError("a lone '%' in the query: write '%%' for a literal percent sign")
        used += 1
        try:
            return _sql_literal(next(values))
        except StopIteration:
            raise ValueError(f"more %s placeholders than the {len(params)} parameters") from None

    bound = _PLACEHOLDER.sub(replace, sql)
    if used != len(params):
        raise ValueError(f"the query has {used} %s placeholders but {len(params)} parameters were given")
    return bound


def _table_of(columns: Sequence[Column]) -> str | None:
    return columns[0].table or None if columns else None


#: Tables (``db.table``) found holding a zero or invalid date: this process reads their dates through
#: the exact integer expressions. Shared by every reader, so parallel key ranges fall back together.
_EXACT_DATE_TABLES: set[str] = set()


class ConnectorxReader:
    """The fast path: connectorx reads the rewritten select list; Arrow casts it to the declared schema.

    Its session is pinned to UTC before each query (``pre_execution_query``), like every pymysql session,
    so TIMESTAMP values and datetime literals mean UTC whatever the server's default time zone.
    Dates are first read natively (the cheapest for the server). A zero or invalid date makes
    connectorx panic; the page is then read again, and every later page of that table, with dates
    rewritten to integers (zero dates become NULL and are counted).
    """

    name = "connectorx"
    parallel_reads = True  # Rust decodes with the GIL released

    def __init__(self, source: mysql.SourceLike) -> None:
        self._source = source

    def read(self, columns: Sequence[Column], from_sql: str, params: Sequence[Any]) -> ReadResult:
        """Run the query through connectorx (values inlined by ``_sql_literal``) and conform the result."""
        import connectorx

        where = _table_of(columns) or f"{self._source.host}:{self._source.port}"
        native = where not in _EXACT_DATE_TABLES and any(c.kind in DATE_KINDS for c in columns)

        def attempt() -> ReadResult:
            nonlocal native
            sql = _bind_literals(build_select(columns, from_sql, "connectorx", native_dates=native), params)
            failure: str | None = None
            panicked = False
            # Built per query: a tunnel the bastion dropped is reopened on another local port.
            uri = mysql.connection_uri(self._source)
            try:
                raw = connectorx.read_sql(uri, sql, return_type="arrow", pre_execution_query=mysql.UTC_SESSION)
            except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException (a BaseException)
                if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                    raise
                panicked = type(exc).__name__ == "PanicException"
                secrets = [secret_value(self._source), uri, *tunnel.secrets(self._source)]
                failure = redact(f"{type(exc).__name__}: {exc}", secrets)
            if failure is None:
                return _conform_connectorx(raw, columns)
            if native and panicked:  # a zero or invalid date: read this table's dates exactly from now on
                log.info("%s holds zero or invalid dates: reading its date columns as integers", where)
                _EXACT_DATE_TABLES.add(where)
                native = False
                return attempt()  # the same attempt: the dates, not the connection, failed
            # raised outside the except block: no chained exception holds the URI
            if not _is_transient_text(failure):
                raise SourceError(
                    f"connectorx query failed: {failure}", where=where,
                    hint="retry with reader: pymysql to see whether the data or the driver is at fault",
                )
            raise _LostConnection(failure)

        return _read_with_retries(attempt, where)

    def close(self) -> None:
        """Nothing to release: connectorx opens a connection per query."""


def _conform_connectorx(raw: pa.Table, columns: Sequence[Column]) -> ReadResult:
    schema = arrow_schema(list(columns))
    if raw.num_rows == 0:
        return ReadResult(schema.empty_table(), {})
    if raw.num_columns != len(columns):
        raise SourceError(f"connectorx returned {raw.num_columns} columns for {len(columns)}",
                          where=_table_of(columns))
    arrays, zero_dates = [], {}
    for i, col in enumerate(columns):
        array, zeros = _cx_column(col, raw.column(i))
        arrays.append(array)
        if zeros:
            zero_dates[col.name] = zeros
    return ReadResult(pa.Table.from_arrays(arrays, schema=schema), zero_dates)


def _cx_column(col: Column, array: pa.ChunkedArray) -> tuple[pa.ChunkedArray, int]:
    target, kind, zeros = arrow_type(col), col.kind, 0
    try:
        if kind in DATE_KINDS and not pa.types.is_integer(array.type):  # read natively: exact already
            return array.cast(target), 0
        if kind in DATE_KINDS:
            array = array.cast(pa.int64())
            is_zero = pc.equal(array, ZERO_DATE_SENTINEL)
            zeros = pc.sum(is_zero).as_py() or 0
            if zeros:
                array = pc.if_else(is_zero, pa.scalar(None, pa.int64()), array)
            return (array.cast(pa.int32()) if kind == "date" else array).cast(target), zeros
        if kind == "time":
            return array.cast(pa.int64()).cast(target), 0
        return array.cast(target), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        message = f"cannot convert {col.column_type} values to {target}: {exc}"
        raise DataError(message, where=col.where) from None


class PymysqlReader:
    """The pure-Python path: bound parameters, one page per call, column-wise conversion to Arrow."""

    name = "pymysql"
    parallel_reads = False  # Python decodes under the GIL: a second thread only contends for it

    def __init__(self, source: mysql.SourceLike) -> None:
        self._source = source
        self._conn: pymysql.connections.Connection | None = None

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None or not self._conn.open:
            self._conn = mysql.connect(self._source, retry_lost=False, conv=_PYMYSQL_CONV)
        return self._conn

    def read(self, columns: Sequence[Column], from_sql: str, params: Sequence[Any]) -> ReadResult:
        """Execute with bound ``params`` and convert every returned row."""
        sql = build_select(columns, from_sql, "pymysql")
        where = _table_of(columns) or f"{self._source.host}:{self._source.port}"

        def attempt() -> ReadResult:
            try:
                with self._guard(columns), self._connection().cursor() as cur:
                    cur.execute(sql, _pymysql_params(params))
                    rows = cur.fetchall()
            except _LostConnection:
                self.close()  # the next attempt reconnects
                raise
            return rows_to_result(rows, columns)

        return _read_with_retries(attempt, where)

    def _guard(self, columns: Sequence[Column]) -> _ErrorGuard:
        return _ErrorGuard(self._source, columns)

    def close(self) -> None:
        """Close the connection (a later read reconnects)."""
        conn, self._conn = self._conn, None
        if conn is not None and conn.open:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a dead socket cannot be closed politely
                conn._force_close()  # type: ignore[attr-defined]  # pymysql's, not in its stubs


class _LostConnection(Exception):
    """Internal: the connection (not the query) failed; the page query may be re-run."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _is_transient_text(text: str) -> bool:
    lowered = text.lower()
    return any(fragment in lowered for fragment in _TRANSIENT_TEXT)


def _read_with_retries(attempt: Callable[[], ReadResult], where: str) -> ReadResult:
    """``attempt()``, re-run under :mod:`extractor.retry` while the connection (not the query) fails.

    After the last attempt: the one SourceError the user sees.
    """
    try:
        return retry.call(attempt, lambda exc: isinstance(exc, _LostConnection), what="lost connection to MySQL",
                          where=where, detail=lambda exc: getattr(exc, "detail", str(exc)))
    except _LostConnection as lost:
        raise SourceError(
            f"lost the MySQL connection {retry.ATTEMPTS} times in a row while reading (last: {lost.detail})",
            where=where, hint="check the server, the network and read_timeout; the next run resumes where "
                              "this one stopped (nothing after the last written file was committed)",
        ) from None


class _ErrorGuard:
    """Turns driver errors during a read into SourceError/DataError naming the table."""

    def __init__(self, source: mysql.SourceLike, columns: Sequence[Column]) -> None:
        self._source, self._columns = source, columns

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        where = _table_of(self._columns) or f"{self._source.host}:{self._source.port}"
        if isinstance(exc, UnicodeDecodeError):
            text_columns = [c.name for c in self._columns if c.kind == "text"]
            raise DataError(
                f"a text value is not valid utf8mb4 (bytes {exc.object[exc.start:exc.end]!r})",
                where=where, hint=f"check the encoding of columns {', '.join(text_columns)}",
            ) from None
        if isinstance(exc, pymysql.err.MySQLError):
            message = redact(str(exc), [secret_value(self._source)])
            if exc.args and exc.args[0] in mysql.TRANSIENT_ERRNOS:
                raise _LostConnection(message) from None
            raise SourceError(f"query failed: {message}", where=where) from None
        if isinstance(exc, SourceUnreachable):  # a reconnect refused while the server (or its bastion) restarts
            raise _LostConnection(exc.message) from None


def _pymysql_params(params: Sequence[Any]) -> tuple[Any, ...]:
    # The session is UTC: aware datetimes are bound as their UTC wall-clock value.
    return tuple(_naive_utc(p) if isinstance(p, dt.datetime) else p for p in params)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _is_valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def rows_to_result(rows: Sequence[Sequence[Any]], columns: Sequence[Column]) -> ReadResult:
    """Row tuples from the pymysql select list → a table conforming to ``arrow_schema(columns)``."""
    schema = arrow_schema(list(columns))
    if not rows:
        return ReadResult(schema.empty_table(), {})
    arrays, zero_dates = [], {}
    for col, values in zip(columns, zip(*rows, strict=True), strict=True):
        array, zeros = _py_column(col, values)
        arrays.append(array)
        if zeros:
            zero_dates[col.name] = zeros
    return ReadResult(pa.Table.from_arrays(arrays, schema=schema), zero_dates)


def _py_column(col: Column, values: Sequence[Any]) -> tuple[pa.Array, int]:
    target, kind = arrow_type(col), col.kind
    try:
        if kind in DATE_KINDS:  # text (see _PYMYSQL_CONV): zero dates are visible as such
            text = pa.array(values, pa.string())
            is_zero = pc.fill_null(pc.match_substring_regex(text, _ZERO_DATE), False)
            naive_type = pa.date32() if kind == "date" else pa.timestamp("us")
            zeros = pc.sum(is_zero).as_py() or 0
            try:
                naive = (pc.if_else(is_zero, pa.scalar(None, pa.string()), text) if zeros else text).cast(naive_type)
            except pa.ArrowInvalid:  # an invalid date (2024-02-30, ALLOW_INVALID_DATES): NULL, like a zero date
                is_zero = pc.or_(is_zero, pa.array([v is not None and not _is_valid_date(v) for v in values]))
                zeros = pc.sum(is_zero).as_py() or 0
                naive = pc.if_else(is_zero, pa.scalar(None, pa.string()), text).cast(naive_type)
            return naive.cast(target), zeros
        if kind == "decimal":
            return pa.array(values, pa.string()).cast(target), 0
        if pa.types.is_decimal(target):  # BIGINT UNSIGNED and BIT(64): Python ints up to 2**64 - 1
            return pa.array(values, pa.uint64()).cast(target), 0
        return pa.array(values, target), 0
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as exc:
        message = f"cannot convert {col.column_type} values to {target}: {exc}"
        raise DataError(message, where=col.where) from None
