"""Transient network faults, injected by a TCP proxy between the extractor and moto and between the
extractor and MariaDB (tests/_faultproxy.py: seeded, loopback only): syncs with concurrent source writes
retry what was dropped or cut, end with every table current and the lake equal to MySQL, and say so in
warnings ("… retrying (n/5)").
"""

from __future__ import annotations

import io
import json
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _e2e_support import CURSOR_TABLES, KEYS, TABLES, Stack, make_config
from _faultproxy import FaultProxy

from extractor import retry
from extractor.config import load_project
from extractor.sync import SyncOptions, sync_pipeline

SEED = 21
RATE = 0.15  # of the connections to each server: dropped, delayed or cut mid-stream
SYNCS = 5
ORDERS = 600  # order_items: 1,500 rows in pages of 400 → several pages and files per initial load
SIZES = {"batch_rows": 400, "file_max_rows": 800}


def _point_at(monkeypatch: pytest.MonkeyPatch, mysql_port: int, s3_url: str) -> None:
    monkeypatch.setenv("MYSQL_PORT", str(mysql_port))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_url)


@pytest.mark.s3
@pytest.mark.slow  # ~30 s each: five syncs of four tables through both proxies, then until current
@pytest.mark.parametrize("reader", ["connectorx", "pymysql"])
def test_syncs_through_a_faulty_network_end_current_and_equal_to_mysql(
        mysql_db: Any, s3_server: Any, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, reader: str) -> None:
    monkeypatch.setattr(retry, "BASE_SECONDS", 0.05)  # the policy, faster: 0.05, 0.1, 0.2, 0.4 s
    stack = Stack(mysql_db, tmp_path, f"s3://{s3_bucket}/lake", make_config(tmp_path, safety_lag=0.5, **SIZES),
                  extra_env={"AWS_MAX_ATTEMPTS": "5"}).apply(monkeypatch)
    stack.create_sample(ORDERS)
    s3_port = urlparse(s3_server.url).port
    with FaultProxy(s3_port, rate=RATE, seed=SEED) as s3_proxy, \
            FaultProxy(mysql_db.port, rate=RATE, seed=SEED + 1, cut_bytes=4096) as mysql_proxy:
        _point_at(monkeypatch, mysql_proxy.port, f"http://127.0.0.1:{s3_proxy.port}")
        project = load_project(stack.config, "test")
        pipeline = project.pipeline("sales")
        source = project.source(pipeline.source)

        stop = threading.Event()
        writes: list[int] = []

        def write_concurrently() -> None:  # straight to MariaDB, not through the proxy
            rng = random.Random(SEED)
            conn = mysql_db.connect()
            try:
                with conn.cursor() as cur:
                    while not stop.wait(0.1):
                        for table, key in (("customers", "customer_id"), ("orders", "order_id")):
                            cur.execute(f"UPDATE {table} SET updated_at = NOW(6) WHERE {key} IN (%s, %s, %s)",
                                        [rng.randint(1, 300) for _ in range(3)])
                        cur.execute("UPDATE order_items SET quantity = quantity + 1, updated_at = NOW(6)"
                                    " WHERE order_id = %s", (rng.randint(1, ORDERS),))
                        cur.execute("INSERT INTO orders (order_id, customer_id, status, order_total, currency,"
                                    " ordered_at, updated_at) SELECT MAX(order_id) + 1, 1, 'placed', 9.99, 'EUR',"
                                    " NOW(6), NOW(6) FROM orders")
                        writes.append(1)
            finally:
                conn.close()

        writer = threading.Thread(target=write_concurrently, name="source-writes")
        writer.start()
        try:
            reports = [sync_pipeline(pipeline, source, SyncOptions(reader=reader)) for _ in range(SYNCS)]
        finally:
            stop.set()
            writer.join(30)
        failed = [(r.run_id, t.table, t.error) for r in reports for t in r.tables if t.status != "success"]
        assert not failed, failed
        # The writes stopped: the next syncs (faults still on) bring every table up to date.
        for _ in range(6):
            final = sync_pipeline(pipeline, source, SyncOptions(reader=reader))
            assert final.ok, final.to_dict()
            differences = {t: _lake_differs_from_mysql(stack, s3_server, s3_bucket, t) for t in TABLES}
            if not any(differences.values()):
                break
        stats = {"s3": dict(s3_proxy.stats), "mysql": dict(mysql_proxy.stats)}

    assert writes, "no source writes happened during the syncs"
    assert all(proxy.get(kind) for proxy in stats.values() for kind in ("drop", "cut")), stats
    assert not any(differences.values()), differences  # every table current, the lake equal to MySQL
    retries = [r.getMessage() for r in caplog.records if "retrying (" in r.getMessage()]
    assert any("lost connection to MySQL" in m for m in retries), (stats, retries)
    # Whether a random S3 cut lands inside a GetObject body (ours to retry) or anywhere else (botocore
    # retries those itself, AWS_MAX_ATTEMPTS) depends on the request order; the lake read policy is shown
    # deterministically by tests/extractor/test_retry.py. Any lake retry that happened is worded the same.
    assert all("lake read interrupted" in m or "MySQL" in m for m in retries), retries
    assert all("/5) in " in m for m in retries), retries


def _lake_differs_from_mysql(stack: Stack, s3_server: Any, bucket: str, table: str) -> str | None:
    """What differs between MySQL's rows and the lake's current rows (the newest version per key, deletes
    dropped), or a version landed twice, or a data file no watermark lists; None when they agree.

    Read straight from moto with boto3 (pyarrow's S3 client takes ~0.4 s per small file against moto).
    """
    client = s3_server.client()
    layout = stack.layout(table)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"lake/{layout.data_prefix}").get("Contents", [])
    files = [pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))
             for o in listed if o["Key"].endswith(".parquet")]
    state = json.loads(client.get_object(Bucket=bucket, Key=f"lake/{layout.state_key}")["Body"].read())
    pending = {f"lake/{p['key']}" for p in state["pending_files"]}
    orphans = [o["Key"] for o in listed if o["Key"] not in pending]
    if orphans:
        return f"files no watermark lists: {orphans}"
    lake = pa.concat_tables(files, promote_options="default")
    keys = KEYS[table]
    names = [n for n in lake.column_names if not n.startswith("_")]
    rows = lake.to_pylist()
    if table in CURSOR_TABLES:
        versions = Counter(tuple(r[c] for c in (*keys, "updated_at", "_op")) for r in rows)
        doubled = [v for v, n in versions.items() if n > 1]
        if doubled:
            return f"versions landed twice: {doubled[:3]}"
    # Files are in write order (run id, sequence): the last version of a key is the current one.
    current: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        current[tuple(r[c] for c in keys)] = r
    in_lake = {tuple(r[c] for c in names) for r in current.values() if r["_op"] != "D"}
    columns = ", ".join(f"`{n}`" for n in names)
    in_mysql = set(stack.db.query(f"SELECT {columns} FROM `{table}`"))
    if in_lake != in_mysql:
        return f"{len(in_mysql - in_lake)} row(s) missing or stale in the lake, {len(in_lake - in_mysql)} extra"
    return None
