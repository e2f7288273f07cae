"""Per-table tasks on separate machines: four `extractor sync -p NAME -t T` processes at once, one S3 lake.

Eight tables with dependencies, spread over four worker processes so that every dependent is extracted
by another process than (some of) its dependencies; MySQL keeps changing while they run. Afterwards the
lake holds, for every key, exactly MySQL's row as its latest version, and no version twice.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from extractor.lake import open_lake

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

#: table → (strategy, depends_on). t5 is re-read whole (deletes land as tombstones); t8 is append-only.
TABLES = {
    "t1": ("hybrid", []), "t2": ("hybrid", ["t1"]), "t3": ("hybrid", ["t1"]), "t4": ("hybrid", ["t2", "t3"]),
    "t5": ("full_sync", []), "t6": ("hybrid", ["t5"]), "t7": ("hybrid", ["t6", "t1"]), "t8": ("id", ["t4", "t7"]),
}
#: Four workers; a dependent is never in the same process as all of its dependencies.
WORKERS = [["t1", "t5"], ["t2", "t6"], ["t3", "t7"], ["t4", "t8"]]
SEED_ROWS = 300


def _pipeline(db: str, bucket: str) -> dict:
    tables = {}
    for name, (strategy, deps) in TABLES.items():
        spec = {"source_table": f"{db}.{name}", "cdc_strategy": strategy, "id_columns": ["id"], "depends_on": deps}
        if strategy == "hybrid":
            spec["cursor_column"] = "updated_at"
        tables[name] = spec
    return {"pipeline": {"name": "wide", "source": "sales_mysql", "target_schema": "wide_raw",
                         "lake": f"s3://{bucket}/lake"},
            "defaults": {"batch_rows": 50, "file_max_rows": 100, "safety_lag_seconds": 0.5, "parallelism": 2,
                         "dependency_wait_seconds": 60},
            "tables": tables}


def _create_tables(mysql_db) -> None:
    for name in TABLES:
        mysql_db.execute(
            f"CREATE TABLE {name} (id INT AUTO_INCREMENT PRIMARY KEY, val INT NOT NULL, "
            "updated_at DATETIME(6) NOT NULL DEFAULT NOW(6), KEY ix_cursor (updated_at, id))")
        values = ", ".join(f"({i})" for i in range(SEED_ROWS))
        mysql_db.execute(f"INSERT INTO {name} (val) VALUES {values}")


def _write_changes(mysql_db, stop: threading.Event, counts: Counter) -> None:
    """Updates, inserts (and deletes on the full_sync table) until told to stop, in small transactions."""
    rng = random.Random(20)
    conn = mysql_db.connect()
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                name = rng.choice(list(TABLES))
                strategy = TABLES[name][0]
                action = rng.random()
                if strategy == "id" or action < 0.3:
                    cur.execute(f"INSERT INTO {name} (val) VALUES (%s)", (rng.randrange(1000),))
                    counts["insert"] += 1
                elif strategy == "full_sync" and action > 0.85:
                    cur.execute(f"DELETE FROM {name} ORDER BY RAND() LIMIT 1")
                    counts["delete"] += 1
                else:
                    cur.execute(f"UPDATE {name} SET val = val + 1, updated_at = NOW(6) WHERE id = %s",
                                (rng.randrange(1, SEED_ROWS),))
                    counts["update"] += 1
                time.sleep(0.005)
    finally:
        conn.close()


def _round(env: dict, cwd: Path) -> list[subprocess.CompletedProcess]:
    """One round: the four workers started at once, each syncing its tables, as a scheduler's workers would."""
    procs = [subprocess.Popen([sys.executable, "-m", "extractor", "sync", "-p", "wide",
                               *[arg for t in tables for arg in ("-t", t)], "--json"],
                              env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tables in WORKERS]
    done = []
    for proc, tables in zip(procs, WORKERS, strict=True):
        out, err = proc.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(tables, proc.returncode, out, err))
    return done


def _lake_rows(bucket_url: str, db: str, table: str) -> pa.Table:
    storage = open_lake(bucket_url)
    fs, root = storage.arrow_filesystem()
    keys = [o.key for o in storage.list(f"data/sales_mysql/{db}/wide_raw/{table}/") if o.key.endswith(".parquet")]
    return pa.concat_tables([pq.read_table(f"{root}/{k}", filesystem=fs) for k in keys], promote_options="default")


def test_four_processes_syncing_eight_dependent_tables_at_once_lose_and_duplicate_nothing(
        mysql_db, s3_bucket, tmp_path):
    _create_tables(mysql_db)
    config = tmp_path / "config"
    (config / "pipelines").mkdir(parents=True)
    (config / "connections.yml").write_text((ROOT / "config" / "connections.yml").read_text())
    (config / "pipelines" / "wide.yml").write_text(yaml.safe_dump(_pipeline(mysql_db.database, s3_bucket)))
    env = {**os.environ, **mysql_db.env(), "EXTRACTOR_CONFIG_DIR": str(config), "AWS_MAX_ATTEMPTS": "3",
           "PYTHONPATH": str(ROOT)}

    stop, counts = threading.Event(), Counter()
    writer = threading.Thread(target=_write_changes, args=(mysql_db, stop, counts), daemon=True)
    writer.start()
    try:
        rounds = [_round(env, tmp_path) for _ in range(3)]  # three scheduled rounds while MySQL changes
    finally:
        stop.set()
        writer.join(timeout=10)
    time.sleep(1.0)  # past the safety lag: the last changes are now readable
    rounds += [_round(env, tmp_path) for _ in range(2)]

    for number, results in enumerate(rounds, 1):
        for done in results:
            assert done.returncode == 0, f"round {number}, worker {done.args}: {done.stderr[-2000:]}{done.stdout[-2000:]}"
    assert counts["update"] > 50 and counts["insert"] > 20 and counts["delete"] > 0, counts

    bucket_url = f"s3://{s3_bucket}/lake"
    for table, (strategy, _deps) in TABLES.items():
        source = {r[0]: (r[1], r[2]) for r in mysql_db.query(f"SELECT id, val, updated_at FROM {table}")}
        lake = _lake_rows(bucket_url, mysql_db.database, table)
        rows = sorted(zip(lake.column("id").to_pylist(), lake.column("val").to_pylist(),
                          lake.column("updated_at").to_pylist(), lake.column("_op").to_pylist(),
                          lake.column("_batch_id").to_pylist(), strict=True),
                      key=lambda r: r[4])  # stable: file order within a batch
        latest = {}
        for key, val, updated, op, _batch in rows:  # batches in extraction order: the last one wins
            latest[key] = None if op == "D" else (val, updated.replace(tzinfo=None) if updated else None)
        current = {k: v for k, v in latest.items() if v is not None}
        assert current == source, f"{table}: the lake's latest versions differ from MySQL"
        if strategy != "full_sync":  # a full_sync table lands a whole copy every run, by design
            versions = Counter((key, updated, op) for key, _val, updated, op, _batch in rows)
            assert [v for v, n in versions.items() if n > 1] == [], f"{table}: a version landed twice"
