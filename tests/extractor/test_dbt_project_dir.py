"""Where `extractor run` and `dbt sources` work: the user's dbt project (never the package's own), its warehouse file
and the part of the project a run builds."""

from __future__ import annotations

import shutil
from pathlib import Path

from extractor import dbt

ROOT = Path(__file__).resolve().parents[2]


def _models(project: Path) -> list[Path]:
    return sorted(project.rglob("_sales__sources.yml"))


def test_dbt_sources_outside_a_project_stops_with_one_line_and_writes_nothing(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    before = (ROOT / "dbt_project" / "models" / "landing" / "_sales__sources.yml").stat().st_mtime_ns
    from typer.testing import CliRunner

    from extractor.cli import app

    done = CliRunner().invoke(app, ["dbt", "sources", "-p", "sales", "--keep-columns",
                                    "--config-dir", str(tmp_path / "config")])
    assert done.exit_code == 2, done.output
    assert done.stderr == (f"error: {outside}: not inside a dbt project: no dbt_project.yml here, in a parent "
                           "directory or beside the config directory — run from the dbt project's root or pass "
                           "--project-dir\n")
    assert (ROOT / "dbt_project" / "models" / "landing" / "_sales__sources.yml").stat().st_mtime_ns == before
    assert _models(tmp_path) == []


def test_dbt_sources_honours_project_dir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: proj\n")
    monkeypatch.chdir(tmp_path)
    from typer.testing import CliRunner

    from extractor.cli import app

    args = ["dbt", "sources", "-p", "sales", "--keep-columns", "--config-dir", str(tmp_path / "config")]
    done = CliRunner().invoke(app, [*args, "--project-dir", str(project)])
    assert done.exit_code == 0, done.output
    assert _models(tmp_path) == [project / "dbt_project" / "models" / "landing" / "_sales__sources.yml"]


def test_the_project_is_found_from_a_subdirectory_and_beside_the_config(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    (project / "models" / "deep").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: proj\n")
    monkeypatch.chdir(project / "models" / "deep")
    assert dbt.project_dir_for(None) == project.resolve()
    monkeypatch.chdir(tmp_path)
    assert dbt.project_dir_for(project / "config") == project.resolve()


def test_one_variable_drives_the_extractor_target_and_dbt_and_a_divergence_is_said(tmp_path, monkeypatch):
    from extractor.config import load_project

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    monkeypatch.setenv("DBT_DUCKDB_PATH", str(tmp_path / "one.duckdb"))
    project = load_project(config, None)
    sales = project.pipeline("sales")
    assert project.target("local_duckdb").path == str(tmp_path / "one.duckdb")  # connections.yml reads it
    assert dbt.build_env(project, sales)["DBT_DUCKDB_PATH"] == str(tmp_path / "one.duckdb")  # run hands it to dbt
    assert dbt.warehouse_warnings(project, sales) == []

    (config / "environments" / "pinned.yml").write_text(
        f"connections:\n  targets:\n    local_duckdb: {{path: {tmp_path / 'other.duckdb'}}}\n")
    pinned = load_project(config, "pinned")
    [warning] = dbt.warehouse_warnings(pinned, pinned.pipeline("sales"))
    assert warning.startswith(f"DBT_DUCKDB_PATH is {tmp_path / 'one.duckdb'}, but target 'local_duckdb' "
                              f"(connections.yml) is {tmp_path / 'other.duckdb'}: extractor run and verify use")


def test_run_selects_the_pipelines_own_part_of_the_project_by_default(tmp_path):
    from extractor.config import load_project

    sales = load_project(ROOT / "config", None).pipeline("sales")
    assert dbt.default_selection(sales) == ["@source:sales"]
    assert dbt.default_selection(sales, ["orders", "customers"]) == ["@source:sales.orders", "@source:sales.customers"]
    argv = dbt.dbt_command(ROOT, tmp_path, None, select=dbt.default_selection(sales))
    assert argv[argv.index("--select") + 1:] == ["@source:sales"]
