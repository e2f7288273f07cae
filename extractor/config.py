"""Typed configuration: connections, pipelines and environment overrides, with `${VAR}` interpolation.

Every error names the file and line of the key at fault. ``cdc_strategy: auto`` exists only for ad-hoc
pipelines (:func:`adhoc_pipeline`): the pipeline module replaces it by discovering the primary key and a
DATETIME/TIMESTAMP cursor column (``updated_at``, ``modified_at``…) — hybrid if found, full_sync otherwise.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from extractor.errors import ConfigError

_IDENT_RE = re.compile(r"[A-Za-z0-9_$]{1,64}")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_STRATEGIES = ("hybrid", "timestamp", "id", "full_sync")
_SECRET_WORDS = ("password", "passphrase", "secret", "token")

_KeyPath = tuple[str | int, ...]


def _check_ident(value: str) -> str:
    if not _IDENT_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a safe identifier (letters, digits, _ and $ only, 1-64 chars)")
    return value


Ident = Annotated[str, AfterValidator(_check_ident)]

# Source column and table names: anything MySQL accepts in a quoted identifier (quoted when used).
_SOURCE_NAME_RE = re.compile(r"[^\x00-\x1f]{0,63}[^\x00-\x1f ]")


def _check_source_name(value: str) -> str:
    if not _SOURCE_NAME_RE.fullmatch(value):
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


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest of ``choices``, or None."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"did you mean '{match[0]}'?" if match else None


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
    """A MySQL source; ``password`` never leaves this object except through :meth:`uri`."""

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

    def uri(self) -> str:
        """``mysql://user:pass@host:port/db`` for connectorx only (through the SSH tunnel, opened if need be).

        Never print or log it.
        """
        from extractor.mysql import connection_uri  # lazy: the CLI starts without pymysql

        return connection_uri(self)


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
    #: How long ``sync -t T`` waits for a dependency another process is extracting (extractor/dependencies.py).
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
    cdc_strategy: Literal["hybrid", "timestamp", "id", "full_sync", "auto"] = "hybrid"
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
        allowed = _STRATEGIES + (("auto",) if (info.context or {}).get("adhoc") else ())
        if value not in allowed:
            hint = suggest(value, _STRATEGIES)
            raise ValueError(
                f"{value!r} is not one of {', '.join(_STRATEGIES)}" + (f" — {hint}" if hint else "")
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
        needs_cursor = self.cdc_strategy in ("hybrid", "timestamp")
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
        cycle = _find_cycle({name: t.depends_on for name, t in self.tables.items()})
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
        chosen = {self.table(n).name for n in names} if names is not None else set(self.tables)
        needs = {n: _reachable(n, self.tables) & chosen for n in chosen}
        remaining = [t for t in self.tables.values() if t.name in chosen]
        levels: list[list[TableConfig]] = []
        done: set[str] = set()
        while remaining:
            level = [t for t in remaining if needs[t.name] <= done]
            levels.append(level)
            done |= {t.name for t in level}
            remaining = [t for t in remaining if t.name not in done]
        return levels


def _reachable(name: str, tables: dict[str, TableConfig]) -> set[str]:
    seen: set[str] = set()
    stack = list(tables[name].depends_on)
    while stack:
        dep = stack.pop()
        if dep not in seen and dep in tables:
            seen.add(dep)
            stack.extend(tables[dep].depends_on)
    return seen


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep in graph and not state.get(dep):
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return None


@dataclass(frozen=True)
class Project:
    """Everything loaded from one config directory under one environment."""

    config_dir: Path
    env: str | None
    connections: Connections
    pipelines: dict[str, Pipeline]

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline called ``name``; a ConfigError with a close match otherwise."""
        if name not in self.pipelines:
            raise ConfigError(
                f"no pipeline '{name}' in {_display(self.config_dir / 'pipelines')}",
                hint=suggest(name, self.pipelines) or f"known: {', '.join(self.pipelines) or 'none'}",
            )
        return self.pipelines[name]

    def source(self, name: str) -> SourceConnection:
        """The source connection called ``name``."""
        return _named(self.connections.sources, name, "source connection", self.config_dir)

    def target(self, name: str) -> TargetConnection:
        """The target connection called ``name``."""
        return _named(self.connections.targets, name, "target connection", self.config_dir)

    def connection(self, name: str) -> SourceConnection | TargetConnection:
        """The source or target connection called ``name``."""
        both = {**self.connections.targets, **self.connections.sources}
        return _named(both, name, "connection", self.config_dir)


