"""Loading the lake into Redshift: one connection truth, COPY plans built from the files, a real login check.

Over 400 lines: COPY load plans, oversize limits and the login check are all Redshift's rules.

- ``plan_table`` / ``plan_loads``: at build time (``extractor run``, also with ``--skip-extract``) the files
  to load — the watermark's pending files, or with ``backfill`` every data file still in the lake — are
  grouped into runs of consecutive files with the same Parquet schema (read from each file's footer). Each
  group gets its own COPY manifest, written now, and carries its columns in file order with their Redshift
  types, because COPY from Parquet matches columns by position and needs the counts to match. The dbt macro
  ``lake_prepare`` turns the plan (var ``lake_loads``) into one staging table and one COPY per group, in
  order, adding the columns a group brings to landing (``ALTER TABLE … ADD COLUMN``) before its COPY.
- ``dbt_env`` / ``dbt_vars``: the Redshift target in ``connections.yml`` (host, port, database, user,
  password, schema, ``iam_role``) is what dbt connects with and what COPY assumes; the acknowledgement uses
  the same target. An empty ``iam_role`` is an error before dbt starts.
- ``check``: ``connections test`` logs in with ``redshift_connector`` and runs a query.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extractor.errors import LakeError, WarehouseError
from extractor.lake import Storage, TableLayout
from extractor.names import LINEAGE_COLUMNS
from extractor.types import Column, redshift_type, redshift_type_for_arrow

#: Lineage columns: fixed Redshift types (``_extracted_at`` is a UTC instant loaded into TIMESTAMP).
LINEAGE_TYPES = dict(zip(LINEAGE_COLUMNS, ("TIMESTAMP", "VARCHAR(64)", "CHAR(1)"), strict=True))
#: Parquet page compression for a Redshift target: COPY from Parquet runs through Redshift Spectrum, whose
#: documentation names SNAPPY (and GZIP) for Parquet; zstd pages are not documented there.
REDSHIFT_COMPRESSION = "snappy"
_BYTE_LIMITS = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295,
                "tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295}
DEFAULT_SCHEMA = "analytics"


# -- the Redshift type of a landed Parquet column ---------------------------------------------------------


def column_from_field(f: pa.Field) -> Column | None:
    """The MySQL column a lake field was declared from (its ``mysql_type`` metadata), or None."""
    meta = f.metadata or {}
    mysql_type = meta.get(b"mysql_type", b"").decode()
    if not mysql_type:
        return None
    match = re.match(r"\s*([a-z]+)\s*(?:\(([^)]*)\))?", mysql_type.lower())
    if match is None:
        return None
    data_type, args = match.group(1), match.group(2) or ""
    numbers = [int(n) for n in re.findall(r"\d+", args)] if re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*)?", args) else []
    charset = meta.get(b"mysql_charset", b"").decode() or None
    max_length = None
    precision = scale = None
    if data_type in ("char", "varchar", "binary", "varbinary") and numbers:
        max_length = numbers[0]
    elif data_type in _BYTE_LIMITS:
        max_length = _BYTE_LIMITS[data_type]
    elif data_type in ("decimal", "numeric") and numbers:
        precision, scale = numbers[0], numbers[1] if len(numbers) > 1 else 0
    elif data_type == "bit":
        precision = numbers[0] if numbers else 1
    octet = max_length if data_type in _BYTE_LIMITS else None
    return Column(name=f.name, data_type=data_type, column_type=mysql_type, nullable=f.nullable,
                  precision=precision, scale=scale, unsigned="unsigned" in mysql_type.lower(),
                  charset=charset, max_length=max_length, octet_length=octet)


def redshift_type_for_field(f: pa.Field) -> str:
    """The Redshift type of one landed Parquet column, from the MySQL type it was declared from.

    Text without a recorded charset is sized at 4 UTF-8 bytes per character (utf8mb4, the safe side). A
    field without ``mysql_type`` (written by another tool) falls back to its Arrow type.
    """
    if f.name in LINEAGE_TYPES:
        return LINEAGE_TYPES[f.name]
    col = column_from_field(f)
    if col is not None:
        try:
            mapped = redshift_type(col)
        except Exception:  # noqa: BLE001  (an unknown MySQL type: the Arrow type still loads)
            mapped = None
        # The Arrow type decides where it and the MySQL type disagree (DECIMAL > 38 digits is text, …).
        if mapped is not None and _compatible(mapped, f.type):
            return mapped
    return redshift_type_for_arrow(f.type)


def _compatible(redshift: str, arrow: pa.DataType) -> bool:
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return redshift.startswith("VARCHAR")
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return redshift.startswith("VARBYTE")
    return redshift == redshift_type_for_arrow(arrow) or (
        pa.types.is_decimal(arrow) and redshift.startswith("NUMERIC")) or (
        pa.types.is_duration(arrow) and redshift == "BIGINT")


def columns_of_schema(schema: pa.Schema) -> list[tuple[str, str]]:
    """``(name, Redshift type)`` of every column of a lake file, in file order."""
    return [(f.name, redshift_type_for_field(f)) for f in schema]


# -- load plans -------------------------------------------------------------------------------------------


@dataclass
class LoadStep:
    """One COPY: a manifest of consecutive files that share one Parquet schema, and that schema."""

    manifest: str
    columns: list[tuple[str, str]]
    files: int
    bytes: int

    def to_var(self) -> dict[str, Any]:
        """The step as the dbt macro reads it."""
        return {"manifest": self.manifest, "files": self.files,
                "columns": [{"name": n, "data_type": t} for n, t in self.columns]}


@dataclass
class TablePlan:
    """What a build loads into one landing table."""

    table: str
    backfill: bool
    #: Whether the warehouse has acknowledged batches of this table before (a landing table that is
    #: missing then means a new cluster or schema: only a backfill may create it).
    acknowledged_before: bool
    steps: list[LoadStep] = field(default_factory=list)

    def union_columns(self) -> list[tuple[str, str]]:
        """Every column of every step, in order of first appearance, each with its widest type."""
        found: dict[str, str] = {}
        for step in self.steps:
            for name, data_type in step.columns:
                found[name] = _wider(found[name], data_type) if name in found else data_type
        return list(found.items())

    def to_var(self) -> dict[str, Any]:
        """The plan as the dbt macro reads it (var ``lake_loads``)."""
        return {"backfill": self.backfill, "acknowledged_before": self.acknowledged_before,
                "columns": [{"name": n, "data_type": t} for n, t in self.union_columns()],
                "steps": [s.to_var() for s in self.steps]}


def _wider(old: str, new: str) -> str:
    """The type that holds both (VARCHAR/VARBYTE: the longer; NUMERIC: enough digits for both; else new)."""
    a, b = re.fullmatch(r"(\w+)\((\d+)(?:,(\d+))?\)", old), re.fullmatch(r"(\w+)\((\d+)(?:,(\d+))?\)", new)
    if a and b and a.group(1) == b.group(1):
        if a.group(1) == "NUMERIC":
            scale = max(int(a.group(3) or 0), int(b.group(3) or 0))
            digits = max(int(a.group(2)) - int(a.group(3) or 0), int(b.group(2)) - int(b.group(3) or 0))
            return f"NUMERIC({min(digits + scale, 38)},{scale})"
        return f"{a.group(1)}({max(int(a.group(2)), int(b.group(2)))})"
    return new


@dataclass(frozen=True)
class _File:
    key: str
    bytes: int


def _lake_files(storage: Storage, layout: TableLayout) -> list[_File]:
    """Every data file of the table still in the lake, oldest first (run id, then sequence)."""
    found = []
    for info in storage.list(layout.data_prefix):
        parsed = layout.parse_data_key(info.key)
        if parsed is not None:
            found.append((parsed, _File(info.key, info.size)))
    return [f for _, f in sorted(found, key=lambda item: item[0])]


def _schema(storage: Storage, key: str) -> pa.Schema:
    fs, root = storage.arrow_filesystem()
    try:
        with fs.open_input_file(f"{root}/{key}") as handle:
            return pq.read_schema(handle)
    except (OSError, pa.ArrowInvalid) as exc:
        raise LakeError(f"cannot read the Parquet schema of a file to load: {exc}".splitlines()[0],
                        where=storage.uri(key),
                        hint="the file is missing (cleaned?) or not Parquet; `extractor watermark get` "
                             "shows the pending files") from None


def plan_table(storage: Storage, layout: TableLayout, watermark: Any, *, build_id: str,
               backfill: bool = False) -> TablePlan:
    """Group the files to load into schema versions and write one COPY manifest per version.

    ``watermark`` is the table's ``state.Watermark`` (or None). Without ``backfill`` the files are its
    pending files; with it, every data file of the table in the lake (landing skips the batches it
    already holds by ``_batch_id``, so a backfill into a warehouse that has some of them is safe).
    Manifests are ``manifests/…/<table>/<build_id>__load<NN>.manifest``, written now: a build never
    reuses a manifest written by an earlier run.
    """
    acked = bool(watermark is not None and (watermark.load.acknowledged_batches
                                            or watermark.load.high_water_batch))
    plan = TablePlan(layout.table, backfill, acked)
    if backfill:
        files = _lake_files(storage, layout)
    elif watermark is not None:
        pending = sorted(watermark.pending_files, key=lambda p: (p.run_id, p.seq))
        files = [_File(p.key, p.bytes) for p in pending]
    else:
        files = []
    groups: list[tuple[list[tuple[str, str]], list[_File]]] = []
    for f in files:
        columns = columns_of_schema(_schema(storage, f.key))
        if groups and groups[-1][0] == columns:
            groups[-1][1].append(f)
        else:
            groups.append((columns, [f]))
    for n, (columns, group) in enumerate(groups, start=1):
        key = f"{layout.manifest_prefix}{build_id}__load{n:02d}.manifest"
        body = {"entries": [{"url": storage.uri(f.key), "mandatory": True,
                             "meta": {"content_length": f.bytes}} for f in group]}
        storage.put_bytes(key, (json.dumps(body, indent=2) + "\n").encode())
        plan.steps.append(LoadStep(storage.uri(key), columns, len(group), sum(f.bytes for f in group)))
    return plan


def new_build_id() -> str:
    """A sortable id for the manifests of one build."""
    return "build-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def plan_loads(project: Any, pipeline: Any, *, backfill: bool = False,
               tables: Sequence[str] | None = None) -> dict[str, TablePlan]:
    """Plans of every table of ``pipeline`` (or ``tables``), keyed by landing table name."""
    from extractor.lake import open_lake  # noqa: PLC0415
    from extractor.state import WatermarkStore  # noqa: PLC0415

    storage = open_lake(pipeline.lake)
    build_id = new_build_id()
    chosen = [pipeline.table(n) for n in tables] if tables else list(pipeline.tables.values())
    plans = {}
    for t in chosen:
        layout = TableLayout.of(pipeline, t)
        wm, _ = WatermarkStore(storage, layout).load()
        plans[t.target] = plan_table(storage, layout, wm, build_id=build_id, backfill=backfill)
    return plans


# -- one connection truth ---------------------------------------------------------------------------------


def _secret(value: Any) -> str:
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return value or ""


def _field(target: Any, name: str, default: Any = None) -> Any:
    if isinstance(target, Mapping):
        return target.get(name, default)
    return getattr(target, name, default)


def target_schema(target: Any) -> str:
    """The profile schema dbt builds into for a Redshift target (``schema``, default ``analytics``)."""
    return _field(target, "schema") or DEFAULT_SCHEMA


def require_iam_role(target: Any) -> str:
    """The target's ``iam_role``; an empty one is an error before dbt starts (COPY would fail later)."""
    role = (_field(target, "iam_role") or "").strip()
    if not role:
        raise WarehouseError(
            f"redshift target '{_field(target, 'name')}' has no iam_role: COPY cannot read the lake",
            where="connections.yml",
            hint="set iam_role: arn:aws:iam::<account>:role/<role that can read the lake bucket>")
    return role


