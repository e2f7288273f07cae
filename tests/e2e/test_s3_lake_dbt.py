"""An S3 lake (moto server) read by dbt on DuckDB through s3fs: `extractor run` end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_run_against_an_s3_lake_builds_the_warehouse(mysql_db, s3_server, s3_bucket, tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    env = {
        **os.environ, **mysql_db.env(), "SALES_DB": mysql_db.database, "EXTRACTOR_CONFIG_DIR": str(config),
        "EXTRACTOR_LAKE": f"s3://{s3_bucket}/lake", "EXTRACTOR_ENV": "demo", "AWS_MAX_ATTEMPTS": "2",
    }

    def extractor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "extractor", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True)

    assert extractor("sample", "create", "--orders", "300").returncode == 0
    done = extractor("run", "-p", "sales", "--project-dir", str(ROOT))  # run from outside the project
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "acknowledged orders: 1 batch(es), 300 rows; 0 pending" in done.stdout
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(k.startswith("lake/data/sales_mysql/") and k.endswith(".parquet") for k in keys)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from main_marts.fct_orders").fetchone() == (300,)
    wm = json.loads(extractor("watermark", "get", "-p", "sales", "-t", "orders", "--json").stdout)
    assert wm["load"]["status"] == "loaded"
