"""Transient faults are retried (extractor/retry.py), with a warning per retry, and reported in one line
only when they last: a MySQL connection lost after it opened (at the handshake, during a control query),
and a lake read cut mid-response. A connection that never opens is a configuration problem: not retried.
Faults come from the project's TCP proxy (tests/_faultproxy.py) or a KILL on the server.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlparse

import pymysql
import pytest
from _faultproxy import FaultProxy
from _sources import Source
from pydantic import SecretStr

from extractor import mysql, retry
from extractor.errors import LakeError, SourceError, SourceUnreachable
from extractor.lake import open_lake


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BASE_SECONDS", 0.01)


def _source(db, port: int | None = None) -> Source:  # noqa: ANN001
    return Source(db.host, port or db.port, db.user, SecretStr(db.password), db.database, connect_timeout=3)


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "retrying (" in r.getMessage()]


# -- MySQL ------------------------------------------------------------------------------------------------


def test_a_connection_lost_at_the_handshake_is_retried_until_it_opens(mysql_db, caplog) -> None:  # noqa: ANN001
    with FaultProxy(mysql_db.port, rate=1.0, seed=1, kinds=("drop",), first=2) as proxy:
        conn = mysql.connect(_source(mysql_db, proxy.port))
        try:
            assert mysql.scalar(conn, "SELECT @@session.time_zone") == "+00:00"
        finally:
            conn.close()
    assert _retries(caplog) == [
        f"127.0.0.1:{proxy.port}: lost connection to MySQL while connecting ((2013, 'Lost connection to MySQL "
        f"server during query')); retrying ({n}/5) in {0.01 * 2 ** (n - 2):.1f} s" for n in (2, 3)]


def test_a_connection_lost_on_every_attempt_says_so_not_check_your_credentials(mysql_db, caplog) -> None:  # noqa: ANN001
    with FaultProxy(mysql_db.port, rate=1.0, seed=1, kinds=("drop",)) as proxy, \
            pytest.raises(SourceUnreachable) as caught:
        mysql.connect(_source(mysql_db, proxy.port))
    assert str(caught.value) == (
        f"127.0.0.1:{proxy.port}: the MySQL server accepted the connection as 'root', then lost it (5 times in a "
        "row): (2013, 'Lost connection to MySQL server during query') — check the server's error log and "
        "max_connections, and any proxy or firewall between; the next run resumes where this one stopped")
    assert proxy.stats["drop"] == retry.ATTEMPTS and len(_retries(caplog)) == retry.ATTEMPTS - 1


def test_a_connection_that_never_opens_fails_at_once_with_the_configuration_hint(caplog) -> None:  # noqa: ANN001
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        mysql.connect(Source("127.0.0.1", 1, "root", SecretStr(""), connect_timeout=2))
    assert "check host, port, credentials and that the server is reachable" in str(caught.value)
    assert _retries(caplog) == [] and time.monotonic() - started < 2


def _kill(db, conn) -> None:  # noqa: ANN001
    thread_id = conn.thread_id()
    db.execute(f"KILL {int(thread_id)}")
    time.sleep(0.05)


def test_a_control_query_whose_connection_was_killed_reconnects_in_utc_and_runs_again(mysql_db, caplog) -> None:  # noqa: ANN001
    conn = mysql.connect(_source(mysql_db))
    try:
        before = conn.thread_id()
        _kill(mysql_db, conn)
        assert mysql.scalar(conn, "SELECT @@session.time_zone") == "+00:00"  # the session is set up again
        assert conn.thread_id() != before
    finally:
        conn.close()
    [warning] = _retries(caplog)
    assert "lost connection to MySQL during a query" in warning and warning.endswith("retrying (2/5) in 0.0 s")


def test_a_write_whose_connection_was_lost_is_not_run_again(mysql_db, caplog) -> None:  # noqa: ANN001
    """It may have committed before the connection went: running it again could apply it twice."""
    mysql_db.execute("CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT)")
    conn = mysql.connect(_source(mysql_db))
    try:
        _kill(mysql_db, conn)
        with pytest.raises(pymysql.err.OperationalError), conn.cursor() as cur:
            cur.execute("INSERT INTO t () VALUES ()")
    finally:
        conn.close()
    assert mysql_db.query("SELECT COUNT(*) FROM t") == [(0,)] and _retries(caplog) == []


def test_a_control_query_lost_on_every_attempt_is_one_line(mysql_db) -> None:  # noqa: ANN001
    with FaultProxy(mysql_db.port, rate=0.0, seed=1, kinds=("drop",)) as proxy:
        conn = mysql.connect(_source(mysql_db, proxy.port))
        proxy.rate = 1.0  # from now on every reconnect is dropped
        _kill(mysql_db, conn)
        with pytest.raises(SourceUnreachable) as caught:
            mysql.scalar(conn, "SELECT 1")
    assert str(caught.value).startswith(
        f"127.0.0.1:{proxy.port}: lost the connection to MySQL 5 times in a row during a query: (2013, ")
    assert str(caught.value).endswith("— check the server's error log, the network and read_timeout; the next "
                                      "run resumes where this one stopped")


# -- the lake -------------------------------------------------------------------------------------------

BODY = bytes(range(256)) * 400  # 100 KiB: a response cut after its headers is cut in the body


def _through(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")


@pytest.mark.s3
def test_a_lake_read_cut_mid_response_is_retried(s3_server, s3_bucket, monkeypatch, caplog) -> None:  # noqa: ANN001
    open_lake(f"s3://{s3_bucket}/lake").put_bytes("state/t.json", BODY)
    with FaultProxy(urlparse(s3_server.url).port, rate=1.0, seed=1, kinds=("cut",), cut_min=2_000,
                    cut_bytes=50_000, first=1) as proxy:
        _through(proxy, monkeypatch)
        data, _token = open_lake(f"s3://{s3_bucket}/lake", max_attempts=1).get_bytes("state/t.json")
    assert data == BODY and proxy.stats["cut"] == 1
    [warning] = _retries(caplog)
    assert warning.startswith(f"s3://{s3_bucket}/lake/state/t.json: lake read interrupted (ResponseStreamingError: ")
    assert "IncompleteRead" in warning and warning.endswith("retrying (2/5) in 0.0 s")


@pytest.mark.s3
def test_a_lake_read_cut_on_every_attempt_fails_in_one_line(s3_server, s3_bucket, monkeypatch) -> None:  # noqa: ANN001
    open_lake(f"s3://{s3_bucket}/lake").put_bytes("state/t.json", BODY)
    with FaultProxy(urlparse(s3_server.url).port, rate=1.0, seed=1, kinds=("cut",), cut_min=2_000,
                    cut_bytes=50_000) as proxy, pytest.raises(LakeError) as caught:
        _through(proxy, monkeypatch)
        open_lake(f"s3://{s3_bucket}/lake", max_attempts=1).get_bytes("state/t.json")
    text = str(caught.value)
    assert text.startswith(f"s3://{s3_bucket}/lake/state/t.json: cannot read: interrupted 5 times in a row "
                           "(ResponseStreamingError: ")
    assert text.endswith(f"— the S3 endpoint 127.0.0.1:{proxy.port} keeps dropping responses: check it and the "
                         "network; the next run resumes where this one stopped") and "\n" not in text


@pytest.mark.s3
@pytest.mark.parametrize("condition", ["if_none_match", "if_match"])
def test_a_conditional_write_whose_response_was_lost_is_not_a_false_conflict(
        s3_server, s3_bucket, monkeypatch, caplog, condition: str) -> None:  # noqa: ANN001
    """boto3 sends the PUT again; the condition then fails against our own first write, which did land."""
    token = open_lake(f"s3://{s3_bucket}/lake").put_bytes("state/t.json", b"v1")
    # 60 bytes: past the server's "HTTP/1.1 100 Continue" (sent twice by moto: 50 bytes), inside the final response.
    with FaultProxy(urlparse(s3_server.url).port, rate=1.0, seed=1, kinds=("cut",), cut_min=60, cut_bytes=60,
                    first=1) as proxy:
        _through(proxy, monkeypatch)
        storage = open_lake(f"s3://{s3_bucket}/lake", max_attempts=3)
        if condition == "if_match":
            storage.put_bytes("state/t.json", b"v2", if_match=token)
            key, body = "state/t.json", b"v2"
        else:
            storage.put_bytes("state/new.json", b"created", if_none_match=True)
            key, body = "state/new.json", b"created"
    assert proxy.stats["cut"] == 1
    assert s3_server.client().get_object(Bucket=s3_bucket, Key=f"lake/{key}")["Body"].read() == body
    assert "a conditional write was sent twice" in caplog.text


def test_a_reconnect_after_use_opens_the_database_chosen_last(mysql_db, caplog) -> None:  # noqa: ANN001
    mysql_db.execute("CREATE TABLE `odd``name` (v INT)", "INSERT INTO `odd``name` VALUES (7)")
    conn = mysql.connect(Source(mysql_db.host, mysql_db.port, mysql_db.user, SecretStr(mysql_db.password)))
    try:
        with conn.cursor() as cur:
            cur.execute(f"USE `{mysql_db.database}`")
        _kill(mysql_db, conn)
        assert mysql.scalar(conn, "SELECT v FROM `odd``name`") == 7
    finally:
        conn.close()
    assert len(_retries(caplog)) == 1
