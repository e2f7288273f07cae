"""extractor discover: the CLI on a real MariaDB (write/force, globs) and the choices on catalogue records."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from extractor import cdc, discover, discovery
from extractor.mysql import TableInfo
from extractor.types import Column

ROOT = Path(__file__).resolve().parents[2]


def _cli(db, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **db.env()}
    env.pop("EXTRACTOR_CONFIG_DIR", None)
    return subprocess.run([sys.executable, "-m", "extractor", "discover", "--source", "sales_mysql", "--database",
                           db.database, "--target", "local_duckdb", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def test_discover_write_never_overwrites_without_force_and_honours_globs(mysql_db, tmp_path):
    mysql_db.execute("CREATE TABLE a_one (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)",
                     "CREATE TABLE a_two (id INT PRIMARY KEY)", "CREATE TABLE b_three (id INT PRIMARY KEY)")
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "connections.yml", tmp_path / "config")
    printed = _cli(mysql_db, tmp_path, "--include", "a_*", "--exclude", "*two")
    assert printed.returncode == 0, printed.stderr
    assert "  a_one:\n" in printed.stdout and "a_two:" not in printed.stdout.split("# Left out")[0]
    assert "# Left out by --include/--exclude: a_two, b_three" in printed.stdout
    assert _cli(mysql_db, tmp_path, "--pipeline", "mine", "--write").returncode == 0
    written = tmp_path / "config" / "pipelines" / "mine.yml"
    before = written.read_text()
    again = _cli(mysql_db, tmp_path, "--pipeline", "mine", "--write", "--include", "b_*")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1].endswith(
        "mine.yml: pipeline file already exists — pass --force to overwrite it, or --pipeline OTHER_NAME to write another")
    assert written.read_text() == before
    assert _cli(mysql_db, tmp_path, "--pipeline", "mine", "--write", "--include", "b_*", "--force").returncode == 0
    assert "b_three:" in written.read_text() and "a_one:" not in written.read_text()


def _col(name: str, data_type: str, ordinal: int, nullable: bool = False) -> Column:
    return Column(name=name, data_type=data_type, column_type=data_type, nullable=nullable, ordinal=ordinal)


def test_a_large_table_without_cursor_is_full_sync_with_a_warning_and_an_index_never_repeats_a_column():
    big = TableInfo(db="d", name="big", columns=[_col("code", "varchar", 1), _col("v", "int", 2)],
                    primary_key=["code"], approx_rows=discover.FULL_SYNC_WARN_ROWS + 1, engine="InnoDB",
                    indexes={"PRIMARY": ["code"]})
    plan = discover.plan_table(big)
    assert plan.strategy == "full_sync" and plan.warnings and "re-read every run" in plan.warnings[0]
    keyed = TableInfo(db="d", name="ev", columns=[_col("ts", "datetime", 1), _col("id", "int", 2)],
                      primary_key=["ts", "id"], indexes={"PRIMARY": ["ts", "id"]}, engine="InnoDB")
    assert cdc.order_columns("ts", ["ts", "id"]) == ("ts", "id")
    assert discovery.create_index_sql(keyed.db, keyed.name, ["ts", "id"]) == \
        "CREATE INDEX `ix_ev_ts_id` ON `d`.`ev` (`ts`, `id`)"
    cursor, why = discover.choose_cursor(
        TableInfo(db="d", name="t", columns=[_col("updated_at", "datetime", 1), _col("stamp", "timestamp", 2)],
                  extra={"stamp": "on update current_timestamp()"}))
    assert cursor == "stamp" and "ON UPDATE" in why


def test_discover_of_a_database_without_tables_says_so_in_one_line(mysql_db, tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "connections.yml", tmp_path / "config")
    done = _cli(mysql_db, tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip() == (f"error: {mysql_db.database}: nothing to discover in database "
                                   f"'{mysql_db.database}' — it has no tables")
