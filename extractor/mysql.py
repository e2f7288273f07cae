"""The control connection: connecting safely, discovering tables, reading bounds and the server clock.

Over 400 lines: connecting (TLS, tunnel, retries) and the catalogue queries share one connection class.
"""

from __future__ import annotations

import functools
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import pymysql
from pymysql.constants import CLIENT

from extractor import retry, tunnel
from extractor.errors import ConfigError, SourceError, SourceUnreachable, suggest
from extractor.quoting import as_template
from extractor.secrets import redact, secret_value
from extractor.types import Column

#: Every session the extractor opens (pymysql and connectorx) runs this first: values are UTC.
UTC_SESSION = "SET time_zone = '+00:00'"


class SourceLike(Protocol):
    """What the MySQL helpers need from a configured source (``config.SourceConnection``)."""

    host: str
    port: int
    username: str
    password: Any  # pydantic SecretStr
    database: str | None
    connect_timeout: int
    read_timeout: int


@dataclass(frozen=True)
class TableInfo:
    """A source table as discovered from ``information_schema``."""

    db: str
    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    indexes: dict[str, list[str]] = field(default_factory=dict)
    engine: str | None = None
    approx_rows: int | None = None
    avg_row_length: int | None = None
    unique_keys: dict[str, list[str]] = field(default_factory=dict)
    #: ``information_schema.COLUMNS.EXTRA`` per column name, where not empty (``on update current_timestamp()``).
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Column:
        """The column called ``name``; a ConfigError naming it, with a close-match suggestion, otherwise."""
        for col in self.columns:
            if col.name == name:
                return col
        raise ConfigError(
            f"column {name!r} not found in {self.db}.{self.name}",
            hint=_suggest(name, [c.name for c in self.columns]),
        )


class TableNotFound(ConfigError):
    """The configuration (or ``--table``) names a table MySQL does not have: a configuration error (exit 2).

    ``table`` is the name asked for (``db.table``); the message names it and suggests close matches.
    """

    def __init__(self, table: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"table '{table}' not found in MySQL", where=where, hint=hint)
        self.table = table


def connect(
    source: SourceLike, database: str | None = None, *, retry_lost: bool = True, **pymysql_options: Any,
) -> pymysql.connections.Connection:
    """A pymysql connection pinned to UTC, utf8mb4 and autocommit; failures are SourceErrors.

    A source with ``ssh_tunnel`` is reached through the process's tunnel to it (:mod:`extractor.tunnel`).
    ``pymysql_options`` go to ``pymysql.connect`` as they are (the pymysql reader passes ``conv``).
    With ``retry_lost`` (the default), a connection that opens and is then lost (``LOST_ERRNOS``) is
    retried under :mod:`extractor.retry`, while connecting and for every read-only statement run on it
    later; a connection that never opens (refused, unknown host, bad credentials) fails at once. The
    readers pass ``retry_lost=False``: they re-run whole page queries themselves.
    """
    password = secret_value(source)
    where = tunnel.address(source)
    database = database or source.database or None
    secrets = [password, *tunnel.secrets(source)]

    def open_once() -> _Connection:
        host, port = tunnel.endpoint(source)
        try:
            return _Connection(
                host=host, port=port, user=source.username, password=password,
                database=database, charset="utf8mb4", autocommit=True,
                connect_timeout=source.connect_timeout, read_timeout=source.read_timeout,
                write_timeout=source.read_timeout, init_command=UTC_SESSION, **pymysql_options,
            )
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else None
            refusal = tunnel.forward_refusal(source) if code in TRANSIENT_ERRNOS else None
            if refusal is not None:
                raise refusal from None
            raise

    try:
        conn = (retry.call(open_once, is_lost, what="lost connection to MySQL while connecting", where=where,
                           detail=lambda exc: redact(str(exc), secrets)) if retry_lost else open_once())
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        detail = redact(str(exc), secrets)
        if code in LOST_ERRNOS:
            tries = f"{retry.ATTEMPTS} times in a row" if retry_lost else "once"
            raise SourceUnreachable(
                f"the MySQL server accepted the connection as {source.username!r}, then lost it ({tries}): {detail}",
                where=where, hint="check the server's error log and max_connections, and any proxy or firewall "
                                  "between; the next run resumes where this one stopped",
            ) from None
        error = SourceUnreachable if code in TRANSIENT_ERRNOS else SourceError
        raise error(
            f"cannot connect to MySQL as {source.username!r}: {detail}",
            where=where, hint=_connect_hint(exc, database, getattr(source, "name", None)),
        ) from None
    conn.retry_lost = retry_lost
    conn.where = where
    conn.secrets = secrets
    return conn


