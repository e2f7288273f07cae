"""Fault injection: every crash, lost connection and failed write is followed by a run that loses nothing
and duplicates nothing (lake = source by ``extractor.verify``; no version landed twice; no orphan files).

Crash points are SIGKILLs from ``EXTRACTOR_FAULTS`` (extractor/faults.py) in a real ``extractor sync``
subprocess; small batches and files make order_items (7,500 rows for 3,000 orders) span two files of
several pages each.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from _e2e_support import TABLES, Stack, assert_lake_matches_source, make_config

from extractor import reader as reader_module
from extractor import retry
from extractor.config import load_project
from extractor.sync import SyncOptions, sync_pipeline

ORDERS = 3_000  # order_items: 7,500 rows → 2 files of 6,000 rows max, pages of 2,000
SIZES = {"batch_rows": 2000, "file_max_rows": 6000}


@pytest.fixture
def stack(mysql_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:  # noqa: ANN001
    s = Stack(mysql_db, tmp_path, str(tmp_path / "lake"), make_config(tmp_path, **SIZES)).apply(monkeypatch)
    s.create_sample(ORDERS)
    return s


# -- SIGKILL at every point of a table's run ------------------------------------------------------------

CRASHES = [
    # (fault, what the next run must report)
    ("page_read:3", None),  # after 2 pages of the second table: nothing uncommitted in the lake
    ("file_written:1", "adopted 1 file(s)"),  # first file durable, watermark not moved yet
    ("file_written:3", "adopted 1 file(s)"),  # orders' file (after customers' and products')
    ("watermark_saved:1", None),  # the watermark moved: nothing to adopt
    ("manifest_written:1", None),  # manifest written, final watermark not: the run is still 'running'
    ("manifest_written:4", None),
]


@pytest.mark.parametrize(("fault", "recovery_note"), CRASHES, ids=[c[0] for c in CRASHES])
def test_a_run_killed_at_any_point_resumes_without_loss_or_duplicates(stack: Stack, fault: str,
                                                                      recovery_note: str | None) -> None:
    crashed = stack.sync(faults=fault)
    assert crashed.returncode == -signal.SIGKILL, f"the fault {fault} was not reached:\n{crashed.stdout}"

    resumed = stack.sync()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    if recovery_note:
        assert recovery_note in resumed.stdout, resumed.stdout
    assert "deleted uncommitted file" not in resumed.stdout  # adoption, not re-extraction
    assert_lake_matches_source(stack)


def test_orphan_file_after_the_first_committed_one_is_adopted_in_sequence(stack: Stack) -> None:
    """order_items' second file (seq 1) is durable but not committed: adopted, not re-read."""
    crashed = stack.sync("-t", "order_items", faults="file_written:2")
    assert crashed.returncode == -signal.SIGKILL
    wm = stack.watermark("order_items")
    assert wm.mysql.status == "running" and len(wm.pending_files) == 1
    assert len(stack.data_keys("order_items")) == 2

    resumed = stack.sync("-t", "order_items")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "adopted 1 file(s)" in resumed.stdout
    assert_lake_matches_source(stack, tables=("order_items",))


def test_a_crash_during_full_sync_deletes_its_unadoptable_file(stack: Stack) -> None:
    """full_sync files are not adoptable (their tombstones come at the end): the orphan is deleted."""
    crashed = stack.sync("-t", "products", faults="file_written:1")
    assert crashed.returncode == -signal.SIGKILL
    resumed = stack.sync("-t", "products")
    assert resumed.returncode == 0
    assert "deleted uncommitted file" in resumed.stdout
    assert_lake_matches_source(stack, tables=("products",))


def test_crashes_in_consecutive_runs_with_changes_between_them(stack: Stack) -> None:
    assert stack.sync().returncode == 0
    stack.db.execute("UPDATE order_items SET quantity = quantity + 1, updated_at = NOW(6) WHERE order_id % 3 = 0")
    time.sleep(1.2)  # past the safety lag
    assert stack.sync(faults="file_written:1").returncode == -signal.SIGKILL
    assert stack.sync(faults="page_read:2").returncode == -signal.SIGKILL
    stack.sync_until_current()
    assert_lake_matches_source(stack)


# -- a stale lock ---------------------------------------------------------------------------------------


def _dead_pid() -> int:
    pid = os.getpid() + 100_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


