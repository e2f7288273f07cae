"""Type fidelity: read back what a tool wrote and compare the values with what MySQL holds.

For every column: the Parquet (Arrow) type the tool chose, and how many of the checked rows differ from
the exact MySQL value (pymysql's Decimal/datetime/timedelta/int/str/bytes, session time zone UTC).
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import math
import os
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_tables import DATABASE, connect

_SKIP = {"_extracted_at", "_batch_id", "_op", "_dlt_load_id", "_dlt_id"}


def parquet_files(data_dir: str) -> list[str]:
    """Every Parquet file under ``data_dir`` (the extractor's dt=… partitions or dlt's table folder)."""
    return sorted(glob.glob(os.path.join(data_dir, "**", "*.parquet"), recursive=True))


def read_rows(files: list[str], ids: list[int] | None) -> tuple[pa.Schema, dict[int, dict[str, Any]]]:
    """The rows with ``id`` in ``ids`` (all rows when None), keyed by id, and the first file's schema."""
    schema = pq.read_schema(files[0])
    wanted = pa.array([str(i) for i in ids]) if ids is not None else None
    rows: dict[int, dict[str, Any]] = {}
    for path in files:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=200_000):
            if wanted is not None:
                mask = pc.is_in(pc.cast(batch.column("id"), pa.string()), value_set=wanted)
                batch = batch.filter(mask)
            for row in batch.to_pylist():
                rows[int(row["id"])] = row
    return schema, rows


def mysql_rows(table: str, ids: list[int] | None) -> tuple[list[str], dict[int, dict[str, Any]]]:
    """The same rows, exactly as MySQL returns them (text protocol, Python decoders)."""
    conn = connect(DATABASE)
    try:
        with conn.cursor() as cur:
            where = f" WHERE id IN ({', '.join(str(int(i)) for i in ids)})" if ids is not None else ""
            cur.execute(f"SELECT * FROM {table}{where}")
            names = [d[0] for d in cur.description]
            return names, {int(r[0]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    finally:
        conn.close()


def sample_ids(rows: int, count: int = 400) -> list[int]:
    """An even spread of ids over 1..rows (plus both ends)."""
    step = max(1, rows // count)
    return sorted({1, rows, *range(1 + step // 2, rows + 1, step)})


def compare(table: str, data_dir: str, ids: list[int] | None) -> dict[str, Any]:
    """Per column: written Arrow type, and mismatching values among the checked rows."""
    files = parquet_files(data_dir)
    if not files:
        return {"error": f"no Parquet files under {data_dir}"}
    schema, got = read_rows(files, ids)
    names, want = mysql_rows(table, ids)
    columns: dict[str, Any] = {}
    for name in names:
        field = schema.field(name) if name in schema.names else None
        bad, example = 0, None
        for key, expected in want.items():
            row = got.get(key)
            actual = None if row is None else row.get(name)
            if row is None or not _same(expected[name], actual, field):
                bad += 1
                if example is None:
                    example = {"id": key, "mysql": _show(expected[name]), "parquet": _show(actual)}
        columns[name] = {"type": str(field.type) if field is not None else "missing", "mismatches": bad,
                         "example": example}
    return {"rows_checked": len(want), "rows_found": len(got), "columns": columns}


def _same(expected: Any, actual: Any, field: pa.Field | None) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, Decimal):
        if isinstance(actual, float):
            return Decimal(repr(actual)) == expected
        return Decimal(actual) == expected
    if isinstance(expected, float):
        if field is not None and field.type == pa.float32():
            return math.isclose(float(actual), expected, rel_tol=1e-6)
        return float(actual) == expected
    if isinstance(expected, dt.datetime):
        if isinstance(actual, dt.datetime):
            if actual.tzinfo is not None:
                actual = actual.astimezone(dt.UTC).replace(tzinfo=None)
            return actual == expected
        return str(actual) == str(expected)
    if isinstance(expected, dt.timedelta):
        if isinstance(actual, dt.time):
            return expected == dt.timedelta(hours=actual.hour, minutes=actual.minute, seconds=actual.second,
                                            microseconds=actual.microsecond)
        return actual == expected
    if isinstance(expected, set):  # pymysql decodes SET as a Python set
        return isinstance(actual, str) and set(filter(None, actual.split(","))) == expected
    if isinstance(expected, str) and field is not None and expected[:1] in "{[":
        try:
            return json.loads(expected) == (json.loads(actual) if isinstance(actual, str) else actual)
        except (ValueError, TypeError):
            return expected == actual
    if isinstance(expected, int) and not isinstance(actual, bool):
        try:
            return int(actual) == expected and (not isinstance(actual, float) or abs(expected) < 2**53)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, bool | int) and isinstance(actual, bool):
        return bool(expected) == actual
    return expected == actual


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
