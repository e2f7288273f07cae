"""`make demo`: the whole story on embedded defaults (local ./lake, DuckDB warehouse.duckdb).

1. find or start a MySQL-compatible server, create the sample `sales` database;
2. `extractor run --pipeline sales`: extract to ./lake, `dbt build` into warehouse.duckdb, acknowledge;
3. apply a round of source changes (tier/address changes, some in the same microsecond, new orders,
   a deleted product), run again;
4. show one customer's SCD2 history, the deleted product, and row counts per model.

DEMO_ORDERS (default 20000) sizes the sample. The lake and warehouse of a previous demo are replaced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import mysql_server  # noqa: E402

EXTRACTOR = [sys.executable, "-m", "extractor"]


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m", flush=True)


def extractor(*args: str) -> None:
    subprocess.run([*EXTRACTOR, *args], check=True, cwd=ROOT)


def main() -> int:
    os.chdir(ROOT)
    step("MySQL")
    server = mysql_server.ensure(ROOT / ".local" / "mariadb")
    os.environ.update(server.env())
    os.environ.setdefault("EXTRACTOR_ENV", "demo")
    print(f"using {server.host}:{server.port}" + (" (started by the demo)" if server.started_here else ""))
    for stale in ("lake", "warehouse.duckdb", "warehouse.duckdb.wal"):
        path = ROOT / stale
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

    orders = os.environ.get("DEMO_ORDERS", "20000")
    step(f"create the sample `sales` database ({orders} orders)")
    extractor("sample", "create", "--orders", orders)

    step("round 1: extract → dbt build → acknowledge")
    extractor("run", "--pipeline", "sales")

    step("source changes")
    extractor("sample", "mutate", "--seed", "1")
    time.sleep(1.5)  # the demo environment's safety lag is 1 s

    step("round 2: extract → dbt build → acknowledge")
    extractor("run", "--pipeline", "sales")

    step("result")
    extractor("watermark", "list", "--pipeline", "sales")
    show_warehouse(ROOT / "warehouse.duckdb")
    return 0


def table(cursor) -> str:  # noqa: ANN001
    """A DuckDB result as aligned text columns (no pandas needed)."""
    names = [d[0] for d in cursor.description]
    rows = [["NULL" if v is None else str(v) for v in row] for row in cursor.fetchall()]
    widths = [max(len(x) for x in col) for col in zip(names, *rows, strict=False)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in [names, *rows])


def show_warehouse(path: Path) -> None:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        customer = db.execute(
            "select customer_id from main_marts.dim_customers group by 1 having count(*) > 1 order by 1 limit 1"
        ).fetchone()
        if customer:
            print(f"\nhistory of customer {customer[0]} (dim_customers):")
            print(table(db.execute(
                "select customer_sk, tier, city, address, valid_from, valid_to, is_current"
                " from main_marts.dim_customers where customer_id = ? order by valid_from", [customer[0]]
            )))
        print("\nproducts no longer current (deleted at the source):")
        print(table(db.execute(
            "select product_id, product_name, valid_from, valid_to, is_current from main_marts.dim_products"
            " where product_id in (select product_id from main_marts.dim_products group by 1"
            " having bool_or(is_current) = false) order by product_id"
        )))
        print("\nrows per model:")
        rows = db.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema like 'main_%' order by 1"
        ).fetchall()
        for (name,) in rows:
            count = db.execute(f"select count(*) from {name}").fetchone()[0]
            print(f"  {name:<40} {count:>10,}")


if __name__ == "__main__":
    sys.exit(main())