#: pymysql/MySQL error numbers of a connection lost or refused (not of a bad query): 2003 can't connect,
#: 2006 gone away, 2013 lost during query, 2055 lost at handshake, 1053 server shutdown, 1927 (MariaDB)
#: connection killed, 4031 (MySQL 8) disconnected by the server for inactivity. Through an SSH tunnel they
#: are also how a bastion that cannot forward shows.
TRANSIENT_ERRNOS = frozenset({2003, 2006, 2013, 2055, 1053, 1927, 4031})
#: Those of a connection that was established and then lost (a broken pipe or a reset shows as 2006 or
#: 2013): transient, retried. 2003 is a connection that never opened: a wrong host or port, or a server
#: that is down — reported at once with the "check host, port, credentials" hint.
LOST_ERRNOS = TRANSIENT_ERRNOS - {2003}


def is_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is pymysql's report of an established connection that was lost."""
    return isinstance(exc, pymysql.err.MySQLError) and bool(exc.args) and exc.args[0] in LOST_ERRNOS


def connection_uri(source: SourceLike) -> str:
    """``mysql://user:pass@host:port/db`` for connectorx — through the SSH tunnel if there is one.

    It holds the password: never print or log it.
    """
    host, port = tunnel.endpoint(source)
    user = quote(source.username, safe="")
    password = quote(secret_value(source), safe="")
    return f"mysql://{user}:{password}@{host}:{port}/{quote(source.database or '', safe='')}"


def _connect_hint(exc: pymysql.err.MySQLError, database: str | None, connection: str | None) -> str:
    """What to fix for a refused connection, by the server's (or the client's) error code."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    of = f" of connection '{connection}' (connections.yml)" if connection else ""
    if code in (1045, 1698):  # access denied
        return f"check the username and password{of}"
    if code == 1044:  # access denied to the database
        return f"grant the user access to database {database!r}, or change the database{of}"
    if code == 1049:  # unknown database
        return f"create database {database!r}, or set the database{of} to one that exists"
    return "check host, port, credentials and that the server is reachable"


class _Connection(pymysql.connections.Connection):
    """pymysql's connection, with the TLS context of its default mode built once per process.

    Without TLS options pymysql connects in PREFERRED mode (TLS when the server offers it, certificates
    not verified) and builds that context on every connect — ~30 ms spent loading the system's CA
    bundle, which an unverified context never consults. Extractor runs open a few connections per table.
    """

    retry_lost = False
    where = ""
    secrets: list[str] = []

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        return _preferred_tls_context() if sslp == {} else super()._create_ssl_ctx(sslp)  # type: ignore[misc]  # pymysql's hook, not in its stubs

    def query(self, sql: str | bytes, unbuffered: bool = False) -> int:
        """Run ``sql``; a read-only statement whose connection is lost reconnects and runs again.

        Only buffered reads (``SELECT``, ``SHOW``, ``SET`` of session variables): a write that lost its
        connection may have committed, and an unbuffered result cannot be resumed halfway.
        """
        if not self.retry_lost or unbuffered or not _is_read_only(sql):
            result = int(super().query(sql, unbuffered))
            used = _USE.match(sql) if isinstance(sql, str) else None
            if used:  # a reconnect opens the database chosen last, not the first one
                name = used.group(1)
                self.db = name[1:-1].replace("``", "`") if name.startswith("`") else name
                self.client_flag |= CLIENT.CONNECT_WITH_DB
            return result

        def once() -> int:
            if self._sock is None:  # type: ignore[attr-defined]  # lost in a previous attempt: pymysql closed it
                self.connect()
            return int(super(_Connection, self).query(sql, unbuffered))

        def transient(exc: BaseException) -> bool:
            # 2003 too: this connection was open, so a refusal now is a server restarting.
            return isinstance(exc, pymysql.err.MySQLError) and bool(exc.args) and exc.args[0] in TRANSIENT_ERRNOS

        try:
            return retry.call(once, transient, what="lost connection to MySQL during a query", where=self.where,
                              detail=lambda exc: redact(str(exc), self.secrets))
        except pymysql.err.MySQLError as exc:
            if not transient(exc):
                raise
            raise SourceUnreachable(
                f"lost the connection to MySQL {retry.ATTEMPTS} times in a row during a query: "
                f"{redact(str(exc), self.secrets)}", where=self.where,
                hint="check the server's error log, the network and read_timeout; the next run resumes where "
                     "this one stopped",
            ) from None

    def connect(self, sock: Any = None) -> None:
        """(Re)connect; the session's own statements (``init_command``) are not retried on their own."""
        retrying, self.retry_lost = self.retry_lost, False
        try:
            super().connect(sock)
        finally:
            self.retry_lost = retrying