@pytest.mark.parametrize("kind", ["dead_process", "expired"])
def test_a_stale_lock_is_taken_over_with_a_warning(stack: Stack, kind: str) -> None:
    now = datetime.now(UTC)
    lock = {"owner": "crashed-run", "run_id": "20260101T000000000000Z-dead00",
            "host": socket.gethostname() if kind == "dead_process" else "some-other-host",
            "pid": _dead_pid() if kind == "dead_process" else 1,
            "acquired_at": (now - timedelta(hours=2)).isoformat(),
            "expires_at": (now + timedelta(hours=1) if kind == "dead_process" else now - timedelta(minutes=1)).isoformat()}
    storage = stack.storage()
    storage.put_bytes(stack.layout("orders").lock_key, json.dumps(lock).encode())

    done = stack.sync("-t", "customers", "-t", "orders")
    assert done.returncode == 0, done.stdout + done.stderr
    reason = "is gone" if kind == "dead_process" else "expired at"
    assert "took over the lock of sales_raw.orders from run 20260101T000000000000Z-dead00" in done.stderr
    assert reason in done.stderr
    assert storage.get_bytes(stack.layout("orders").lock_key) is None  # released after the run


def test_a_live_lock_is_refused_with_the_holder_named(stack: Stack) -> None:
    now = datetime.now(UTC)
    lock = {"owner": "other-run", "run_id": "20260101T000000000000Z-alive0", "host": socket.gethostname(),
            "pid": os.getpid(), "acquired_at": now.isoformat(), "expires_at": (now + timedelta(hours=1)).isoformat()}
    stack.storage().put_bytes(stack.layout("orders").lock_key, json.dumps(lock).encode())
    done = stack.sync("-t", "customers", "-t", "orders")
    assert done.returncode == 5
    assert (f"error: orders: state/sales_mysql/{stack.db.database}/sales_raw/orders.lock" in done.stdout
            or "is locked by run 20260101T000000000000Z-alive0" in done.stdout), done.stdout
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in done.stdout
    assert "extractor lock break sales_raw.orders" in done.stdout


# -- the MySQL connection killed mid-read ---------------------------------------------------------------


def _wait_for_query(admin: Any, pattern: str, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with admin.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
                        (pattern,))
            row = cur.fetchone()
        if row:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError(f"no query like {pattern!r} showed up")


