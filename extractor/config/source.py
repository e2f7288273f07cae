"""YAML with line tracking (every key path maps to ``file:line``), ``${VAR}`` interpolation and merging."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from extractor.errors import ConfigError

#: ``${NAME}`` or ``${NAME:-default}``.
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

KeyPath = tuple[str | int, ...]


def display(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Lines(dict[KeyPath, str]):
    """Maps a key path (``("tables", "orders", "cursor_column")``) to ``file:line``."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def at(self, path: KeyPath) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self:
                return self[path[:end]]
        return self.file


class _Loader(yaml.SafeLoader):
    """SafeLoader; the node tree is walked separately to record lines and refuse duplicate keys."""


def read_yaml(path: Path) -> tuple[Any, Lines]:
    file = display(path)
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
        lines = Lines(file)
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


def _walk(node: yaml.Node, path: KeyPath, lines: Lines) -> None:
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


def _interpolate(value: Any, path: KeyPath, lines: Lines) -> Any:
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


def merge(base: Any, over: Any) -> Any:
    """Deep merge: mappings merge key by key; anything else in ``over`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base.get(key), value)
        return out
    return over


def mapping(value: Any, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a mapping, not {type(value).__name__}", where=where)
    return value
