"""``extractor status``: per table, what an operator or a scheduler needs to decide whether to alert.

Over 400 lines: each reported field (run, position, lag, pending, lock, freshness) has its own small reader here.

For every table of a pipeline: the last run (when, outcome, rows; from the watermark's mysql stage and
``runs/<run_id>.json``), the watermark position, how far the lake is behind the source, the pending
(unacknowledged) batches and their age, the lock and whether its holder is alive, and the newest batch in
the warehouse's landing model.

How far behind, read cheaply (index-only, bounded):

- ``newest``: ``MAX(cursor)`` (the ``(cursor, id…)`` index answers it from its last entry);
- ``rows_waiting``: ``COUNT`` of the rows after the watermark, counting at most ``WAITING_COUNT_CAP`` rows of
  the index range; beyond that, the optimiser's estimate (``EXPLAIN``) with ``rows_waiting_exact: false``;
- ``lag_seconds``: the age of the oldest change not in the lake — ``NOW()`` (the server's clock) minus the
  cursor of the first waiting row for DATETIME/TIMESTAMP/DATE cursors; for integer cursors and the ``id``
  strategy, the time since the last successful extraction when rows are waiting; for ``full_sync``, the age
  of the last complete copy; during the initial load, the time since it started. 0 when nothing waits.

Exit codes (the highest that applies; every alert is also listed per table):

====  ==========================================================================================
0     every table is fine (rows waiting within ``--max-lag``, or no ``--max-lag`` given)
10    behind: ``lag_seconds`` above ``--max-lag`` (a table never extracted counts as behind)
11    pending too long: an unacknowledged batch older than ``--max-pending-age`` (dbt is not loading)
12    not checked: the source or the lake could not be read for a table
13    failed: the table's last run failed, or was interrupted (its watermark says running, no lock)
14    locked by a dead process: its lock expired, or its process on this host is gone
====  ==========================================================================================
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import extractor.warehouse as warehouse_db
from extractor import cdc, mysql
from extractor.config import Pipeline, Project, TableConfig
from extractor.errors import ExtractorError, LakeError
from extractor.lake import Storage, TableLayout, open_lake, run_key
from extractor.names import model_name
from extractor.quoting import as_template, quote_ident
from extractor.state import LockInfo, Watermark, WatermarkStore, read_lock, stale_reason
from extractor.strategies import uses_cursor

FORMAT_VERSION = 1
EXIT_OK = 0
EXIT_BEHIND = 10
EXIT_PENDING_TOO_OLD = 11
EXIT_NOT_CHECKED = 12
EXIT_FAILED = 13
EXIT_DEAD_LOCK = 14
#: Rows counted exactly before the optimiser's estimate is used instead (keeps ``status`` cheap on a table
#: that is far behind).
WAITING_COUNT_CAP = 100_000
#: Run reports read per pipeline when looking for runs that failed before touching a table's watermark.
_MAX_REPORTS = 50
_q = quote_ident


@dataclass
class Alert:
    """One reason to alert: its exit code, a kind a machine can match, and the line a person reads."""

    code: int
    kind: str
    message: str


@dataclass
class TableStatus:
    """Everything ``status`` knows about one table; ``state`` is the one word that sums it up."""

    table: str
    target: str
    strategy: str
    state: str = "fresh"
    phase: str | None = None
    last_run: dict[str, Any] | None = None
    watermark: dict[str, Any] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    lock: dict[str, Any] | None = None
    pending: dict[str, Any] = field(default_factory=dict)
    warehouse: dict[str, Any] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The highest alert code of the table (0 without alerts)."""
        return max((a.code for a in self.alerts), default=EXIT_OK)


