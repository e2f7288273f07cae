"""`extractor discover`: read a MySQL database's catalogue and propose a pipeline YAML for it.

Over 400 lines: the proposal's rules (key, cursor, strategy, table type, dependencies) and their reasons.

For every base table (views are skipped and listed) it chooses, and says why in a YAML comment:

- the key: the primary key, else the narrowest unique key whose columns are all NOT NULL;
- the cursor: a DATETIME/TIMESTAMP column set on update (``ON UPDATE CURRENT_TIMESTAMP`` first, then
  names such as ``updated_at``, ``last_update``, ``modified``…; NOT NULL and indexed first);
- the strategy: ``hybrid`` with a cursor and a key; ``id`` for an auto-increment key without a cursor
  (append-only); ``full_sync`` otherwise, with the row estimate and a warning above ``FULL_SYNC_WARN_ROWS``;
- ``table_type``: a guess (``dimension`` when other tables' foreign keys reference it), marked as a guess;
- ``depends_on`` from foreign keys, with cycles broken (the dropped edge is named);
- whether an index starts with ``(cursor, key…)``, with the ``CREATE INDEX`` to run when none does;
- ``exclude_columns`` suggestions for large binary columns (commented) and unsupported types (applied).

A table without any key is written commented out with the reason and the fix. The rendered YAML passes
``extractor config validate`` as it is. (The ad-hoc ``sync`` path has its own cursor choice in
``mysql.find_cursor_candidates``; the rule here also weighs ``ON UPDATE`` and is the one discover documents.)
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from extractor import cdc, discovery
from extractor.errors import SourceError
from extractor.mysql import TableInfo, describe_table, has_index_prefix
from extractor.quoting import quote_ident

_IDENT = re.compile(r"[A-Za-z0-9_$]{1,64}")

#: Above this row estimate a full_sync table gets a warning: every run re-reads the whole table
#: (about a minute per million narrow rows here), so an ON UPDATE timestamp column pays for itself.
FULL_SYNC_WARN_ROWS = 1_000_000

#: Binary columns whose values may be huge; suggested (commented) under exclude_columns.
LARGE_BINARY_TYPES = ("blob", "mediumblob", "longblob")

#: "Last modified" names, best first (compared lower-case).

@dataclass(frozen=True)
class ForeignKey:
    """One foreign key of a table: its columns and the table (same database) they reference."""

    name: str
    columns: tuple[str, ...]
    referenced_table: str


@dataclass
class TablePlan:
    """What discover proposes for one base table, with the reasons."""

    table: str
    key_name: str
    info: TableInfo
    id_columns: list[str] = field(default_factory=list)
    key_reason: str = ""
    cursor: str | None = None
    cursor_reason: str = ""
    strategy: str = "full_sync"
    strategy_reason: str = ""
    table_type: str = "fact"
    type_reason: str = ""
    depends_on: list[str] = field(default_factory=list)
    broken_cycles: list[str] = field(default_factory=list)
    index_note: str | None = None
    create_index: str | None = None
    exclude_columns: list[tuple[str, str]] = field(default_factory=list)
    suggested_excludes: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    delete_detection: str | None = None
    delete_reason: str = ""
    skip_reason: str | None = None
    skip_fix: str | None = None


@dataclass
class Discovery:
    """The scan of one database: a plan per base table, the views skipped, the tables filtered out."""

    database: str
    tables: list[TablePlan]
    views: list[str]
    filtered_out: list[str]


# -- the catalogue ------------------------------------------------------------------------------------


def _rows(conn: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def scan(conn: Any, database: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Discovery:
    """Read ``information_schema`` of ``database`` and plan every base table that passes the globs."""
    listed = _rows(conn, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
                   " ORDER BY TABLE_NAME", (database,))
    if not listed:
        found = [r[0] for r in _rows(conn, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", ())]
        hint = ("it has no tables" if database in found
                else "no such database; available: " + ", ".join(sorted(found)[:10]))
        raise SourceError(f"nothing to discover in database {database!r}", where=database, hint=hint)
    views = [name for name, kind in listed if kind != "BASE TABLE"]
    names = [name for name, kind in listed if kind == "BASE TABLE"]

    def wanted(name: str) -> bool:
        low = name.lower()
        if include and not any(fnmatch.fnmatchcase(low, g.lower()) for g in include):
            return False
        return not any(fnmatch.fnmatchcase(low, g.lower()) for g in exclude)

    chosen = [n for n in names if wanted(n)]
    fks: dict[str, list[ForeignKey]] = {}
    for table, constraint, column, referenced in _rows(
            conn, "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME"
                  " FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s"
                  " AND REFERENCED_TABLE_SCHEMA = %s AND REFERENCED_TABLE_NAME IS NOT NULL"
                  " ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION", (database, database)):
        per_table = fks.setdefault(table, [])
        if per_table and per_table[-1].name == constraint:
            last = per_table.pop()
            per_table.append(ForeignKey(constraint, (*last.columns, column), referenced))
        else:
            per_table.append(ForeignKey(constraint, (column,), referenced))
    plans = [plan_table(describe_table(conn, database, n)) for n in chosen]
    _assign_keys(plans)
    _resolve_relations(plans, fks)
    return Discovery(database, plans, views, [n for n in names if n not in chosen])


# -- per table ----------------------------------------------------------------------------------------


def choose_key(info: TableInfo) -> tuple[list[str], str]:
    """The key (primary key, else the narrowest unique NOT NULL key) and why; ``[]`` when there is none."""
    if info.primary_key:
        return list(info.primary_key), "primary key"
    nullable = {c.name for c in info.columns if c.nullable}
    usable = sorted(((name, cols) for name, cols in info.unique_keys.items()
                     if name != "PRIMARY" and not set(cols) & nullable), key=lambda kv: (len(kv[1]), kv[0]))
    if usable:
        name, cols = usable[0]
        return list(cols), f"unique NOT NULL key `{name}` (no primary key)"
    return [], ""


def choose_cursor(info: TableInfo) -> tuple[str | None, str]:
    """The cursor of a table and why (``discovery.choose_cursor``, the rule ad-hoc ``sync`` uses too)."""
    choice = discovery.choose_cursor(discovery.facts_from_table(info))
    if choice.column is None:
        return None, ""
    why = choice.reason.removeprefix(f"cursor {choice.column} ")  # the comment names the column itself
    if next(c for c in info.columns if c.name == choice.column).nullable:
        why += "; nullable: rows with a NULL cursor are counted and reported (defaults.null_cursor_policy)"
    return choice.column, why


def _cursor_index(info: TableInfo, cursor: str, key: Sequence[str]) -> tuple[str, str | None]:
    wanted = list(cdc.order_columns(cursor, key))
    if has_index_prefix(info, wanted):
        return f"index on ({', '.join(wanted)}) exists", None
    # InnoDB appends the primary key to every secondary index, so (cursor) alone orders by (cursor, pk…).
    if (info.engine or "").lower() == "innodb" and list(key) == list(info.primary_key) \
            and has_index_prefix(info, [cursor]):
        return f"index on ({cursor}) exists (InnoDB appends the primary key)", None
    return (f"no index starts with ({', '.join(wanted)}): each incremental read scans the table",
            discovery.create_index_sql(info.db, info.name, wanted))


def plan_table(info: TableInfo) -> TablePlan:
    """Key, cursor, strategy, index check and column suggestions of one table (relations come later)."""
    plan = TablePlan(table=info.name, key_name=info.name, info=info)
    plan.id_columns, plan.key_reason = choose_key(info)
    plan.cursor, plan.cursor_reason = choose_cursor(info)
    for col in info.columns:
        try:
            col.kind  # noqa: B018 - raises for a type the lake cannot hold
        except SourceError:
            plan.exclude_columns.append((col.name, f"{col.column_type}: a type the lake cannot hold"))
            continue
        if col.data_type.lower() in LARGE_BINARY_TYPES:
            plan.suggested_excludes.append((col.name, f"{col.column_type}: values may be very large"))
        elif col.kind == "geometry":
            plan.suggested_excludes.append((col.name, f"{col.column_type}: lands as WKB bytes"))
    blocked = {c for c, _ in plan.exclude_columns}
    if not plan.id_columns or blocked & set(plan.id_columns):
        plan.skip_reason = ("no primary key and no unique NOT NULL key: rows cannot be told apart, so updates "
                            "and deletes cannot be applied in the warehouse") if not plan.id_columns else \
            "its key has a column of a type the lake cannot hold"
        table_sql = f"{quote_ident(info.db)}.{quote_ident(info.name)}"
        plan.skip_fix = (f"add a primary key (ALTER TABLE {table_sql} ADD PRIMARY KEY (…))"
                         " or a unique key on NOT NULL columns, then run discover again; or uncomment this "
                         "entry and set id_columns to columns that identify a row")
    if plan.cursor in blocked:
        plan.cursor = None
    rows = info.approx_rows or 0
    auto = [c.name for c in info.columns if "auto_increment" in info.extra.get(c.name, "").lower()]
    if plan.cursor and plan.id_columns:
        plan.strategy = "hybrid"
        plan.strategy_reason = "cursor + key: reads rows changed since the last run, ties broken by the key"
        plan.index_note, plan.create_index = _cursor_index(info, plan.cursor, plan.id_columns)
    elif len(plan.id_columns) == 1 and plan.id_columns[0] in auto:
        plan.strategy = "id"
        plan.strategy_reason = ("auto-increment key and no cursor: read as append-only by key; updates and deletes "
                                "after a row is read are NOT seen (if the table changes, use full_sync or add an "
                                "ON UPDATE CURRENT_TIMESTAMP column)")
    else:
        plan.strategy = "full_sync"
        plan.strategy_reason = (f"no cursor column: the whole table (~{rows:,} rows estimated) is re-read every run, "
                                "which also shows deletes")
        if rows > FULL_SYNC_WARN_ROWS:
            plan.warnings.append(
                f"~{rows:,} rows re-read every run (above {FULL_SYNC_WARN_ROWS:,}): add a column "
                "`updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)` "
                "to make it incremental")
    return plan


def _assign_keys(plans: list[TablePlan]) -> None:
    """Entry names: the table name when it is a safe identifier, else a sanitised unique one."""
    used: set[str] = set()
    for plan in plans:
        base = plan.table if _IDENT.fullmatch(plan.table) else (re.sub(r"[^A-Za-z0-9_$]", "_", plan.table)[:60] or "t")
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name.lower())
        plan.key_name = name


def _reaches(graph: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """A path start → … → goal in ``graph``, or None."""
    stack, seen = [(start, [start])], {start}
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        for nxt in graph.get(node, []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def _resolve_relations(plans: list[TablePlan], fks: dict[str, list[ForeignKey]]) -> None:
    """table_type guesses and depends_on from foreign keys, dropping the edges that would close a cycle."""
    by_table = {p.table: p for p in plans}
    active = {p.table for p in plans if not p.skip_reason}
    referenced_by: dict[str, set[str]] = {}
    graph: dict[str, list[str]] = {}
    nullable = {(p.table, c.name) for p in plans for c in p.info.columns if c.nullable}
    edges = sorted(((plan, fk) for plan in plans for fk in fks.get(plan.table, [])),
                   key=lambda e: (any((e[0].table, c) in nullable for c in e[1].columns), e[0].table, e[1].name))
    # Required references first: a cycle is broken at an optional (nullable) foreign key where there is one.
    for plan, fk in edges:
        target = fk.referenced_table
        if target == plan.table:
            continue
        referenced_by.setdefault(target, set()).add(plan.table)
        if plan.table not in active or target not in active:
            continue
        dep = by_table[target].key_name
        if dep in plan.depends_on:
            continue
        path = _reaches(graph, target, plan.table)
        if path is not None:
            cycle = " → ".join([plan.table, *path])
            plan.broken_cycles.append(f"not {dep} (foreign key {fk.name}): it would close the cycle {cycle}")
            continue
        graph.setdefault(plan.table, []).append(target)
        plan.depends_on.append(dep)
    for plan in plans:
        plan.depends_on.sort()
        refs = sorted(referenced_by.get(plan.table, ()))
        if refs:
            plan.table_type = "dimension"
            plan.type_reason = "guess: referenced by foreign keys of " + ", ".join(refs)
        else:
            plan.table_type = "fact"
            plan.type_reason = "guess: no foreign key references it"
        if plan.strategy == "full_sync":
            continue
        if plan.table_type == "dimension":
            plan.delete_detection = "reconcile"
            plan.delete_reason = ("a cursor cannot see hard deletes; reconcile reads every key each run "
                                  "(SELECT key only) so deleted rows close their history")
        else:
            plan.delete_reason = ("hard deletes are not seen by a cursor; if rows are deleted, set "
                                  "delete_detection: reconcile (reads every key each run)")


# -- rendering ----------------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def _flow(values: Sequence[str]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _entry_lines(plan: TablePlan, database: str) -> list[str]:
    info = plan.info
    out = [f"# {plan.table}: {len(info.columns)} columns, ~{info.approx_rows or 0:,} rows"]
    out.append(f"#   key: {', '.join(plan.id_columns)} — {plan.key_reason}" if plan.id_columns else "#   key: none")
    if plan.cursor:
        out.append(f"#   cursor: {plan.cursor} — {plan.cursor_reason}")
    else:
        out.append("#   cursor: none (no DATETIME/TIMESTAMP column set on update or named like updated_at)")
    if not plan.skip_reason:
        out.append(f"#   strategy: {plan.strategy} — {plan.strategy_reason}")
        out.append(f"#   table_type: {plan.table_type} — {plan.type_reason}")
    if plan.delete_reason and not plan.skip_reason:
        out.append(f"#   deletes: {plan.delete_reason}")
    if plan.index_note:
        out.append(f"#   index: {plan.index_note}")
    if plan.create_index:
        out.append(f"#   run: {plan.create_index};")
    for broken in plan.broken_cycles:
        out.append(f"#   depends_on: {broken}")
    for warning in plan.warnings:
        out.append(f"#   WARNING: {warning}")
    for col, why in plan.suggested_excludes:
        out.append(f"#   consider exclude_columns: [{col}] — {why}")
    source_table = f"{database}.{plan.table}" if "." not in plan.table else f"{database}.`{plan.table}`"
    body = [f"{plan.key_name}:", f"  source_table: {_scalar(source_table)}", f"  cdc_strategy: {plan.strategy}"]
    if plan.cursor and plan.strategy == "hybrid":
        body.append(f"  cursor_column: {_scalar(plan.cursor)}")
    body.append(f"  id_columns: {_flow(plan.id_columns)}")
    body.append(f"  table_type: {plan.table_type}")
    if plan.depends_on:
        body.append(f"  depends_on: {_flow(plan.depends_on)}")
    if plan.delete_detection:
        body.append(f"  delete_detection: {plan.delete_detection}")
    if plan.exclude_columns:
        body.append(f"  exclude_columns: {_flow([c for c, _ in plan.exclude_columns])}  # "
                    + "; ".join(f"{c}: {why}" for c, why in plan.exclude_columns))
    if plan.key_name != plan.table:
        out.append(f"#   entry named {plan.key_name}: {plan.table!r} is not a safe identifier")
    if plan.skip_reason:
        out.append(f"#   NOT EXTRACTED: {plan.skip_reason}.")
        out.append(f"#   Fix: {plan.skip_fix}.")
        body = ["# " + line for line in body]
    return out + body


def render(discovery: Discovery, *, pipeline: str, source: str, target: str | None, target_schema: str,
           lake: str, now: datetime | None = None) -> str:
    """The pipeline YAML (with a comment per entry saying why) for ``discovery``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    active = [p for p in discovery.tables if not p.skip_reason]
    lines = [
        f"# Generated by `extractor discover` from `{source}`.`{discovery.database}` on {stamp}.",
        "# Every choice below is a proposal with its reason: review them (table_type is a guess), then",
        f"#   extractor config validate {pipeline} && extractor dbt scaffold -p {pipeline}"
        f" && extractor run -p {pipeline}",
        "",
        "pipeline:",
        f"  name: {pipeline}",
        f"  source: {source}",
    ]
    if target:
        lines.append(f"  target: {target}")
    lines += [f"  target_schema: {target_schema}", f"  lake: {_scalar(lake)}", ""]
    if not active:
        raise SourceError(f"no table of {discovery.database!r} can be extracted", where=discovery.database,
                          hint="every base table lacks a key (or the include/exclude globs left none); "
                               "add primary keys and run discover again")
    lines.append("tables:")
    for plan in discovery.tables:
        lines += ["  " + line if line else "" for line in _entry_lines(plan, discovery.database)]
        lines.append("")
    if discovery.views:
        lines.append("# Views (not extracted: discover reads base tables only): " + ", ".join(discovery.views))
    if discovery.filtered_out:
        lines.append("# Left out by --include/--exclude: " + ", ".join(discovery.filtered_out))
    return "\n".join(lines).rstrip() + "\n"


