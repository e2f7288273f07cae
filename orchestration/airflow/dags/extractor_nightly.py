"""Airflow: the nightly extract-then-build job of a pipeline, one task per table (Airflow 3, ``airflow.sdk``).

One DAG per pipeline (``EXTRACTOR_PIPELINES``, comma-separated; default ``sales``), ``extractor_nightly_<name>``:

    extract_<table> …  one task per table, wired by depends_on   (`extractor sync -p P -t T`)
        → dbt_build    the tables with unacknowledged batches     (`extractor dbt build --select source:P.T+ …`)
        → acknowledge  record which batches reached landing       (`extractor acknowledge -p P`)
        → status       the final check; fails the run to alert    (`extractor status -p P --max-lag …`)
    night_failed       fails the run if any task above failed (skipped otherwise)

The tasks and their dependencies come from ``extractor plan --json``, read when Airflow parses this file (it
reads the configuration only: no database, no lake). Tables of one dependency level run at once, on any
worker: each table is locked in the lake, and ``sync -t T`` also waits for (or refuses after) a dependency
that another process is extracting or failed (docs/operations.md).

The extractor runs as a command, from its own environment (``EXTRACTOR_BIN``, e.g.
``/opt/extractor/.venv/bin/extractor``): Airflow's pinned dependencies and the project's never share an
environment. Every task inherits the worker's environment (``EXTRACTOR_CONFIG_DIR``, ``EXTRACTOR_ENV``,
MySQL and warehouse credentials); ``EXTRACTOR_WORKDIR`` is the directory the commands run in (the project
root, where the dbt project is).

- A failed table fails its task; the tables that depend on it are not run (``upstream_failed``); the others
  are extracted, built and acknowledged (``dbt_build`` runs when every extract task is done, whatever the
  outcome: what landed is consistent), and ``status`` fails the run with exit 13.
- ``dbt_build`` selects only what changed: the tables whose watermarks list batches the warehouse has not
  acknowledged, including ones left by an earlier night whose build failed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

EXTRACTOR = shlex.split(os.environ.get("EXTRACTOR_BIN", "extractor"))
PIPELINES = [p.strip() for p in os.environ.get("EXTRACTOR_PIPELINES", "sales").split(",") if p.strip()]
SCHEDULE = os.environ.get("EXTRACTOR_SCHEDULE", "0 2 * * *")  # 02:00 UTC every night
MAX_LAG = os.environ.get("EXTRACTOR_MAX_LAG", "26h")  # a nightly job: alert when a night was missed
MAX_PENDING_AGE = os.environ.get("EXTRACTOR_MAX_PENDING_AGE", "26h")
RETRIES = int(os.environ.get("EXTRACTOR_TASK_RETRIES", "2"))


def extractor(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run one extractor command; its output goes to the task log, a failure fails the task with its error."""
    done = subprocess.run([*EXTRACTOR, *args], capture_output=True, text=True, check=False,  # noqa: S603
                          cwd=os.environ.get("EXTRACTOR_WORKDIR") or None)
    if done.stdout:
        print(done.stdout)
    if done.stderr:
        print(done.stderr)
    if done.returncode not in ok:
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        reason = errors[0] if errors else (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"extractor {args[0]} exited {done.returncode}: {reason}")
    return done.stdout


def read_plan(pipeline: str) -> dict[str, Any]:
    """``extractor plan -p PIPELINE --json``: tables, levels, depends_on and dbt selections."""
    return json.loads(extractor("plan", "-p", pipeline, "--json"))


@task(retries=RETRIES, retry_delay=timedelta(minutes=5))
def extract(pipeline: str, table: str) -> dict[str, Any]:
    """One table's extraction; returns its result from the run report (rows, files, position)."""
    report = json.loads(extractor("sync", "-p", pipeline, "-t", table, "--json"))
    [result] = report["tables"]
    return {k: result[k] for k in ("table", "status", "rows", "files", "position_after", "seconds")}


@task(trigger_rule="all_done")
def dbt_build(pipeline: str, selectors: dict[str, str]) -> list[str]:
    """``dbt build`` of the tables with batches the warehouse has not acknowledged; the tables selected."""
    marks = json.loads(extractor("watermark", "list", "-p", pipeline, "--json"))
    changed = [m["table"] for m in marks if m.get("pending_files")]
    if not changed:
        print("nothing to build: every landed batch is acknowledged")
        return []
    # Seeds (small lookup CSVs) are reloaded every night: models and their unit tests may ref them, and on a
    # new warehouse nothing else would build them.
    extractor("dbt", "build", "-p", pipeline, "--select", " ".join([*(selectors[t] for t in changed),
                                                                   "resource_type:seed"]))
    return changed


@task(trigger_rule="all_done")
def acknowledge(pipeline: str) -> list[dict[str, Any]]:
    """Record which batches reached landing (safe after a failed build: it records only what is there)."""
    return json.loads(extractor("acknowledge", "-p", pipeline, "--json"))


@task(trigger_rule="all_done")
def status(pipeline: str) -> dict[str, Any]:
    """The final check: fails the run (and alerts) when a table failed, is stuck or is behind."""
    out = extractor("status", "-p", pipeline, "--json", "--max-lag", MAX_LAG, "--max-pending-age", MAX_PENDING_AGE,
                    ok=tuple(range(256)))
    doc = json.loads(out)
    if doc["exit_code"]:
        alerts = [f"{t['table']}: {a['message']}" for t in doc["tables"] for a in t["alerts"]]
        raise RuntimeError(f"extractor status exited {doc['exit_code']}: " + "; ".join(alerts))
    return {t["table"]: t["state"] for t in doc["tables"]}


@task(trigger_rule="one_failed", retries=0)
def night_failed() -> None:
    """Fails the run when any task failed (Airflow judges a run by its last tasks; ``status`` runs regardless).

    Skipped, and the run succeeds, when every task succeeded.
    """
    raise RuntimeError("a task of this night failed: see the failed task's log")


def nightly_dag(pipeline: str) -> Any:
    """The DAG of one pipeline, its extract tasks mapped from ``extractor plan --json``."""
    plan = read_plan(pipeline)

    @dag(dag_id=f"extractor_nightly_{pipeline}", schedule=SCHEDULE, catchup=False, max_active_runs=1,
         start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), tags=["extractor", pipeline],
         doc_md=__doc__)
    def nightly() -> None:
        extracts = {t["name"]: extract.override(task_id=f"extract_{t['name']}")(pipeline, t["name"])
                    for t in plan["tables"]}  # plan["tables"] is in dependency order
        for t in plan["tables"]:
            for dependency in t["depends_on"]:
                extracts[dependency] >> extracts[t["name"]]
        built = dbt_build(pipeline, {t["name"]: t["dbt_selector"] for t in plan["tables"]})
        acked = acknowledge(pipeline)
        checked = status(pipeline)
        list(extracts.values()) >> built >> acked >> checked
        [*extracts.values(), built, acked, checked] >> night_failed()

    return nightly()


for _name in PIPELINES:
    globals()[f"extractor_nightly_{_name}"] = nightly_dag(_name)
