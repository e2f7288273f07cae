"""The Redshift side that runs without a cluster: the connection check really logs in, one connection truth
(connections.yml → dbt and the acknowledgement), load plans built from the lake at build time (pending
files or a backfill of everything, one COPY manifest per Parquet schema version), oversized values."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extractor import config, dbt, redshift, warehouse
from extractor.errors import WarehouseError
from extractor.lake import TableLayout, open_lake
from extractor.state import WatermarkStore

RS_TARGET = """
    warehouse_rs:
      type: redshift
      host: 127.0.0.1
      port: {port}
      database: dev
      username: awsuser
      password: "{password}"
      iam_role: "{role}"
      schema: prod
"""


def _add_redshift_target(config_dir: Path, *, port: int = 5439, role: str = "arn:aws:iam::1:role/copy",
                         password: str = "not-a-password") -> None:  # noqa: S107
    path = config_dir / "connections.yml"
    text = path.read_text().replace("  targets:", "  targets:" + textwrap.indent(
        textwrap.dedent(RS_TARGET.format(port=port, role=role, password=password)), "    "), 1)
    path.write_text(text)


def _pipeline(workspace, *, table_extra: str = "", name: str = "rs") -> None:  # noqa: ANN001
    workspace.write_pipeline(name, f"""
        pipeline: {{name: {name}, source: sales_mysql, target: warehouse_rs, target_schema: rs_raw, lake: "{workspace.lake}"}}
        defaults: {{safety_lag_seconds: 0}}
        tables:
          notes: {{source_table: "{workspace.db.database}.notes", cdc_strategy: hybrid, cursor_column: updated_at,
                   id_columns: [id]{table_extra}}}
        """)


@pytest.fixture
def notes(workspace):  # noqa: ANN001, ANN201
    workspace.db.execute(
        "CREATE TABLE notes (id INT PRIMARY KEY, title VARCHAR(10) CHARACTER SET latin1, body LONGTEXT,"
        " updated_at DATETIME(6) NOT NULL, KEY (updated_at, id))",
        "INSERT INTO notes VALUES (1, 'Zürich–Köl', 'short', '2025-01-01 00:00:00'),"
        " (2, 'b', 'x', '2025-01-01 00:00:01')",
    )
    _add_redshift_target(workspace.config_dir)
    return workspace


# -- connections test -------------------------------------------------------------------------------------


def test_connections_test_on_a_mysql_port_posing_as_redshift_fails_with_one_line(workspace, mysql_db):  # noqa: ANN001
    _add_redshift_target(workspace.config_dir, port=int(mysql_db.env()["MYSQL_PORT"]))
    result = workspace.cli("connections", "test", "warehouse_rs")
    assert result.exit_code != 0
    assert not result.stdout.startswith("ok")
    assert "cannot log in to redshift 'warehouse_rs'" in result.stderr
    assert result.stderr.count("\n") == 1 and "not-a-password" not in result.output


def test_connections_test_without_a_username_says_credentials_not_tested(workspace, mysql_db):  # noqa: ANN001
    port = int(mysql_db.env()["MYSQL_PORT"])
    target = {"name": "rs", "type": "redshift", "host": "127.0.0.1", "port": port, "username": None}
    checked = redshift.check(target)
    assert checked["status"] == "reachable" and "credentials not tested: no username" in checked["detail"]


# -- one connection truth ---------------------------------------------------------------------------------


def test_dbt_gets_the_connections_yml_target_as_its_profile_env_and_iam_role(notes):  # noqa: ANN001
    project = config.load_project(notes.config_dir)
    _pipeline(notes)
    project = config.load_project(notes.config_dir)
    pipeline = project.pipeline("rs")
    env = dbt.build_env(project, pipeline)
    assert env["DBT_TARGET"] == "redshift" and env["REDSHIFT_HOST"] == "127.0.0.1"
    assert env["REDSHIFT_USER"] == "awsuser" and env["REDSHIFT_PASSWORD"] == "not-a-password"
    assert env["REDSHIFT_SCHEMA"] == "prod" and env["REDSHIFT_IAM_ROLE"] == "arn:aws:iam::1:role/copy"
    variables = dbt.build_vars(project, pipeline)
    assert variables["redshift_iam_role"] == "arn:aws:iam::1:role/copy"
    assert warehouse.redshift_schema(project.target("warehouse_rs")) == "prod"  # what the acknowledgement reads


def test_an_empty_iam_role_stops_extractor_run_before_dbt_with_one_line(notes):  # noqa: ANN001
    (notes.config_dir / "connections.yml").write_text(
        (notes.config_dir / "connections.yml").read_text().replace("arn:aws:iam::1:role/copy", ""))
    _pipeline(notes)
    result = notes.cli("run", "-p", "rs", "--skip-extract")
    assert result.exit_code != 0
    assert "redshift target 'warehouse_rs' has no iam_role" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "dbt build in" not in result.stdout  # dbt never started


def test_a_redshift_target_writes_snappy_pages_unless_told_otherwise(notes):  # noqa: ANN001
    _pipeline(notes)
    assert config.load_project(notes.config_dir).pipeline("rs").defaults.compression == "snappy"
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    files = sorted(notes.lake.rglob("*.parquet"))
    assert files and pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression == "SNAPPY"


# -- load plans -------------------------------------------------------------------------------------------


def _plans(workspace, **kw):  # noqa: ANN001, ANN003, ANN201
    project = config.load_project(workspace.config_dir)
    return redshift.plan_loads(project, project.pipeline("rs"), **kw)["notes"]


def _manifest_keys(workspace, plan) -> list[list[str]]:  # noqa: ANN001
    return [[e["url"] for e in json.loads(Path(s.manifest).read_text())["entries"]] for s in plan.steps]


def _watermark(workspace):  # noqa: ANN001, ANN201
    layout = TableLayout("sales_mysql", workspace.db.database, "rs_raw", "notes")
    store = WatermarkStore(open_lake(str(workspace.lake)), layout)
    return store, layout


def test_the_manifest_is_built_from_the_pending_files_at_build_time(notes):  # noqa: ANN001
    _pipeline(notes)
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    store, _ = _watermark(notes)
    wm, _ = store.load()
    pending = sorted(str(notes.lake / p.key) for p in wm.pending_files)
    plan = _plans(notes)
    assert [sorted(k) for k in _manifest_keys(notes, plan)] == [pending]
    # the run's own manifest (written at extraction) is not what a build loads: a new one each build
    assert wm.load.manifest_key and str(notes.lake / wm.load.manifest_key) not in [s.manifest for s in plan.steps]
    again = _plans(notes)
    assert [s.manifest for s in again.steps] != [s.manifest for s in plan.steps]


def test_skip_extract_after_cleaning_never_names_a_deleted_file(notes):  # noqa: ANN001
    _pipeline(notes)
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    store, _ = _watermark(notes)
    wm, token = store.load()
    stale = wm.load.manifest_key
    # the warehouse acknowledged everything and s3clean removed the files: the old manifest names them
    for p in wm.pending_files:
        (notes.lake / p.key).unlink()
    wm.load.acknowledged_batches = [p.batch_id for p in wm.pending_files]
    wm.pending_files = []
    store.save(wm, token)
    assert (notes.lake / stale).exists()
    plan = _plans(notes)
    assert plan.steps == []  # nothing to COPY, instead of a mandatory entry for a deleted file


def test_backfill_plans_every_file_still_in_the_lake_and_knows_history_was_acknowledged(notes):  # noqa: ANN001
    _pipeline(notes)
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    store, _ = _watermark(notes)
    wm, token = store.load()
    first = [str(notes.lake / p.key) for p in wm.pending_files]
    wm.load.acknowledged_batches = [p.batch_id for p in wm.pending_files]
    wm.pending_files = []
    store.save(wm, token)
    notes.db.execute("INSERT INTO notes VALUES (3, 'c', 'y', '2025-01-02 00:00:00')")
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    pending = _plans(notes)
    assert pending.acknowledged_before and not pending.backfill
    assert not set(first) & {u for keys in _manifest_keys(notes, pending) for u in keys}
    everything = _plans(notes, backfill=True)
    listed = [u for keys in _manifest_keys(notes, everything) for u in keys]
    assert set(first) < set(listed) and len(listed) == len(set(listed))
    assert everything.to_var()["backfill"] is True


def test_a_pending_set_across_an_added_column_is_loaded_one_schema_version_at_a_time(notes):  # noqa: ANN001
    _pipeline(notes)
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    notes.db.execute("ALTER TABLE notes ADD COLUMN rating SMALLINT",
                     "INSERT INTO notes VALUES (3, 'c', 'y', '2025-01-02 00:00:00', 5)")
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    plan = _plans(notes)
    assert len(plan.steps) == 2
    first, second = ([n for n, _ in s.columns] for s in plan.steps)
    assert first == ["id", "title", "body", "updated_at", "_extracted_at", "_batch_id", "_op"]
    assert second == ["id", "title", "body", "updated_at", "rating", "_extracted_at", "_batch_id", "_op"]
    for step in plan.steps:  # each version's columns are exactly its files' Parquet columns, in order
        for url in json.loads(Path(step.manifest).read_text())["entries"]:
            assert pq.read_schema(url["url"]).names == [n for n, _ in step.columns]
    types = dict(plan.steps[0].columns)
    assert types["title"] == "VARCHAR(30)" and types["_extracted_at"] == "TIMESTAMP"
    assert [n for n, _ in plan.union_columns()][-1] == "rating"


# -- oversized values -------------------------------------------------------------------------------------


def test_truncate_cuts_values_to_redshifts_limit_on_a_character_boundary_and_counts_them():
    table = pa.table({"t": ["é" * 40000, "ok", None], "b": [b"x" * 10, b"y", None]})
    cut, counts = redshift.truncate_oversized(table, {"t": 65535, "b": 4})
    assert counts == {"t": 1, "b": 1}
    first = cut.column("t")[0].as_py()
    assert len(first.encode()) == 65534 and first == "é" * 32767  # 65535 would split a 2-byte character
    assert cut.column("t").to_pylist()[1:] == ["ok", None]
    assert cut.column("b").to_pylist() == [b"xxxx", b"y", None]


def test_oversize_truncate_lands_longtext_within_redshifts_limit_and_the_report_counts_it(notes):  # noqa: ANN001
    notes.db.execute("UPDATE notes SET body = REPEAT('a', 70000) WHERE id = 1")
    _pipeline(notes, table_extra=", oversize: {body: truncate}")
    result = notes.cli("sync", "-p", "rs", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"][0]["truncated"] == {"body": 1}
    bodies = notes.lake_rows("notes", schema="rs_raw").column("body").to_pylist()
    assert sorted(len(b) for b in bodies) == [1, 65535]


def test_oversize_exclude_is_not_extracted(notes):  # noqa: ANN001
    _pipeline(notes, table_extra=", oversize: {body: exclude}")
    assert notes.cli("sync", "-p", "rs").exit_code == 0
    assert "body" not in notes.lake_rows("notes", schema="rs_raw").column_names


def test_config_validate_names_a_column_that_can_exceed_redshift_until_it_has_a_choice(notes, tmp_path):  # noqa: ANN001
    _pipeline(notes)
    project_dir = notes.config_dir.parent
    (project_dir / "dbt_project.yml").write_text("name: x\n")
    assert notes.cli("dbt", "sources", "-p", "rs", "--project-dir", str(project_dir)).exit_code == 0
    warned = notes.cli("config", "validate", "rs")
    assert warned.exit_code == 0
    assert "rs.notes.body: values can be longer than Redshift's VARCHAR(65535)" in warned.stdout
    assert "oversize: {body: truncate}" in warned.stdout and "title" not in warned.stdout
    _pipeline(notes, table_extra=", oversize: {body: truncate}")
    quiet = notes.cli("config", "validate", "rs")
    assert quiet.exit_code == 0 and quiet.stdout.startswith("OK")


def test_an_unknown_oversize_choice_is_a_config_error(notes):  # noqa: ANN001
    _pipeline(notes, table_extra=", oversize: {body: squash}")
    result = notes.cli("config", "validate", "rs")
    assert result.exit_code != 0 and "oversize" in result.stderr


def test_require_iam_role_refuses_blank():
    with pytest.raises(WarehouseError, match="has no iam_role"):
        redshift.require_iam_role({"name": "rs", "iam_role": "  "})
