"""Operator output: with --log-format json, one JSON line on stderr per table per stage of its run."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from extractor import logs

ROOT = Path(__file__).resolve().parents[2]


def _extractor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "extractor", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_json_log_lines_carry_the_record_fields(capsys):
    logs.configure("json")
    try:
        logs.stage("shop", "orders", "commit", rows=10, seconds=0.5)
    finally:
        logs.configure("human")
    line = json.loads(capsys.readouterr().err.strip())
    assert line["stage"] == "commit" and line["table"] == "orders" and line["pipeline"] == "shop"
    assert line["rows"] == 10 and line["seconds"] == 0.5 and line["level"] == "info" and "ts" in line


def test_human_logging_keeps_stage_lines_out_and_warnings_in(capsys):
    logs.configure("human")
    logs.stage("shop", "orders", "start")
    logging.getLogger("extractor.state").warning("a warning")
    assert capsys.readouterr().err == "a warning\n"


def test_a_json_sync_logs_start_pages_commits_and_end_per_table(workspace):
    assert workspace.cli("sample", "create", "--orders", "40").exit_code == 0
    done = _extractor("--log-format", "json", "sync", "-p", "sales", "--config-dir", str(workspace.config_dir))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every stderr line is JSON
    stages = [line for line in lines if line.get("logger") == "extractor.run"]
    tables = {line["table"] for line in stages}
    assert len(tables) == 4
    for table in tables:
        mine = [line for line in stages if line["table"] == table]
        names = [line["stage"] for line in mine]
        assert names[0] == "start" and names[-1] == "end", names
        assert "page" in names and "commit" in names, names
        end = mine[-1]
        assert end["status"] == "success" and end["rows"] > 0 and end["files"] >= 1 and end["seconds"] >= 0
        commits = [line for line in mine if line["stage"] == "commit"]
        assert sum(c["file_rows"] for c in commits) == end["rows"]
        assert all(line["pipeline"] == "sales" and line["run_id"] for line in mine)
    assert "run " in done.stdout  # the report is still printed on stdout


def test_without_json_the_same_sync_prints_no_stage_lines(workspace):
    assert workspace.cli("sample", "create", "--orders", "40").exit_code == 0
    done = _extractor("sync", "-p", "sales", "--config-dir", str(workspace.config_dir))
    assert done.returncode == 0, done.stderr
    assert "start" not in done.stderr and "{" not in done.stderr


def test_an_unknown_log_format_is_one_line_with_the_choices(workspace):
    done = workspace.cli("--log-format", "xml", "version")
    assert done.exit_code == 2
    assert "unknown log format 'xml'" in done.output and "use human or json" in done.output
