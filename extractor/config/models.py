"""The configuration models: connections, pipelines, tables and their defaults (validated by pydantic).

Models hold configuration only: nothing here opens a connection or a tunnel (``mysql.connect`` and
``mysql.connection_uri`` take a :class:`SourceConnection`). ``cdc_strategy: auto`` exists only for ad-hoc
pipelines (``loading.adhoc_pipeline``): the sync package replaces it by discovering the primary key and a
DATETIME/TIMESTAMP cursor column — hybrid if found, full_sync otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from extractor.config.ordering import dependency_levels, find_cycle
from extractor.errors import ConfigError, suggest
from extractor.quoting import MYSQL_NAME, SAFE_NAME
from extractor.strategies import STRATEGIES, Strategy, uses_cursor


def _check_ident(value: str) -> str:
    if not SAFE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a safe identifier (letters, digits, _ and $ only, 1-64 chars)")
    return value


Ident = Annotated[str, AfterValidator(_check_ident)]



def _check_source_name(value: str) -> str:
    if not MYSQL_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a MySQL name (1-64 characters, no control characters or trailing space)")
    return value


SourceName = Annotated[str, AfterValidator(_check_source_name)]

# `db.table`; a part that contains a dot (or a backtick) is written in backticks, `` doubling a backtick.
_QUOTED_OR_PLAIN = r"(`(?:[^`]|``)+`|[^.`]+)"
_SOURCE_TABLE_RE = re.compile(rf"{_QUOTED_OR_PLAIN}\.{_QUOTED_OR_PLAIN}")


def split_source_table(value: str) -> tuple[str, str]:
    """``db.table`` → ``(db, table)``; a name with a dot in it is quoted as in MySQL: ``sales.`order.items```."""
    match = _SOURCE_TABLE_RE.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} must be 'db.table' (a name that contains a dot in backticks: db.`a.b`)")
    db, table = (p[1:-1].replace("``", "`") if p.startswith("`") else p for p in match.groups())
    return _check_source_name(db), _check_source_name(table)


def _absolute_local(value: str) -> str:
    """Local paths are relative to the current directory; URLs (``s3://``, ``file://``) are kept."""
    if "://" in value or value == ":memory:" or value.startswith("md:"):
        return value
    return str(Path(value).expanduser().absolute())


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: Any) -> Any:
        # YAML `true` is a bool, and bool is an int to pydantic: `batch_rows: true` would mean 1.
        if isinstance(value, bool) and info.field_name in cls.model_fields:
            annotation = cls.model_fields[info.field_name].annotation
            types = set(get_args(annotation)) | {annotation}
            if types & {int, float} and bool not in types:
                raise ValueError("expected a number, not a boolean")
        return value


class _Connection(_Model):
    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `${REDSHIFT_HOST:-}` interpolates to "": treat it as "not set" for optional fields.
        if isinstance(data, dict):
            fields = cls.model_fields
            return {
                k: v for k, v in data.items() if not (v == "" and k in fields and not fields[k].is_required())
            }
        return data

    def redacted(self) -> dict[str, Any]:
        """The connection as plain data with every secret shown as ``***``."""
        out = self.model_dump(mode="json", exclude_none=True)
        for key, value in self:
            if isinstance(value, SecretStr) and value.get_secret_value():
                out[key] = "***"
            elif isinstance(value, SecretStr):
                out.pop(key, None)
            elif isinstance(value, _Connection):
                out[key] = value.redacted()
        return out


class SshTunnel(_Connection):
    """An SSH bastion in front of a MySQL source: every connection to the source goes through it.

    Authentication by ``key_file`` (``key_passphrase`` if the key is encrypted) and/or ``password``. The
    bastion's host key must be in ``known_hosts``; ``insecure_skip_host_key_check`` turns that check off
    (anyone on the network path can then read the MySQL password and the data).
    """

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    key_file: str | None = None
    key_passphrase: SecretStr = SecretStr("")
    password: SecretStr = SecretStr("")
    known_hosts: str = Field(default="~/.ssh/known_hosts", validate_default=True)
    insecure_skip_host_key_check: bool = False

    @field_validator("key_file", "known_hosts")
    @classmethod
    def _expand_path(cls, value: str | None) -> str | None:
        return str(Path(value).expanduser().absolute()) if value else value

    @model_validator(mode="after")
    def _has_a_credential(self) -> SshTunnel:
        if not self.key_file and not self.password.get_secret_value():
            raise ValueError("ssh_tunnel needs 'key_file' or 'password' (or both)")
        return self


