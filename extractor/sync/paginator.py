"""Pages of a table in key order: keyset pages, parallel key ranges, and the memory budget of a page.

A :class:`Paginator` only reads: each page comes with the position after its last row, taken from the
page itself, so the caller can write it and move the watermark when its file is durable. Pages are sized
by ``batch_rows`` and shrunk when rows are wide, so one page stays within the table's byte budget.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from extractor import cdc
from extractor.config import SourceConnection
from extractor.errors import DataError
from extractor.faults import fault_point
from extractor.reader import Reader, ReadResult, open_reader
from extractor.types import Column


@dataclass(frozen=True)
class Page:
    """A page read ahead: rows in the file schema, the position after its last row, zero dates seen."""

    table: pa.Table
    position: tuple[Any, ...] | None
    zero_dates: dict[str, int]
    last: bool  # the range is exhausted after this page


def page_position(plan: cdc.ExtractPlan, page: pa.Table, source_table: str) -> tuple[Any, ...]:
    """The page's last order tuple, which the next page is read after.

    Order columns are NOT NULL keys (or a cursor bounded by ``<= upper``), so a NULL there is a zero or
    invalid date that landed as NULL: ``k > NULL`` matches nothing, and every row after it would be
    silently skipped.
    """
    position = cdc.last_position(plan, page)
    for name, value in zip(plan.order_names, position, strict=True):
        if value is None:
            what = "cursor" if name == plan.cursor_name and plan.by_cursor else "key column"
            raise DataError(
                f"{what} {name} holds a zero or invalid date ('0000-00-00', '2024-02-30'), which lands as NULL "
                "and cannot be paged after: the rows following it would be skipped",
                where=f"{source_table}.{name}",
                hint="replace those dates in MySQL" if what == "cursor" else
                "use another unique key as id_columns, or replace those dates in MySQL",
            )
    return position


class Paginator:
    """Reads one table's pages for one plan; ``batch_rows`` shrinks as wide pages show the rows' size."""

    def __init__(self, *, source: SourceConnection, plan: cdc.ExtractPlan, columns: list[Column], schema: pa.Schema,
                 name: str, source_table: str, batch_rows: int, page_budget: int, read_parallelism: int,
                 approx_rows: int | None = None, limit: int | None = None) -> None:
        self.source = source
        self.name = name
        self.approx_rows = approx_rows
        self.plan = plan
        self.columns = columns
        self.schema = schema
        self.source_table = source_table
        self.batch_rows = batch_rows
        self.page_budget = page_budget
        self.read_parallelism = read_parallelism
        self.limit = limit

    def pages(self, reader: Reader, position: tuple[Any, ...] | None,
              key_bounds: tuple[int, int] | None) -> Iterator[Page]:
        """Pages in key order after ``position``: by key ranges within ``key_bounds`` if given, else keyset."""
        if key_bounds is not None:
            yield from self.range_pages(reader, position, *key_bounds)
            return
        yield from self.keyset_pages(reader, self.plan, position)

    def fit_page_to_budget(self, page: pa.Table) -> None:
        """Wide rows: fewer per page, so memory stays bounded by the table's page budget per page in flight."""
        budget = self.page_budget
        if page.nbytes > budget:
            self.batch_rows = min(self.batch_rows, max(1_000, page.num_rows * budget // page.nbytes))

    def keyset_pages(self, reader: Reader, plan: cdc.ExtractPlan,
                     position: tuple[Any, ...] | None) -> Iterator[Page]:
        """Sequential keyset pages after ``position`` until a short page (the last one)."""
        remaining = self.limit
        while True:
            limit = self.batch_rows if remaining is None else min(self.batch_rows, remaining)
            if limit <= 0:
                return
            sql, params = cdc.page_query(plan, position, limit)
            result = reader.read(self.columns, sql, params)
            fault_point("page_read")
            page = result.table
            if page.num_rows:
                position = page_position(plan, page, self.source_table)
                self.fit_page_to_budget(page)
            last = page.num_rows < limit
            yield Page(page.cast(self.schema), position, result.zero_dates, last)
            if last:
                return
            if remaining is not None:
                remaining -= page.num_rows

    def _finish_range(self, reader: Reader, upper: Any,
                      position: tuple[Any, ...] | None) -> Iterator[Page]:
        """Keyset pages after ``position`` up to the leading key value ``upper`` (none of them the last)."""
        bounded = dataclasses.replace(self.plan, key_upper=(upper,))
        for rest in self.keyset_pages(reader, bounded, position):
            if rest.table.num_rows:
                yield dataclasses.replace(rest, last=False)

    def range_pages(self, reader: Reader, position: tuple[Any, ...] | None, low: int, high: int) -> Iterator[Page]:
        """Key ranges of about one page each, read by a small pool ahead of the writer, yielded in key order.

        Positions still come from the pages themselves, in order, so checkpoints, the watermark and crash
        adoption are exactly those of the sequential path. A range that fills its page is finished with
        keyset pages before the next range is yielded; keys above ``high`` (rows inserted since the
        bounds were read) are read by the sequential loop at the end.
        """
        plan = self.plan
        if position is not None and len(position) > 1:
            # Resuming a composite key mid-way: finish the rows sharing its leading value in key order
            # first, so the ranges (on the leading column) start after that value.
            for rest in self._finish_range(reader, position[0], position):
                position = rest.position
                yield rest
        start = int(position[0]) if position else low - 1
        # Ranges of about 0.8 pages at the table's average key density, in exact integer arithmetic: as
        # many ranges as pages, however sparse the keys (random 64-bit ids span ~1e19 for a few rows).
        step = max(1, self.batch_rows * 4 * (high - low + 1) // (5 * max(1, self.approx_rows or 1)))
        bounds = ((a, min(a + step, high)) for a in range(start, high, step))
        workers = self.read_parallelism
        readers: queue.Queue[Reader] = queue.Queue()
        opened = [open_reader(self.source, reader.name) for _ in range(workers)]  # type: ignore[arg-type]
        for r in opened:
            readers.put(r)

        def read_range(lower: int, upper: int) -> tuple[int, ReadResult]:
            pooled = readers.get()
            try:
                sql, params = cdc.page_query(dataclasses.replace(plan, key_upper=(upper,)), (lower,), self.batch_rows)
                return upper, pooled.read(self.columns, sql, params)
            finally:
                readers.put(pooled)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"range-{self.name}")
        pending: collections.deque[Future[tuple[int, ReadResult]]] = collections.deque()
        ranges = iter(bounds)
        try:
            for lower, upper in itertools.islice(ranges, workers):
                pending.append(pool.submit(read_range, lower, upper))
            while pending:
                upper, result = pending.popleft().result()
                nxt = next(ranges, None)
                if nxt is not None:
                    pending.append(pool.submit(read_range, *nxt))
                fault_point("page_read")
                page = result.table
                if page.num_rows:
                    position = page_position(plan, page, self.source_table)
                    self.fit_page_to_budget(page)
                    yield Page(page.cast(self.schema), position, result.zero_dates, False)
                if page.num_rows >= self.batch_rows:  # the range holds more rows: finish it in key order
                    for rest in self._finish_range(reader, upper, position):
                        position = rest.position
                        yield rest
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
            for r in opened:
                r.close()
        yield from self.keyset_pages(reader, plan, position)
