"""The CDC query builder: pure functions, checked on their SQL and parameters."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from extractor import cdc

T = datetime(2025, 1, 1, 12, 0, 0, 123456)


def plan(phase="incremental", strategy="hybrid", ids=("`id`",), upper=(T,), key_upper=None):
    return cdc.ExtractPlan("`db`.`t`", strategy, phase, "`ts`", ids, "ts", tuple(i.strip("`") for i in ids),
                           upper, key_upper)


def test_incremental_query_is_a_bounded_tuple_keyset_with_bound_parameters():
    sql, params = cdc.page_query(plan(ids=("`a`", "`b`")), (T, 7, "x"), 100)
    assert sql == ("FROM `db`.`t` WHERE `ts` <= %s AND (`ts` >= %s AND ((`ts` > %s) OR (`ts` = %s AND `a` > %s)"
                   " OR (`ts` = %s AND `a` = %s AND `b` > %s))) ORDER BY `db`.`t`.`ts`, `db`.`t`.`a`, `db`.`t`.`b` LIMIT 100")
    assert params == [T, T, T, T, 7, T, 7, "x"]
    assert "x" not in sql and "7" not in sql.replace("LIMIT 100", "")


def test_a_prefix_position_means_after_every_row_of_that_prefix():
    sql, params = cdc.page_query(plan(), (T,), 10)
    assert "(`ts` >= %s AND ((`ts` > %s)))" in sql and params == [T, T, T]


def test_snapshot_reads_in_key_order_and_keeps_null_cursors():
    sql, params = cdc.page_query(plan(phase="snapshot"), (41,), 5)
    assert sql.startswith("FROM `db`.`t` WHERE (`ts` <= %s OR `ts` IS NULL) AND (`id` >= %s AND ((`id` > %s)))")
    assert sql.endswith("ORDER BY `db`.`t`.`id` LIMIT 5") and params == [T, 41, 41]


def test_id_strategy_is_bounded_by_the_largest_key_at_start():
    # The phase the pipeline gives an id table: incremental, in key order (there is no cursor column).
    key_plan = cdc.ExtractPlan("`db`.`t`", "id", "incremental", None, ("`id`",), None, ("id",), (99,))
    sql, params = cdc.page_query(key_plan, (10,), 5)
    assert "`id` <= %s AND ((`id` < %s) OR (`id` = %s))" in sql and params[:3] == [99, 99, 99]
    assert sql.endswith("ORDER BY `db`.`t`.`id` LIMIT 5") and key_plan.order_names == ("id",)
    page = pa.table({"id": [11, 12]})
    assert cdc.last_position(key_plan, page) == (12,)


def test_a_key_range_stops_at_its_upper_key():
    sql, params = cdc.page_query(plan(phase="snapshot", key_upper=(500,)), (200,), 50)
    assert "(`id` <= %s AND ((`id` < %s) OR (`id` = %s)))" in sql
    assert params == [T, 500, 500, 500, 200, 200]


def test_a_key_range_of_a_composite_key_bounds_its_leading_column():
    sql, params = cdc.page_query(plan(phase="snapshot", ids=("`a`", "`b`"), key_upper=(500,)), (200,), 50)
    assert "(`a` <= %s AND ((`a` < %s) OR (`a` = %s)))" in sql and "(`a` >= %s AND ((`a` > %s)))" in sql
    assert params == [T, 500, 500, 500, 200, 200]
    sql, params = cdc.page_query(plan(phase="snapshot", ids=("`a`", "`b`"), key_upper=(500,)), (200, 3), 50)
    assert "(`a` >= %s AND ((`a` > %s) OR (`a` = %s AND `b` > %s)))" in sql
    assert params == [T, 500, 500, 500, 200, 200, 200, 3]


def test_limit_is_an_integer_not_text():
    with pytest.raises(ValueError):
        cdc.page_query(plan(), None, "5; DROP TABLE t")  # type: ignore[arg-type]


def test_last_position_is_the_last_row_with_naive_utc_timestamps():
    page = pa.table({"ts": pa.array([T, T], pa.timestamp("us", tz="UTC")), "id": [1, 2]})
    assert cdc.last_position(plan(), page) == (T, 2)
    with pytest.raises(ValueError):
        cdc.last_position(plan(), page.slice(0, 0))


def test_order_by_names_the_table_columns_and_decimal_text_positions_bind_as_decimals():
    from decimal import Decimal

    key_plan = cdc.ExtractPlan("`db`.`t`", "full_sync", "full", None, ("`k`",), None, ("k",), None,
                               decimal_text=frozenset({"k"}))
    sql, _ = cdc.page_query(key_plan, None, 5)
    assert sql.endswith("ORDER BY `db`.`t`.`k` LIMIT 5")  # not the select list's `CAST(k AS CHAR) AS k`
    position = cdc.last_position(key_plan, pa.table({"k": ["12345678901234567890.000000000000000000001"]}))
    assert position == (Decimal("12345678901234567890.000000000000000000001"),)


# --- the cursor's upper bound and its precision (issue 15 items 1, 4 and 6) -------------------------

NOW = datetime(2026, 12, 3, 12, 0, 7, 456789)


@pytest.mark.parametrize(("data_type", "precision", "lag", "expected"), [
    # whole seconds: the running second 12:00:07 can still receive rows, whatever the lag
    ("timestamp", 0, 0, datetime(2026, 12, 3, 12, 0, 6)),
    ("datetime", 0, 0.3, datetime(2026, 12, 3, 12, 0, 6)),
    ("datetime", 0, 0.5, datetime(2026, 12, 3, 12, 0, 5)),  # NOW - lag lies in 12:00:06: that tick is open too
    ("datetime", 0, 5, datetime(2026, 12, 3, 12, 0, 1)),
    ("datetime", 3, 0, datetime(2026, 12, 3, 12, 0, 7, 455000)),
    ("timestamp", 3, 0.0005, datetime(2026, 12, 3, 12, 0, 7, 455000)),
    ("datetime", 6, 0, datetime(2026, 12, 3, 12, 0, 7, 456788)),
    ("datetime", 6, 1, datetime(2026, 12, 3, 12, 0, 6, 456788)),
    ("date", None, 0, date(2026, 12, 2)),  # a day is read once it is over
    ("date", 0, 5, date(2026, 12, 2)),
])
def test_the_cursor_bound_never_lies_in_a_tick_that_can_still_receive_rows(data_type, precision, lag, expected):
    bound = cdc.cursor_upper_bound(datetime(9000, 1, 1) if data_type != "date" else date(9000, 1, 1),
                                   now=NOW, lag=timedelta(seconds=lag), open_since=None,
                                   data_type=data_type, datetime_precision=precision)
    assert bound.value == expected and not bound.held_back


def test_the_cursor_bound_is_max_cursor_when_that_is_lower_and_the_counter_for_integers():
    early = datetime(2026, 12, 3, 11, 0, 0)
    assert cdc.cursor_upper_bound(early, now=NOW, lag=timedelta(0), open_since=None, data_type="timestamp",
                                  datetime_precision=0).value == early
    assert cdc.cursor_upper_bound(41, now=NOW, lag=timedelta(0), open_since=None, data_type="bigint",
                                  datetime_precision=None).value == 41
    # no rows with a cursor: the clock's bound (a snapshot still reads the NULL-cursor rows)
    assert cdc.cursor_upper_bound(None, now=NOW, lag=timedelta(0), open_since=None, data_type="datetime",
                                  datetime_precision=0).value == datetime(2026, 12, 3, 12, 0, 6)


def test_an_open_transaction_holds_the_bound_below_its_own_tick_and_says_so():
    began = datetime(2026, 12, 3, 11, 59, 0, 500000)
    bound = cdc.cursor_upper_bound(datetime(9000, 1, 1), now=NOW, lag=timedelta(seconds=5), open_since=began,
                                   data_type="datetime", datetime_precision=0)
    assert bound == cdc.CursorBound(datetime(2026, 12, 3, 11, 58, 59), held_back=True)
    # a transaction that lowers nothing (MAX(cursor) is lower anyway, or it began after NOW - lag) is not named
    low = datetime(2026, 12, 3, 11, 0)
    assert cdc.cursor_upper_bound(low, now=NOW, lag=timedelta(seconds=5), open_since=began, data_type="datetime",
                                  datetime_precision=0) == cdc.CursorBound(low, held_back=False)
    recent = NOW - timedelta(seconds=1)
    assert not cdc.cursor_upper_bound(datetime(9000, 1, 1), now=NOW, lag=timedelta(seconds=5), open_since=recent,
                                      data_type="datetime", datetime_precision=0).held_back


@pytest.mark.parametrize(("data_type", "precision", "lag", "expected"), [
    ("timestamp", 0, 0, datetime(2026, 12, 3, 12, 0, 8, 456789)),  # at least a second: MySQL rounds NOW(6) up
    ("datetime", 6, 30, datetime(2026, 12, 3, 12, 0, 37, 456789)),
    ("date", None, 5, date(2026, 12, 4)),
])
def test_future_dated_cursor_values_start_beyond_the_clock_plus_the_lag(data_type, precision, lag, expected):
    assert cdc.future_cursor_threshold(NOW, timedelta(seconds=lag), data_type, precision) == expected
    assert cdc.future_cursor_threshold(NOW, timedelta(0), "int", None) is None


@pytest.mark.parametrize(("cursor", "ids", "expected"), [
    ("updated_at", ["id"], ("updated_at", "id")),
    ("valid_from", ["account_id", "valid_from"], ("valid_from", "account_id")),
    ("Valid_From", ["valid_from", "account_id"], ("Valid_From", "account_id")),  # names are case-insensitive
])
def test_the_index_columns_never_repeat_the_cursor(cursor, ids, expected):
    assert cdc.order_columns(cursor, ids) == expected