def dbt_env(target: Any) -> dict[str, str]:
    """The ``REDSHIFT_*`` variables profiles.example.yml reads, from the connections.yml target."""
    env = {"DBT_TARGET": "redshift", "REDSHIFT_SCHEMA": target_schema(target),
           "REDSHIFT_IAM_ROLE": require_iam_role(target)}
    values = {"REDSHIFT_HOST": _field(target, "host"), "REDSHIFT_PORT": _field(target, "port") or 5439,
              "REDSHIFT_DATABASE": _field(target, "database"), "REDSHIFT_USER": _field(target, "username"),
              "REDSHIFT_PASSWORD": _secret(_field(target, "password")),
              "REDSHIFT_SSLMODE": _field(target, "sslmode")}
    env.update({k: str(v) for k, v in values.items() if v not in (None, "")})
    return env


def dbt_vars(target: Any, pipeline_name: str, plans: Mapping[str, TablePlan]) -> dict[str, Any]:
    """The dbt vars of a Redshift build: the IAM role and the load plan of every table."""
    return {"redshift_iam_role": require_iam_role(target),
            "lake_loads": {pipeline_name: {t: p.to_var() for t, p in plans.items()}}}


# -- connections test -------------------------------------------------------------------------------------


def connect(target: Any, *, timeout: int = 10) -> Any:
    """A ``redshift_connector`` connection to the target (raises WarehouseError, never with the password)."""
    try:
        import redshift_connector  # noqa: PLC0415
    except ImportError:
        raise WarehouseError("redshift_connector is not installed",
                             hint="install the Redshift extra: pip install 'mysql-lake-extractor[redshift]'") from None
    host, port = _field(target, "host"), int(_field(target, "port") or 5439)
    password = _secret(_field(target, "password"))
    kwargs: dict[str, Any] = {"host": host, "port": port, "database": _field(target, "database") or "dev",
                              "user": _field(target, "username") or "", "password": password,
                              "timeout": timeout}
    if _field(target, "sslmode"):
        kwargs["sslmode"] = _field(target, "sslmode")
    try:
        return redshift_connector.connect(**kwargs)
    except Exception as exc:  # noqa: BLE001  (the driver raises many types)
        detail = str(exc).replace(password, "***") if password else str(exc)
        raise WarehouseError(
            f"cannot log in to redshift '{_field(target, 'name')}': {type(exc).__name__}: {detail}".splitlines()[0],
            where=f"{host}:{port}",
            hint="check host, port, database, username and password in connections.yml "
                 "(a server that refuses SSL or speaks another protocol is not Redshift)") from None


