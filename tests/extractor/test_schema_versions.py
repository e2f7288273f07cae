"""Source schema changes end to end on the real MariaDB and a local lake: versions, footers, the report.

After every step the lake's latest row per key equals MySQL (columns and values), the table's schema
versions document lists its versions in order, and each file's footer names its version.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractor.lake import LocalStorage, TableLayout
from extractor.schema_versions import history_key, schema_versions, version_of_batch, version_of_file
from extractor.state import parse_watermark

PIPELINE = """
pipeline: {{name: shop, source: sales_mysql, target: local_duckdb, target_schema: shop_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0}}
tables:
  items:
    source_table: "{db}.items"
    cdc_strategy: hybrid
    cursor_column: updated_at
    id_columns: [id]
  others:
    source_table: "{db}.others"
    cdc_strategy: hybrid
    cursor_column: updated_at
    id_columns: [id]
"""


class Shop:
    """The pipeline under test: two tables, helpers to change rows and to compare the lake with MySQL."""

    def __init__(self, workspace: Any) -> None:
        self.ws = workspace
        self.db = workspace.db
        self.db.execute(
            """CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), qty INT, price DECIMAL(10,2),
                 city VARCHAR(20), code VARCHAR(10), seen DATETIME, updated_at DATETIME(6) NOT NULL,
                 KEY ix_u (updated_at, id))""",
            "CREATE TABLE others (id INT PRIMARY KEY, v VARCHAR(10), updated_at DATETIME(6) NOT NULL)",
        )
        workspace.write_pipeline("shop", PIPELINE.format(lake=workspace.lake, db=self.db.database))
        self.layout = TableLayout("sales_mysql", self.db.database, "shop_raw", "items")
        self.storage = LocalStorage(workspace.lake)
        self._ticks = 0

    def tick(self) -> str:
        """A cursor value later than every one before, but in the past: an open write transaction elsewhere on
        the shared server holds the upper bound back to its start, never before these."""
        self._ticks += 1
        return f"'2020-01-01 00:00:{self._ticks:02d}.000000'"

    def sync(self, *args: str) -> tuple[int, dict[str, Any], str]:
        """``extractor sync -p shop``: exit code, the JSON report, and the text report of the same run."""
        result = self.ws.cli("sync", "-p", "shop", *args)
        run_id = result.output.strip().splitlines()[-1].split()[1].rstrip(":")
        report = json.loads((Path(self.ws.lake) / "runs" / f"{run_id}.json").read_text())
        return result.exit_code, report, result.output

    def mysql_rows(self, table: str = "items") -> dict[int, dict[str, Any]]:
        conn = self.db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {table}")
                names = [d[0] for d in cur.description]
                return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
        finally:
            conn.close()

    def lake_latest(self, table: str = "items", min_version: int = 0) -> dict[int, dict[str, Any]]:
        """The lake's latest row per key (files of every schema version read by name, as the warehouse does).

        ``min_version``: only files of that schema version or later.
        """
        root = Path(self.ws.lake) / "data" / "sales_mysql" / self.db.database / "shop_raw" / table
        files = [p.as_posix() for p in sorted(root.rglob("*.parquet"))
                 if (version_of_file(self.storage, p.relative_to(self.ws.lake).as_posix())[0] or 0) >= min_version]
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        rel = con.execute(f"SELECT * FROM read_parquet({files!r}, union_by_name = true) "
                          "QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC, _batch_id DESC) = 1")
        names = [d[0] for d in rel.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in rel.fetchall()}

    def assert_lake_equals_mysql(self, table: str = "items", min_version: int = 0) -> None:
        source, lake = self.mysql_rows(table), self.lake_latest(table, min_version)
        assert set(lake) == set(source)
        for key, row in source.items():
            assert {name: lake[key].get(name) for name in row} == row, f"row {key}"

    def watermark(self) -> Any:
        return parse_watermark((Path(self.ws.lake) / self.layout.state_key).read_bytes(), "test")

    def versions(self) -> list[Any]:
        return schema_versions(self.storage, self.layout)

    def assert_footers_name_their_version(self) -> None:
        versions = self.versions()
        for path in sorted(Path(self.ws.lake).rglob("items__*.parquet")):
            key = path.relative_to(self.ws.lake).as_posix()
            number, fingerprint = version_of_file(self.storage, key)
            batch = path.stem.split("__", 1)[1].replace("__", "-")
            expected = version_of_batch(versions, batch)
            assert expected is not None and (number, fingerprint) == (expected.version, expected.fingerprint), key


@pytest.fixture
def shop(workspace: Any) -> Shop:
    return Shop(workspace)


def _table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["table"] == name)


def test_each_schema_change_kind_in_turn_keeps_the_lake_equal_to_mysql(shop: Shop) -> None:
    db = shop.db
    db.execute(f"INSERT INTO items VALUES (1, 'a', 1, 1.50, 'Oslo', '11', '2025-01-01 10:00:00', {shop.tick()}),"
               f" (2, 'b', 2, 2.25, 'Rome', '22', NULL, {shop.tick()})",
               f"INSERT INTO others VALUES (1, 'x', {shop.tick()})")
    code, report, _ = shop.sync()
    assert code == 0 and _table(report, "items")["schema_version"] == 1
    shop.assert_lake_equals_mysql()

    # Added column (nullable, no default: older rows are NULL in MySQL too): a new version, the run goes on.
    db.execute("ALTER TABLE items ADD COLUMN loyalty INT NULL AFTER code",
               f"UPDATE items SET loyalty = 7, updated_at = {shop.tick()} WHERE id = 1",
               f"INSERT INTO items VALUES (3, 'c', 3, 3.00, 'Pisa', '33', 5, NULL, {shop.tick()})")
    code, report, text = shop.sync()
    items = _table(report, "items")
    assert code == 0 and items["schema_version"] == 2
    assert items["schema_changes"][0] == "column loyalty added (int(11)): older rows have it NULL"
    assert "schema: items: column loyalty added (int(11)): older rows have it NULL" in text
    assert items["rows"] == 2  # nothing re-read: no older row holds a value
    shop.assert_lake_equals_mysql()

    # Widened types: values beyond the old types land exactly.
    db.execute("ALTER TABLE items MODIFY name VARCHAR(200), MODIFY qty BIGINT, MODIFY price DECIMAL(14,2),"
               " MODIFY seen DATETIME(6)",
               "INSERT INTO items VALUES (4, REPEAT('n', 200), 9000000000, 123456789012.34, 'Bari', '44', NULL,"
               f" '2025-01-01 10:00:00.123456', {shop.tick()})")
    code, report, _ = shop.sync()
    items = _table(report, "items")
    assert code == 0 and items["schema_version"] == 3
    assert "column qty widened: int(11) → bigint(20)" in items["schema_changes"]
    assert "column price widened: decimal(10,2) → decimal(14,2)" in items["schema_changes"]
    assert "column seen widened: datetime → datetime(6)" in items["schema_changes"]
    shop.assert_lake_equals_mysql()
    assert shop.lake_latest()[4]["price"] == Decimal("123456789012.34")

    # Dropped column: the run goes on, the report says the warehouse keeps it NULL.
    db.execute("ALTER TABLE items DROP COLUMN city",
               f"UPDATE items SET name = 'a2', updated_at = {shop.tick()} WHERE id = 1")
    code, report, _ = shop.sync()
    items = _table(report, "items")
    assert code == 0 and items["schema_version"] == 4
    assert items["schema_changes"][0] == ("column city dropped (varchar(20)): the warehouse keeps it, NULL from "
                                          "this run on")
    shop.assert_lake_equals_mysql()
    assert shop.lake_latest()[1]["city"] is None and shop.lake_latest()[2]["city"] == "Rome"

    # Rename: MySQL moves the values of rows the cursor will not read again, so the table is re-read.
    db.execute("ALTER TABLE items CHANGE loyalty points INT NULL",
               f"INSERT INTO items VALUES (5, 'e', 5, 5.00, '55', 9, NULL, {shop.tick()})")
    code, report, _ = shop.sync()
    items = _table(report, "items")
    assert code == 0 and items["schema_version"] == 5
    assert items["schema_changes"][0].startswith("column loyalty → points looks like a rename (int(11)): treated "
                                                 "as a drop plus an add")
    assert any("re-reading the table" in c for c in items["schema_changes"])
    shop.assert_lake_equals_mysql()
    assert shop.lake_latest()[1]["points"] == 7

    # Incompatible change: only this table stops, with one line; the other table in the pipeline syncs.
    before = shop.watermark()
    db.execute("ALTER TABLE items MODIFY code INT",
               f"INSERT INTO others VALUES (2, 'y', {shop.tick()})")
    planned = shop.ws.cli("sync", "-p", "shop", "--dry-run")
    assert "schema: items: would stop: column code changed type: varchar(10) → int(11) (text → number)" \
        in planned.output
    code, report, text = shop.sync()
    assert code == 3
    items, others = _table(report, "items"), _table(report, "others")
    assert items["status"] == "failed" and others["status"] == "success" and others["rows"] == 1
    error = (f"{db.database}.items: narrowing or incompatible schema change since version 5: code varchar(10) → "
             "int(11) (text → number) — re-read the table with `extractor sync -p shop -t items --full-refresh`, "
             "or if no stored value changed, `extractor schema accept -p shop -t items`")
    assert items["error"] == error
    assert f"error: items: {error}" in text.splitlines()
    after = shop.watermark()
    assert (after.cursor, after.phase, after.pending_files) == (before.cursor, before.phase, before.pending_files)
    assert after.schema_fingerprint == before.schema_fingerprint
    shop.assert_lake_equals_mysql("others")
    assert len(shop.versions()) == 5

    # The command the message names resolves it.
    code, report, _ = shop.sync("-t", "items", "--full-refresh")
    assert code == 0 and _table(report, "items")["schema_version"] == 6
    # Every row re-read with the new type (older files keep code as text: the warehouse side's concern).
    shop.assert_lake_equals_mysql(min_version=6)

    versions = shop.versions()
    assert [v.version for v in versions] == [1, 2, 3, 4, 5, 6]
    assert [v.first_batch_id for v in versions] == sorted(v.first_batch_id for v in versions)
    assert versions[-1].accepted_by == "full-refresh"
    assert [c.name for c in versions[1].columns][-3:] == ["loyalty", "seen", "updated_at"]
    assert {c.name: c.arrow_type for c in versions[2].columns}["qty"] == "int64"
    shop.assert_footers_name_their_version()


def test_schema_accept_records_the_change_and_the_next_sync_goes_on_incrementally(shop: Shop) -> None:
    shop.db.execute(f"INSERT INTO items VALUES (1, 'a', 1, 1.50, 'Oslo', '11', NULL, {shop.tick()})")
    assert shop.sync()[0] == 0
    shop.db.execute("ALTER TABLE items MODIFY price DECIMAL(10,1)")
    assert shop.sync()[0] == 3
    accepted = shop.ws.cli("schema", "accept", "-p", "shop", "-t", "items")
    assert accepted.exit_code == 0, accepted.output
    assert "items: schema version 2 recorded (column price narrowed" in accepted.output
    shop.db.execute(f"INSERT INTO items VALUES (2, 'b', 2, 2.5, 'Rome', '22', NULL, {shop.tick()})")
    code, report, _ = shop.sync()
    assert code == 0 and _table(report, "items")["rows"] == 1 and _table(report, "items")["schema_version"] == 2
    assert shop.versions()[-1].accepted_by == "schema accept"
    shown = shop.ws.cli("schema", "show", "-p", "shop", "-t", "items")
    assert shown.exit_code == 0 and "decimal(10,1)" in shown.output


def test_the_schema_versions_document_is_not_listed_as_a_watermark(shop: Shop) -> None:
    shop.db.execute(f"INSERT INTO items VALUES (1, 'a', 1, 1.50, 'Oslo', '11', NULL, {shop.tick()})")
    assert shop.sync()[0] == 0
    assert (Path(shop.ws.lake) / history_key(shop.layout)).exists()
    listed = shop.ws.cli("watermark", "list", "-p", "shop")
    assert listed.exit_code == 0, listed.output


# -- the versions document alone (no MySQL) ----------------------------------------------------------------


def _columns(*specs: tuple[str, str, str]) -> list[Any]:
    from extractor.types import Column

    return [Column(name=n, data_type=d, column_type=t, ordinal=i + 1) for i, (n, d, t) in enumerate(specs)]


def test_the_first_version_covers_files_written_before_versions_were_recorded(tmp_path: Path) -> None:
    from extractor.schema_versions import fingerprint, track

    storage, layout = LocalStorage(tmp_path), TableLayout("src", "db", "raw", "t")
    cols = _columns(("id", "int", "int(11)"))
    first = track(storage, layout, cols, run_id="20260101T000000000000Z-aaaaaa", pipeline="p", table="t",
                  source_table="db.t", previous_fingerprint=fingerprint(cols))
    assert first.version.first_batch_id == "" and first.version.changes == []
    assert version_of_batch(schema_versions(storage, layout), "20250101T000000000000Z-bbbbbb-00000").version == 1


def test_a_later_version_starts_at_its_run_and_files_map_to_the_version_they_were_written_with(tmp_path: Path) -> None:
    from extractor.schema_versions import track

    storage, layout = LocalStorage(tmp_path), TableLayout("src", "db", "raw", "t")
    v1 = _columns(("id", "int", "int(11)"))
    v2 = _columns(("id", "int", "int(11)"), ("x", "varchar", "varchar(5)"))
    track(storage, layout, v1, run_id="20260101T000000000000Z-aaaaaa", pipeline="p", table="t", source_table="db.t")
    same = track(storage, layout, v1, run_id="20260102T000000000000Z-aaaaaa", pipeline="p", table="t",
                 source_table="db.t")
    assert not same.new_version and same.version.version == 1
    second = track(storage, layout, v2, run_id="20260103T000000000000Z-cccccc", pipeline="p", table="t",
                   source_table="db.t")
    assert second.new_version and second.version.first_batch_id == "20260103T000000000000Z-cccccc-00000"
    versions = schema_versions(str(tmp_path), layout)
    assert version_of_batch(versions, "20260102T000000000000Z-aaaaaa-00003").version == 1
    assert version_of_batch(versions, "20260103T000000000000Z-cccccc-00000").version == 2
    assert versions[1].arrow_schema().names == ["id", "x"]


def test_a_blocking_change_of_an_adhoc_table_names_its_own_sync_command(tmp_path: Path) -> None:
    from extractor.schema_versions import SchemaChangeError, track

    storage, layout = LocalStorage(tmp_path), TableLayout("src", "db", "raw", "t")
    track(storage, layout, _columns(("id", "bigint", "bigint(20)")), run_id="20260101T000000000000Z-aaaaaa",
          pipeline="adhoc_src", table="t", source_table="db.t")
    with pytest.raises(SchemaChangeError) as err:
        track(storage, layout, _columns(("id", "int", "int(11)")), run_id="20260102T000000000000Z-aaaaaa",
              pipeline="adhoc_src", table="t", source_table="db.t",
              adhoc_sync="extractor sync --source src --target-schema raw --table db.t")
    assert str(err.value).endswith("re-read the table with `extractor sync --source src --target-schema raw "
                                   "--table db.t --full-refresh`")
    assert err.value.exit_code == 3


def test_the_versions_document_is_written_conditionally(tmp_path: Path) -> None:
    from extractor.errors import StateError
    from extractor.schema_versions import SchemaHistory, SchemaStore

    store = SchemaStore(LocalStorage(tmp_path), TableLayout("src", "db", "raw", "t"))
    _, token = store.load()
    assert token is None
    store.save(SchemaHistory(table="t"), None)
    with pytest.raises(StateError, match="changed while this run held the table"):
        store.save(SchemaHistory(table="t"), None)


DEFAULTS_PIPELINE = """
pipeline: {{name: dflt, source: sales_mysql, target: local_duckdb, target_schema: dflt_raw, lake: "{lake}"}}
defaults: {{safety_lag_seconds: 0, batch_rows: 2}}
tables:
  events:
    source_table: "{db}.events"
    cdc_strategy: {strategy}
    {cursor}
    id_columns: [id]
