"""Fixtures for pipeline-level tests: a config dir pointed at a per-test database and lake."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Workspace:
    """A copy of config/ whose pipelines read the test database and write a tmp lake."""

    config_dir: Path
    lake: Path
    db: object  # tests.conftest.MySQLDatabase

    def write_pipeline(self, name: str, body: str) -> Path:
        path = self.config_dir / "pipelines" / f"{name}.yml"
        path.write_text(textwrap.dedent(body))
        return path

    def cli(self, *args: str):  # noqa: ANN201
        from extractor.cli import app

        return CliRunner().invoke(app, [*args, "--config-dir", str(self.config_dir)])

    def lake_rows(self, table: str, pipeline_source: str = "sales_mysql", schema: str = "sales_raw") -> pa.Table:
        root = self.lake / "data" / pipeline_source / self.db.database / schema / table
        files = sorted(root.rglob("*.parquet"))
        if not files:
            return pa.table({})
        return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


@pytest.fixture
def workspace(mysql_db, tmp_path, monkeypatch) -> Workspace:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    lake = tmp_path / "lake"
    for key, value in mysql_db.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SALES_DB", mysql_db.database)
    monkeypatch.setenv("EXTRACTOR_LAKE", str(lake))
    return Workspace(config, lake, mysql_db)
