"""Dependency ordering of a pipeline's tables (``depends_on``), by ``graphlib``: the one home for it.

``sync_pipeline`` runs the levels one after another, ``extractor plan`` shows them to a scheduler.
"""

from __future__ import annotations

import graphlib
from collections.abc import Collection, Mapping
from typing import Protocol, TypeVar


class _Dependent(Protocol):
    @property
    def depends_on(self) -> list[str]: ...


T = TypeVar("T", bound=_Dependent)


def find_cycle(graph: Mapping[str, Collection[str]]) -> list[str] | None:
    """A ``depends_on`` cycle as ``[a, b, a]`` (``a`` depends on ``b`` …), or None when there is none."""
    try:
        graphlib.TopologicalSorter({k: [d for d in v if d in graph] for k, v in graph.items()}).prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the one that depends on it; depends_on reads the other way
        cycle: list[str] = list(reversed(exc.args[1]))
        return cycle
    return None


def reachable(name: str, tables: Mapping[str, _Dependent]) -> set[str]:
    """Every table ``name`` depends on, directly or through others."""
    seen: set[str] = set()
    stack = list(tables[name].depends_on)
    while stack:
        dep = stack.pop()
        if dep not in seen and dep in tables:
            seen.add(dep)
            stack.extend(tables[dep].depends_on)
    return seen


def dependency_levels(tables: Mapping[str, T], names: Collection[str] | None = None) -> list[list[T]]:
    """The selected tables (all by default) in levels; each level only needs earlier ones.

    A table's level is one more than the deepest selected table it depends on, directly or through tables
    outside the selection; configuration order within a level. Cycles were refused when loading.
    """
    chosen = set(names) if names is not None else set(tables)
    graph = {name: [d for d in table.depends_on if d in tables] for name, table in tables.items()}
    depth: dict[str, int] = {}
    for name in graphlib.TopologicalSorter(graph).static_order():
        if name in chosen:
            depth[name] = 1 + max((depth[d] for d in reachable(name, tables) & chosen), default=-1)
    levels: list[list[T]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for name, table in tables.items():
        if name in depth:
            levels[depth[name]].append(table)
    return levels