class SourceConnection(_Connection):
    """A MySQL source; its password is read only by ``mysql.connect`` and ``mysql.connection_uri``."""

    name: Ident
    type: Literal["mysql"] = "mysql"
    host: str
    port: int = Field(default=3306, ge=1, le=65535)
    database: str | None = None
    username: str
    password: SecretStr = SecretStr("")
    connect_timeout: int = Field(default=10, gt=0)
    read_timeout: int = Field(default=600, gt=0)
    ssh_tunnel: SshTunnel | None = None


class TargetConnection(_Connection):
    """A warehouse: an embedded DuckDB file or a Redshift cluster."""

    name: Ident
    type: Literal["duckdb", "redshift"]
    path: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)  # 5439 for redshift
    database: str | None = None
    username: str | None = None
    password: SecretStr = SecretStr("")
    iam_role: str | None = None
    region: str | None = None
    schema_: str | None = Field(default=None, alias="schema")  # redshift: the dbt profile schema
    sslmode: str | None = None  # redshift: passed to dbt and redshift_connector

    @property
    def schema(self) -> str | None:  # type: ignore[override]
        """Redshift: the schema dbt builds into (``<schema>_landing`` …); None means ``analytics``."""
        return self.schema_

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: str | None) -> str | None:
        return _absolute_local(value) if value else value

    @model_validator(mode="after")
    def _duckdb_needs_path(self) -> TargetConnection:
        if self.type == "duckdb" and not self.path:
            raise ValueError("a duckdb target needs 'path' (the database file)")
        if self.type == "redshift" and self.port is None:
            object.__setattr__(self, "port", 5439)  # frozen: the default depends on the type
        return self


class Connections(_Model):
    """Named sources and targets from ``connections.yml``."""

    sources: dict[str, SourceConnection] = {}
    targets: dict[str, TargetConnection] = {}


class Defaults(_Model):
    """Processing defaults of a pipeline; tables may override ``batch_rows``."""

    batch_rows: int = Field(default=100_000, gt=0)
    file_max_rows: int = Field(default=1_000_000, gt=0)
    file_max_bytes: int = Field(default=128 * 1024 * 1024, gt=0)
    compression: Literal["zstd", "snappy"] = "zstd"  # unset with a Redshift target: snappy
    safety_lag_seconds: float = Field(default=5, ge=0)
    #: Whose open write transactions hold the cursor bound back: sessions in the table's database, every
    #: session on the server, or none (docs: config/pipelines/sales.yml).
    open_transaction_scope: Literal["database", "server", "off"] = "database"
    parallelism: int = Field(default=2, gt=0)
    reader: Literal["auto", "connectorx", "pymysql"] = "auto"
    lock_ttl_seconds: int = Field(default=3600, gt=0)
    #: How long ``sync -t T`` waits for a dependency another process is extracting (extractor/sync/dependencies.py).
    dependency_wait_seconds: float = Field(default=3600, ge=0)
    null_cursor_policy: Literal["warn", "fail"] = "warn"
    batch_max_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    read_parallelism: int = Field(default=2, gt=0)


class Validation(_Model):
    """Post-extract checks on a table's rows."""

    required_columns: list[SourceName] = []
    max_null_percentage: dict[SourceName, Annotated[float, Field(ge=0, le=100)]] = {}


