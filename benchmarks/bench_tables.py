"""Source tables for the extract benchmark, generated inside MariaDB/MySQL (deterministic per row count).

``narrow``: an orders-like table (11 columns). ``wide``: 34 columns of mixed types. ``edge``: the wide
schema with a handful of rows holding boundary values (BIGINT UNSIGNED max, DECIMAL(38,10) max, TIME
beyond 24 h, JSON) — extracted by every tool only to check type fidelity, never timed.
"""

from __future__ import annotations

from typing import Any

import pymysql

DATABASE = "extractor_bench"
GENERATOR_VERSION = "3"  # bump when a table definition or its data changes: cached tables are rebuilt

NARROW_DDL = """CREATE TABLE narrow (
  id           BIGINT UNSIGNED PRIMARY KEY,
  customer_id  INT NOT NULL,
  status       ENUM('placed','paid','shipped','delivered','cancelled') NOT NULL,
  order_total  DECIMAL(14,2) NOT NULL,
  discount     DECIMAL(5,4) NOT NULL,
  currency     CHAR(3) NOT NULL,
  quantity     SMALLINT NOT NULL,
  note         VARCHAR(64) NULL,
  ordered_at   DATETIME(6) NOT NULL,
  shipped_at   DATETIME(6) NULL,
  updated_at   DATETIME(6) NOT NULL,
  KEY ix_narrow_updated (updated_at, id)
) COMMENT='bench v{version} rows {rows}'"""

NARROW_SELECT = """SELECT n, 1 + (n * 48271) % 400000,
  ELT(1 + (n * 3) % 5, 'placed','paid','shipped','delivered','cancelled'),
  CAST(((n * 104729) % 1000000) / 100 AS DECIMAL(14,2)),
  CAST((n % 4) * 0.0125 AS DECIMAL(5,4)),
  ELT(1 + n % 3, 'USD','EUR','GBP'),
  1 + n % 9,
  IF(n % 7 = 0, NULL, CONCAT('note ', n)),
  TIMESTAMP('2025-01-01') + INTERVAL n SECOND + INTERVAL (n * 7919) % 1000000 MICROSECOND,
  IF(n % 5 = 0, NULL, TIMESTAMP('2025-01-02') + INTERVAL n SECOND + INTERVAL (n * 31) % 1000000 MICROSECOND),
  TIMESTAMP('2025-01-01') + INTERVAL n SECOND + INTERVAL (n * 7919) % 1000000 MICROSECOND
    + INTERVAL n % 3 MINUTE"""

WIDE_COLUMNS = """
  id            BIGINT UNSIGNED PRIMARY KEY,
  u64           BIGINT UNSIGNED NOT NULL,
  i64           BIGINT NOT NULL,
  i32           INT NOT NULL,
  u32           INT UNSIGNED NOT NULL,
  i16           SMALLINT NOT NULL,
  i8            TINYINT NOT NULL,
  flag          TINYINT(1) NOT NULL,
  d18_4         DECIMAL(18,4) NOT NULL,
  d38_10        DECIMAL(38,10) NOT NULL,
  d12_2         DECIMAL(12,2) NULL,
  f32           FLOAT NOT NULL,
  f64           DOUBLE NOT NULL,
  dt6           DATETIME(6) NOT NULL,
  dt0           DATETIME NOT NULL,
  ts6           TIMESTAMP(6) NULL DEFAULT NULL,
  d             DATE NOT NULL,
  tm            TIME(6) NOT NULL,
  yr            YEAR NOT NULL,
  vc_short      VARCHAR(32) NOT NULL,
  vc_long       VARCHAR(255) NOT NULL,
  ch2           CHAR(2) NOT NULL,
  en            ENUM('alpha','beta','gamma','delta') NOT NULL,
  st            SET('a','b','c') NOT NULL,
  txt           TEXT NULL,
  js            JSON NULL,
  bin16         VARBINARY(16) NOT NULL,
  uuid_text     CHAR(36) NOT NULL,
  n_int         INT NULL,
  n_vc          VARCHAR(50) NULL,
  n_dec         DECIMAL(10,3) NULL,
  created_at    DATETIME(6) NOT NULL,
  updated_at    DATETIME(6) NOT NULL,
  note          VARCHAR(100) NULL"""