def check(target: Any) -> dict[str, Any]:
    """Log in and run ``select version()``: ``{"status", "detail", "latency_ms"}``.

    Without a username (nothing to log in with) or without ``redshift_connector`` it opens a TCP socket
    only and says "credentials not tested"; status ``reachable``, never ``ok``.
    """
    import socket  # noqa: PLC0415

    start = time.perf_counter()
    host, port = _field(target, "host"), int(_field(target, "port") or 5439)
    try:
        import redshift_connector  # noqa: F401, PLC0415
        missing = "" if _field(target, "username") else "no username"
    except ImportError:
        missing = "redshift_connector not installed: pip install 'mysql-lake-extractor[redshift]'"
    if missing:
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as exc:
            raise WarehouseError(f"cannot reach redshift '{_field(target, 'name')}': {exc.strerror or exc}",
                                 where=f"{host}:{port}") from None
        ms = round((time.perf_counter() - start) * 1000, 1)
        return {"status": "reachable", "latency_ms": ms,
                "detail": f"TCP reachable in {ms} ms (credentials not tested: {missing})"}
    conn = connect(target)
    try:
        connected = time.perf_counter()
        cur = conn.cursor()
        cur.execute("select version()")
        row = cur.fetchone()
    except Exception as exc:  # noqa: BLE001
        raise WarehouseError(f"select version() failed on redshift '{_field(target, 'name')}': "
                             f"{type(exc).__name__}", where=f"{host}:{port}") from None
    finally:
        conn.close()
    latency = round((time.perf_counter() - connected) * 1000, 1)
    role = "" if (_field(target, "iam_role") or "").strip() else "; no iam_role: COPY will not run"
    version = str(row[0]) if row else "?"
    return {"status": "ok", "latency_ms": latency,
            "detail": f"{version[:60]} ({latency} ms query, logged in as {_field(target, 'username')}{role})"}