def summary(discovery: Discovery) -> str:
    """One line per table for stderr: entry, strategy, key, and what needs attention."""
    out = []
    for plan in discovery.tables:
        flags = [w for w in ([plan.skip_reason and "SKIPPED (no key)", plan.create_index and "index missing"]
                             + (["large full_sync"] if plan.warnings else [])) if w]
        out.append(f"{plan.key_name:<28} {plan.strategy if not plan.skip_reason else '-':<10} "
                   f"{','.join(plan.id_columns) or '-':<20} {plan.table_type:<9} {'; '.join(flags)}".rstrip())
    if discovery.views:
        out.append(f"views skipped: {', '.join(discovery.views)}")
    return "\n".join(out)


# -- the command --------------------------------------------------------------------------------------


def discover_pipeline(project: Any, source: str, database: str, *, pipeline: str | None = None,
                      target: str | None = None, target_schema: str | None = None, lake: str = "./lake",
                      include: Sequence[str] = (), exclude: Sequence[str] = ()) -> tuple[str, Discovery]:
    """Scan ``database`` through source connection ``source`` and render its pipeline YAML."""
    from extractor import mysql  # noqa: PLC0415
    from extractor.errors import ConfigError  # noqa: PLC0415

    conn_config = project.source(source)
    name = pipeline or database
    if not _IDENT.fullmatch(name):
        raise ConfigError(f"pipeline name {name!r} is not a safe identifier",
                          hint="pass --pipeline with letters, digits and _ only")
    if target is None:
        targets = list(project.connections.targets)
        if len(targets) > 1:
            raise ConfigError(f"{len(targets)} targets in connections.yml ({', '.join(targets)})",
                              where=str(project.config_dir / "connections.yml"), hint="choose one with --target")
        target = targets[0] if targets else None
    elif target not in project.connections.targets:
        project.target(target)  # the error names the file and suggests a close match
    conn = mysql.connect(conn_config, database)
    try:
        found = scan(conn, database, include, exclude)
    finally:
        conn.close()
    text = render(found, pipeline=name, source=source, target=target,
                  target_schema=target_schema or f"{database}_raw", lake=lake)
    return text, found


def write_pipeline(config_dir: Any, name: str, text: str, *, force: bool = False) -> Any:
    """Write ``<config_dir>/pipelines/<name>.yml``; an existing file only with ``force``."""
    from pathlib import Path  # noqa: PLC0415

    from extractor.errors import ConfigError  # noqa: PLC0415

    path = Path(config_dir) / "pipelines" / f"{name}.yml"
    if path.exists() and not force:
        raise ConfigError("pipeline file already exists", where=str(path),
                          hint="pass --force to overwrite it, or --pipeline OTHER_NAME to write another")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
