"""``s3clean``: delete only data files the warehouse acknowledged and that are older than the retention."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from extractor.errors import ConfigError
from extractor.lake import ObjectInfo, Storage, TableLayout, batch_id, open_lake
from extractor.state import TableLock, Watermark, WatermarkStore

_DURATION = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"`` (or ``"45s"``) → timedelta."""
    match = _DURATION.match(text or "")
    if not match:
        raise ConfigError(f"invalid duration {text!r}",
                          hint="use a whole number followed by d, h, m or s, e.g. 7d, 12h, 30m")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@dataclass
class CleanupPlan:
    """What ``execute_cleanup`` would delete, and every object it keeps with the reason."""

    delete: list[ObjectInfo] = field(default_factory=list)
    keep: list[tuple[ObjectInfo, str]] = field(default_factory=list)

    @property
    def bytes_to_free(self) -> int:
        """Total size of the objects to delete."""
        return sum(info.size for info in self.delete)


def _data_reason(info: ObjectInfo, layout: TableLayout, wm: Watermark | None, cutoff: datetime,
                 pending: set[str]) -> str | None:
    parsed = layout.parse_data_key(info.key)
    if parsed is None:
        return "not a data file written by the extractor"
    if wm is None:
        return "no watermark for the table: nothing is known to be loaded"
    run_id, seq = parsed
    bid = batch_id(run_id, seq)
    if info.key in pending or bid in pending:
        return "pending: not yet acknowledged by the warehouse"
    if run_id == wm.mysql.last_run_id and wm.mysql.status == "running":
        return "belongs to the run in progress"
    if not wm.load.is_acknowledged(bid):
        return "not acknowledged by the warehouse"
    if info.last_modified > cutoff:
        return "younger than the retention"
    return None


def plan_cleanup(storage: Storage, layout: TableLayout, watermark: Watermark | None, *,
                 older_than: timedelta, now: datetime) -> CleanupPlan:
    """Decide what may go: acknowledged data files older than ``older_than``, then manifests left empty.

    State objects are never touched (only ``data/`` and ``manifests/`` of the table are listed).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cutoff = now - older_than
    pending: set[str] = set()
    if watermark is not None:
        for f in watermark.pending_files:
            pending.update((f.key, f.batch_id))
    plan = CleanupPlan()
    data = storage.list(layout.data_prefix)
    for info in data:
        reason = _data_reason(info, layout, watermark, cutoff, pending)
        if reason is None:
            plan.delete.append(info)
        else:
            plan.keep.append((info, reason))
    remaining = {storage.uri(i.key) for i, _ in plan.keep}
    for info in storage.list(layout.manifest_prefix):
        reason = _manifest_reason(storage, info, watermark, remaining)
        if reason is None:
            plan.delete.append(info)
        else:
            plan.keep.append((info, reason))
    return plan


def _manifest_reason(storage: Storage, info: ObjectInfo, wm: Watermark | None,
                     remaining: set[str]) -> str | None:
    if wm is None:
        return "no watermark for the table"
    if wm.mysql.status == "running" and info.key.endswith(f"/{wm.mysql.last_run_id}.manifest"):
        return "belongs to the run in progress"
    found = storage.get_bytes(info.key)
    if found is None:
        return "vanished while planning"
    try:
        urls = [entry["url"] for entry in json.loads(found[0])["entries"]]
    except (ValueError, KeyError, TypeError):
        return "not a manifest the extractor can read"
    if any(url in remaining for url in urls):
        return "still lists data files that are kept"
    return None


def execute_cleanup(storage: Storage, plan: CleanupPlan) -> int:
    """Delete the plan's objects, manifests first so none points at a deleted file; returns the count."""
    protected = [i.key for i in plan.delete if not i.key.startswith(("data/", "manifests/"))]
    if protected:
        raise ValueError(f"refusing to delete non-data objects: {protected[:3]}")
    manifests = [i.key for i in plan.delete if i.key.endswith(".manifest")]
    data = [i.key for i in plan.delete if not i.key.endswith(".manifest")]
    storage.delete(manifests)
    storage.delete(data)
    return len(manifests) + len(data)


def plan_tables(pipeline: Any, tables: list[str] | None, older_than: timedelta,
                now: datetime) -> list[tuple[str, Storage, TableLayout, CleanupPlan]]:
    """The cleanup plan of each table (all of the pipeline's by default): ``(name, storage, layout, plan)``."""
    storage = open_lake(pipeline.lake)
    plans = []
    for name in tables or list(pipeline.tables):
        layout = TableLayout.of(pipeline, pipeline.table(name))
        wm, _ = WatermarkStore(storage, layout).load()
        plans.append((name, storage, layout, plan_cleanup(storage, layout, wm, older_than=older_than, now=now)))
    return plans


def clean_tables(pipeline: Any, tables: list[str], older_than: timedelta) -> int:
    """Delete each table's acknowledged files past the retention under its lock; the number deleted.

    Each table is planned again under its lock: a sync may have run since the caller's first look.
    """
    deleted = 0
    for name in tables:
        storage, layout = open_lake(pipeline.lake), TableLayout.of(pipeline, pipeline.table(name))
        with TableLock(storage, layout, owner=f"s3clean:{socket.gethostname()}", ttl_seconds=600):
            fresh = plan_tables(pipeline, [name], older_than, datetime.now(UTC))[0][3]
            deleted += execute_cleanup(storage, fresh)
    return deleted