# -- values wider than Redshift allows --------------------------------------------------------------------


def truncation_limits(columns: Sequence[Column], oversize: Mapping[str, str]) -> dict[str, int]:
    """Byte limit per column configured ``oversize: truncate`` (VARCHAR 65535, VARBYTE 16,777,216)."""
    from extractor.types import REDSHIFT_VARBYTE_MAX, REDSHIFT_VARCHAR_MAX  # noqa: PLC0415

    chosen = {name.lower() for name, how in oversize.items() if how == "truncate"}
    return {c.name: REDSHIFT_VARCHAR_MAX if c.kind in ("text", "special_text") else REDSHIFT_VARBYTE_MAX
            for c in columns if c.name.lower() in chosen}


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value.encode()[:limit].decode("utf-8", "ignore")  # never half a character
    return value[:limit]


def truncate_oversized(table: pa.Table, limits: Mapping[str, int]) -> tuple[pa.Table, dict[str, int]]:
    """``table`` with every value longer than its column's byte limit cut to it, and the count per column."""
    import pyarrow.compute as pc  # noqa: PLC0415

    counts: dict[str, int] = {}
    for name, limit in limits.items():
        index = table.schema.get_field_index(name)
        if index < 0:
            continue
        column = table.column(index)
        over = pc.fill_null(pc.greater(pc.binary_length(column), limit), False)
        n = pc.sum(over).as_py() or 0
        if not n:
            continue
        flags = over.to_pylist()
        values = [_cut(v, limit) if flag else v for v, flag in zip(column.to_pylist(), flags, strict=True)]
        table = table.set_column(index, table.schema.field(index), pa.array(values, type=column.type))
        counts[name] = n
    return table, counts


def oversize_warnings(pipeline: Any, sources: Mapping[str, Sequence[Any]]) -> list[str]:
    """One line per column of a Redshift pipeline that can exceed Redshift's limit and has no ``oversize`` choice.

    ``sources`` are the generated sources' columns per table (``ColumnSpec.may_exceed`` set by discovery).
    """
    lines = []
    for t in pipeline.tables.values():
        chosen = {c.lower() for c in t.oversize} | {c.lower() for c in t.exclude_columns}
        for col in sources.get(t.target, []):
            if getattr(col, "may_exceed", False) and col.name.lower() not in chosen:
                lines.append(
                    f"{pipeline.name}.{t.name}.{col.name}: values can be longer than Redshift's {col.data_type} and "
                    f"COPY would fail on one; set tables.{t.name}.oversize: {{{col.name}: truncate}} (or exclude)")
    return lines
