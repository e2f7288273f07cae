import pytest

from extractor.partition import KeyRange, plan_ranges, split_integer_range


def _owner(ranges, key):
    return [r for r in ranges if (r.lower is None or key > r.lower) and (r.upper is None or key <= r.upper)]


@pytest.mark.parametrize(("low", "high", "k"), [(1, 2_000_000, 2), (1, 10, 3), (5, 5, 4), (-7, 100, 7),
                                                (0, 2**64 - 1, 4)])
def test_ranges_cover_every_key_exactly_once_in_order(low, high, k):
    ranges = split_integer_range(low, high, k)
    assert len(ranges) == min(k, high - low + 1)
    assert ranges[0].lower is None and ranges[-1].upper is None
    for a, b in zip(ranges, ranges[1:], strict=False):
        assert a.upper == b.lower
    probes = {low - 1, low, high, high + 1, (low + high) // 2, *(r.upper for r in ranges if r.upper is not None)}
    for key in probes:
        assert len(_owner(ranges, key)) == 1


def test_ranges_are_nearly_equal():
    ranges = split_integer_range(1, 2_000_000, 4)
    assert [r.upper for r in ranges[:-1]] == [500_000, 1_000_000, 1_500_000]


def test_range_conditions_are_parametrised():
    assert KeyRange(10, 20).where_sql("`id`") == ("`id` > %s AND `id` <= %s", [10, 20])
    assert KeyRange(None, None).where_sql("`id`") == ("1=1", [])


def test_bad_arguments():
    with pytest.raises(ValueError):
        split_integer_range(1, 10, 0)
    with pytest.raises(ValueError):
        split_integer_range(10, 1, 2)


class _Conn:
    def __init__(self, row):
        self.row, self.sql = row, None

    def cursor(self):
        conn = self

        class _Cur:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def execute(self, sql, params):
                conn.sql = (sql, params)

            def fetchone(self):
                return conn.row

        return _Cur()


def test_plan_uses_min_and_max_of_an_integer_key():
    conn = _Conn((1, 100))
    ranges = plan_ranges(conn, "`db`.`t`", "`id`", "bigint", 2, "`ts` <= %s", ["2025-01-01"])
    assert conn.sql == ("SELECT MIN(`id`), MAX(`id`) FROM `db`.`t` WHERE `ts` <= %s", ["2025-01-01"])
    assert ranges == [KeyRange(None, 50), KeyRange(50, None)]


@pytest.mark.parametrize(("dtype", "k", "row"), [("varchar", 4, (1, 9)), ("bigint", 1, (1, 9)), ("int", 4, (None, None))])
def test_one_unbounded_range_when_splitting_is_not_possible(dtype, k, row):
    assert plan_ranges(_Conn(row), "`db`.`t`", "`id`", dtype, k) == [KeyRange(None, None)]