@dataclass
class PipelineStatus:
    """The status of every table of a pipeline, and the exit code ``extractor status`` returns."""

    pipeline: str
    checked_at: datetime
    max_lag_seconds: float | None
    max_pending_age_seconds: float | None
    tables: list[TableStatus]

    @property
    def exit_code(self) -> int:
        """The highest exit code of any table."""
        return max((t.exit_code for t in self.tables), default=EXIT_OK)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (``format_version`` changes only if a field changes meaning)."""
        return {"format_version": FORMAT_VERSION, "pipeline": self.pipeline,
                "checked_at": self.checked_at.isoformat(), "ok": self.exit_code == EXIT_OK,
                "exit_code": self.exit_code, "max_lag_seconds": self.max_lag_seconds,
                "max_pending_age_seconds": self.max_pending_age_seconds,
                "tables": [{**asdict(t), "exit_code": t.exit_code} for t in self.tables]}


# ------------------------------------------------------------------------------------------------ checks


def pipeline_status(project: Project, pipeline: Pipeline, *, tables: list[str] | None = None,
                    max_lag: timedelta | None = None, max_pending_age: timedelta | None = None,
                    warehouse: bool = True) -> PipelineStatus:
    """Check every (or the named) table of ``pipeline``: lake state, source lag, warehouse freshness."""
    now = datetime.now(UTC)
    storage = open_lake(pipeline.lake)
    chosen = [pipeline.table(n) for n in tables] if tables else list(pipeline.tables.values())
    statuses: list[TableStatus] = []
    marks: dict[str, Watermark | None] = {}
    for cfg in chosen:
        status = TableStatus(cfg.name, cfg.target, cfg.cdc_strategy)
        layout = TableLayout.of(pipeline, cfg)
        try:
            marks[cfg.name] = _lake_side(status, storage, layout, now, max_pending_age)
        except LakeError as err:
            marks[cfg.name] = None
            status.alerts.append(Alert(EXIT_NOT_CHECKED, "lake_unreadable", f"the lake could not be read: {err}"))
        statuses.append(status)
    _failed_before_registering(storage, pipeline.name, statuses, marks, now)
    _source_side(project, pipeline, chosen, statuses, marks, max_lag)
    if warehouse:
        _warehouse_side(project, pipeline, chosen, statuses, now)
    for status in statuses:
        status.state = _state(status, marks[status.table])
    return PipelineStatus(pipeline.name, now, max_lag.total_seconds() if max_lag else None,
                          max_pending_age.total_seconds() if max_pending_age else None, statuses)


def _lake_side(status: TableStatus, storage: Storage, layout: TableLayout, now: datetime,
               max_pending_age: timedelta | None) -> Watermark | None:
    """Watermark, last run, lock and pending batches: the lake's view of the table."""
    wm, _ = WatermarkStore(storage, layout).load()
    lock = read_lock(storage, layout)
    if lock is not None:
        status.lock = _lock_view(lock, now)
    if wm is None:
        status.pending = {"batches": 0, "rows": 0, "oldest_written_at": None, "oldest_age_seconds": None}
    else:
        status.phase = "full" if wm.strategy == "full_sync" else wm.phase
        position = wm.snapshot.last_key if wm.phase == "snapshot" else wm.cursor.position()
        status.watermark = {"position": _show(position), "updated_at": _iso(wm.updated_at), "version": wm.version}
        status.last_run = _last_run(storage, wm)
        oldest = min((p.written_at for p in wm.pending_files), default=None)
        age = (now - oldest).total_seconds() if oldest else None
        status.pending = {"batches": len(wm.pending_files), "rows": sum(p.rows for p in wm.pending_files),
                          "oldest_written_at": _iso(oldest), "oldest_age_seconds": _round(age)}
        if max_pending_age is not None and age is not None and age > max_pending_age.total_seconds():
            status.alerts.append(Alert(
                EXIT_PENDING_TOO_OLD, "pending_too_old",
                f"{len(wm.pending_files)} batch(es) not acknowledged by the warehouse, the oldest for "
                f"{human_duration(age)} (more than --max-pending-age {human_duration(max_pending_age)}): "
                "is dbt build running and succeeding?"))
        if wm.mysql.status == "failed":
            error = (status.last_run or {}).get("error")
            status.alerts.append(Alert(EXIT_FAILED, "failed", f"last run {wm.mysql.last_run_id} failed"
                                       + (f": {error}" if error else "")))
        elif wm.mysql.status == "running" and lock is None:
            status.alerts.append(Alert(
                EXIT_FAILED, "interrupted",
                f"run {wm.mysql.last_run_id} stopped without finishing (its lock is gone): the next run "
                "adopts or removes what it wrote"))
    if status.lock and status.lock["stale"]:
        status.alerts.append(Alert(
            EXIT_DEAD_LOCK, "locked_by_dead_process",
            f"locked by run {lock.run_id if lock else '?'} (pid {status.lock['pid']} on {status.lock['host']}), "
            f"which is not running: {status.lock['stale']} — the next run takes the lock over; or run "
            f"`extractor lock break {layout.display}`"))
    return wm


