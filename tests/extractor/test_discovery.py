"""The cursor rule of discovery (pure), and what ad-hoc sync says about the column it chose."""

from __future__ import annotations

import json

import pytest

from extractor import mysql
from extractor.discovery import ColumnFacts, choose_cursor, facts_from_table

ON_UPDATE_MARIADB = "on update current_timestamp()"
ON_UPDATE_MYSQL8 = "DEFAULT_GENERATED on update CURRENT_TIMESTAMP"


def col(name: str, data_type: str = "datetime", **kw: object) -> ColumnFacts:
    return ColumnFacts(name=name, data_type=data_type, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["last_update", "updated_at", "modified", "modified_at", "changed_at",
                                  "last_modified", "last_updated", "date_modified", "updated_on", "mtime",
                                  "row_updated_stamp", "LastModified"])
def test_last_modified_names_are_recognised(name):
    choice = choose_cursor([col("id", "int"), col("created_at"), col(name, "timestamp")])
    assert (choice.column, choice.strategy) == (name, "timestamp")
    assert "last-modified" in choice.reason or "change time" in choice.reason


@pytest.mark.parametrize("extra", [ON_UPDATE_MARIADB, ON_UPDATE_MYSQL8, "on update current_timestamp(6)"])
def test_a_column_the_server_updates_beats_any_name(extra):
    columns = [col("updated_at", nullable=False, indexed=True), col("stamp", "timestamp", extra=extra)]
    choice = choose_cursor(columns)
    assert choice.column == "stamp"
    assert "ON UPDATE CURRENT_TIMESTAMP" in choice.reason and "the server sets it on every change" in choice.reason
    assert choice.alternatives == ("updated_at",)


def test_among_equal_names_not_null_then_indexed_wins():
    columns = [col("modified_at"), col("updated_at", nullable=True), col("changed_at", nullable=False),
               col("last_update", nullable=False, indexed=True)]
    assert choose_cursor(columns).column == "last_update"
    assert choose_cursor(columns[:3]).column == "changed_at"
    assert choose_cursor(columns[:2]).column == "updated_at"  # name rank: updated_at before modified_at


def test_a_known_name_beats_a_name_that_only_contains_a_change_word():
    assert choose_cursor([col("status_changed_stamp", nullable=False), col("modified")]).column == "modified"


@pytest.mark.parametrize(("columns", "says"), [
    ([col("id", "int"), col("created_at"), col("birth_date", "date")],
     "its DATETIME/TIMESTAMP column(s) created_at neither have ON UPDATE CURRENT_TIMESTAMP"),
    ([col("id", "int"), col("name", "varchar")], "it has no DATETIME/TIMESTAMP column"),
    ([col("id", "int"), col("last_update", "date"), col("modified", "int")],
     "last_update (DATE), modified (INT) is not a DATETIME/TIMESTAMP and is not guessed"),
])
def test_without_a_cursor_the_table_is_full_sync_and_the_reason_says_what_was_seen(columns, says):
    choice = choose_cursor(columns)
    assert (choice.column, choice.strategy) == (None, "full_sync")
    assert says in choice.reason and "cursor_column" in choice.reason


def test_facts_come_from_information_schema_with_extra_and_index(mysql_db):
    mysql_db.execute(
        "CREATE TABLE film (film_id INT PRIMARY KEY, title VARCHAR(50), created DATETIME,"
        " last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,"
        " KEY idx_last_update (last_update))")
    conn = mysql_db.connect()
    try:
        info = mysql.describe_table(conn, mysql_db.database, "film")
    finally:
        conn.close()
    facts = {f.name: f for f in facts_from_table(info)}
    assert facts["last_update"].on_update_now and facts["last_update"].indexed
    assert not facts["last_update"].nullable and not facts["created"].on_update_now
    assert facts["film_id"].indexed and not facts["title"].indexed
    assert choose_cursor(list(facts.values())).column == "last_update"


def test_ad_hoc_sync_picks_last_update_and_says_why(workspace):
    db = workspace.db
    db.execute(
        "CREATE TABLE actor (actor_id INT PRIMARY KEY, name VARCHAR(20),"
        " last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
        "CREATE TABLE country (country_id INT PRIMARY KEY, name VARCHAR(20), created_at DATETIME)",
        "INSERT INTO actor (actor_id, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO country VALUES (1, 'x', '2025-01-01')",
    )
    args = ["sync", "--source", "sales_mysql", "--target-schema", "adhoc_raw", "-t", f"{db.database}.actor",
            "-t", f"{db.database}.country", "--lake", str(workspace.lake)]
    result = workspace.cli(*args, "--json")
    assert result.exit_code == 0, result.output
    tables = {t["table"]: t for t in json.loads(result.output)["tables"]}
    assert tables["actor"]["strategy"] == "timestamp"
    assert "last_update TIMESTAMP NOT NULL ON UPDATE CURRENT_TIMESTAMP" in tables["actor"]["notes"][0]
    assert tables["country"]["strategy"] == "full_sync"
    assert "created_at neither have ON UPDATE CURRENT_TIMESTAMP" in tables["country"]["notes"][0]
    text = workspace.cli(*args, "--dry-run")
    assert text.exit_code == 0, text.output
    assert "note: actor: cursor last_update TIMESTAMP NOT NULL ON UPDATE CURRENT_TIMESTAMP" in text.output
    assert "note: country: full_sync (the whole table every run): no change cursor found" in text.output
