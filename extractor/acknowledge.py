"""The load stage: which pending batches reached the warehouse's landing models, recorded in each watermark.

After a successful ``dbt build``, every pending batch found in landing (:mod:`extractor.warehouse` reads
them) leaves the watermark's pending list, under the table's lock. dbt itself is run by :mod:`extractor.dbt`;
this module is the only one besides the sync package that rewrites watermarks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extractor import warehouse
from extractor.errors import WarehouseError
from extractor.lake import TableLayout, open_lake
from extractor.names import model_name
from extractor.state import TableLock, WatermarkStore


@dataclass
class AckResult:
    """Batches a table's landing model holds that the watermark now records as loaded."""

    table: str
    acknowledged: int
    rows: int
    still_pending: int


def acknowledge(project: Any, pipeline: Any, *, tables: Iterable[str] | None = None) -> list[AckResult]:
    """Record in each watermark's load stage which pending batches reached landing (under the table lock)."""
    if not pipeline.target:
        raise WarehouseError(f"pipeline {pipeline.name} has no target", hint="set pipeline.target in its YAML")
    target = project.target(pipeline.target)
    chosen = [pipeline.table(n) for n in tables] if tables else list(pipeline.tables.values())
    schema = warehouse.landing_schema_of(target)
    found = warehouse.acknowledged_batches(target, schema, {t.target: model_name("landing", pipeline.name, t.target)
                                                            for t in chosen})
    storage = open_lake(pipeline.lake)
    results = []
    for t in chosen:
        layout = TableLayout.of(pipeline, t)
        store = WatermarkStore(storage, layout)
        loaded = found.get(t.target, set())
        with TableLock(storage, layout, owner=f"acknowledge:{os.getpid()}", ttl_seconds=300):
            wm, token = store.load()
            if wm is None:
                continue
            acked = [p for p in wm.pending_files if p.batch_id in loaded]
            if acked:
                wm.pending_files = [p for p in wm.pending_files if p.batch_id not in loaded]
                known = set(wm.load.acknowledged_batches) | {p.batch_id for p in acked}
                # Batch ids sort by time: everything below the oldest pending batch folds into a high-water mark.
                floor = min((p.batch_id for p in wm.pending_files), default=None)
                below = sorted(b for b in known if floor is None or b < floor)
                if below:
                    wm.load.high_water_batch = max(below + ([wm.load.high_water_batch]
                                                            if wm.load.high_water_batch else []))
                wm.load.acknowledged_batches = sorted(b for b in known if floor is not None and b >= floor)
                wm.load.rows_loaded += sum(p.rows for p in acked)
                wm.load.acknowledged_at = datetime.now(UTC)
            wm.load.status = "pending" if wm.pending_files else "loaded"
            store.save(wm, token)
        results.append(AckResult(t.name, len(acked), sum(p.rows for p in acked), len(wm.pending_files)))
    return results