def _lock_view(lock: LockInfo, now: datetime) -> dict[str, Any]:
    reason = stale_reason(lock, now)
    return {"run_id": lock.run_id, "owner": lock.owner, "host": lock.host, "pid": lock.pid,
            "acquired_at": _iso(lock.acquired_at), "expires_at": _iso(lock.expires_at), "stale": reason}


def _last_run(storage: Storage, wm: Watermark) -> dict[str, Any]:
    """The watermark's last run, with what its run report adds (seconds, error, warnings)."""
    stage = wm.mysql
    run: dict[str, Any] = {"run_id": stage.last_run_id, "status": stage.status,
                           "finished_at": _iso(stage.finished_at), "rows": stage.last_run_rows,
                           "seconds": None, "error": None}
    entry = _report_entry(storage, stage.last_run_id, wm.table) if stage.last_run_id else None
    if entry:
        run["seconds"] = entry.get("seconds")
        run["error"] = entry.get("error")
        if stage.status != "success":
            run["rows"] = entry.get("rows", run["rows"])
    return run


def _report_entry(storage: Storage, run_id: str, table: str) -> dict[str, Any] | None:
    report = _read_report(storage, run_key(run_id))
    return next((t for t in (report or {}).get("tables", []) if t.get("table") == table), None)


def _read_report(storage: Storage, key: str) -> dict[str, Any] | None:
    with contextlib.suppress(ExtractorError, ValueError):
        found = storage.get_bytes(key)
        return json.loads(found[0]) if found else None
    return None


def _failed_before_registering(storage: Storage, pipeline: str, statuses: list[TableStatus],
                               marks: dict[str, Watermark | None], now: datetime) -> None:
    """Runs newer than a table's watermark that failed or skipped it before touching it.

    A run records itself in the watermark only once it holds the table's lock; one that failed earlier
    (a configuration error, a dependency that failed, another run holding the lock) is only in its run
    report. Run ids start with their UTC date, so only the days since the oldest watermark's run (at least
    yesterday, at most a week back) are listed.
    """
    days = [_run_day(m.mysql.last_run_id) for m in marks.values() if m and m.mysql.last_run_id]
    first_day = min([d for d in days if d] + [(now - timedelta(days=1)).date()])
    first_day = max(first_day, (now - timedelta(days=7)).date())
    keys: list[str] = []
    day = first_day
    while day <= now.date():
        with contextlib.suppress(LakeError):
            keys += [o.key for o in storage.list(f"runs/{day:%Y%m%d}") if o.key.endswith(".json")]
        day += timedelta(days=1)
    wanted = {s.table: s for s in statuses}
    for key in sorted(keys, reverse=True)[:_MAX_REPORTS]:
        if not wanted:
            return
        run_id = key[len("runs/"):-len(".json")]
        report = _read_report(storage, key)
        if not report or report.get("pipeline") != pipeline:
            continue
        for entry in report.get("tables", []):
            status = wanted.get(entry.get("table"))
            wm = marks.get(entry.get("table"))
            if status is None:
                continue
            if wm is not None and wm.mysql.last_run_id and run_id <= wm.mysql.last_run_id:
                wanted.pop(status.table)  # the watermark's own run is the newest that touched it
                continue
            if entry.get("status") in ("failed", "skipped"):
                status.last_run = {"run_id": run_id, "status": entry["status"], "finished_at":
                                   report.get("finished_at"), "rows": entry.get("rows", 0),
                                   "seconds": entry.get("seconds"), "error": entry.get("error")}
                status.alerts.append(Alert(EXIT_FAILED, "failed", f"last run {run_id} {entry['status']} the "
                                           f"table: {entry.get('error') or 'no error recorded'}"))
            wanted.pop(status.table)


