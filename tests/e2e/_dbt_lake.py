"""A tiny lake writer for the dbt tests: Parquet files exactly as the extractor's lake contract says.

data/sales_mysql/sales/sales_raw/<table>/dt=YYYY-MM-DD/<table>__<run_id>__<seq:05d>.parquet with the
declared source types plus `_extracted_at` (timestamp[us, UTC]), `_batch_id` (<run_id>-<seq:05d>) and
`_op` (U/D). The real extractor replaces this in the lead's end-to-end tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TS = pa.timestamp("us")
LINEAGE = [
    pa.field("_extracted_at", pa.timestamp("us", tz="UTC")),
    pa.field("_batch_id", pa.string()),
    pa.field("_op", pa.string()),
]
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema([
        ("customer_id", pa.int32()), ("email", pa.string()), ("full_name", pa.string()),
        ("tier", pa.string()), ("country_code", pa.string()), ("city", pa.string()),
        ("address", pa.string()), ("created_at", TS), ("updated_at", TS), *LINEAGE,
    ]),
    "products": pa.schema([
        ("product_id", pa.int32()), ("sku", pa.string()), ("name", pa.string()), ("category", pa.string()),
        ("unit_price", pa.decimal128(12, 2)), ("is_active", pa.int8()), ("created_at", TS), *LINEAGE,
    ]),
    "orders": pa.schema([
        ("order_id", pa.decimal128(20, 0)), ("customer_id", pa.int32()), ("status", pa.string()),
        ("order_total", pa.decimal128(14, 2)), ("currency", pa.string()), ("ordered_at", TS),
        ("updated_at", TS), *LINEAGE,
    ]),
    "order_items": pa.schema([
        ("order_id", pa.decimal128(20, 0)), ("line_no", pa.int16()), ("product_id", pa.int32()),
        ("quantity", pa.int32()), ("unit_price", pa.decimal128(12, 2)), ("discount", pa.decimal128(5, 4)),
        ("updated_at", TS), *LINEAGE,
    ]),
}
PREFIX = "data/sales_mysql/sales/sales_raw"


def ts(text: str) -> datetime:
    """A naive UTC timestamp (DATETIME(6) semantics) from ISO text."""
    return datetime.fromisoformat(text)


def write_batch(root: Path, table: str, run_id: str, seq: int, rows: list[dict[str, Any]],
                extracted_at: datetime) -> str:
    """Write one Parquet file of `rows` (source columns + `_op`, default 'U'); returns its `_batch_id`."""
    schema = SCHEMAS[table]
    batch_id = f"{run_id}-{seq:05d}"
    full = []
    for row in rows:
        row = dict(row)
        row.setdefault("_op", "U")
        row["_extracted_at"] = extracted_at
        row["_batch_id"] = batch_id
        for field in schema:
            value = row.get(field.name)
            if pa.types.is_decimal(field.type) and value is not None and not isinstance(value, Decimal):
                row[field.name] = Decimal(str(value))
        full.append({f.name: row.get(f.name) for f in schema})
    arrow = pa.Table.from_pylist(full, schema=schema)
    folder = root / PREFIX / table / f"dt={extracted_at:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow, folder / f"{table}__{run_id}__{seq:05d}.parquet", compression="zstd")
    return batch_id


def run_id_at(moment: datetime, suffix: str) -> str:
    """A run id as the extractor makes them: 20261123T153000123456Z-ab12cd."""
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{suffix}"
