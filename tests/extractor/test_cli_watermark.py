"""`extractor watermark get|list` on a lake holding a corrupt watermark (real MariaDB, local lake)."""

from __future__ import annotations

import json

PIPELINE = """
pipeline: {{name: marks, source: sales_mysql, target_schema: marks_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0}}
tables:
  alpha: {{source_table: "{db}.alpha", cdc_strategy: full_sync, id_columns: [k]}}
  beta: {{source_table: "{db}.beta", cdc_strategy: full_sync, id_columns: [k]}}
"""


def _synced_then_corrupt(workspace) -> None:  # noqa: ANN001
    """Two synced tables; beta's watermark is then overwritten with something that is not JSON."""
    for name in ("alpha", "beta"):
        workspace.db.execute(f"CREATE TABLE {name} (k INT PRIMARY KEY)", f"INSERT INTO {name} VALUES (1), (2)")
    workspace.write_pipeline("marks", PIPELINE.format(lake=workspace.lake, db=workspace.db.database))
    assert workspace.cli("sync", "-p", "marks").exit_code == 0
    [state] = (workspace.lake / "state").rglob("beta.json")
    state.write_text("{not json")


def test_json_watermark_get_of_a_corrupt_watermark_is_a_json_error(workspace):
    _synced_then_corrupt(workspace)
    result = workspace.cli("watermark", "get", "-p", "marks", "-t", "beta", "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)
    assert (error["ok"], error["exit_code"]) == (False, 4) and "corrupt watermark" in error["error"]
    assert result.stderr == f"error: {error['error']}\n"


def test_watermark_list_shows_the_healthy_tables_and_the_corrupt_one_then_fails(workspace):
    _synced_then_corrupt(workspace)
    result = workspace.cli("watermark", "list", "-p", "marks")
    assert result.exit_code == 4, result.output
    header, alpha, beta, error = result.stdout.splitlines()
    assert header.split() == ["table", "strategy", "phase", "status", "rows", "pending_files", "position"]
    assert alpha.split()[:4] == ["alpha", "full_sync", "full", "success"]
    assert beta.split() == ["beta", "-", "-", "corrupt", "-", "-", "-"]
    assert error.startswith("error: beta: ") and "corrupt watermark" in error and "watermark reset" in error

    listed = workspace.cli("watermark", "list", "-p", "marks", "--json")
    assert listed.exit_code == 4
    alpha_row, beta_row = json.loads(listed.stdout)  # one document: the listing, with the error in its row
    assert (alpha_row["table"], alpha_row["status"], alpha_row["rows"]) == ("alpha", "success", 2)
    assert (beta_row["table"], beta_row["status"]) == ("beta", "corrupt") and "corrupt watermark" in beta_row["error"]