def _run_day(run_id: str) -> date | None:
    try:
        return date(int(run_id[:4]), int(run_id[4:6]), int(run_id[6:8]))
    except ValueError:
        return None


def _source_side(project: Project, pipeline: Pipeline, chosen: list[TableConfig], statuses: list[TableStatus],
                 marks: dict[str, Watermark | None], max_lag: timedelta | None) -> None:
    """Newest cursor, rows waiting and lag per table, over one MySQL connection."""
    try:
        conn = mysql.connect(project.source(pipeline.source))
    except ExtractorError as err:
        for status in statuses:
            status.source = {"error": str(err)}
            status.alerts.append(Alert(EXIT_NOT_CHECKED, "source_unreachable", f"source not checked: {err}"))
        return
    try:
        now = mysql.server_now(conn)
        for cfg, status in zip(chosen, statuses, strict=True):
            try:
                status.source = _waiting(conn, cfg, marks.get(cfg.name), now)
            except Exception as err:  # noqa: BLE001 — one table's failed probe must not hide the others
                text = str(err).splitlines()[0] if str(err) else type(err).__name__
                status.source = {"error": text}
                status.alerts.append(Alert(EXIT_NOT_CHECKED, "source_unreadable",
                                           f"{cfg.source_table} could not be read: {text}"))
                continue
            lag = status.source.get("lag_seconds")
            never = marks.get(cfg.name) is None and (status.source.get("rows_waiting") or 0) > 0
            if max_lag is not None and (never or (lag is not None and lag > max_lag.total_seconds())):
                waiting = status.source.get("rows_waiting")
                exact = status.source.get("rows_waiting_exact", True)
                rows = f"{'' if exact else '~'}{waiting:,} row(s) waiting" if waiting is not None else "changes waiting"
                what = "never extracted" if never else f"behind by {human_duration(lag or 0)}"
                status.alerts.append(Alert(EXIT_BEHIND, "behind", f"{what} (more than --max-lag "
                                           f"{human_duration(max_lag)}): {rows}"))
    finally:
        conn.close()


