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
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa

Strategy = Literal["hybrid", "timestamp", "id", "full_sync"]
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
