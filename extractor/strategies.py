"""The extraction strategies and what each needs (a leaf module: the one list of them)."""

from __future__ import annotations

from typing import Literal, get_args

#: How a table is extracted (docs/cdc.md): cursor and key, cursor only, key only, the whole table each run.
Strategy = Literal["hybrid", "timestamp", "id", "full_sync"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
#: The strategies that read by a cursor column (an updated-at timestamp), snapshot first.
CURSOR_STRATEGIES: tuple[Strategy, ...] = ("hybrid", "timestamp")


def uses_cursor(strategy: str) -> bool:
    """Whether ``strategy`` reads by a cursor column (and so starts with a snapshot phase)."""
    return strategy in CURSOR_STRATEGIES