"""


@pytest.mark.parametrize("strategy", ["hybrid", "id"])
def test_a_column_added_with_a_default_is_re_read_into_the_rows_already_extracted(workspace: Any, strategy: str) -> None:
    db = workspace.db
    db.execute("CREATE TABLE events (id INT PRIMARY KEY, v VARCHAR(5), updated_at DATETIME(6) NOT NULL)",
               "INSERT INTO events VALUES (1, 'a', '2020-01-01 00:00:01'), (2, 'b', '2020-01-01 00:00:02'),"
               " (3, 'c', '2020-01-01 00:00:03')")
    cursor = "cursor_column: updated_at" if strategy == "hybrid" else ""
    workspace.write_pipeline("dflt", DEFAULTS_PIPELINE.format(lake=workspace.lake, db=db.database,
                                                              strategy=strategy, cursor=cursor))
    assert workspace.cli("sync", "-p", "dflt").exit_code == 0
    db.execute("ALTER TABLE events ADD COLUMN tier INT NOT NULL DEFAULT 5",
               "INSERT INTO events VALUES (4, 'd', '2020-01-01 00:00:04', 6)")
    result = workspace.cli("sync", "-p", "dflt", "--json")
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)["tables"][0]
    assert table["schema_changes"][0] == "column tier added (int(11)): older rows have it NULL"
    assert any("re-reading the table" in c for c in table["schema_changes"])
    assert table["rows"] == 4
    landed = workspace.lake_rows("events", schema="dflt_raw")
    latest = {r["id"]: r["tier"] for r in sorted(landed.to_pylist(), key=lambda r: r["_batch_id"])}
    assert latest == {1: 5, 2: 5, 3: 5, 4: 6}
    again = json.loads(workspace.cli("sync", "-p", "dflt", "--json").output)["tables"][0]
    assert again["rows"] == 0 and again["schema_changes"] == []  # the re-read happened once
