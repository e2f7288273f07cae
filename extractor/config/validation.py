"""Turning a pydantic validation error (or an unknown key) into one ConfigError line at the key's ``file:line``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from extractor.config.source import KeyPath, Lines
from extractor.errors import ConfigError, suggest
from extractor.secrets import is_secret_key

M = TypeVar("M", bound=BaseModel)


def check_keys(
    data: dict[str, Any], allowed: Iterable[str], what: str, path: KeyPath, lines: Lines
) -> None:
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"unknown key '{key}' in {what}",
                where=lines.at(path + (key,)),
                hint=suggest(key, allowed) or f"expected one of: {', '.join(allowed)}",
            )


def _fields_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
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


def validate(
    model: type[M],
    data: Any,
    *,
    lines: Lines,
    base: KeyPath,
    what: str,
    context: dict[str, Any] | None = None,
    loc_map: dict[str, KeyPath] | None = None,
) -> M:
    """Validate ``data``; a pydantic error becomes one ConfigError line at the key's ``file:line``."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _config_error(exc, model, lines=lines, base=base, what=what, loc_map=loc_map or {}) from None


def _config_error(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    lines: Lines,
    base: KeyPath,
    what: str,
    loc_map: dict[str, KeyPath],
) -> ConfigError:
    errors = exc.errors(include_url=False)
    # A misspelled key is both unknown and (its right spelling) missing: the unknown one says what to fix.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc: KeyPath = tuple(err["loc"])
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
    secret = is_secret_key(loc)
    if loc and not secret and isinstance(shown, str | int | float | bool) and len(str(shown)) <= 60:
        message = f"{message} (got {shown!r})"
    text = f"invalid '{field}' in {what}: {message}" if loc else f"{what}: {message}"
    return ConfigError(text, where=lines.at(prefix + loc), hint=hint)
