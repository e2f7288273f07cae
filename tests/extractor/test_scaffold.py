"""extractor.scaffold: generated model files are kept in step with the pipeline YAML, edited ones never lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from extractor import scaffold
from extractor.config import load_project
from extractor.errors import WarehouseError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "dbt_project" / "models").mkdir(parents=True)
    shutil.copy(ROOT / "dbt_project.yml", tmp_path)
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def _pipeline(project: Path):
    return load_project(project / "config", None).pipeline("sales")


def test_scaffold_writes_thin_models_for_every_table_and_history_for_dimensions(project):
    done = scaffold.scaffold(_pipeline(project), project)
    models = project / "dbt_project" / "models"
    assert sorted(p.relative_to(models).as_posix() for p in models.rglob("*.sql")) == [
        "history/hist_sales__customers.sql", "history/hist_sales__products.sql",
        "landing/lnd_sales__customers.sql", "landing/lnd_sales__order_items.sql", "landing/lnd_sales__orders.sql",
        "landing/lnd_sales__products.sql", "staging/stg_sales__customers.sql", "staging/stg_sales__order_items.sql",
        "staging/stg_sales__orders.sql", "staging/stg_sales__products.sql"]
    assert len(done.written) == 13
    staging = (models / "staging" / "stg_sales__order_items.sql").read_text()
    assert "unique_key=['order_id', 'line_no']" in staging
    assert ("{{ generated_staging('sales', 'order_items', ref('lnd_sales__order_items'), key=['order_id', 'line_no'],"
            " cursor='updated_at', strategy='hybrid') }}") in staging
    assert "unique_combination_of_columns" in (models / "staging" / "_sales__staging.yml").read_text()
    again = scaffold.scaffold(_pipeline(project), project)
    assert again.written == [] and len(again.unchanged) == 13


def test_an_edited_generated_file_is_kept_and_run_stops_when_the_yaml_moved_on(project):
    scaffold.scaffold(_pipeline(project), project)
    staging = project / "dbt_project" / "models" / "staging" / "stg_sales__orders.sql"
    edited = staging.read_text() + "-- my change\n"
    staging.write_text(edited)
    assert "dbt_project/models/staging/stg_sales__orders.sql" in scaffold.scaffold(_pipeline(project), project).kept_edited
    # in step with the YAML: run keeps the edit and goes on
    scaffold.scaffold(_pipeline(project), project, strict=True)
    assert staging.read_text() == edited
    pipeline_file = project / "config" / "pipelines" / "sales.yml"
    pipeline_file.write_text(pipeline_file.read_text().replace("id_columns: [order_id]", "id_columns: [order_id, customer_id]"))
    with pytest.raises(WarehouseError) as caught:
        scaffold.scaffold(_pipeline(project), project, strict=True)
    assert "\n" not in str(caught.value)
    assert "stg_sales__orders.sql was edited by hand and no longer matches pipelines/sales.yml" in str(caught.value)
    assert "`extractor dbt scaffold -p sales --force`" in str(caught.value)
    scaffold.scaffold(_pipeline(project), project, force=True)
    assert "unique_key=['order_id', 'customer_id']" in staging.read_text()


def test_a_file_without_the_header_is_the_users_and_a_removed_table_loses_only_unedited_files(project):
    models = project / "dbt_project" / "models"
    (models / "staging").mkdir()
    mine = models / "staging" / "stg_sales__products.sql"
    mine.write_text("select 1 as product_id\n")
    done = scaffold.scaffold(_pipeline(project), project)
    assert mine.read_text() == "select 1 as product_id\n"
    assert "dbt_project/models/staging/stg_sales__products.sql" in done.owned
    assert "stg_sales__products" not in (models / "staging" / "_sales__staging.yml").read_text()
    pipeline_file = project / "config" / "pipelines" / "sales.yml"
    text = pipeline_file.read_text()
    start = text.index("  order_items:")
    pipeline_file.write_text(text[:start])
    gone = scaffold.scaffold(_pipeline(project), project)
    assert sorted(gone.removed) == ["dbt_project/models/landing/lnd_sales__order_items.sql",
                                    "dbt_project/models/staging/stg_sales__order_items.sql"]


def test_sync_stops_with_the_command_when_the_project_has_no_models_for_the_pipeline(project):
    with pytest.raises(WarehouseError, match=r"run `extractor dbt scaffold -p sales` once"):
        scaffold.sync(None, _pipeline(project), project, discover=False)


def test_run_keeps_a_sources_file_that_differs_only_in_the_interpolated_database(project, monkeypatch):
    from extractor import dbt

    scaffold.scaffold(_pipeline(project), project)
    shutil.copy(ROOT / "dbt_project" / "models" / "landing" / "_sales__sources.yml",
                project / "dbt_project" / "models" / "landing" / "_sales__sources.yml")
    checked_in = (project / "dbt_project" / "models" / "landing" / "_sales__sources.yml").read_text()
    columns = dbt.read_source_columns(project / "dbt_project" / "models" / "landing" / "_sales__sources.yml")
    monkeypatch.setenv("SALES_DB", "t_other")
    scaffold.sync(None, _pipeline(project), project, columns=columns)
    sources = project / "dbt_project" / "models" / "landing" / "_sales__sources.yml"
    assert sources.read_text() == checked_in
    columns["customers"] = [*columns["customers"], dbt.ColumnSpec("loyalty_points", "INTEGER")]
    scaffold.sync(None, _pipeline(project), project, columns=columns)
    assert "loyalty_points" in sources.read_text()  # a column change is written