WIDE_SELECT = """SELECT n,
  n * 1000003,
  n * 2654435761 - 4000000000000,
  (n * 48271) % 2000000000 - 1000000000,
  (n * 69621) % 4000000000,
  (n * 7) % 65536 - 32768,
  (n * 13) % 256 - 128,
  n % 2,
  CAST((n * 104729) % 100000000000000 / 10000 AS DECIMAL(18,4)),
  CAST((n * 7919) % 1000000000 + ((n * 31) % 10000000000) / 10000000000 AS DECIMAL(38,10)),
  IF(n % 11 = 0, NULL, CAST((n * 37) % 1000000 / 100 AS DECIMAL(12,2))),
  (n % 1000) / 8,
  n / 3,
  TIMESTAMP('2025-01-01') + INTERVAL n SECOND + INTERVAL (n * 7919) % 1000000 MICROSECOND,
  TIMESTAMP('2024-01-01') + INTERVAL n MINUTE,
  IF(n % 13 = 0, NULL, TIMESTAMP('2025-06-01') + INTERVAL n SECOND + INTERVAL (n * 17) % 1000000 MICROSECOND),
  DATE('2000-01-01') + INTERVAL n % 9000 DAY,
  SEC_TO_TIME((n * 7) % 86400) + INTERVAL (n * 3) % 1000000 MICROSECOND,
  1990 + n % 100,
  CONCAT('s', n),
  CONCAT('a longer varchar value for row ', n, ' with some padding text to make it realistic'),
  ELT(1 + n % 4, 'US', 'DE', 'FR', 'JP'),
  ELT(1 + n % 4, 'alpha','beta','gamma','delta'),
  ELT(1 + n % 4, 'a', 'b', 'a,c', 'a,b,c'),
  IF(n % 3 = 0, NULL, REPEAT(CONCAT('text ', n, ' '), 1 + n % 8)),
  IF(n % 5 = 0, NULL, CONCAT('{{"k": ', n, ', "tags": ["x", "y"], "name": "row ', n, '"}}')),
  UNHEX(LPAD(HEX(n), 32, '0')),
  CONCAT(LPAD(HEX(n), 8, '0'), '-0000-4000-8000-', LPAD(HEX(n * 7), 12, '0')),
  IF(n % 2 = 0, NULL, n),
  IF(n % 2 = 1, NULL, CONCAT('maybe ', n)),
  IF(n % 3 = 1, NULL, CAST((n % 100000) / 1000 AS DECIMAL(10,3))),
  TIMESTAMP('2025-01-01') + INTERVAL n SECOND,
  TIMESTAMP('2025-01-01') + INTERVAL n SECOND + INTERVAL (n * 7919) % 1000000 MICROSECOND + INTERVAL n % 3 MINUTE,
  IF(n % 4 = 0, NULL, 'note')"""

#: Boundary rows for the type-fidelity check (same columns as ``wide``).
EDGE_ROWS = [
    """(1, 18446744073709551615, 9223372036854775807, 2147483647, 4294967295, 32767, 127, 1,
       99999999999999.9999, 9999999999999999999999999999.9999999999, 9999999999.99, 3.5, 1.0e300,
       '9999-12-31 23:59:59.999999', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999999', '9999-12-31',
       '838:59:59.000000', 2155, 'max', 'ünïcödé ✓ emoji 🚀', 'ZZ', 'delta', 'a,b,c', REPEAT('x', 5000),
       '{"big": 18446744073709551615, "nested": {"a": [1, 2, 3]}}', UNHEX('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'),
       'ffffffff-ffff-4fff-8fff-ffffffffffff', NULL, NULL, NULL,
       '2025-01-01 00:00:00.000001', '2025-01-01 00:00:00.000001', 'edge max')""",
    """(2, 0, -9223372036854775808, -2147483648, 0, -32768, -128, 0,
       -99999999999999.9999, -9999999999999999999999999999.9999999999, -0.01, -3.5, -1.0e-300,
       '1000-01-01 00:00:00.000001', '1970-01-01 00:00:00', '1970-01-01 00:00:01.000001', '1000-01-01',
       '-838:59:59.000000', 1901, '', '', '', 'alpha', '', '',
       '[]', UNHEX(''), '00000000-0000-0000-0000-000000000000', -1, '', 0.000,
       '2025-01-01 00:00:00.000002', '2025-01-01 00:00:00.000002', 'edge min')""",
    """(3, 9223372036854775808, 1, 1, 1, 1, 1, 1, 0.0001, 0.0000000001, 0.01, 0.1, 0.1,
       '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', '2024-02-29',
       '25:00:00.000001', 2024, 'tiny', 'tiny', 'ab', 'beta', 'b', 'ok',
       '{"k": 1}', UNHEX('00'), '12345678-1234-4234-8234-123456789abc', 1, 'x', 1.001,
       '2025-01-01 00:00:00.000003', '2025-01-01 00:00:00.000003', 'edge mid')""",
]


def connect(database: str | None = None) -> Any:
    """A pymysql connection to the benchmark server (MYSQL_HOST/PORT/USER/PASSWORD, default local root)."""
    import os

    return pymysql.connect(
        host=os.environ.get("MYSQL_HOST", "127.0.0.1"), port=int(os.environ.get("MYSQL_PORT", "3306")),
        user=os.environ.get("MYSQL_USER", "root"), password=os.environ.get("MYSQL_PASSWORD", ""),
        database=database, autocommit=True, init_command="SET time_zone = '+00:00'",
    )


