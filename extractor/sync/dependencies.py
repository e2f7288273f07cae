"""What ``depends_on`` means when a table's dependency is extracted by another process (another machine).

Within one process, ``sync_pipeline`` runs the tables in dependency levels. A scheduler that gives each
table its own task (``extractor sync -p NAME -t T`` on separate workers) orders the tasks itself from
``extractor plan``; the lake then guards what a scheduler cannot see. Before extracting ``T``, for each
table ``D`` that ``T`` depends on and that this run does not extract itself:

- ``D`` is being extracted (its lock is held by a live run): ``T`` waits until that run ends, polling the
  lock, for at most ``defaults.dependency_wait_seconds``; then it is refused;
- ``D``'s last run failed, was interrupted (watermark ``running`` without a lock), or its lock is held by a
  dead process: ``T`` is refused (skipped, as in one process when a dependency fails), naming ``D`` and how
  to fix it;
- otherwise (``D`` succeeded last time, or was never extracted) ``T`` runs.

Refusing is the safe side: a fact extracted while its dimension is half-extracted or failed would reach the
warehouse with references the dimension does not have yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from extractor.config import Pipeline, TableConfig
from extractor.lake import Storage, TableLayout
from extractor.state import WatermarkStore, read_lock, stale_reason

POLL_SECONDS = 0.5


class DependencyNotReady(Exception):
    """A dependency failed, crashed or stayed locked too long: the table must not run now."""


def wait_for_dependencies(storage: Storage, pipeline: Pipeline, table: TableConfig, extracted_here: Collection[str],
                          *, timeout: float | None = None, sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait until every dependency of ``table`` outside ``extracted_here`` is ready; seconds waited.

    Raises ``DependencyNotReady`` (message: which dependency, why, what to do) when one is not and will not be.
    """
    limit = pipeline.defaults.dependency_wait_seconds if timeout is None else timeout
    started = time.monotonic()
    for name in table.depends_on:
        if name in extracted_here:
            continue
        dep = pipeline.tables[name]
        layout = TableLayout.of(pipeline, dep)
        while True:
            lock = read_lock(storage, layout)
            if lock is not None:
                reason = stale_reason(lock, datetime.now(UTC))
                if reason is not None:
                    raise DependencyNotReady(
                        f"depends on {name}, whose run {lock.run_id} died holding its lock ({reason}): re-run "
                        f"{name} first (it takes the lock over), or `extractor lock break {layout.display}`")
                waited = time.monotonic() - started
                if waited >= limit:
                    raise DependencyNotReady(
                        f"depends on {name}, still being extracted by run {lock.run_id} (pid {lock.pid} on "
                        f"{lock.host}) after waiting {waited:.0f} s: re-run when it is done, or raise "
                        "defaults.dependency_wait_seconds")
                sleep(min(POLL_SECONDS, max(0.01, limit - waited)))
                continue
            wm, _ = WatermarkStore(storage, layout).load()
            if wm is None or wm.mysql.status in (None, "success"):
                break
            if wm.mysql.status == "running" and read_lock(storage, layout) is not None:
                continue  # a new run of the dependency started between the two reads: wait for it
            what = "failed" if wm.mysql.status == "failed" else "stopped without finishing"
            raise DependencyNotReady(f"depends on {name}, whose last run {wm.mysql.last_run_id} {what}: "
                                     f"fix and re-run {name} first")
    return time.monotonic() - started


__all__ = ["DependencyNotReady", "wait_for_dependencies"]
