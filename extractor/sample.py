"""The sample ``sales`` database: deterministic generated data and rounds of source changes.

Rows are generated inside MySQL from a digits cross join, so millions of rows take seconds and the
same ``scale`` always gives the same data. ``mutate`` applies a realistic round of changes (tier and
address changes, several in the same microsecond, new orders, updated orders, a deleted product).
The schema is documented in docs/sample-schema.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from extractor.quoting import quote_ident

DDL = [
    """CREATE TABLE customers (
  customer_id  INT PRIMARY KEY AUTO_INCREMENT,
  email        VARCHAR(255) NOT NULL,
  full_name    VARCHAR(200) NOT NULL,
  tier         ENUM('bronze','silver','gold','platinum') NOT NULL,
  country_code CHAR(2) NOT NULL,
  city         VARCHAR(100),
  address      VARCHAR(255),
  created_at   DATETIME(6) NOT NULL,
  updated_at   DATETIME(6) NOT NULL,
  KEY ix_customers_updated (updated_at, customer_id)
)""",
    """CREATE TABLE products (
  product_id   INT PRIMARY KEY,
  sku          VARCHAR(32) NOT NULL UNIQUE,
  name         VARCHAR(200) NOT NULL,
  category     VARCHAR(50) NOT NULL,
  unit_price   DECIMAL(12,2) NOT NULL,
  is_active    TINYINT(1) NOT NULL,
  created_at   DATETIME(6) NOT NULL
)""",
    """CREATE TABLE orders (
  order_id     BIGINT UNSIGNED PRIMARY KEY,
  customer_id  INT NOT NULL,
  status       ENUM('placed','paid','shipped','delivered','cancelled') NOT NULL,
  order_total  DECIMAL(14,2) NOT NULL,
  currency     CHAR(3) NOT NULL,
  ordered_at   DATETIME(6) NOT NULL,
  updated_at   DATETIME(6) NOT NULL,
  KEY ix_orders_updated (updated_at, order_id)
)""",
    """CREATE TABLE order_items (
  order_id     BIGINT UNSIGNED NOT NULL,
  line_no      SMALLINT NOT NULL,
  product_id   INT NOT NULL,
  quantity     INT NOT NULL,
  unit_price   DECIMAL(12,2) NOT NULL,
  discount     DECIMAL(5,4) NOT NULL,
  updated_at   DATETIME(6) NOT NULL,
  PRIMARY KEY (order_id, line_no),
  KEY ix_order_items_updated (updated_at, order_id, line_no)
)""",
]

COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "BR", "CA", "JP"]
BASE_TIME = "2025-01-01 00:00:00"


@dataclass(frozen=True)
class SampleSize:
    """How many rows the sample has; ``orders`` drives the rest (≈2.5 items per order)."""

    customers: int = 1_000
    products: int = 200
    orders: int = 5_000

    @classmethod
    def scaled(cls, orders: int) -> SampleSize:
        """A consistent size for a given number of orders."""
        return cls(customers=max(10, orders // 5), products=max(10, min(5_000, orders // 25)), orders=orders)


def _numbers_cte(n: int) -> str:
    """A derived table ``nums(n)`` holding 1..n, from a digits cross join (MySQL and MariaDB)."""
    digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " \
             "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
    places = max(1, len(str(max(n, 1))))
    joins = ", ".join(f"{digits} d{i}" for i in range(places))
    expr = " + ".join(f"d{i}.d * {10 ** i}" for i in range(places))
    return f"(SELECT {expr} + 1 AS n FROM {joins} HAVING n <= {int(n)})"


def create(conn: Any, database: str, size: SampleSize = SampleSize(), *, drop: bool = True) -> dict[str, int]:
    """(Re)create ``database`` with the four sample tables; returns row counts per table."""
    db = quote_ident(database)
    with conn.cursor() as cur:
        if drop:
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute(f"USE {db}")
        for ddl in DDL:
            cur.execute(ddl)
        country_list = ",".join(f"'{c}'" for c in COUNTRIES)
        # Customers and products exist before the first order (one a minute, one an hour, up to BASE_TIME):
        # every generated order then resolves to the dimension version valid when it was placed.
        signed_up = (f"TIMESTAMP('{BASE_TIME}') - INTERVAL ({size.customers} - n + 1) * 60 SECOND"
                     " + INTERVAL (n * 7919) % 1000000 MICROSECOND")
        cur.execute(
            f"""INSERT INTO customers (customer_id, email, full_name, tier, country_code, city, address,
                                      created_at, updated_at)
            SELECT n, CONCAT('customer', n, '@example.com'), CONCAT('Customer ', n),
                   ELT(1 + (n * 7) % 4, 'bronze','silver','gold','platinum'),
                   ELT(1 + (n * 13) % {len(COUNTRIES)}, {country_list}),
                   CONCAT('City ', (n * 31) % 97), CONCAT(n, ' Main Street'),
                   {signed_up}, {signed_up}
            FROM {_numbers_cte(size.customers)} nums"""
        )
        cur.execute(
            f"""INSERT INTO products (product_id, sku, name, category, unit_price, is_active, created_at)
            SELECT n, CONCAT('SKU-', LPAD(n, 6, '0')), CONCAT('Product ', n),
                   ELT(1 + n % 5, 'books','games','garden','kitchen','toys'),
                   CAST(((n * 7919) % 50000) / 100 + 1 AS DECIMAL(12,2)), 1,
                   TIMESTAMP('{BASE_TIME}') - INTERVAL ({size.products} - n + 1) HOUR
            FROM {_numbers_cte(size.products)} nums"""
        )
        # Orders: one order every 10 s; a few share their timestamp with the next one (tie groups).
        cur.execute(
            f"""INSERT INTO orders (order_id, customer_id, status, order_total, currency, ordered_at, updated_at)
            SELECT n, 1 + (n * 48271) % {size.customers},
                   ELT(1 + (n * 3) % 5, 'placed','paid','shipped','delivered','cancelled'),
                   CAST(((n * 104729) % 1000000) / 100 AS DECIMAL(14,2)),
                   ELT(1 + n % 3, 'USD','EUR','GBP'),
                   TIMESTAMP('{BASE_TIME}') + INTERVAL (n DIV 2) * 10 SECOND,
                   TIMESTAMP('{BASE_TIME}') + INTERVAL (n DIV 2) * 10 SECOND + INTERVAL n % 3 MINUTE
            FROM {_numbers_cte(size.orders)} nums"""
        )
        cur.execute(
            f"""INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, discount, updated_at)
            SELECT o.order_id, l.line_no, 1 + (o.order_id * 31 + l.line_no * 17) % {size.products},
                   1 + (o.order_id + l.line_no) % 5,
                   CAST(((o.order_id * 13 + l.line_no * 7) % 20000) / 100 + 1 AS DECIMAL(12,2)),
                   CAST(((o.order_id + l.line_no) % 4) * 0.05 AS DECIMAL(5,4)),
                   o.updated_at
            FROM orders o
            JOIN (SELECT 1 AS line_no UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) l
              ON l.line_no <= 1 + o.order_id % 4"""
        )
        counts = {}
        for table in ("customers", "products", "orders", "order_items"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(cur.fetchone()[0])
    return counts


@dataclass(frozen=True)
class MutationSummary:
    """What one round of changes did, for the demo and the tests."""

    customers_updated: list[int]
    same_instant_customers: list[int]
    orders_inserted: list[int]
    orders_updated: list[int]
    product_deleted: int | None
    at: datetime


def mutate(conn: Any, database: str, *, seed: int = 1, at: datetime | None = None) -> MutationSummary:
    """Apply one round of source changes with ``updated_at`` = ``at`` (default: now, UTC)."""
    rng = random.Random(seed)
    at = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    db = quote_ident(database)
    with conn.cursor() as cur:
        cur.execute(f"USE {db}")
        cur.execute("SELECT MIN(customer_id), MAX(customer_id) FROM customers")
        lo, hi = cur.fetchone()
        picks = sorted(rng.sample(range(lo, hi + 1), k=min(6, hi - lo + 1)))
        same_instant = picks[:3]
        for i, cid in enumerate(picks):
            ts = at if cid in same_instant else at + timedelta(microseconds=17 * (i + 1))
            # Every picked customer moves to the next tier, so each change is visible in the history.
            cur.execute(
                "UPDATE customers SET tier = ELT(MOD(FIELD(tier, 'bronze', 'silver', 'gold', 'platinum'), 4) + 1,"
                " 'bronze', 'silver', 'gold', 'platinum'), address = %s, city = %s, updated_at = %s"
                " WHERE customer_id = %s",
                (f"{seed * 100 + i} Changed Avenue", f"New City {seed}", ts, cid),
            )
        # A brand-new customer and new orders (one of them for the new customer).
        cur.execute("SELECT COALESCE(MAX(order_id), 0) FROM orders")
        next_order = int(cur.fetchone()[0]) + 1
        cur.execute(
            "INSERT INTO customers (email, full_name, tier, country_code, city, address, created_at, updated_at)"
            " VALUES (%s, %s, 'bronze', 'NL', 'Utrecht', '1 New Road', %s, %s)",
            (f"new{seed}@example.com", f"New Customer {seed}", at, at),
        )
        new_customer = cur.lastrowid
        cur.execute("SELECT MIN(product_id), MAX(product_id) FROM products")
        plo, phi = cur.fetchone()
        new_orders = list(range(next_order, next_order + 5))
        for j, oid in enumerate(new_orders):
            customer = new_customer if j == 0 else rng.randint(lo, hi)
            cur.execute(
                "INSERT INTO orders (order_id, customer_id, status, order_total, currency, ordered_at, updated_at)"
                " VALUES (%s, %s, 'placed', %s, 'EUR', %s, %s)",
                (oid, customer, f"{rng.randint(100, 99999) / 100:.2f}", at, at),
            )
            for line in (1, 2):
                cur.execute(
                    "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, discount,"
                    " updated_at) VALUES (%s, %s, %s, %s, %s, 0, %s)",
                    (oid, line, rng.randint(plo, max(plo, phi - 1)), rng.randint(1, 4),
                     f"{rng.randint(100, 9999) / 100:.2f}", at),
                )
        cur.execute("SELECT order_id FROM orders WHERE order_id < %s ORDER BY order_id LIMIT 3", (next_order,))
        updated_orders = [int(r[0]) for r in cur.fetchall()]
        for oid in updated_orders:
            cur.execute("UPDATE orders SET status = 'shipped', updated_at = %s WHERE order_id = %s", (at, oid))
        # Delete a product nobody ordered in this round (full_sync makes the delete visible).
        cur.execute("SELECT MAX(product_id) FROM products")
        deleted = cur.fetchone()[0]
        if deleted is not None:
            cur.execute("DELETE FROM products WHERE product_id = %s", (deleted,))
            cur.execute("UPDATE products SET unit_price = unit_price + 1 WHERE product_id = %s", (plo,))
    return MutationSummary(picks, same_instant, new_orders, updated_orders, deleted, at.replace(tzinfo=UTC))
