"""The only Python that talks to the warehouse (DuckDB locally, Redshift in production).

dbt builds the warehouse in a process of its own; what the extractor itself asks of a warehouse goes
through here: connection checks (``connections test``), the batches that reached landing (acknowledgement),
landing freshness (``status``) and the staging models ``verify`` reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractor.config import TargetConnection
from extractor.errors import WarehouseError
from extractor.names import model_name


def check_duckdb(conn: TargetConnection) -> str:
    """Open the DuckDB file read-only and ask its version; a file not created yet is fine."""
    import duckdb  # noqa: PLC0415  (the CLI starts without it)

    path = Path(conn.path or "")
    if conn.path != ":memory:" and not path.exists():
        if not path.parent.is_dir():
            raise WarehouseError(f"directory of duckdb file does not exist: {path.parent}", where=conn.name)
        return f"{path} does not exist yet (created on first build)"
    try:
        with duckdb.connect(conn.path or ":memory:", read_only=conn.path != ":memory:") as db:
            row = db.execute("SELECT version()").fetchone()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open duckdb file: {exc}", where=str(path)) from None
    return f"duckdb {row[0] if row else '?'} at {path}"


def check_target(conn: TargetConnection) -> dict[str, Any]:
    """Test a target connection: ``{"status", "detail", …}``; a failure raises a WarehouseError."""
    if conn.type == "duckdb":
        return {"status": "ok", "detail": check_duckdb(conn)}
    if not conn.host:
        return {"status": "skipped", "detail": "no host configured; Redshift cannot be tested offline"}
    from extractor import redshift  # noqa: PLC0415  (redshift_connector only when asked for)

    return redshift.check(conn)  # logs in and runs a query (redshift_connector)


def _target_field(target: Any, name: str, default: Any = None) -> Any:
    """A target's setting, from a ``TargetConnection`` or a mapping."""
    if isinstance(target, Mapping):
        return target.get(name, default)
    return getattr(target, name, default)


def _relations(tables: Iterable[str] | Mapping[str, str], pipeline: str | None) -> dict[str, str]:
    if isinstance(tables, Mapping):
        return dict(tables)
    return {t: model_name("landing", pipeline, t) if pipeline else t for t in tables}


def acknowledged_batches(target: Any, schema: str, tables: Iterable[str] | Mapping[str, str], *,
                         pipeline: str | None = None) -> dict[str, set[str]]:
    """Distinct ``_batch_id`` per table found in the landing relations of ``schema``.

    ``target`` is a ``config.TargetConnection`` or a mapping with ``type`` (``duckdb``: ``path``;
    ``redshift``: ``host``, ``port``, ``database``, ``username``, ``password``). ``tables`` maps table →
    landing relation, or lists tables whose relations are ``lnd_<pipeline>__<table>`` (or the relation
    names themselves when ``pipeline`` is None). A relation that does not exist yet acknowledges nothing.
    """
    relations = _relations(tables, pipeline)
    kind = _target_field(target, "type")
    if kind == "duckdb":
        return _acknowledged_duckdb(target, schema, relations)
    if kind == "redshift":
        return _acknowledged_redshift(target, schema, relations)
    raise WarehouseError(f"unknown warehouse type {kind!r}", hint="use duckdb or redshift")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _acknowledged_duckdb(target: Any, schema: str, relations: Mapping[str, str]) -> dict[str, set[str]]:
    import duckdb  # noqa: PLC0415

    path = _target_field(target, "path") or "warehouse.duckdb"
    if not Path(path).exists():
        return {t: set() for t in relations}
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open DuckDB warehouse: {exc}", where=str(path)) from None
    try:
        existing = {
            row[0] for row in conn.execute(
                "select table_name from information_schema.tables where table_schema = ?", [schema]
            ).fetchall()
        }
        result: dict[str, set[str]] = {}
        for table, relation in relations.items():
            if relation not in existing:
                result[table] = set()
                continue
            sql = f"select distinct _batch_id from {_quote(schema)}.{_quote(relation)}"
            rows = conn.execute(sql).fetchall()
            result[table] = {r[0] for r in rows}
        return result
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot read acknowledged batches: {exc}", where=f"{path}:{schema}") from None
    finally:
        conn.close()


