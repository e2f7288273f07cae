"""The pure pieces split out of the pipeline and the config: no MySQL, no lake."""

from __future__ import annotations

import pyarrow as pa
import pytest

from extractor import cdc
from extractor.config.ordering import dependency_levels, find_cycle
from extractor.errors import DataError, suggest
from extractor.names import model_name
from extractor.quoting import as_template, is_mysql_name
from extractor.strategies import STRATEGIES, uses_cursor
from extractor.sync.deletes import tombstones
from extractor.sync.paginator import page_position


class _T:
    def __init__(self, *deps: str) -> None:
        self.depends_on = list(deps)


def test_a_cycle_is_named_in_depends_on_order():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) in (["a", "b", "c", "a"], ["b", "c", "a", "b"],
                                                                 ["c", "a", "b", "c"])
    assert find_cycle({"a": ["b"], "b": ["missing"]}) is None  # unknown tables are refused elsewhere


def test_levels_keep_ordering_through_tables_left_out_of_the_selection():
    tables = {"a": _T(), "b": _T("a"), "c": _T("b"), "d": _T()}
    assert [[n for n, t in tables.items() if t in level] for level in dependency_levels(tables)] == \
        [["a", "d"], ["b"], ["c"]]
    chosen = dependency_levels(tables, ["c", "a"])  # c needs a through b, which is not selected
    assert [[n for n, t in tables.items() if t in level] for level in chosen] == [["a"], ["c"]]


def test_one_home_for_names_strategies_and_suggestions():
    assert [model_name(layer, "shop", "orders") for layer in ("landing", "staging", "history")] == \
        ["lnd_shop__orders", "stg_shop__orders", "hist_shop__orders"]
    assert STRATEGIES == ("hybrid", "timestamp", "id", "full_sync")
    assert [s for s in STRATEGIES if uses_cursor(s)] == ["hybrid", "timestamp"]
    assert suggest("hybird", STRATEGIES) == "did you mean 'hybrid'?"
    several = suggest("order", ["orders", "orderz", "x"], n=3, cutoff=0.5)
    assert several in ("did you mean 'orders' or 'orderz'?", "did you mean 'orderz' or 'orders'?")
    assert suggest("zzz", STRATEGIES) is None


def test_identifier_rules_and_templates():
    assert is_mysql_name("discount_%") and is_mysql_name("a`b") and not is_mysql_name("trailing ")
    assert not is_mysql_name("x" * 65) and not is_mysql_name("tab\tname")
    assert as_template("SELECT `discount_%` FROM t WHERE a = %s") == "SELECT `discount_%%` FROM t WHERE a = %s"


def test_tombstones_carry_the_key_and_nulls_elsewhere():
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    tomb = tombstones(pa.table({"id": pa.array([3, 7], pa.int32())}), schema, ("id",))
    assert tomb.column("id").to_pylist() == [3, 7] and tomb.column("id").type == pa.int64()
    assert tomb.column("name").null_count == 2 and tomb.column("_op").to_pylist() == ["D", "D"]


def test_a_null_in_an_order_column_stops_paging_instead_of_skipping_rows():
    plan = cdc.ExtractPlan("`db`.`t`", "id", "incremental", None, ("`k`",), None, ("k",), None)
    assert page_position(plan, pa.table({"k": [1, 2]}), "db.t") == (2,)
    with pytest.raises(DataError, match="key column k holds a zero or invalid date"):
        page_position(plan, pa.table({"k": pa.array([1, None], pa.int64())}), "db.t")
