"""A user's own dbt project and database for the onboarding tests: discover → scaffold → run, via the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class UserProject:
    """A dbt project with no models yet (this repo's macros), a config dir and a DuckDB file, in ``root``."""

    root: Path
    db: Any  # conftest.MySQLDatabase

    @classmethod
    def create(cls, root: Path, db: Any) -> UserProject:
        (root / "dbt_project" / "models").mkdir(parents=True)
        for name in ("dbt_project.yml", "profiles.example.yml"):
            shutil.copy(ROOT / name, root / name)
        shutil.copytree(ROOT / "macros", root / "macros")
        (root / "config" / "pipelines").mkdir(parents=True)
        shutil.copy(ROOT / "config" / "connections.yml", root / "config" / "connections.yml")
        return cls(root, db)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.db.env(), "EXTRACTOR_DUCKDB": str(self.warehouse), "TZ": "UTC",
               "DBT_DUCKDB_PATH": str(self.warehouse)}
        for key in ("EXTRACTOR_CONFIG_DIR", "EXTRACTOR_ENV", "EXTRACTOR_LAKE", "DBT_TARGET"):
            env.pop(key, None)
        return subprocess.run([sys.executable, "-m", "extractor", *args], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=180, check=False)

    def ok(self, *args: str) -> str:
        done = self.cli(*args)
        assert done.returncode == 0, f"extractor {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def columns(self, relation: str) -> list[str]:
        schema, table = relation.split(".")
        return [r[0] for r in self.rows(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
            " order by ordinal_position".replace("?", "'{}'").format(schema, table))]


def _norm(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, bytes | bytearray) and len(value) <= 8:
        return int.from_bytes(value, "big")  # BIT(n) in MySQL, an integer in the lake
    if isinstance(value, timedelta):  # TIME lands as a Parquet duration, which DuckDB reads as microseconds
        return value // timedelta(microseconds=1)
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def mysql_rows(db: Any, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    cols = ", ".join(f"`{c}`" for c in columns)
    return sorted((tuple(_norm(v) for v in r) for r in db.query(f"SELECT {cols} FROM `{table}`")), key=repr)


def staging_rows(project: UserProject, relation: str, columns: list[str]) -> list[tuple[Any, ...]]:
    cols = ", ".join(f'"{c}"' for c in columns)
    return sorted((tuple(_norm(v) for v in r) for r in project.rows(f"select {cols} from {relation}")), key=repr)


def source_columns(db: Any, table: str) -> list[str]:
    return [r[0] for r in db.query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
        " ORDER BY ORDINAL_POSITION", (table,))]


def assert_staging_equals_mysql(project: UserProject, pipeline: str, tables: list[str],
                                exclude: dict[str, list[str]] | None = None) -> None:
    for table in tables:
        columns = [c for c in source_columns(project.db, table) if c not in (exclude or {}).get(table, [])]
        expected = mysql_rows(project.db, table, columns)
        got = staging_rows(project, f"main_staging.stg_{pipeline}__{table}", columns)
        assert got == expected, f"{table}: staging differs from MySQL\nstaging {got}\nmysql   {expected}"


def assert_history_sound(project: UserProject, relation: str, key: list[str]) -> None:
    """One current row per live key, no overlapping or gapped windows (the generic tests' rules, again)."""
    keys = ", ".join(key)
    bad = project.rows(
        f"select {keys}, valid_from, valid_to, next_from from (select {keys}, valid_from, valid_to, is_deleted,"
        f" lead(valid_from) over (partition by {keys} order by valid_from) as next_from from {relation})"
        " where (next_from is not null and not is_deleted and valid_to is distinct from next_from)"
        " or (valid_to is not null and valid_to <= valid_from)")
    assert bad == [], f"{relation}: gaps or overlaps {bad}"
    doubles = project.rows(f"select {keys} from {relation} where is_current group by all having count(*) > 1")
    assert doubles == [], f"{relation}: several current rows for {doubles}"
