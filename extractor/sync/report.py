"""What a run was asked to do and what it did: options, one table's result, the run report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SyncOptions:
    """What the user asked of this run."""

    tables: list[str] | None = None
    limit: int | None = None
    full_refresh: bool = False
    dry_run: bool = False
    reader: str | None = None
    progress: ProgressFn | None = None


@dataclass
class TableResult:
    """What one table's run did: counts, timings, positions and anything the operator should know."""

    table: str
    source_table: str
    strategy: str
    status: str = "planned"
    phase: str | None = None
    rows: int = 0
    files: int = 0
    bytes: int = 0
    tombstones: int = 0
    seconds: float = 0.0
    position_before: str | None = None
    position_after: str | None = None
    upper_bound: str | None = None
    estimated_rows: int | None = None
    null_cursor_rows: int = 0
    future_cursor_rows: int = 0  # cursor beyond the clock by more than the lag: not read until it passes
    held_back: str | None = None  # the open transaction that held the bound back, described
    zero_dates: dict[str, int] = field(default_factory=dict)
    #: Values cut to Redshift's limit per column (``oversize: truncate``).
    truncated: dict[str, int] = field(default_factory=dict)
    adopted_files: int = 0
    reader: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: The schema version this run's files carry, and what changed in the source schema since the last run.
    schema_version: int | None = None
    schema_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0

    @property
    def rows_per_second(self) -> float:
        """Throughput of the read-and-write loop."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunReport:
    """What a pipeline run did; also written to ``runs/<run_id>.json`` in the lake."""

    run_id: str
    pipeline: str
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool = False
    tables: list[TableResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no table failed."""
        return all(t.status in ("success", "planned") for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` and the run report file)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["ok"] = self.ok
        for t, tr in zip(data["tables"], self.tables, strict=True):
            t["rows_per_second"] = round(tr.rows_per_second, 1)
        return data


def show(position: tuple[Any, ...] | None) -> str | None:
    """A position (cursor tuple, key, bound) as the report shows it; bytes in hex."""
    if position is None:
        return None
    # str() of a datetime is its ISO form with a space; dates and times have no ``sep`` to pass.
    return ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in position)
