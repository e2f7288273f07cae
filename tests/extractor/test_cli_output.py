"""What `sync` prints: the dry run's total and the live progress display's rate."""

from __future__ import annotations

import re

from extractor.cli import extract as cli


def test_a_dry_run_totals_the_rows_it_would_read(workspace):
    assert workspace.cli("sample", "create", "--orders", "40").exit_code == 0
    done = workspace.cli("sync", "-p", "sales", "--dry-run")
    assert done.exit_code == 0, done.output
    estimates = [int(m.replace(",", "")) for m in re.findall(r"~([\d,]+)", done.output.split("\nrun ")[0])]
    assert len(estimates) == 4 and sum(estimates) > 40
    total = re.search(r"run \S+: would read ~([\d,]+) rows from 4 table\(s\)", done.output)
    assert total and int(total.group(1).replace(",", "")) == sum(estimates), done.output
    assert not workspace.lake.exists() or not list(workspace.lake.rglob("*.parquet"))


def test_progress_shows_no_rate_before_a_meaningful_interval(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    update, progress = cli._progress_printer(True)
    update("orders", 0, 0)
    clock[0] += 0.000_02  # the first page arrived 20 µs after the table started
    update("orders", 4_713, 0)
    assert progress.tasks[0].fields["rate"] == ""  # not "235,650,000"
    clock[0] += 2.0
    update("orders", 200_000, 1)
    assert progress.tasks[0].fields["rate"] == f"{200_000 / 2.00002:,.0f}"