_READ_ONLY = ("select", "show", "set ", "explain", "describe")
_USE = re.compile(r"\s*use\s+(`(?:[^`]|``)+`|[^\s;`]+)\s*;?\s*$", re.IGNORECASE)


def _is_read_only(sql: str | bytes) -> bool:
    head = (sql.decode("utf-8", "replace") if isinstance(sql, bytes) else sql)[:16].lstrip().lower()
    return head.startswith(_READ_ONLY)


@functools.cache
def _preferred_tls_context() -> ssl.SSLContext:
    """What pymysql's PREFERRED mode uses (encryption without verification), without loading CA files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def scalar(conn: pymysql.connections.Connection, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The first column of the first row of ``sql`` (bound ``params``), or None when there is no row."""
    with conn.cursor() as cur:
        cur.execute(as_template(sql), params or ())
        row = cur.fetchone()
    return None if row is None else row[0]


def fetchone(
    conn: pymysql.connections.Connection, sql: str, params: Sequence[Any] | None = None,
) -> tuple | None:
    """The first row of ``sql`` (bound ``params``) as a tuple, or None when there is no row."""
    with conn.cursor() as cur:
        cur.execute(as_template(sql), params or ())
        row = cur.fetchone()
    return None if row is None else tuple(row)


@dataclass(frozen=True)
class OpenTransaction:
    """An open read-write InnoDB transaction of another session (``information_schema.INNODB_TRX``)."""

    id: str  # trx_id
    started: datetime  # aware UTC
    thread_id: int  # the session (PROCESSLIST ID, what KILL takes)
    database: str | None  # the session's current database (PROCESSLIST.DB); None: unknown

    def describe(self) -> str:
        """``transaction 4242 (session 17, database shop) open since 2026-12-03 18:00:01.5+00:00``."""
        where = f", database {self.database}" if self.database else ""
        return f"transaction {self.id} (session {self.thread_id}{where}) open since {self.started.isoformat(sep=' ')}"


def oldest_write_transaction(conn: pymysql.connections.Connection, *, scope: str = "server",
                             database: str | None = None) -> OpenTransaction | None:
    """The oldest other open read-write InnoDB transaction in ``scope``, or None.

    Rows it writes may carry cursor values from before it commits, so an upper bound must stay below it.
    InnoDB does not say which tables a transaction wrote; the narrowest scope MariaDB allows is the
    session's current database (``PROCESSLIST.DB``): ``scope="database"`` skips transactions of sessions
    whose current database is another one than ``database`` (a session with no current database, or one
    this user may not see, still counts). ``"server"`` counts every one, ``"off"`` none. None also when
    the user lacks the PROCESS privilege that ``INNODB_TRX`` needs; InnoDB refreshes that view at most
    every 100 ms, which the safety lag covers.
    """
    if scope == "off":
        return None
    sql = ("SELECT t.trx_id, t.trx_started, t.trx_mysql_thread_id, p.DB FROM information_schema.INNODB_TRX t"
           " LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id"
           " WHERE t.trx_is_read_only = 0 AND t.trx_rows_modified > 0 AND t.trx_mysql_thread_id <> CONNECTION_ID()")
    params: list[Any] = []
    if scope == "database" and database:
        sql += " AND (p.DB IS NULL OR p.DB = %s)"
        params.append(database)
    try:
        row = fetchone(conn, sql + " ORDER BY t.trx_started LIMIT 1", params)
    except pymysql.err.MySQLError as exc:
        if exc.args and exc.args[0] in (1227, 1142, 1044):  # access denied to the view
            return None
        raise
    if row is None:
        return None
    trx_id, started, thread_id, db = row
    return OpenTransaction(str(trx_id), started.replace(tzinfo=UTC), int(thread_id), db or None)