def _waiting(conn: Any, cfg: TableConfig, wm: Watermark | None, now: datetime) -> dict[str, Any]:
    """What the source holds that the lake does not: newest cursor, rows waiting, lag (see the module doc)."""
    table_sql = f"{_q(cfg.source_db)}.{_q(cfg.source_name)}"
    cursor = (wm.cursor.column if wm else None) or cfg.cursor_column
    ids = tuple((wm.cursor.id_columns if wm else None) or cfg.id_columns)
    strategy: cdc.Strategy = wm.strategy if wm else cfg.cdc_strategy  # type: ignore[assignment]  # never auto here
    newest = mysql.scalar(conn, f"SELECT MAX({_q(cursor)}) FROM {table_sql}") if cursor else None
    found: dict[str, Any] = {"newest": _show((newest,)) if newest is not None else None, "oldest_waiting": None,
                             "rows_waiting": None, "rows_waiting_exact": True, "lag_seconds": None}
    last_success = wm.mysql.finished_at if wm and wm.mysql.status == "success" else None
    if wm is None or strategy == "full_sync" or not ids:
        # Never extracted (everything waits), or re-read whole every run (nothing to count against).
        if wm is None:
            found["rows_waiting"], found["rows_waiting_exact"] = _count(conn, f"FROM {table_sql}", [])
        else:
            finished = wm.mysql.finished_at
            found["lag_seconds"] = _round((now - finished).total_seconds()) if finished else None
        return found
    if wm.phase == "snapshot" and uses_cursor(strategy):
        plan = cdc.ExtractPlan(table_sql, strategy, "snapshot", None, tuple(_q(i) for i in ids), None, ids, None)
        position = tuple(wm.snapshot.last_key) if wm.snapshot.last_key else None
        started = wm.snapshot.started_at
        found["lag_seconds"] = _round((now - started).total_seconds()) if started else None
    else:
        by_cursor = uses_cursor(strategy)
        plan = cdc.ExtractPlan(table_sql, strategy, "incremental", _q(cursor) if by_cursor and cursor else None,
                               tuple(_q(i) for i in ids), cursor if by_cursor else None, ids,
                               (newest,) if by_cursor else None)
        position = wm.cursor.position()
        if by_cursor and newest is None:
            found["rows_waiting"], found["lag_seconds"] = 0, 0.0
            return found
    sql, params = cdc.page_query(plan, position, WAITING_COUNT_CAP + 1)
    found["rows_waiting"], found["rows_waiting_exact"] = _count(conn, sql, params)
    if wm.phase == "snapshot" and uses_cursor(strategy):
        return found
    if not found["rows_waiting"]:
        found["lag_seconds"] = 0.0
        return found
    first_sql, first_params = cdc.page_query(plan, position, 1)
    columns = ", ".join(f"{plan.table_sql}.{c}" for c in plan.order_sql)
    first = mysql.fetchone(conn, f"SELECT {columns} {first_sql}", first_params)
    found["oldest_waiting"] = _show(first)
    oldest = first[0] if first and plan.by_cursor else None
    if isinstance(oldest, datetime | date):
        # The session is pinned to UTC: DATETIME and TIMESTAMP values are UTC; a DATE is its midnight.
        moment = oldest.replace(tzinfo=UTC) if isinstance(oldest, datetime) else \
            datetime(oldest.year, oldest.month, oldest.day, tzinfo=UTC)
        found["lag_seconds"] = _round(max(0.0, (now - moment).total_seconds()))
    elif last_success is not None:
        found["lag_seconds"] = _round((now - last_success).total_seconds())
    return found


def _count(conn: Any, from_sql: str, params: list[Any]) -> tuple[int, bool]:
    """Rows of ``FROM …`` counted up to the cap, else the optimiser's estimate: ``(rows, exact)``."""
    body = from_sql if " LIMIT " in from_sql else f"{from_sql} LIMIT {WAITING_COUNT_CAP + 1}"
    counted = int(mysql.scalar(conn, f"SELECT COUNT(*) FROM (SELECT 1 AS one {body}) AS waiting", params) or 0)
    if counted <= WAITING_COUNT_CAP:
        return counted, True
    unbounded = body.rsplit(" ORDER BY ", 1)[0].rsplit(" LIMIT ", 1)[0]
    with conn.cursor() as cur:
        cur.execute(as_template(f"EXPLAIN SELECT 1 {unbounded}"), params)
        names = [d[0].lower() for d in cur.description]
        rows = [r[names.index("rows")] for r in cur.fetchall() if r[names.index("rows")] is not None]
    return max(counted, int(rows[0]) if rows else counted), False