def _acknowledged_redshift(target: Any, schema: str, relations: Mapping[str, str]) -> dict[str, set[str]]:
    from extractor import redshift  # noqa: PLC0415

    host = _target_field(target, "host")
    conn = redshift.connect(target)
    try:
        cur = conn.cursor()
        cur.execute("select table_name from information_schema.tables where table_schema = %s", (schema,))
        existing = {r[0] for r in cur.fetchall()}
        result: dict[str, set[str]] = {}
        for table, relation in relations.items():
            if relation not in existing:
                result[table] = set()
                continue
            cur.execute(f"select distinct _batch_id from {_quote(schema)}.{_quote(relation)}")
            result[table] = {r[0] for r in cur.fetchall()}
        return result
    except Exception as exc:  # noqa: BLE001
        raise WarehouseError(f"cannot read acknowledged batches: {type(exc).__name__}: {exc}",
                             where=f"{host}:{schema}") from None
    finally:
        conn.close()


def redshift_schema(target: Any) -> str:
    """The profile schema of a Redshift target: its ``schema`` in connections.yml (default ``analytics``)."""
    from extractor import redshift  # noqa: PLC0415

    return redshift.target_schema(target)


def landing_freshness(target: Any, schema: str, relations: Mapping[str, str]) -> dict[str, datetime | None]:
    """Newest ``_extracted_at`` per table in its landing relation (None: not built yet, or empty).

    ``extractor status`` reports it as the warehouse's freshness. DuckDB opens the file read-only (a build
    writing it at that moment makes this fail with a WarehouseError); Redshift reads zone maps for MAX.
    """
    kind = _target_field(target, "type")
    sql = "select max(_extracted_at) from {schema}.{relation}"
    if kind == "duckdb":
        import duckdb  # noqa: PLC0415

        path = _target_field(target, "path") or "warehouse.duckdb"
        if not Path(path).exists():
            return {t: None for t in relations}
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                existing = {r[0] for r in conn.execute(
                    "select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()}
                found: dict[str, datetime | None] = {}
                for table, relation in relations.items():
                    row = conn.execute(sql.format(schema=_quote(schema), relation=_quote(relation))).fetchone() \
                        if relation in existing else None
                    found[table] = _aware(row[0]) if row else None
                return found
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot read landing freshness: {str(exc).splitlines()[0]}",
                                 where=f"{path}:{schema}") from None
    if kind == "redshift":
        # The landed batch ids (one connection): they sort by extraction time, and the newest names its run.
        batches = _acknowledged_redshift(target, schema, relations)
        return {t: _batch_time(max(batches[t])) if batches.get(t) else None for t in relations}
    raise WarehouseError(f"unknown warehouse type {kind!r}", hint="use duckdb or redshift")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _batch_time(batch: str) -> datetime | None:
    """When a batch was extracted, from its id (``<run_id>-<seq>``; run ids start with the UTC time)."""
    try:
        return datetime.strptime(batch[:23], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def landing_schema(target_schema: str = "main") -> str:
    """The schema dbt builds landing models into (``<profile schema>_landing``, dbt's default naming)."""
    return f"{target_schema}_landing"




def landing_schema_of(target: Any) -> str:
    """The landing schema of a target: ``main_landing`` on DuckDB, ``<profile schema>_landing`` on Redshift."""
    if _target_field(target, "type") == "duckdb":
        return landing_schema("main")
    return landing_schema(redshift_schema(target))


def open_duckdb(path: Path) -> Any:
    """The DuckDB warehouse file, read-only (``verify`` reads staging models from it)."""
    import duckdb  # noqa: PLC0415

    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the warehouse: {exc}", where=str(path),
                             hint="is dbt still building? verify after it finishes") from None


def relation_columns(db: Any, schema: str, relation: str) -> list[str] | None:
    """The columns of ``schema.relation`` in an open DuckDB warehouse, in order; None if it does not exist."""
    rows = db.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, relation]).fetchall()
    return [r[0] for r in rows] or None