@pytest.mark.parametrize("reader", ["pymysql", "connectorx"])
def test_a_killed_mysql_connection_is_retried_and_the_run_succeeds(stack: Stack, reader: str,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The page query waits on a table lock; its connection is KILLed; the reader reconnects and re-runs it."""
    monkeypatch.setattr(retry, "BASE_SECONDS", 0.2)
    project = load_project(stack.config, "test")
    pipeline = project.pipeline("sales")
    locker = stack.db.connect()
    with locker.cursor() as cur:
        cur.execute("LOCK TABLES products WRITE")  # the full_sync page query blocks on it
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(report=sync_pipeline(
        pipeline, project.source(pipeline.source), SyncOptions(tables=["products"], reader=reader))))
    worker.start()
    try:
        victim = _wait_for_query(locker, f"SELECT %FROM `{stack.db.database}`.`products`%LIMIT%")
        with locker.cursor() as cur:
            cur.execute(f"KILL {victim}")
        _wait_for_query(locker, f"SELECT %FROM `{stack.db.database}`.`products`%LIMIT%")  # the retry
    except AssertionError:
        worker.join(5)
        raise AssertionError(f"not retried: {result.get('report') and result['report'].to_dict()}") from None
    finally:
        with locker.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        locker.close()
        worker.join(60)
    report = result["report"]
    assert report.ok, report.to_dict()
    assert "lost connection to MySQL" in caplog.text and "retrying (2/5)" in caplog.text
    assert_lake_matches_source(stack, tables=("products",))


def test_a_connection_lost_on_every_attempt_fails_with_one_clear_line(stack: Stack,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import pymysql

    monkeypatch.setattr(retry, "BASE_SECONDS", 0.0)
    calls = []

    def lost(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise pymysql.err.OperationalError(2013, "Lost connection to server during query")

    rdr = reader_module.PymysqlReader(stack.project().source("sales_mysql"))
    from extractor.errors import SourceError
    from extractor.types import Column

    # A context, so the patch is gone before the fixtures' teardown drops the database.
    with monkeypatch.context() as patch, pytest.raises(SourceError) as caught:
        patch.setattr(pymysql.cursors.Cursor, "execute", lost)
        rdr.read([Column("product_id", "int", "int(11)", table=f"{stack.db.database}.products")],
                 f"FROM `{stack.db.database}`.`products` LIMIT 1", [])
    assert len(calls) == retry.ATTEMPTS
    assert str(caught.value).startswith(f"{stack.db.database}.products: lost the MySQL connection 5 times in a row")
    assert "\n" not in str(caught.value)


# -- S3 failures: a proxy in front of moto ----------------------------------------------------------------


class _FaultyS3Proxy:
    """Forwards HTTP to moto; from the ``fail_from``-th PUT of a data file on, answers 500 or drops the socket."""

    def __init__(self, upstream: str, mode: str, fail_from: int) -> None:
        self.upstream = urlparse(upstream)
        self.mode, self.fail_from, self.data_puts, self.failing = mode, fail_from, 0, True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                import http.client

                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "PUT" and "/data/" in self.path:
                    proxy.data_puts += 1
                    if proxy.failing and proxy.data_puts >= proxy.fail_from:
                        if proxy.mode == "drop":
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.send_response(500)
                        payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
                headers["Host"] = proxy.upstream.netloc
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.s3
@pytest.mark.slow  # botocore's own retries back off for ~20 s before the run gives up
@pytest.mark.parametrize("mode", ["http_500", "drop"])
def test_s3_write_failures_fail_the_run_clearly_and_the_next_run_recovers(
        mysql_db, s3_server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:  # noqa: ANN001
    proxy = _FaultyS3Proxy(s3_server.url, mode, fail_from=3)
    try:
        stack = Stack(mysql_db, tmp_path, f"s3://{s3_bucket}/lake", make_config(tmp_path, **SIZES),
                      extra_env={"AWS_ENDPOINT_URL": proxy.url, "AWS_ENDPOINT_URL_S3": proxy.url,
                                 "AWS_MAX_ATTEMPTS": "2"})
        stack.create_sample(ORDERS)
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)  # in-process checks read moto directly
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.url)
        for key, value in stack.environ().items():
            if not key.startswith("AWS_"):
                monkeypatch.setenv(key, value)

        failed = stack.sync()
        assert failed.returncode == 4, failed.stdout + failed.stderr
        errors = [line for line in failed.stdout.splitlines() if line.startswith("error: ")]
        assert errors, failed.stdout
        assert "cannot upload" in errors[0] and "s3://" in errors[0], failed.stdout  # one line: what, where, hint
        assert all("cannot upload" in e or "skipped: depends on" in e for e in errors), failed.stdout
        assert "Traceback" not in failed.stdout + failed.stderr
        # The watermark never points past durable data: each committed file exists, and what it says is there.
        for table in TABLES:
            wm = stack.watermark(table)
            if wm is not None:
                assert set(p.key for p in wm.pending_files) <= set(stack.data_keys(table))
        report = stack.verify(warehouse=False)
        assert all(t.missing_in_lake == 0 and t.different_in_lake == 0 for t in report.tables), report.text()

        proxy.failing = False
        healed = stack.sync()
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert_lake_matches_source(stack)
    finally:
        proxy.close()


# -- dbt build failing halfway ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_dbt_build_that_fails_halfway_lands_nothing_twice_when_re_run(stack: Stack) -> None:
    stack.sync_until_current()
    lake = Path(stack.lake)
    bad = next(lake.glob("data/*/*/sales_raw/order_items/dt=*")) / "order_items__corrupt__00000.parquet"
    bad.write_bytes(b"not a parquet file")
    assert stack.dbt_build() != 0  # lnd_sales__order_items (and what depends on it) fails; the rest builds
    built = stack.warehouse_rows("select count(*) from main_landing.lnd_sales__orders")[0][0]
    assert built == ORDERS
    bad.unlink()

    stack.db.execute("UPDATE orders SET status = 'paid', updated_at = NOW(6) WHERE order_id % 7 = 0")
    stack.sync_until_current()
    assert stack.dbt_build() == 0
    assert stack.landing_duplicates() == dict.fromkeys(TABLES, 0)
    report = stack.verify()
    assert report.ok, report.text()
