"""CDC strategies as parametrised keyset queries: pure functions, no I/O.

Every strategy reads pages ordered by a key tuple and remembers the last tuple fully written:

- ``hybrid`` / ``timestamp`` incremental: order ``(cursor, id…)``, bounded above by ``cursor <= upper``;
- snapshot (initial load of a cursor table): primary-key order, ``cursor <= upper OR cursor IS NULL``;
- ``id``: primary-key order bounded by the key tuple that was largest when the run started;
- ``full_sync``: primary-key order, whole table.

Tuple comparisons are expanded (``a > x OR (a = x AND b > y)``) with a leading ``a >= x`` so MySQL
and MariaDB use a range scan on the ``(cursor, id…)`` index. A position may be a *prefix* of the order
tuple: ``(t,)`` means "after every row whose cursor is ``<= t``" — the state right after a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa

from extractor.strategies import Strategy

Phase = Literal["snapshot", "incremental", "full"]


@dataclass(frozen=True)
class ExtractPlan:
    """What one table's run reads: the quoted table, order columns and the bound taken at run start."""

    table_sql: str  # already validated and quoted: `db`.`table`
    strategy: Strategy
    phase: Phase
    cursor_sql: str | None  # quoted cursor column
    id_sql: tuple[str, ...]  # quoted id columns
    cursor_name: str | None
    id_names: tuple[str, ...]
    upper: tuple[Any, ...] | None  # cursor upper bound (1-tuple) or id upper bound (key tuple)
    key_upper: tuple[Any, ...] | None = None  # key-order phases: stop at this key tuple (a key range)
    #: Order columns read as decimal text (wider than connectorx decodes): positions bind them as Decimal.
    decimal_text: frozenset[str] = frozenset()

    @property
    def by_cursor(self) -> bool:
        """True when pages are in ``(cursor, id…)`` order: cursor strategies once incremental."""
        return self.phase == "incremental" and self.strategy != "id"

    @property
    def order_sql(self) -> tuple[str, ...]:
        """Quoted columns of the order tuple for this phase."""
        if self.by_cursor:
            assert self.cursor_sql is not None
            return (self.cursor_sql, *self.id_sql)
        return self.id_sql

    @property
    def order_names(self) -> tuple[str, ...]:
        """Column names of the order tuple, as they appear in the Arrow pages."""
        if self.by_cursor:
            assert self.cursor_name is not None
            return (self.cursor_name, *self.id_names)
        return self.id_names


def order_columns(cursor: str, ids: Sequence[str]) -> tuple[str, ...]:
    """``(cursor, id…)`` without repeating the cursor when it is also a key column (case-insensitive).

    The columns of the index an incremental run wants, as ``CREATE INDEX`` accepts them.
    """
    columns = [cursor]
    for name in ids:
        if name.lower() not in {c.lower() for c in columns}:
            columns.append(name)
    return tuple(columns)


def _tuple_after(columns: Sequence[str], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL for "(columns) strictly after the (possibly prefix) tuple ``values``", with params."""
    k = len(values)
    if k == 0:
        return "1=1", []
    disjuncts: list[str] = []
    params: list[Any] = []
    for i in range(k):
        parts = [f"{columns[j]} = %s" for j in range(i)] + [f"{columns[i]} > %s"]
        params.extend(values[: i + 1])
        disjuncts.append(" AND ".join(parts))
    # The leading ">=" on the first column lets the optimiser use a range scan.
    sql = f"{columns[0]} >= %s AND ({' OR '.join(f'({d})' for d in disjuncts)})"
    return sql, [values[0], *params]


def _tuple_at_most(columns: Sequence[str], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL for "(columns) <= values", with params; a prefix ``values`` bounds only the leading columns."""
    disjuncts: list[str] = []
    params: list[Any] = []
    for i in range(len(values)):
        parts = [f"{columns[j]} = %s" for j in range(i)] + [f"{columns[i]} < %s"]
        params.extend(values[: i + 1])
        disjuncts.append(" AND ".join(parts))
    disjuncts.append(" AND ".join(f"{c} = %s" for c in columns[: len(values)]))
    params.extend(values)
    return f"{columns[0]} <= %s AND ({' OR '.join(f'({d})' for d in disjuncts)})", [values[0], *params]


def page_query(plan: ExtractPlan, after: Sequence[Any] | None, limit: int) -> tuple[str, list[Any]]:
    """``FROM … WHERE … ORDER BY … LIMIT n`` for the page after position ``after``, with bound params."""
    where: list[str] = []
    params: list[Any] = []
    order = plan.order_sql
    if plan.by_cursor:
        assert plan.upper is not None and plan.cursor_sql is not None
        where.append(f"{plan.cursor_sql} <= %s")
        params.append(plan.upper[0])
    elif plan.phase == "snapshot" and plan.cursor_sql is not None and plan.upper is not None:
        where.append(f"({plan.cursor_sql} <= %s OR {plan.cursor_sql} IS NULL)")
        params.append(plan.upper[0])
    elif plan.strategy == "id" and plan.upper is not None:
        sql, p = _tuple_at_most(order, plan.upper)
        where.append(f"({sql})")
        params.extend(p)
    if plan.key_upper is not None and not plan.by_cursor:
        sql, p = _tuple_at_most(order, plan.key_upper)
        where.append(f"({sql})")
        params.extend(p)
    if after:
        sql, p = _tuple_after(order, after)
        where.append(f"({sql})")
        params.extend(p)
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    # Qualified: a select-list alias of the same name (a column a reader rewrites, e.g. CAST(k AS CHAR)
    # AS k) would otherwise take precedence in ORDER BY and order pages differently from the WHERE.
    order_by = ", ".join(f"{plan.table_sql}.{c}" for c in order)
    return f"FROM {plan.table_sql}{where_sql} ORDER BY {order_by} LIMIT {int(limit)}", params


def last_position(plan: ExtractPlan, page: pa.Table) -> tuple[Any, ...]:
    """The order tuple of the page's last row, as Python values ready to bind."""
    if page.num_rows == 0:
        raise ValueError("empty page has no position")
    last = page.num_rows - 1
    return tuple(_bindable(page.column(name)[last].as_py(), name in plan.decimal_text) for name in plan.order_names)


def _bindable(value: Any, decimal_text: bool = False) -> Any:
    """A page value as a bound parameter.

    Timestamps are compared in the UTC session: bind them naive. Decimal text binds as a Decimal: MySQL
    compares a DECIMAL with a string as doubles, which round beyond 15 digits.
    """
    if decimal_text and isinstance(value, str):
        return Decimal(value)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)
    return value


