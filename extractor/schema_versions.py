"""Each table's schema versions, kept in the lake beside its watermark, and which files carry which.

``state/<source>/<db>/<target_schema>/<table>.schemas.json`` lists every schema version the table's
files were written with, in order: its number, fingerprint, columns (name, MySQL type, Arrow type,
ordinal, …), the first run and batch that used it and the changes from the version before. A file's
version is the last one whose ``first_batch_id`` is not after the file's ``_batch_id`` (batch ids sort in
write order); every data file also carries its version and fingerprint in its Parquet footer
(``extractor.schema_version`` / ``extractor.schema_fingerprint``), so a reader of the footers knows it
without this document.

The document is written with the lake's conditional write, under the table's lock, before the watermark
that refers to it: a crash leaves at worst a version no file uses yet.

Library API for the warehouse side: ``schema_versions(storage, layout)``, ``version_of_batch``,
``version_of_file``, ``SchemaVersion.arrow_schema()``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from extractor import schema_change
from extractor.errors import LakeError, SourceError, StateError
from extractor.lake import Storage, TableLayout, batch_id, new_run_id, open_lake
from extractor.types import Column, arrow_type

VERSION_KEY = "extractor.schema_version"
FINGERPRINT_KEY = "extractor.schema_fingerprint"


class SchemaChangeError(SourceError):
    """A narrowing or incompatible source schema change stopped a table (exit code 3)."""


def fingerprint(columns: Sequence[Column]) -> str:
    """The schema fingerprint of a column list: names, MySQL types and nullability, in order."""
    return hashlib.sha256(json.dumps([(c.name, c.column_type, c.nullable) for c in columns]).encode()).hexdigest()[:16]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VersionColumn(_Model):
    """One column of a schema version: what ``information_schema`` said and the Arrow type it is written as."""

    name: str
    mysql_type: str
    data_type: str
    arrow_type: str
    ordinal: int
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None
    datetime_precision: int | None = None
    unsigned: bool = False
    charset: str | None = None
    max_length: int | None = None
    octet_length: int | None = None

    @classmethod
    def of(cls, col: Column) -> VersionColumn:
        """The record of a live column."""
        return cls(name=col.name, mysql_type=col.column_type, data_type=col.data_type,
                   arrow_type=str(arrow_type(col)), ordinal=col.ordinal, nullable=col.nullable,
                   precision=col.precision, scale=col.scale, datetime_precision=col.datetime_precision,
                   unsigned=col.unsigned, charset=col.charset, max_length=col.max_length,
                   octet_length=col.octet_length)

    def column(self) -> Column:
        """The ``types.Column`` this record describes (for the type map)."""
        return Column(name=self.name, data_type=self.data_type, column_type=self.mysql_type,
                      nullable=self.nullable, ordinal=self.ordinal, precision=self.precision, scale=self.scale,
                      datetime_precision=self.datetime_precision, unsigned=self.unsigned, charset=self.charset,
                      max_length=self.max_length, octet_length=self.octet_length)


class SchemaVersion(_Model):
    """One schema version of a table's files."""

    version: int
    fingerprint: str
    columns: list[VersionColumn]
    #: The run that first wrote (or, for ``schema accept``, admitted) this version.
    first_run_id: str
    #: Every file of this version has a ``_batch_id`` >= this (and below the next version's).
    first_batch_id: str
    created_at: AwareDatetime
    #: What changed from the previous version, one sentence each (empty for version 1).
    changes: list[str] = Field(default_factory=list)
    #: How a blocking change was resolved: ``full-refresh`` or ``schema accept`` (None: none needed).
    accepted_by: str | None = None

    def source_columns(self) -> list[Column]:
        """The version's columns as ``types.Column`` objects, in file order."""
        return [c.column() for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        """The source columns' Arrow schema, in file order (the lineage columns follow in every file)."""
        return pa.schema([pa.field(c.name, arrow_type(c.column()), nullable=True) for c in self.columns])


class SchemaHistory(_Model):
    """The stored document: a table's schema versions, oldest first."""

    table: str
    versions: list[SchemaVersion] = Field(default_factory=list)

    @property
    def latest(self) -> SchemaVersion | None:
        """The newest version, or None before the first run that recorded one."""
        return self.versions[-1] if self.versions else None


def history_key(layout: TableLayout) -> str:
    """Key of a table's schema versions document (beside its watermark)."""
    return layout.state_key[: -len(".json")] + ".schemas.json"


def is_history_key(key: str) -> bool:
    """Whether a state key is a schema versions document (not a watermark)."""
    return key.endswith(".schemas.json")


class SchemaStore:
    """Load and conditionally save one table's schema versions."""

    def __init__(self, storage: Storage, layout: TableLayout) -> None:
        self.storage = storage
        self.layout = layout
        self.key = history_key(layout)

    @property
    def where(self) -> str:
        """Location of the document, for messages."""
        return self.storage.uri(self.key)

    def load(self) -> tuple[SchemaHistory, str | None]:
        """The stored history and its token (an empty history and None when there is none yet)."""
        found = self.storage.get_bytes(self.key)
        if found is None:
            return SchemaHistory(table=self.layout.table), None
        try:
            return SchemaHistory.model_validate_json(found[0]), found[1]
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "document"
            raise StateError(f"corrupt schema versions document: {loc}: {first['msg']}", where=self.where,
                             hint="restore it from the lake's versioning, or delete it: the next run records "
                                  "the current schema as a new version") from None

    def save(self, history: SchemaHistory, token: str | None) -> str:
        """Publish ``history`` if the stored one is still ``token`` (None: must not exist)."""
        body = (history.model_dump_json(indent=2) + "\n").encode()
        try:
            return self.storage.put_bytes(self.key, body, if_match=token, if_none_match=token is None)
        except StateError as exc:
            raise StateError(f"schema versions of {self.layout.display} changed while this run held the table",
                             where=self.where, hint="check for another run of this table, then re-run") from exc


# ---------------------------------------------------------------------------------------------------
# Library API for the warehouse side


def schema_versions(lake: Storage | str, layout: TableLayout) -> list[SchemaVersion]:
    """A table's schema versions, oldest first (empty before its first recorded run)."""
    storage = open_lake(lake) if isinstance(lake, str) else lake
    return SchemaStore(storage, layout).load()[0].versions


def version_of_batch(versions: Sequence[SchemaVersion], batch: str) -> SchemaVersion | None:
    """The version a file with ``_batch_id`` ``batch`` was written with (None: before the first recorded)."""
    found = None
    for version in versions:
        if version.first_batch_id <= batch:
            found = version
    return found


def footer_version(metadata: dict[bytes, bytes] | None) -> tuple[int | None, str | None]:
    """``(version, fingerprint)`` stamped in a Parquet footer's key-value metadata (None when absent)."""
    meta = metadata or {}
    raw = meta.get(VERSION_KEY.encode())
    fp = meta.get(FINGERPRINT_KEY.encode())
    return (int(raw) if raw else None), (fp.decode() if fp else None)


def version_of_file(storage: Storage, key: str) -> tuple[int | None, str | None]:
    """``(version, fingerprint)`` of a data file, from its footer (None for files written before stamping)."""
    fs, root = storage.arrow_filesystem()
    try:
        with fs.open_input_file(f"{root}/{key}") as handle:
            return footer_version(pq.ParquetFile(handle).metadata.metadata)
    except (OSError, pa.ArrowInvalid) as exc:
        raise LakeError(f"cannot read Parquet footer: {exc}".splitlines()[0], where=storage.uri(key),
                        hint="the file is missing or not a complete Parquet file") from exc


def footer_metadata(version: SchemaVersion) -> dict[str, str]:
    """Key-value metadata the writer stamps into each file of ``version``."""
    return {VERSION_KEY: str(version.version), FINGERPRINT_KEY: version.fingerprint}


# ---------------------------------------------------------------------------------------------------
# The extractor side: compare the live columns with the latest version at the start of a table's run


@dataclass
class Tracked:
    """The outcome of ``track``: the version this run writes, and what changed to get there."""

    version: SchemaVersion
    changes: list[schema_change.Change] = field(default_factory=list)
    new_version: bool = False


def resolve_command(pipeline: str, table: str, adhoc_sync: str | None = None) -> str:
    """The commands that resolve a blocking change, as the message shows them.

    ``adhoc_sync``: the ``extractor sync --source … --table …`` command of an ad-hoc table (no pipeline file,
    so only a full refresh resolves it).
    """
    if adhoc_sync:
        return f"re-read the table with `{adhoc_sync} --full-refresh`"
    return (f"re-read the table with `extractor sync -p {pipeline} -t {table} --full-refresh`, or if no stored "
            f"value changed, `extractor schema accept -p {pipeline} -t {table}`")


def track(storage: Storage, layout: TableLayout, columns: Sequence[Column], *, run_id: str, pipeline: str,
          table: str, source_table: str, accept: str | None = None,
          previous_fingerprint: str | None = None, adhoc_sync: str | None = None) -> Tracked:
    """Record the live ``columns`` as the table's newest schema version if they differ from the latest.

    A narrowing or incompatible change raises ``SchemaChangeError`` (one line: table, columns, old → new,
    the commands that resolve it) unless ``accept`` says how the user resolved it (``full-refresh`` or
    ``schema accept``). Call under the table's lock, before the watermark that refers to the version.
    ``previous_fingerprint`` is the watermark's: when the first recorded version has it, the files written
    before versions were recorded are of that version too.
    """
    store = SchemaStore(storage, layout)
    history, token = store.load()
    fp = fingerprint(columns)
    latest = history.latest
    if latest is not None and latest.fingerprint == fp:
        return Tracked(latest)
    changes = schema_change.classify(latest.source_columns(), columns) if latest is not None else []
    blocking = [c for c in changes if c.blocking]
    if blocking and accept is None:
        raise SchemaChangeError(
            f"narrowing or incompatible schema change since version {latest.version if latest else 0}: "
            + schema_change.blocking_message(source_table, blocking).split(": ", 1)[1],
            where=source_table, hint=resolve_command(pipeline, table, adhoc_sync))
    first_batch = batch_id(run_id, 0)
    if latest is None and previous_fingerprint in (None, fp):
        first_batch = ""  # the table's earlier files (if any) have this schema too
    version = SchemaVersion(
        version=(latest.version + 1) if latest else 1, fingerprint=fp,
        columns=[VersionColumn.of(c) for c in columns], first_run_id=run_id, first_batch_id=first_batch,
        created_at=datetime.now(UTC),
        changes=[c.describe() for c in changes] or (
            [] if latest is not None or previous_fingerprint in (None, fp) else
            [f"first recorded version; files written before it have an unrecorded schema ({previous_fingerprint})"]),
        accepted_by=accept if blocking else None,
    )
    history.versions.append(version)
    store.save(history, token)
    return Tracked(version, changes, new_version=True)


def accept_current(storage: Storage, layout: TableLayout, columns: Sequence[Column], *, pipeline: str,
                   table: str, source_table: str) -> Tracked:
    """``extractor schema accept``: record the live columns as a new version although a change blocks."""
    return track(storage, layout, columns, run_id=new_run_id(), pipeline=pipeline, table=table,
                 source_table=source_table, accept="schema accept")


def added_with_values(changes: Sequence[schema_change.Change]) -> list[str]:
    """Columns a change added (or renamed to) whose values older rows may already hold in MySQL."""
    return [c.column for c in changes if c.kind in ("added", "renamed")]


def stale_rows_query(table_sql: str, columns: Sequence[str], order_sql: Sequence[str],
                     position: Sequence[Any]) -> tuple[str, list[Any]]:
    """A query finding one already-extracted row (order tuple <= ``position``) with a value in ``columns``.

    Such a row holds a value (a DEFAULT, or a renamed column's data) the ALTER wrote without moving its
    cursor, so the lake has it NULL until the row is read again.
    """
    from extractor.quoting import quote_ident

    # (a, b) <= (x, y), expanded as the keyset queries do: a < x OR (a = x AND b <= y); a prefix position
    # bounds only the leading columns.
    disjuncts: list[str] = []
    params: list[Any] = []
    for i in range(len(position)):
        last = "<=" if i == len(position) - 1 else "<"
        disjuncts.append(" AND ".join([f"{order_sql[j]} = %s" for j in range(i)] + [f"{order_sql[i]} {last} %s"]))
        params.extend(position[: i + 1])
    bound = " OR ".join(f"({d})" for d in disjuncts)
    values = " OR ".join(f"{quote_ident(c)} IS NOT NULL" for c in columns)
    return f"SELECT 1 FROM {table_sql} WHERE ({values}) AND ({bound}) LIMIT 1", params


__all__ = [
    "FINGERPRINT_KEY", "VERSION_KEY", "SchemaChangeError", "SchemaHistory", "SchemaStore", "SchemaVersion",
    "Tracked", "VersionColumn", "accept_current", "added_with_values", "fingerprint", "footer_metadata",
    "footer_version", "history_key", "is_history_key", "resolve_command", "schema_versions",
    "stale_rows_query", "track", "version_of_batch", "version_of_file",
]