def server_now(conn: pymysql.connections.Connection) -> datetime:
    """The server clock, ``NOW(6)`` in the UTC session, as an aware datetime."""
    value = scalar(conn, "SELECT NOW(6)")
    return value.replace(tzinfo=UTC)


def describe_table(conn: pymysql.connections.Connection, db: str, table: str) -> TableInfo:
    """Columns (ordinal order), primary key, indexes, engine and row estimate of ``db.table``."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT ENGINE, TABLE_ROWS, AVG_ROW_LENGTH FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (db, table),
        )
        found = cur.fetchone()
        if found is None:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (db,))
            names = [r[0] for r in cur.fetchall()]
            hint = _suggest(table, names) if names else f"database {db!r} has no tables or does not exist"
            raise TableNotFound(f"{db}.{table}", hint=hint)
        engine, approx_rows, avg_row_length = found
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, ORDINAL_POSITION, NUMERIC_PRECISION,"
            " NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, CHARACTER_MAXIMUM_LENGTH,"
            " CHARACTER_OCTET_LENGTH, EXTRA FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        described = cur.fetchall()
        extra = {r[0]: r[11] for r in described if r[11]}
        columns = [
            Column(
                name=r[0], data_type=r[1].lower(), column_type=r[2], nullable=r[3] == "YES",
                ordinal=int(r[4]),
                precision=_int(r[5]), scale=_int(r[6]), datetime_precision=_int(r[7]),
                unsigned="unsigned" in r[2].lower(), charset=r[8], max_length=_int(r[9]),
                octet_length=_int(r[10]), table=f"{db}.{table}",
            )
            for r in described
        ]
        cur.execute(
            "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (db, table),
        )
        indexes: dict[str, list[str]] = {}
        unique: dict[str, list[str]] = {}
        for index_name, column_name, non_unique in cur.fetchall():
            indexes.setdefault(index_name, []).append(column_name)
            if not int(non_unique):
                unique.setdefault(index_name, []).append(column_name)
    return TableInfo(
        db=db, name=table, columns=columns, primary_key=list(indexes.get("PRIMARY", [])),
        indexes=indexes, engine=engine, approx_rows=_int(approx_rows), unique_keys=unique,
        avg_row_length=_int(avg_row_length), extra=extra,
    )


def has_index_prefix(info: TableInfo, columns: Sequence[str]) -> bool:
    """Whether some index starts with exactly these columns, in this order (so a range scan can use it)."""
    wanted = [c.lower() for c in columns]
    return bool(wanted) and any(
        [c.lower() for c in cols[: len(wanted)]] == wanted for cols in info.indexes.values()
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _suggest(name: str, choices: Sequence[str]) -> str:
    """A close match among ``choices``, else the first ten of them."""
    shown = ", ".join(sorted(choices)[:10])
    return suggest(name, choices, n=3, cutoff=0.5) or (f"available: {shown}" if shown else "no candidates")


def check(source: SourceLike) -> dict[str, Any]:
    """Connect (through the SSH tunnel if there is one) and run ``SELECT VERSION()``, with timings.

    A failure raises a SourceError that never holds the password.
    """
    start = time.perf_counter()
    link = connect(source)
    try:
        connected = time.perf_counter()
        server = scalar(link, "SELECT VERSION()")
    except pymysql.err.MySQLError as exc:
        raise SourceError(f"SELECT VERSION() failed: {exc}", where=tunnel.address(source)) from None
    finally:
        link.close()
    result: dict[str, Any] = {"status": "ok", "connect_ms": round((connected - start) * 1000, 1),
                              "latency_ms": round((time.perf_counter() - connected) * 1000, 1)}
    bastion = getattr(source, "ssh_tunnel", None)
    via = f", via SSH {bastion.host}:{bastion.port}" if bastion else ""
    result["detail"] = f"{server} ({result['latency_ms']} ms query, {result['connect_ms']} ms connect{via})"
    return result
