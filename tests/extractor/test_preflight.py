"""`config validate --check-source`: sync's pre-read checks against MySQL, without reading a row."""

from __future__ import annotations

import json


def _break(workspace, old: str, new: str) -> None:
    path = workspace.config_dir / "pipelines" / "sales.yml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_check_source_finds_what_sync_would_refuse_and_plain_validate_does_not(workspace):
    assert workspace.cli("sample", "create", "--orders", "20").exit_code == 0
    _break(workspace, '${SALES_DB:-sales}.products"', '${SALES_DB:-sales}.prodcts"')
    _break(workspace, "cursor_column: updated_at", "cursor_column: updatd_at")  # customers
    db = workspace.db.database
    assert workspace.cli("config", "validate", "sales").exit_code == 0  # the YAML alone is fine

    done = workspace.cli("config", "validate", "sales", "--check-source")
    assert done.exit_code == 2, done.output
    lines = done.output.splitlines()
    assert lines[0] == "FAILED  sales  (4 tables, checked against MySQL 'sales_mysql')"
    assert any(line.startswith("error: customers: ") and f"column 'updatd_at' does not exist in {db}.customers"
               " — did you mean 'updated_at'?" in line for line in lines), done.output
    assert any(line.startswith("error: products: ") and f"table '{db}.prodcts' not found in MySQL — did you mean "
               "'products'?" in line for line in lines), done.output
    assert not any(line.startswith(("error: orders", "error: order_items")) for line in lines)
    # The same two errors, with the same code, as the sync that would have failed on them.
    sync = workspace.cli("sync", "-p", "sales", "--dry-run")
    assert sync.exit_code == 2
    refused = {line for line in sync.output.splitlines() if line.startswith("error:") and "skipped:" not in line}
    assert refused == {line for line in lines if line.startswith("error:")}
    assert not workspace.lake.exists() or not list(workspace.lake.rglob("*.parquet"))


def test_check_source_reports_each_table_in_json(workspace):
    assert workspace.cli("sample", "create", "--orders", "20").exit_code == 0
    done = workspace.cli("config", "validate", "--check-source", "--json")
    assert done.exit_code == 0, done.output
    checks = {c["table"]: c for c in json.loads(done.output)["sales"]["checks"]}
    assert checks["orders"]["status"] == "ok" and checks["orders"]["cursor"] == "updated_at"
    assert checks["order_items"]["id_columns"] == ["order_id", "line_no"]
    assert checks["products"]["strategy"] == "full_sync"


def test_validate_help_says_what_each_mode_checks(workspace):
    done = workspace.cli("config", "validate", "--help")
    text = " ".join(done.output.replace("│", " ").split())
    assert "Without --check-source no database is touched" in text
    assert "id_columns are a primary or unique NOT NULL key" in text