def _named(items: dict[str, Any], name: str, kind: str, config_dir: Path) -> Any:
    if name not in items:
        raise ConfigError(
            f"no {kind} '{name}' in {_display(config_dir / 'connections.yml')}",
            hint=suggest(name, items) or f"known: {', '.join(items) or 'none'}",
        )
    return items[name]


def resolve_config_dir(cli_value: Path | None) -> Path:
    """``--config-dir``, else ``$EXTRACTOR_CONFIG_DIR``, else ``./config`` — as an absolute path."""
    chosen = cli_value or os.environ.get("EXTRACTOR_CONFIG_DIR") or "config"
    return Path(chosen).expanduser().absolute()


# ---------------------------------------------------------------------------------------------------------
# YAML with line numbers, interpolation, merging


def _display(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Lines(dict[_KeyPath, str]):
    """Maps a key path (``("tables", "orders", "cursor_column")``) to ``file:line``."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def at(self, path: _KeyPath) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self:
                return self[path[:end]]
        return self.file


class _Loader(yaml.SafeLoader):
    """SafeLoader; the node tree is walked separately to record lines and refuse duplicate keys."""


def _read_yaml(path: Path) -> tuple[Any, _Lines]:
    file = _display(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded", where=f"{file}:{line}",
                          hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines = _Lines(file)
        if node is not None:
            _walk(node, (), lines)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}" if mark else file
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", where=where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=file) from None
    finally:
        loader.dispose()
    return _interpolate(data, (), lines), lines


def _walk(node: yaml.Node, path: _KeyPath, lines: _Lines) -> None:
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key == "<<":
                continue
            if key in first:
                raise ConfigError(
                    f"duplicate key '{key}' (first at line {first[key]})", where=f"{lines.file}:{line}"
                )
            first[key] = line
            lines[path + (key,)] = f"{lines.file}:{line}"
            _walk(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = f"{lines.file}:{item.start_mark.line + 1}"
            _walk(item, path + (index,), lines)


def _interpolate(value: Any, path: _KeyPath, lines: _Lines) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, path + (k,), lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path + (i,), lines) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is None or (found == "" and default is not None):
            if default is None:
                raise ConfigError(
                    f"environment variable {name} is not set",
                    where=lines.at(path),
                    hint=f"export {name}=… or write ${{{name}:-default}}",
                )
            return default
        return found

    return _VAR_RE.sub(replace, value)


def _merge(base: Any, over: Any) -> Any:
    """Deep merge: mappings merge key by key; anything else in ``over`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value)
        return out
    return over


def _mapping(value: Any, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a mapping, not {type(value).__name__}", where=where)
    return value


def _check_keys(
    data: dict[str, Any], allowed: Iterable[str], what: str, path: _KeyPath, lines: _Lines
) -> None:
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"unknown key '{key}' in {what}",
                where=lines.at(path + (key,)),
                hint=suggest(key, allowed) or f"expected one of: {', '.join(allowed)}",
            )


def _fields_at(model: type[BaseModel], loc: _KeyPath) -> list[str]:
    """Field names of the (nested) model reached by ``loc``, for close-match suggestions."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            if get_origin(current) is dict:
                current = get_args(current)[1]
                continue
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        args = [a for a in (get_args(field.annotation) or (field.annotation,)) if a is not type(None)]
        current = args[0] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _validate(
    model: type[_Model],
    data: Any,
    *,
    lines: _Lines,
    base: _KeyPath,
    what: str,
    context: dict[str, Any] | None = None,
    loc_map: dict[str, _KeyPath] | None = None,
) -> Any:
    """Validate ``data``; a pydantic error becomes one ConfigError line at the key's ``file:line``."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _config_error(exc, model, lines=lines, base=base, what=what, loc_map=loc_map or {}) from None


def _config_error(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    lines: _Lines,
    base: _KeyPath,
    what: str,
    loc_map: dict[str, _KeyPath],
) -> ConfigError:
    errors = exc.errors(include_url=False)
    # A misspelled key is both unknown and (its right spelling) missing: the unknown one says what to fix.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc: _KeyPath = tuple(err["loc"])
    prefix = loc_map.get(str(loc[0]), base) if loc else base
    field = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        inside = f" under '{'.'.join(str(p) for p in loc[:-1])}'" if len(loc) > 1 else ""
        return ConfigError(
            f"unknown key '{loc[-1]}'{inside} in {what}",
            where=lines.at(prefix + loc),
            hint=suggest(str(loc[-1]), _fields_at(model, loc[:-1])),
        )
    if err["type"] == "missing":
        return ConfigError(f"missing required key '{field}' in {what}", where=lines.at(prefix + loc[:-1]))
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    hint = None
    if err["type"] == "literal_error":
        hint = suggest(
            str(err.get("input")), re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected")))
        )
    shown = err.get("input")
    secret = any(w in str(p).lower() for p in loc for w in _SECRET_WORDS)
    if loc and not secret and isinstance(shown, str | int | float | bool) and len(str(shown)) <= 60:
        message = f"{message} (got {shown!r})"
    text = f"invalid '{field}' in {what}: {message}" if loc else f"{what}: {message}"
    return ConfigError(text, where=lines.at(prefix + loc), hint=hint)


# ---------------------------------------------------------------------------------------------------------
# Loading


def load_project(config_dir: Path | None = None, env: str | None = None) -> Project:
    """Load and validate connections.yml, pipelines/*.yml and the environments/<env>.yml overrides.

    ``env`` defaults to ``$EXTRACTOR_ENV``; ``config_dir`` is resolved by :func:`resolve_config_dir`.
    """
    root = resolve_config_dir(config_dir)
    env = env or os.environ.get("EXTRACTOR_ENV") or None
    if not root.is_dir():
        raise ConfigError(
            f"config directory {_display(root)} does not exist",
            hint="pass --config-dir or set EXTRACTOR_CONFIG_DIR",
        )
    env_data, env_lines = _read_env(root, env)

    conn_path = root / "connections.yml"
    if not conn_path.is_file():
        raise ConfigError(
            f"no connections.yml in {_display(root)}", hint="pass --config-dir or set EXTRACTOR_CONFIG_DIR"
        )
    data, lines = _read_yaml(conn_path)
    data = _mapping(data, "connections.yml", lines.file)
    _check_keys(data, ["connections"], "connections.yml", (), lines)
    lines.update({k: v for k, v in env_lines.items() if k[:1] == ("connections",)})
    conns = _mapping(
        _merge(data.get("connections"), env_data.get("connections") or {}),
        "'connections'",
        lines.at(("connections",)),
    )
    connections = _load_connections(conns, lines)

    env_pipelines = _mapping(env_data.get("pipelines"), "'pipelines'", env_lines.at(("pipelines",)))
    pipelines: dict[str, Pipeline] = {}
    files = sorted([*(root / "pipelines").glob("*.yml"), *(root / "pipelines").glob("*.yaml")])
    for path in files:
        pipeline = _load_pipeline(path, env_pipelines, env_lines, connections)
        if pipeline.name in pipelines:
            raise ConfigError(
                f"pipeline '{pipeline.name}' is defined twice",
                where=_display(path),
                hint=f"also in {_display(pipelines[pipeline.name].path or root)}",
            )
        pipelines[pipeline.name] = pipeline
    for name in env_pipelines:
        if name not in pipelines:
            raise ConfigError(
                f"environment '{env}' overrides unknown pipeline '{name}'",
                where=env_lines.at(("pipelines", name)),
                hint=suggest(name, pipelines),
            )
    return Project(config_dir=root, env=env, connections=connections, pipelines=pipelines)


def _read_env(root: Path, env: str | None) -> tuple[dict[str, Any], _Lines]:
    if not env:
        return {}, _Lines("")
    path = root / "environments" / f"{env}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "environments").glob("*.yml"))
        raise ConfigError(
            f"no environment '{env}' ({_display(path)} does not exist)",
            hint=suggest(env, known) or f"known: {', '.join(known) or 'none'}",
        )
    data, lines = _read_yaml(path)
    data = _mapping(data, f"environment '{env}'", lines.file)
    _check_keys(data, ["connections", "pipelines"], f"environment '{env}'", (), lines)
    return data, lines


def _load_connections(conns: dict[str, Any], lines: _Lines) -> Connections:
    _check_keys(conns, ["sources", "targets"], "'connections'", ("connections",), lines)
    built: dict[str, dict[str, Any]] = {}
    for kind, model in (("sources", SourceConnection), ("targets", TargetConnection)):
        path = ("connections", kind)
        built[kind] = {}
        for name, body in _mapping(conns.get(kind), f"'{kind}'", lines.at(path)).items():
            what = f"{kind[:-1]} connection '{name}'"
            body = _mapping(body, what, lines.at(path + (name,)))
            if "name" in body:
                raise ConfigError(
                    f"unknown key 'name' in {what}",
                    where=lines.at(path + (name, "name")),
                    hint="the connection's name is its key",
                )
            built[kind][name] = _validate(
                model, {**body, "name": name}, lines=lines, base=path + (name,), what=what
            )
    for name in set(built["sources"]) & set(built["targets"]):
        raise ConfigError(
            f"'{name}' is both a source and a target connection",
            where=lines.at(("connections", "targets", name)),
            hint="give each connection its own name",
        )
    return Connections(**built)


def _load_pipeline(
    path: Path, env_pipelines: dict[str, Any], env_lines: _Lines, connections: Connections
) -> Pipeline:
    data, lines = _read_yaml(path)
    data = _mapping(data, _display(path), lines.file)
    if not data:
        raise ConfigError("empty pipeline file", where=lines.file)
    _check_keys(data, ["pipeline", "defaults", "tables"], "a pipeline file", (), lines)
    header = _mapping(data.get("pipeline"), "'pipeline'", lines.at(("pipeline",)))
    name = str(header.get("name") or path.stem)
    if name in env_pipelines:
        over = _mapping(
            env_pipelines[name], f"override of pipeline '{name}'", env_lines.at(("pipelines", name))
        )
        _check_keys(
            over,
            ["pipeline", "defaults", "tables"],
            f"override of pipeline '{name}'",
            ("pipelines", name),
            env_lines,
        )
        data = _merge(data, over)
        lines.update({k[2:]: v for k, v in env_lines.items() if k[:2] == ("pipelines", name) and len(k) > 2})
        header = _mapping(data.get("pipeline"), "'pipeline'", lines.at(("pipeline",)))
    what = f"pipeline '{name}'"
    header_keys = [f for f in Pipeline.model_fields if f not in ("defaults", "tables", "path")]
    _check_keys(header, header_keys, f"'pipeline' of {what}", ("pipeline",), lines)

    defaults = _validate(
        Defaults,
        _mapping(data.get("defaults"), "'defaults'", lines.at(("defaults",))),
        lines=lines,
        base=("defaults",),
        what=f"defaults of {what}",
    )
    tables: dict[str, TableConfig] = {}
    for key, body in _mapping(data.get("tables"), "'tables'", lines.at(("tables",))).items():
        key = str(key)
        t_what = f"table '{key}'"
        body = _mapping(body, t_what, lines.at(("tables", key)))
        if "name" in body:
            raise ConfigError(
                f"unknown key 'name' in {t_what}",
                where=lines.at(("tables", key, "name")),
                hint="the table's name is its key under 'tables:'; rename with 'target_name'",
            )
        table = _validate(TableConfig, {**body, "name": key}, lines=lines, base=("tables", key), what=t_what)
        table._location = lines.at(("tables", key))
        table._locations = {f: lines[("tables", key, f)] for f in body if ("tables", key, f) in lines}
        tables[key] = table

    pipeline = _validate(
        Pipeline,
        {**header, "name": name, "defaults": defaults, "tables": tables, "path": path},
        lines=lines,
        base=("pipeline",),
        what=what,
        loc_map={"defaults": ("defaults",), "tables": ("tables",)},
    )
    if pipeline.source not in connections.sources:
        raise ConfigError(
            f"{what} uses unknown source connection '{pipeline.source}'",
            where=lines.at(("pipeline", "source")),
            hint=suggest(pipeline.source, connections.sources),
        )
    if pipeline.target and pipeline.target not in connections.targets:
        raise ConfigError(
            f"{what} uses unknown target connection '{pipeline.target}'",
            where=lines.at(("pipeline", "target")),
            hint=suggest(pipeline.target, connections.targets),
        )
    target = connections.targets.get(pipeline.target) if pipeline.target else None
    if target is not None and target.type == "redshift" and "compression" not in pipeline.defaults.model_fields_set:
        # COPY from Parquet goes through Redshift Spectrum, whose documentation names SNAPPY (and GZIP) page
        # compression for Parquet; zstd is not listed there (docs/warehouse.md, "Running on Redshift").
        defaults = pipeline.defaults.model_copy(update={"compression": "snappy"})
        pipeline = pipeline.model_copy(update={"defaults": defaults})
    return pipeline


def adhoc_pipeline(
    project: Project, *, source: str, target_schema: str, tables: list[str], lake: str = "./lake"
) -> Pipeline:
    """An in-memory pipeline for ``extractor sync --source … --table db.t`` without a pipeline file.

    Tables get ``cdc_strategy='auto'``: the pipeline module discovers their key and cursor column.
    """
    conn = project.source(source)
    built: dict[str, TableConfig] = {}
    for spec in tables:
        full = spec if _is_db_dot_table(spec) or not conn.database else f"{conn.database}.{spec}"
        # The lake and warehouse name must be a plain identifier; the MySQL name may be anything. A name
        # that had to change gets a short digest of the original, so `a-b` and `a_b` never share a prefix.
        try:
            original = split_source_table(full)[1]
        except ValueError:  # refused with the reason by TableConfig below; the name only has to exist till then
            original = full.split(".")[-1]
        name = re.sub(r"[^A-Za-z0-9_$]", "_", original)
        if name != original:
            name = f"{name[:55]}_{hashlib.sha256(original.encode()).hexdigest()[:8]}"
        name = name[:64]
        where = f"--table {spec}"
        if name in built:
            raise ConfigError(
                f"two ad-hoc tables are named '{name}'",
                where=where,
                hint="extract tables from different databases in separate runs",
            )
        lines = _Lines(where)
        table = _validate(
            TableConfig,
            {"name": name, "source_table": full, "cdc_strategy": "auto"},
            lines=lines,
            base=(),
            what=f"ad-hoc table '{spec}'",
            context={"adhoc": True},
        )
        table._location = where
        built[name] = table
    return _validate(
        Pipeline,
        {
            "name": f"adhoc_{source}",
            "source": source,
            "target_schema": target_schema,
            "lake": lake,
            "tables": built,
        },
        lines=_Lines("ad-hoc pipeline"),
        base=(),
        what=f"ad-hoc pipeline of '{source}'",
    )


def _is_db_dot_table(value: str) -> bool:
    try:
        split_source_table(value)
    except ValueError:
        return False
    return True