def _warehouse_side(project: Project, pipeline: Pipeline, chosen: list[TableConfig], statuses: list[TableStatus],
                    now: datetime) -> None:
    """Newest ``_extracted_at`` per landing model, if the warehouse can be read (never an alert by itself)."""
    if not pipeline.target:
        for status in statuses:
            status.warehouse = {"error": "the pipeline has no target"}
        return
    target = project.target(pipeline.target)
    schema = warehouse_db.landing_schema_of(target)
    relations = {cfg.target: model_name("landing", pipeline.name, cfg.target) for cfg in chosen}
    try:
        newest = warehouse_db.landing_freshness(target, schema, relations)
    except ExtractorError as err:
        for status in statuses:
            status.warehouse = {"error": str(err)}
        return
    for cfg, status in zip(chosen, statuses, strict=True):
        value = newest.get(cfg.target)
        status.warehouse = {"relation": f"{schema}.{relations[cfg.target]}", "newest_extracted_at": _iso(value),
                            "age_seconds": _round((now - value).total_seconds()) if value else None}


def _state(status: TableStatus, wm: Watermark | None) -> str:
    """One word for the table, the most urgent first."""
    kinds = {a.kind for a in status.alerts}
    if "locked_by_dead_process" in kinds:
        return "locked_by_dead_process"
    if kinds & {"failed", "interrupted"}:
        return "failed"
    if kinds & {"lake_unreadable", "source_unreachable", "source_unreadable"}:
        return "unknown"
    if status.lock is not None:
        return "running"
    if wm is None:
        return "never_extracted"
    if status.source.get("rows_waiting") or "behind" in kinds:
        return "behind"
    if status.pending.get("batches"):
        return "pending"
    return "fresh"


# ----------------------------------------------------------------------------------------------- display


def human_duration(value: float | timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``4m 10s``, ``12s`` — two units at most."""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def status_text(result: PipelineStatus) -> str:
    """The status for people: one line per table, then one line per alert, then the verdict."""
    rows = []
    for t in result.tables:
        run = t.last_run or {}
        finished = (run.get("finished_at") or "")[:19].replace("T", " ")
        waiting = t.source.get("rows_waiting")
        lag = t.source.get("lag_seconds")
        pending = t.pending.get("batches") or 0
        fresh = t.warehouse.get("age_seconds")
        rows.append({
            "table": t.table, "state": t.state,
            "last run": f"{run.get('status') or '-'} {finished}".strip(),
            "rows": f"{run.get('rows', 0):,}" if run else "-",
            "position": (t.watermark or {}).get("position") or "-",
            "lag": human_duration(lag) if lag is not None else "-",
            "waiting": "-" if waiting is None else f"{'' if t.source.get('rows_waiting_exact', True) else '~'}"
                                                   f"{waiting:,}",
            "pending": f"{pending} ({human_duration(t.pending['oldest_age_seconds'])})" if pending else "0",
            "warehouse": f"{human_duration(fresh)} ago" if fresh is not None else "-",
        })
    keys = ["table", "state", "last run", "rows", "position", "lag", "waiting", "pending", "warehouse"]
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    lines += ["  ".join(r[k].ljust(widths[k]) for k in keys).rstrip() for r in rows]
    for t in result.tables:
        lines += [f"alert: {t.table}: {a.message}" for a in t.alerts]
    code = result.exit_code
    summary = f"status {result.pipeline}: {len(result.tables)} table(s)"
    lines.append(summary + (" — ok" if code == EXIT_OK else f" — exit {code}"))
    return "\n".join(lines)


def _show(position: Any) -> str | None:
    if position is None:
        return None
    values = position if isinstance(position, list | tuple) else (position,)
    return ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in values)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


__all__ = ["EXIT_BEHIND", "EXIT_DEAD_LOCK", "EXIT_FAILED", "EXIT_NOT_CHECKED", "EXIT_OK", "EXIT_PENDING_TOO_OLD",
           "FORMAT_VERSION", "Alert", "PipelineStatus", "TableStatus", "human_duration", "pipeline_status",
           "status_text"]