# ---------------------------------------------------------------------------------------------------
# The cursor's upper bound: never inside a tick that can still receive rows

TEMPORAL_CURSOR_TYPES = frozenset({"date", "datetime", "timestamp"})


def cursor_tick(data_type: str, datetime_precision: int | None) -> timedelta | None:
    """The smallest step a temporal cursor can take: a day for DATE, ``10**-p`` s for DATETIME(p)/TIMESTAMP(p).

    None for integer cursors (a version counter has no clock). ``datetime_precision`` is
    ``information_schema.COLUMNS.DATETIME_PRECISION`` (0 for whole seconds).
    """
    kind = data_type.lower()
    if kind == "date":
        return timedelta(days=1)
    if kind in ("datetime", "timestamp"):
        digits = min(max(datetime_precision or 0, 0), 6)
        return timedelta(microseconds=10 ** (6 - digits))
    return None


def last_complete_tick(limit: datetime, data_type: str, datetime_precision: int | None) -> date | datetime:
    """The largest cursor value no row written at or after ``limit`` can carry: the tick before ``limit``'s.

    A row written at clock time ``t`` gets a cursor value of at least ``t`` truncated to the column's
    precision (MySQL truncates ``NOW()`` to the column, or rounds a finer value *up*), so every value in
    ``limit``'s own tick — the second ``12:00:07`` for a whole-second cursor at ``12:00:07.4`` — can still
    appear. A bound inside it lets a row written later in the same tick with a smaller key sort below the
    watermark, where no later run looks.
    """
    tick = cursor_tick(data_type, datetime_precision)
    if tick is None:
        raise ValueError(f"{data_type} is not a temporal cursor type")
    if data_type.lower() == "date":
        return limit.date() - tick
    unit = tick // timedelta(microseconds=1)
    return limit.replace(microsecond=limit.microsecond // unit * unit) - tick


@dataclass(frozen=True)
class CursorBound:
    """An incremental run's cursor bound, and whether an open write transaction lowered it."""

    value: Any  # None: nothing to read
    held_back: bool = False


def cursor_upper_bound(max_value: Any, *, now: datetime, lag: timedelta, open_since: datetime | None,
                       data_type: str, datetime_precision: int | None) -> CursorBound:
    """``min(MAX(cursor), last complete tick before min(NOW - lag, start of the oldest open write))``.

    ``now`` and ``open_since`` are naive UTC (the session's time zone). Integer cursors are bounded by
    ``MAX(cursor)`` alone. ``max_value`` None (only NULL cursors, or no rows): the bound is the clock's,
    which a snapshot still uses to read the NULL-cursor rows.
    """
    if data_type.lower() not in TEMPORAL_CURSOR_TYPES:
        return CursorBound(max_value)
    by_clock = last_complete_tick(now - lag, data_type, datetime_precision)
    bound = by_clock if max_value is None else min(max_value, by_clock)
    if open_since is None or open_since >= now - lag:
        return CursorBound(bound)
    by_transaction = last_complete_tick(open_since, data_type, datetime_precision)
    held = by_transaction if max_value is None else min(max_value, by_transaction)
    return CursorBound(held, held_back=held < bound)


def future_cursor_threshold(now: datetime, lag: timedelta, data_type: str,
                            datetime_precision: int | None) -> date | datetime | None:
    """Cursor values above this are *future-dated*: beyond the clock by more than the lag (at least a second).

    Incremental runs read up to about ``NOW - lag``; a row dated later than ``NOW + lag`` (``9999-01-01``
    standing for "open-ended") arrives only when the clock passes it. The second of slack covers MySQL
    rounding a fractional ``NOW(6)`` up into a whole-second column. None for integer cursors.
    """
    tick = cursor_tick(data_type, datetime_precision)
    if tick is None:
        return None
    ahead = now + max(lag, tick, timedelta(seconds=1))
    return ahead.date() if data_type.lower() == "date" else ahead
