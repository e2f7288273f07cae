"""Shared helpers of the end-to-end reliability tests: a pipeline environment over a test database.

``Stack`` bundles a fresh MySQL database, a lake (local dir or s3://), a config dir (the shipped one plus
an ``environments/test.yml`` overlay: ci-sized batches/files and a 1 s safety lag) and a DuckDB file; it
runs the real CLI in a subprocess (so ``EXTRACTOR_FAULTS`` can SIGKILL it), dbt, and verification.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from extractor import dbt
from extractor.config import load_project
from extractor.lake import TableLayout, open_lake
from extractor.state import WatermarkStore
from extractor.verify import VerifyReport, verify_pipeline

ROOT = Path(__file__).resolve().parents[2]
EXTRACTOR = [sys.executable, "-m", "extractor"]
TABLES = ("customers", "products", "orders", "order_items")
KEYS = {"customers": ("customer_id",), "products": ("product_id",), "orders": ("order_id",),
        "order_items": ("order_id", "line_no")}
CURSOR_TABLES = ("customers", "orders", "order_items")


def make_config(tmp: Path, *, safety_lag: float = 1.0, **defaults: Any) -> Path:
    """A copy of config/ with ``environments/test.yml``: ci sizes, a short safety lag, strict NULL cursors."""
    config = tmp / "config"
    shutil.copytree(ROOT / "config", config)
    overlay = {"batch_rows": 5000, "file_max_rows": 20000, "parallelism": 1, "null_cursor_policy": "fail",
               "safety_lag_seconds": safety_lag, **defaults}
    (config / "environments" / "test.yml").write_text(yaml.safe_dump(
        {"connections": {"sources": {"sales_mysql": {"connect_timeout": 5}}},
         "pipelines": {"sales": {"defaults": overlay}}}))
    return config


@dataclass
class Stack:
    """One test's pipeline environment (see the module docstring)."""

    db: Any  # conftest.MySQLDatabase
    tmp: Path
    lake: str
    config: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return self.tmp / "warehouse.duckdb"

    def environ(self) -> dict[str, str]:
        return {**self.db.env(), "SALES_DB": self.db.database, "EXTRACTOR_LAKE": self.lake,
                "EXTRACTOR_CONFIG_DIR": str(self.config), "EXTRACTOR_ENV": "test",
                "DBT_DUCKDB_PATH": str(self.warehouse),
                "TZ": "UTC", "AWS_MAX_ATTEMPTS": "2", **self.extra_env}

    def apply(self, monkeypatch: pytest.MonkeyPatch) -> Stack:
        """Export the environment to this process too (in-process sync and verify read it)."""
        for key, value in self.environ().items():
            monkeypatch.setenv(key, value)
        return self

    # -- the CLI -------------------------------------------------------------------------------------

    def cli(self, *args: str, faults: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.environ()}
        env.pop("EXTRACTOR_FAULTS", None)
        if faults:
            env["EXTRACTOR_FAULTS"] = faults
        return subprocess.run([*EXTRACTOR, *args], cwd=self.tmp, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def sync(self, *args: str, faults: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.cli("sync", "-p", "sales", *args, faults=faults)

    def create_sample(self, orders: int) -> None:
        done = self.cli("sample", "create", "--orders", str(orders), "--database", self.db.database)
        assert done.returncode == 0, done.stderr

    # -- the lake ------------------------------------------------------------------------------------

    def project(self) -> Any:
        return load_project(self.config, "test")

    def layout(self, table: str) -> TableLayout:
        return TableLayout("sales_mysql", self.db.database, "sales_raw", table)

    def storage(self) -> Any:
        return open_lake(self.lake)

    def watermark(self, table: str) -> Any:
        return WatermarkStore(self.storage(), self.layout(table)).load()[0]

    def data_keys(self, table: str) -> list[str]:
        return [o.key for o in self.storage().list(self.layout(table).data_prefix) if o.key.endswith(".parquet")]

    def read_table(self, table: str) -> Any:
        storage = self.storage()
        fs, root = storage.arrow_filesystem()
        tables = [pq.read_table(f"{root}/{key}", filesystem=fs) for key in self.data_keys(table)]
        import pyarrow as pa

        return pa.concat_tables(tables, promote_options="default") if tables else None

    def duplicate_versions(self, table: str) -> list[tuple[Any, ...]]:
        """(key…, cursor, _op) versions landed in more than one file — must be none for cursor tables."""
        data = self.read_table(table)
        if data is None:
            return []
        cols = [*KEYS[table], "updated_at", "_op"]
        rows = zip(*(data.column(c).to_pylist() for c in cols), strict=True)
        return [v for v, n in Counter(rows).items() if n > 1]

    def uncommitted_files(self, table: str) -> list[str]:
        """Data files the watermark does not list (orphans of a crash nobody adopted or cleaned)."""
        wm = self.watermark(table)
        committed = {p.key for p in wm.pending_files} if wm else set()
        return [k for k in self.data_keys(table) if k not in committed]

    # -- checks --------------------------------------------------------------------------------------

    def verify(self, *, warehouse: bool = True) -> VerifyReport:
        return verify_pipeline(self.project(), "sales", target=str(self.warehouse), warehouse=warehouse)

    def sync_until_current(self, *args: str, timeout: float = 45.0, warehouse: bool = False) -> VerifyReport:
        """Sync until every source row is within the watermarks (the safety lag and open transactions pass)."""
        deadline = time.monotonic() + timeout
        while True:
            done = self.sync(*args)
            assert done.returncode == 0, f"sync failed:\n{done.stdout}\n{done.stderr}"
            report = self.verify(warehouse=warehouse)
            if all(t.in_flight == 0 for t in report.tables) or time.monotonic() > deadline:
                blockers = self.db.query(
                    "SELECT t.trx_mysql_thread_id, t.trx_started, t.trx_rows_modified, p.DB, LEFT(p.INFO, 60) "
                    "FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p "
                    "ON p.ID = t.trx_mysql_thread_id")
                assert all(t.in_flight == 0 for t in report.tables), (
                    f"rows still in flight after syncing for {timeout:.0f} s; open transactions on the server "
                    f"(thread, started, rows modified, db, query): {blockers}\n{report.text()}\n{done.stdout}")
                return report
            time.sleep(0.5)

    def dbt_build(self, *extra: str) -> int:
        profiles = self.tmp / "profiles"
        if not profiles.exists():
            profiles.mkdir()
            (profiles / "profiles.yml").write_text((ROOT / "profiles.example.yml").read_text())
        args = ["--target-path", str(self.tmp / "target"), "--log-path", str(self.tmp / "logs"), "--quiet",
                *extra]
        env = {k: v for k, v in self.environ().items() if k.startswith(("DBT_", "AWS_", "TZ"))}
        env["DBT_TARGET"] = "duckdb"
        return dbt.build(ROOT, profiles, "duckdb", vars={"lake_root": self.lake, "sales_source_db": self.db.database},
                         extra=args, env=env)

    def warehouse_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def landing_duplicates(self) -> dict[str, int]:
        """Rows landed twice (same batch, same key, same _op) per landing table — must be zero."""
        out = {}
        for table in TABLES:
            keys = ", ".join(KEYS[table])
            out[table] = self.warehouse_rows(
                f"select count(*) from (select _batch_id, {keys}, _op, count(*) n from "
                f"main_landing.lnd_sales__{table} group by all having count(*) > 1)")[0][0]
        return out


def assert_lake_matches_source(stack: Stack, *, tables: tuple[str, ...] = TABLES) -> VerifyReport:
    """verify ok (lake = source within the watermarks), no version landed twice, no orphan files."""
    report = stack.verify(warehouse=False)
    assert report.ok, report.text()
    for table in tables:
        if table in CURSOR_TABLES:
            assert stack.duplicate_versions(table) == [], f"{table}: versions landed twice"
        assert stack.uncommitted_files(table) == [], f"{table}: uncommitted files left in the lake"
    return report