class TableConfig(_Model):
    """One table of a pipeline; ``name`` is its key under ``tables:``."""

    name: Ident
    source_table: str
    cdc_strategy: Strategy | Literal["auto"] = "hybrid"
    cursor_column: SourceName | None = None
    id_columns: list[SourceName] = []
    unique_key: list[SourceName] | None = None
    exclude_columns: list[SourceName] = []
    #: Columns whose values can exceed Redshift's widest VARCHAR/VARBYTE (LONGTEXT, JSON, LONGBLOB …):
    #: ``truncate`` (to 65535 / 16,777,216 bytes in the lake, counted in the run report) or ``exclude``.
    oversize: dict[SourceName, Literal["truncate", "exclude"]] = {}
    table_type: Literal["fact", "dimension"] = "fact"
    target_name: Ident | None = None
    depends_on: list[Ident] = []
    batch_rows: int | None = Field(default=None, gt=0)
    delete_detection: Literal["none", "reconcile"] = "none"
    validation: Validation = Validation()

    _location: str | None = PrivateAttr(None)
    _locations: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("source_table")
    @classmethod
    def _db_dot_table(cls, value: str) -> str:
        split_source_table(value)
        return value

    @field_validator("cdc_strategy", mode="before")
    @classmethod
    def _known_strategy(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = STRATEGIES + (("auto",) if (info.context or {}).get("adhoc") else ())
        if value not in allowed:
            hint = suggest(value, STRATEGIES)
            raise ValueError(
                f"{value!r} is not one of {', '.join(STRATEGIES)}" + (f" — {hint}" if hint else "")
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _oversize_exclude_is_excluded(cls, data: Any) -> Any:
        # `oversize: {col: exclude}` means the column is not extracted: the same as listing it in exclude_columns.
        if isinstance(data, dict) and isinstance(data.get("oversize"), dict):
            dropped = [c for c, how in data["oversize"].items() if how == "exclude"]
            listed = list(data.get("exclude_columns") or [])
            extra = [c for c in dropped if c not in listed]
            if extra:
                data = {**data, "exclude_columns": listed + extra}
        return data

    @model_validator(mode="after")
    def _strategy_has_its_keys(self) -> TableConfig:
        needs_cursor = uses_cursor(self.cdc_strategy)
        if needs_cursor and not self.cursor_column:
            raise ValueError(f"cdc_strategy {self.cdc_strategy} needs 'cursor_column'")
        if self.cdc_strategy == "hybrid" and not self.id_columns:
            raise ValueError("cdc_strategy hybrid needs 'id_columns' (the key that breaks timestamp ties)")
        if self.name in self.depends_on:
            raise ValueError(f"table '{self.name}' depends on itself")
        return self

    @property
    def source_db(self) -> str:
        """The MySQL database part of ``source_table``."""
        return split_source_table(self.source_table)[0]

    @property
    def source_name(self) -> str:
        """The MySQL table part of ``source_table``."""
        return split_source_table(self.source_table)[1]

    @property
    def target(self) -> str:
        """The table's name in the lake and the warehouse."""
        return self.target_name or self.name

    def where(self, field: str | None = None) -> str:
        """``file:line`` of ``field`` in this table's config (or of the table itself)."""
        return (field and self._locations.get(field)) or self._location or f"table '{self.name}'"


class Pipeline(_Model):
    """A source, a target schema, a lake and the tables extracted together."""

    name: Ident
    source: Ident
    target: Ident | None = None
    target_schema: Ident
    lake: str = Field(default="./lake", validate_default=True)
    defaults: Defaults = Defaults()
    tables: dict[str, TableConfig]
    path: Path | None = None

    @field_validator("lake")
    @classmethod
    def _resolve_lake(cls, value: str) -> str:
        return _absolute_local(value)

    @model_validator(mode="after")
    def _dependencies_are_sound(self) -> Pipeline:
        if not self.tables:
            raise ValueError("a pipeline needs at least one table under 'tables:'")
        for table in self.tables.values():
            for dep in table.depends_on:
                if dep not in self.tables:
                    raise ConfigError(
                        f"table '{table.name}' depends on unknown table '{dep}'",
                        where=table.where("depends_on"),
                        hint=suggest(dep, self.tables),
                    )
        seen: dict[str, TableConfig] = {}
        for table in self.tables.values():
            # The target names the table's lake prefix, watermark, lock and warehouse table: one table each.
            first = seen.setdefault(table.target.lower(), table)
            if first is not table:
                raise ConfigError(
                    f"tables '{first.name}' and '{table.name}' both land as '{table.target}' in "
                    f"{self.target_schema}, so they would share one watermark and lake prefix",
                    where=table.where("target_name" if table.target_name else None),
                    hint=f"give one of them its own target_name (e.g. target_name: {table.name}_2)",
                )
        cycle = find_cycle({name: t.depends_on for name, t in self.tables.items()})
        if cycle:
            raise ConfigError(
                f"depends_on cycle: {' → '.join(cycle)}",
                where=self.tables[cycle[0]].where("depends_on"),
                hint="remove one of these dependencies",
            )
        return self

    def table(self, name: str) -> TableConfig:
        """The table called ``name``; a ConfigError with a close match otherwise."""
        if name not in self.tables:
            raise ConfigError(
                f"pipeline '{self.name}' has no table '{name}'", hint=suggest(name, self.tables)
            )
        return self.tables[name]

    def ordered_tables(self, names: Iterable[str] | None = None) -> list[list[TableConfig]]:
        """Dependency levels of the selected tables (all by default); each level only needs earlier ones.

        Tables outside the selection are not added, but ordering through them is kept.
        """
        return dependency_levels(self.tables, [self.table(n).name for n in names] if names is not None else None)
