"""The control connection against the real MariaDB: UTC session, discovery, safe errors."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from _sources import Source
from pydantic import SecretStr

from extractor import mysql
from extractor.discovery import choose_cursor, facts_from_table
from extractor.errors import ConfigError, SourceError
from extractor.quoting import quote_ident


def source_for(db, password: str | None = None) -> Source:
    secret = SecretStr(db.password if password is None else password)
    return Source(db.host, db.port, db.user, secret, db.database)


def test_session_is_utc_utf8mb4_and_autocommit(mysql_db):
    conn = mysql.connect(source_for(mysql_db))
    try:
        assert mysql.scalar(conn, "SELECT @@session.time_zone") == "+00:00"
        assert mysql.scalar(conn, "SELECT @@character_set_results") == "utf8mb4"
        assert mysql.scalar(conn, "SELECT @@autocommit") == 1
        assert mysql.scalar(conn, "SELECT DATABASE()") == mysql_db.database
        assert mysql.scalar(conn, "SELECT %s", ["😀"]) == "😀"
    finally:
        conn.close()


def test_connections_share_one_unverified_tls_context_in_preferred_mode(mysql_db, monkeypatch):
    """pymysql's default (PREFERRED) mode rebuilt its TLS context per connect, loading the CA bundle
    (~30 ms); the extractor builds it once, with the same settings, and never loads CA files for it."""
    import ssl

    first = mysql.connect(source_for(mysql_db))
    loads: list[object] = []
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", lambda *a, **k: loads.append(a))
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", lambda *a, **k: loads.append(a))
    second = mysql.connect(source_for(mysql_db))
    try:
        assert first.ctx is second.ctx and loads == []
        assert first.ctx.verify_mode == ssl.CERT_NONE and not first.ctx.check_hostname
        assert mysql.scalar(second, "SELECT 1") == 1
    finally:
        first.close()
        second.close()


def test_wrong_password_is_a_source_error_without_the_password(mysql_db):
    user, secret = f"u_{uuid.uuid4().hex[:10]}", f"Pw-{uuid.uuid4().hex}"
    mysql_db.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'")
    try:
        good = Source(mysql_db.host, mysql_db.port, user, SecretStr(secret))
        mysql.connect(good).close()
        bad = Source(mysql_db.host, mysql_db.port, user, SecretStr(secret + "x"))
        with pytest.raises(SourceError) as err:
            mysql.connect(bad)
        text = str(err.value)
        assert secret not in text and f"{mysql_db.host}:{mysql_db.port}" in text and "Access denied" in text
        assert err.value.__cause__ is None and err.value.__suppress_context__
    finally:
        mysql_db.execute(f"DROP USER '{user}'@'%'")


def test_unreachable_server_names_host_and_port():
    source = Source("127.0.0.1", 1, "root", SecretStr("hunter2-secret"), connect_timeout=2)
    with pytest.raises(SourceError) as err:
        mysql.connect(source)
    assert "127.0.0.1:1" in str(err.value) and "hunter2-secret" not in str(err.value)


@pytest.mark.parametrize("name", ["orders", "Order_Items", "t$1", "x" * 64, "2024_sales"])
def test_quote_ident_accepts_plain_identifiers(name):
    assert quote_ident(name) == f"`{name}`"


@pytest.mark.parametrize(("name", "quoted"), [
    ("a`b", "`a``b`"), ("a b", "`a b`"), ("a;drop table x", "`a;drop table x`"), ("naïve", "`naïve`"),
    ("a.b", "`a.b`"), ("order-lines", "`order-lines`"),
])
def test_quote_ident_quotes_any_mysql_name_safely(name, quoted):
    assert quote_ident(name) == quoted


@pytest.mark.parametrize("name", ["", "x" * 65, "trailing ", "a\x00b", "new\nline", None])
def test_quote_ident_refuses_what_mysql_refuses(name):
    with pytest.raises(SourceError):
        quote_ident(name)


@pytest.fixture
def orders(mysql_db):
    mysql_db.execute(
        """CREATE TABLE orders (
            tenant_id INT NOT NULL, order_id BIGINT UNSIGNED NOT NULL, amount DECIMAL(12,2),
            created_at DATETIME(6) NOT NULL, modified_at TIMESTAMP(6) NULL, updated_at DATETIME(6) NOT NULL,
            note VARCHAR(50) CHARACTER SET latin1,
            PRIMARY KEY (tenant_id, order_id), KEY ix_updated (updated_at, tenant_id, order_id),
            KEY ix_note (note)
        ) ENGINE=InnoDB""",
        "CREATE TABLE customers (id INT PRIMARY KEY)",
    )
    conn = mysql.connect(source_for(mysql_db))
    yield conn, mysql_db.database
    conn.close()


def test_describe_table_reads_columns_keys_and_indexes(orders):
    conn, db = orders
    info = mysql.describe_table(conn, db, "orders")
    assert (info.db, info.name, info.engine) == (db, "orders", "InnoDB")
    assert [c.name for c in info.columns] == [
        "tenant_id", "order_id", "amount", "created_at", "modified_at", "updated_at", "note",
    ]
    assert [c.ordinal for c in info.columns] == list(range(1, 8))
    assert info.primary_key == ["tenant_id", "order_id"]
    assert info.indexes["ix_updated"] == ["updated_at", "tenant_id", "order_id"]
    order_id = info.column("order_id")
    assert order_id.unsigned and order_id.data_type == "bigint" and not order_id.nullable
    assert order_id.where == f"{db}.orders.order_id"
    amount = info.column("amount")
    assert (amount.precision, amount.scale, amount.nullable) == (12, 2, True)
    assert info.column("created_at").datetime_precision == 6
    assert info.column("note").charset == "latin1"
    assert isinstance(info.approx_rows, int)


def test_missing_table_is_a_config_error_naming_it_and_suggesting_a_close_name(orders):
    conn, db = orders
    with pytest.raises(ConfigError) as err:
        mysql.describe_table(conn, db, "order")
    assert str(err.value) == f"table '{db}.order' not found in MySQL — did you mean 'orders'?"
    assert err.value.exit_code == ConfigError.exit_code


def test_missing_column_is_a_config_error_naming_it_and_suggesting_a_close_name(orders):
    conn, db = orders
    with pytest.raises(ConfigError, match=f"column 'updatedat' not found in {db}.orders — did you mean 'updated_at'"):
        mysql.describe_table(conn, db, "orders").column("updatedat")


def test_missing_database_is_a_config_error(orders):
    conn, _ = orders
    with pytest.raises(ConfigError, match="no tables or does not exist"):
        mysql.describe_table(conn, "no_such_db_here", "orders")


def test_describe_table_binds_names_as_values(orders):
    conn, db = orders
    with pytest.raises(ConfigError, match="not found"):
        mysql.describe_table(conn, db, "orders' OR '1'='1")


def test_has_index_prefix(orders):
    conn, db = orders
    info = mysql.describe_table(conn, db, "orders")
    assert mysql.has_index_prefix(info, ["updated_at"])
    assert mysql.has_index_prefix(info, ["updated_at", "tenant_id", "order_id"])
    assert mysql.has_index_prefix(info, ["tenant_id", "order_id"])
    assert not mysql.has_index_prefix(info, ["order_id"])
    assert not mysql.has_index_prefix(info, ["tenant_id", "updated_at"])
    assert not mysql.has_index_prefix(info, [])


def test_cursor_candidates_are_ranked_by_name_then_not_null(orders):
    conn, db = orders
    choice = choose_cursor(facts_from_table(mysql.describe_table(conn, db, "orders")))
    assert (choice.column, choice.alternatives) == ("updated_at", ("modified_at",))
    assert choose_cursor(facts_from_table(mysql.describe_table(conn, db, "customers"))).column is None


def test_server_now_is_aware_utc(orders):
    conn, _ = orders
    now = mysql.server_now(conn)
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=5)


def test_scalar_returns_none_without_rows(orders):
    conn, db = orders
    assert mysql.scalar(conn, f"SELECT order_id FROM `{db}`.orders WHERE tenant_id = %s", [1]) is None
    assert mysql.scalar(conn, "SELECT %s + %s", [1, 2]) == 3


def test_fetchone_returns_a_tuple_or_none(orders):
    conn, db = orders
    assert mysql.fetchone(conn, "SELECT %s, %s", [1, "a"]) == (1, "a")
    assert mysql.fetchone(conn, f"SELECT * FROM `{db}`.orders") is None


def _open_writer(mysql_db, database: str, table: str):  # noqa: ANN202
    """A session whose current database is ``database``, with an open write to ``table``; its id and start."""
    writer = mysql_db.connect()
    with writer.cursor() as cur:
        cur.execute(f"USE `{database}`")
        cur.execute("SET time_zone = '+00:00'")
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO {table} VALUES (1)")
        cur.execute("SELECT CONNECTION_ID(), NOW(6)")
        thread_id, began = cur.fetchone()
    time.sleep(0.2)  # InnoDB refreshes its INNODB_TRX cache at most every 100 ms
    return writer, thread_id, began.replace(tzinfo=UTC)


def test_oldest_write_transaction_sees_an_open_writer_and_names_its_database(orders, mysql_db):
    conn, db = orders
    before = mysql.oldest_write_transaction(conn)
    assert before is None or before.started < datetime.now(UTC)
    writer, thread_id, began = _open_writer(mysql_db, db, "customers")
    try:
        oldest = mysql.oldest_write_transaction(conn, scope="server")
        assert oldest is not None and oldest.started.tzinfo is not None
        assert oldest.started <= began + timedelta(seconds=1)
        ours = mysql.oldest_write_transaction(conn, scope="database", database=db)
        assert ours is not None and ours.thread_id == thread_id and ours.database == db
        assert f"session {thread_id}, database {db}) open since" in ours.describe()
    finally:
        writer.rollback()
        writer.close()


def test_an_open_write_in_another_database_does_not_hold_back_a_database_scoped_check(orders, mysql_db):
    """Issue 15 item 7: INNODB_TRX is server-wide; a session writing in another database is not this table's."""
    conn, db = orders
    other = f"{db}_other"
    mysql_db.execute(f"CREATE DATABASE `{other}`", f"CREATE TABLE `{other}`.t (id INT PRIMARY KEY)")
    writer, thread_id, _ = _open_writer(mysql_db, other, "t")
    try:
        scoped = mysql.oldest_write_transaction(conn, scope="database", database=db)
        assert scoped is None or scoped.thread_id != thread_id
        wide = mysql.oldest_write_transaction(conn, scope="server")
        assert wide is not None  # ours, or an older one of another session
        assert mysql.oldest_write_transaction(conn, scope="off") is None
    finally:
        writer.rollback()
        writer.close()
        mysql_db.execute(f"DROP DATABASE `{other}`")

