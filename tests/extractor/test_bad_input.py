"""The catalogue of docs/bad-input.md: each bad input and the one line the user sees, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, db, tmp: Path) -> None:  # noqa: ANN001
        self.db, self.tmp = db, tmp
        self.config = tmp / "config"
        subprocess.run(["cp", "-r", str(ROOT / "config"), str(self.config)], check=True)
        self.env = {**db.env(), "SALES_DB": db.database, "EXTRACTOR_LAKE": str(tmp / "lake"), "PATH": "/usr/bin:/bin",
                    "EXTRACTOR_CONFIG_DIR": str(self.config), "TZ": "UTC"}
        if os.environ.get("PYTHONPATH"):  # a worktree's code, not the venv's editable install
            self.env["PYTHONPATH"] = os.environ["PYTHONPATH"]

    def edit(self, file: str, old: str, new: str) -> None:
        path = self.config / file
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    def odd_pipeline(self, table_sql: str, **table: str) -> None:
        """A pipeline `odd` with one table `odd` (created from ``table_sql``)."""
        self.db.execute("DROP TABLE IF EXISTS odd", table_sql)
        extra = "".join(f"    {k}: {v}\n" for k, v in table.items())
        (self.config / "pipelines" / "odd.yml").write_text(
            "pipeline:\n  name: odd\n  source: sales_mysql\n  target_schema: odd_raw\n"
            f"  lake: {self.tmp / 'lake'}\ndefaults:\n  safety_lag_seconds: 0\n"
            f"tables:\n  odd:\n    source_table: {self.db.database}.odd\n{extra}")

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "extractor", *args], cwd=self.tmp, env={**self.env, **env},
                              capture_output=True, text=True, timeout=120, check=False)

    def lines(self, done: subprocess.CompletedProcess[str]) -> list[str]:
        return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("error:")]

    def odd_rows(self) -> list[dict]:
        files = sorted((self.tmp / "lake").rglob("odd__*.parquet"))
        return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.fixture
def cli(mysql_db, tmp_path: Path) -> Cli:  # noqa: ANN001
    c = Cli(mysql_db, tmp_path)
    done = c("sample", "create", "--orders", "50", "--database", mysql_db.database)
    assert done.returncode == 0, done.stderr
    return c


# -- configuration --------------------------------------------------------------------------------------

def _line_of(text: str) -> int:
    """The line of the shipped sample pipeline that holds ``text`` (messages point at it)."""
    lines = (ROOT / "config" / "pipelines" / "sales.yml").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


_CUSTOMERS_LINE = _line_of('.customers"')
CONFIG_CASES = {
    "unknown_key_with_suggestion": (
        ("pipelines/sales.yml", "  batch_rows: 100000 ", "  batch_row: 100000 "), [],
        2, "pipelines/sales.yml:12: unknown key 'batch_row' in defaults of pipeline 'sales' — did you mean 'batch_rows'?"),
    "missing_env_var": (
        ("connections.yml", "${MYSQL_HOST:-127.0.0.1}", "${MYSQL_HOST_X}"), [],
        2, "connections.yml:7: environment variable MYSQL_HOST_X is not set — export MYSQL_HOST_X=… or write "
           "${MYSQL_HOST_X:-default}"),
    "malformed_yaml": (
        ("pipelines/sales.yml", "    table_type: fact\n    depends_on: [customers]",
         "    table_type: fact\n    depends_on: [customers"), [],
        2, "pipelines/sales.yml:"),
    "unknown_table": (None, ["-t", "custmers"], 2, "pipeline 'sales' has no table 'custmers' — did you mean 'customers'?"),
    "table_missing_in_mysql": (
        ("pipelines/sales.yml", "${SALES_DB:-sales}.customers\"", "${SALES_DB:-sales}.custmers\""),
        ["-t", "customers"],
        2, f"pipelines/sales.yml:{_CUSTOMERS_LINE}: table '{{db}}.custmers' not found in MySQL — did you mean "
           "'customers'?"),
    "unknown_column": (
        ("pipelines/sales.yml", "cursor_column: updated_at", "cursor_column: updatd_at"), ["-t", "customers"],
        2, "column 'updatd_at' does not exist in {db}.customers — did you mean 'updated_at'?"),
    "non_unique_id_columns": (
        ("pipelines/sales.yml", "id_columns: [customer_id]", "id_columns: [country_code]"), ["-t", "customers"],
        2, "id_columns ['country_code'] of {db}.customers are not a primary or unique NOT NULL key, so rows sharing "
           "a cursor value could be lost or duplicated at page boundaries — use ['customer_id'], a primary or unique "
           "NOT NULL key"),
    "cursor_of_wrong_type": (
        ("pipelines/sales.yml", "cursor_column: updated_at", "cursor_column: email"), ["-t", "customers"],
        2, "cursor_column 'email' is varchar(255), which cannot order changes — use a DATETIME, TIMESTAMP, DATE or "
           "integer column"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_configuration_is_one_line_naming_the_file_and_line(cli: Cli, case: str) -> None:
    edit, args, code, message = CONFIG_CASES[case]
    if edit:
        cli.edit(*edit)
    done = cli("sync", "-p", "sales", *args)
    assert done.returncode == code, done.stdout + done.stderr
    errors = cli.lines(done)
    assert len(errors) == 1 and message.replace("{db}", cli.db.database) in errors[0], done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_a_cursor_table_without_id_columns_is_refused_when_the_config_loads(cli: Cli) -> None:
    cli.odd_pipeline("CREATE TABLE odd (a INT, updated_at DATETIME(6))", cdc_strategy="hybrid",
                     cursor_column="updated_at")
    done = cli("sync", "-p", "odd")
    assert done.returncode == 2
    assert "pipelines/odd.yml:9: table 'odd': cdc_strategy hybrid needs 'id_columns' (the key that breaks " \
           "timestamp ties)" in cli.lines(done)[0]


def test_a_table_without_a_key_is_refused_at_its_run(cli: Cli) -> None:
    cli.odd_pipeline("CREATE TABLE odd (a INT, updated_at DATETIME(6))", cdc_strategy="full_sync")
    done = cli("sync", "-p", "odd")
    assert done.returncode == 2
    assert (f"{cli.db.database}.odd has no primary key and no id_columns are configured — set id_columns to a "
            "unique, NOT NULL column set") in cli.lines(done)[0]


def test_an_empty_full_sync_table_is_reported_empty_not_unchanged(cli: Cli) -> None:
    cli.odd_pipeline("CREATE TABLE odd (id INT PRIMARY KEY, v INT)", cdc_strategy="full_sync")
    done = cli("sync", "-p", "odd")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "odd: 0 rows — the table is empty" in done.stdout.splitlines()
    assert "nothing changed" not in done.stdout


def test_a_table_without_a_primary_key_is_keyed_by_its_unique_not_null_key(cli: Cli) -> None:
    cli.odd_pipeline("CREATE TABLE odd (a INT, code VARCHAR(8) NOT NULL, alt INT, UNIQUE KEY (alt),"
                     " UNIQUE KEY (code))", cdc_strategy="full_sync")
    cli.db.execute("INSERT INTO odd VALUES (1, 'x', NULL), (2, 'y', NULL)")
    done = cli("sync", "-p", "odd", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(r["code"] for r in cli.odd_rows()) == ["x", "y"]  # the nullable unique key `alt` is passed over


# -- connections ----------------------------------------------------------------------------------------


def test_missing_mysql_is_connection_refused(cli: Cli) -> None:
    done = cli("sync", "-p", "sales", "-t", "customers", MYSQL_PORT="3999")
    assert done.returncode == 3
    assert ("127.0.0.1:3999: cannot connect to MySQL as 'root': (2003, \"Can't connect to MySQL server on "
            "'127.0.0.1' ([Errno 111] Connection refused)\") — check host, port, credentials") in cli.lines(done)[0]


def test_a_wrong_password_is_reported_without_the_password(cli: Cli) -> None:
    done = cli("sync", "-p", "sales", "-t", "customers", MYSQL_USER="nobody", MYSQL_PASSWORD="s3cret-pw")
    assert done.returncode == 3
    assert "cannot connect to MySQL as 'nobody': (1698, \"Access denied" in cli.lines(done)[0] or \
        "cannot connect to MySQL as 'nobody': (1045, \"Access denied" in cli.lines(done)[0]
    assert cli.lines(done)[0].endswith("— check the username and password of connection 'sales_mysql' (connections.yml)")
    assert "s3cret-pw" not in done.stdout + done.stderr


def test_an_unknown_default_database_is_one_error_for_the_whole_run(cli: Cli) -> None:
    done = cli("sync", "-p", "sales", MYSQL_DATABASE="no_such_db")  # four tables, none of them reachable
    assert done.returncode == 3
    assert cli.lines(done) == [
        f"error: {cli.env['MYSQL_HOST']}:{cli.env['MYSQL_PORT']}: cannot connect to MySQL as {cli.env['MYSQL_USER']!r}: "
        "(1049, \"Unknown database "
        "'no_such_db'\") — create database 'no_such_db', or set the database of connection 'sales_mysql' "
        "(connections.yml) to one that exists"]
    assert not (cli.tmp / "lake").exists()


# -- data -----------------------------------------------------------------------------------------------

ODD = "CREATE TABLE odd (id INT PRIMARY KEY, updated_at DATETIME(6) NULL, note LONGTEXT, d DATE, amount DECIMAL(65,30))"


@pytest.mark.parametrize("policy", ["warn", "fail"])
def test_null_cursors_follow_the_policy(cli: Cli, policy: str) -> None:
    cli.odd_pipeline(ODD, cdc_strategy="hybrid", cursor_column="updated_at", id_columns="[id]")
    cli.edit("pipelines/odd.yml", "safety_lag_seconds: 0", f"safety_lag_seconds: 0\n  null_cursor_policy: {policy}")
    cli.db.execute("INSERT INTO odd (id, updated_at) VALUES (1, '2024-01-01'), (2, NULL), (3, NULL)")
    done = cli("sync", "-p", "odd")
    message = (f"2 row(s) of {cli.db.database}.odd have NULL updated_at: the initial snapshot reads them, "
               "but their later changes are invisible to the cursor")
    if policy == "fail":
        assert done.returncode == 8  # a data error, not MySQL's code
        assert message in cli.lines(done)[0]
        assert "fix the rows, or set defaults.null_cursor_policy: warn, or use full_sync" in cli.lines(done)[0]
    else:
        assert done.returncode == 0, done.stdout
        assert f"warning: odd: {message}" in done.stdout
        assert sorted(r["id"] for r in cli.odd_rows()) == [1, 2, 3]


def test_zero_dates_land_as_null_and_are_counted(cli: Cli) -> None:
    cli.odd_pipeline(ODD, cdc_strategy="full_sync", id_columns="[id]")
    cli.db.execute("SET SESSION sql_mode = ''", "INSERT INTO odd (id, d) VALUES (1, '0000-00-00'), (2, '2024-02-03')")
    done = cli("sync", "-p", "odd")
    assert done.returncode == 0, done.stdout
    assert "note: odd.d: 1 zero date(s) landed as NULL" in done.stdout


def test_oversized_and_wide_decimal_values_land_exactly(cli: Cli) -> None:
    cli.odd_pipeline(ODD, cdc_strategy="full_sync", id_columns="[id]")
    big = "x" * (5 * 2**20)
    wide = "12345678901234567890123456789012345.123456789012345678901234567891"
    cli.db.execute("INSERT INTO odd (id, note, amount) VALUES (1, %s, %s)", params=(big, wide))
    done = cli("sync", "-p", "odd")
    assert done.returncode == 0, done.stdout
    row = cli.odd_rows()[0]
    assert row["note"] == big
    assert row["amount"] == "12345678901234567890123456789012345.123456789012345678901234567891"[:66]


def test_invalid_encoding_is_a_data_error_naming_the_column(cli: Cli) -> None:
    cli.odd_pipeline("CREATE TABLE odd (id INT PRIMARY KEY, note VARCHAR(20) CHARACTER SET latin1)",
                     cdc_strategy="full_sync", id_columns="[id]")
    cli.db.execute("INSERT INTO odd VALUES (1, 'caf\xe9')")
    done = cli("sync", "-p", "odd")
    # latin1 text is converted by the server to utf8mb4: it lands correctly, nothing to report.
    assert done.returncode == 0, done.stdout
    assert cli.odd_rows()[0]["note"] == "caf\xe9"


# -- schema changes between runs ------------------------------------------------------------------------

SCHEMA_CHANGES = {
    "column_added": "ALTER TABLE customers ADD COLUMN loyalty INT NULL",
    "column_dropped": "ALTER TABLE customers DROP COLUMN city",
    "type_changed": "ALTER TABLE customers MODIFY COLUMN full_name VARCHAR(300) NOT NULL",
}


@pytest.mark.parametrize("change", list(SCHEMA_CHANGES))
def test_a_schema_change_between_runs_is_reported_and_loses_nothing(cli: Cli, change: str) -> None:
    assert cli("sync", "-p", "sales", "-t", "customers").returncode == 0
    cli.db.execute(SCHEMA_CHANGES[change], "UPDATE customers SET updated_at = NOW(6) - INTERVAL 10 SECOND WHERE customer_id = 1")
    done = cli("sync", "-p", "sales", "-t", "customers")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {
        "column_added": "schema: customers: column loyalty added (int(11)): older rows have it NULL",
        "column_dropped": "schema: customers: column city dropped (varchar(100)): the warehouse keeps it, NULL "
                          "from this run on",
        "type_changed": "schema: customers: column full_name widened: varchar(200) → varchar(300)",
    }[change]
    assert expected in done.stdout
    assert "schema: customers: files from this run on are schema version 2" in done.stdout
    files = sorted((cli.tmp / "lake").rglob("customers__*.parquet"))
    assert len(files) == 2
    new = pq.read_table(files[-1])
    assert new.num_rows == 1 and new.column("customer_id").to_pylist() == [1]
    names = new.schema.names
    assert ("loyalty" in names) == (change == "column_added")
    assert ("city" in names) == (change != "column_dropped")


def test_a_narrowing_schema_change_stops_only_that_table_with_one_line_naming_the_fix(cli: Cli) -> None:
    assert cli("sync", "-p", "sales", "-t", "customers", "-t", "products").returncode == 0
    cli.db.execute("ALTER TABLE customers MODIFY COLUMN full_name VARCHAR(100) NOT NULL")
    done = cli("sync", "-p", "sales", "-t", "customers", "-t", "products")
    assert done.returncode == 3, done.stdout + done.stderr
    assert cli.lines(done) == [
        f"error: customers: {cli.db.database}.customers: narrowing or incompatible schema change since version 1: "
        "full_name varchar(200) → varchar(100) (100 characters, was 200: MySQL truncated longer values) — re-read "
        "the table with `extractor sync -p sales -t customers --full-refresh`, or if no stored value changed, "
        "`extractor schema accept -p sales -t customers`"]
    assert any(line.startswith("products ") and " success " in line for line in done.stdout.splitlines())


def test_a_narrowing_change_of_an_adhoc_table_names_its_own_sync_command(cli: Cli) -> None:
    adhoc = ["sync", "--source", "sales_mysql", "--target-schema", "adhoc_raw", "--table", f"{cli.db.database}.customers"]
    assert cli(*adhoc).returncode == 0
    cli.db.execute("ALTER TABLE customers MODIFY COLUMN customer_id SMALLINT NOT NULL")
    done = cli(*adhoc)
    assert done.returncode == 3
    (line,) = cli.lines(done)
    assert line.endswith(f"customer_id int(11) → smallint(6) (holds -32768..32767, was -2147483648..2147483647) — "
                         f"re-read the table with `extractor sync --source sales_mysql --target-schema adhoc_raw "
                         f"--table {cli.db.database}.customers --full-refresh`")


def test_a_rename_is_said_to_look_like_one(cli: Cli) -> None:
    assert cli("sync", "-p", "sales", "-t", "customers").returncode == 0
    cli.db.execute("ALTER TABLE customers CHANGE city town VARCHAR(100)")
    done = cli("sync", "-p", "sales", "-t", "customers")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("schema: customers: column city → town looks like a rename (varchar(100)): treated as a drop plus an "
            "add (city is NULL from this run on, town NULL in older rows)") in done.stdout


# -- concurrency ----------------------------------------------------------------------------------------


def test_a_second_extractor_on_the_same_table_gets_the_lock_error(cli: Cli) -> None:
    import json
    import os
    import socket
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    lock = cli.tmp / "lake" / "state" / "sales_mysql" / cli.db.database / "sales_raw" / "customers.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"owner": "run-a", "run_id": "run-a", "host": socket.gethostname(), "pid": os.getpid(),
                                "acquired_at": now.isoformat(), "expires_at": (now + timedelta(hours=1)).isoformat()}))
    done = cli("sync", "-p", "sales", "-t", "customers")
    assert done.returncode == 5
    line = cli.lines(done)[0]
    assert f"table sales_raw.customers is locked by run run-a (owner run-a, pid {os.getpid()} on host " in line
    assert "wait for it, or if that process is dead run `extractor lock break sales_raw.customers` to break it" in line