def _comment(cur: Any, table: str) -> str | None:
    cur.execute("SELECT table_comment FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (DATABASE, table))
    row = cur.fetchone()
    return row[0] if row else None


def ensure(variant: str, rows: int, *, rebuild: bool = False, log: Any = print) -> str:
    """Create ``<variant>_<rows>`` with ``rows`` rows unless an identical one exists; returns its name."""
    table = f"{variant}_{rows}"
    want = f"bench v{GENERATOR_VERSION} rows {rows}"
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute(f"USE {DATABASE}")
            if not rebuild and _comment(cur, table) == want:
                log(f"reusing {DATABASE}.{table}")
                return table
            _ensure_digits(cur)
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            if variant == "narrow":
                cur.execute(NARROW_DDL.replace("narrow", table, 2).format(version=GENERATOR_VERSION, rows=rows))
                select = NARROW_SELECT
            else:
                cur.execute(f"CREATE TABLE {table} ({WIDE_COLUMNS},\n  KEY ix_{table}_updated (updated_at, id))"
                            f" COMMENT='{want}'")
                select = WIDE_SELECT.replace("{{", "{").replace("}}", "}")
            step = 1_000_000
            for start in range(0, rows, step):
                stop = min(rows, start + step)
                log(f"generating {table}: rows {start + 1:,}..{stop:,}")
                cur.execute(f"INSERT INTO {table} {select} FROM ({_numbers(start, stop)}) nums")
        return table
    finally:
        conn.close()


def ensure_edge() -> str:
    """The small boundary-value table (always rebuilt: three rows)."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute(f"USE {DATABASE}")
            cur.execute("DROP TABLE IF EXISTS edge")
            cur.execute(f"CREATE TABLE edge ({WIDE_COLUMNS},\n  KEY ix_edge_updated (updated_at, id))")
            cur.execute("INSERT INTO edge VALUES " + ",\n".join(EDGE_ROWS))
        return "edge"
    finally:
        conn.close()


def _ensure_digits(cur: Any) -> None:
    cur.execute("CREATE TABLE IF NOT EXISTS bench_digits (d INT PRIMARY KEY)")
    cur.execute("SELECT COUNT(*) FROM bench_digits")
    if cur.fetchone()[0] != 10_000:
        cur.execute("DELETE FROM bench_digits")
        cur.execute("INSERT INTO bench_digits VALUES " + ",".join(f"({i})" for i in range(10_000)))


def _numbers(start: int, stop: int) -> str:
    """A derived table of n = start+1 .. stop (two joins of a 10,000-row digits table)."""
    lo, hi = start // 10_000, (stop - 1) // 10_000
    return (f"SELECT a.d * 10000 + b.d + 1 AS n FROM bench_digits a JOIN bench_digits b "
            f"WHERE a.d BETWEEN {lo} AND {hi} AND a.d * 10000 + b.d BETWEEN {start} AND {stop - 1}")


def warm(table: str) -> None:
    """Read the whole table once (CHECKSUM TABLE scans every row) so no measured tool starts cold."""
    conn = connect(DATABASE)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CHECKSUM TABLE `{table}`")
            cur.fetchall()
    finally:
        conn.close()


def touch_recent(table: str, fraction: float) -> int:
    """``UPDATE … SET updated_at = NOW(6)`` on the newest ``fraction`` of the rows (highest ids): changes
    clustered in recent rows, the common shape of an OLTP table's daily changes. Returns the count."""
    conn = connect(DATABASE)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT MAX(id) - COUNT(*) * %s FROM {table}", (fraction,))
            floor = int(cur.fetchone()[0])
            return cur.execute(f"UPDATE {table} SET updated_at = NOW(6) WHERE id > %s", (floor,))
    finally:
        conn.close()


def disk_page_reads() -> int:
    """InnoDB pages read from disk so far (``Innodb_buffer_pool_reads``): a run's delta is its I/O."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")
            return int(cur.fetchone()[1])
    finally:
        conn.close()


def touch_spread(table: str, fraction: float) -> int:
    """``UPDATE … SET updated_at = NOW(6)`` on an even spread of ``fraction`` of the rows; returns the count."""
    every = max(1, round(1 / fraction))
    conn = connect(DATABASE)
    try:
        with conn.cursor() as cur:
            return cur.execute(f"UPDATE {table} SET updated_at = NOW(6) WHERE id % {every} = 7 % {every}")
    finally:
        conn.close()


def set_buffer_pool(size_bytes: int) -> int:
    """Resize InnoDB's buffer pool (dynamic in MariaDB ≥ 10.2 / MySQL ≥ 5.7); returns the previous size.

    The resize runs in the background: wait (up to two minutes) until the server reports the new size.
    """
    import time

    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@innodb_buffer_pool_size")
            before = int(cur.fetchone()[0])
            if size_bytes == before:
                return before
            cur.execute("SET GLOBAL innodb_buffer_pool_size = %s", (size_bytes,))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                cur.execute("SELECT @@innodb_buffer_pool_size")
                if int(cur.fetchone()[0]) != before:
                    break
                time.sleep(0.5)
        return before
    finally:
        conn.close()
