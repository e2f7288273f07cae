"""Identifier rules and quoting: what a name may be, and how it is written into SQL (a leaf module).

Two kinds of name, each with one rule: a MySQL name (any character MySQL accepts in a quoted identifier:
no control characters, no trailing space, 1-64 characters) for source tables and columns, and a safe name
(letters, digits, ``_`` and ``$``) for what the extractor itself names: pipelines, tables in the lake,
dbt models. Values are never quoted here: they are always bound parameters.
"""

from __future__ import annotations

import re

from extractor.errors import SourceError

#: A MySQL name: any character MySQL accepts in a quoted identifier except control characters, no
#: trailing space, up to 64 characters.
MYSQL_NAME = re.compile(r"[^\x00-\x1f]{0,63}[^\x00-\x1f ]")
#: A name the extractor gives (pipelines, lake tables, dbt models): letters, digits, ``_`` and ``$``.
SAFE_NAME = re.compile(r"[A-Za-z0-9_$]{1,64}")
_QUOTED = re.compile(r"`(?:[^`]|``)*`")


def is_mysql_name(name: object) -> bool:
    """Whether ``name`` is a string MySQL accepts as a (quoted) identifier."""
    return isinstance(name, str) and MYSQL_NAME.fullmatch(name) is not None


def quote_ident(name: str) -> str:
    """``name`` validated as a MySQL identifier and backtick-quoted (embedded backticks doubled)."""
    if not is_mysql_name(name):
        raise SourceError(
            f"invalid MySQL identifier {name!r}",
            hint="identifiers are 1-64 characters, without control characters or a trailing space",
        )
    return "`" + name.replace("`", "``") + "`"


def as_template(sql: str) -> str:
    """``sql`` ready for a driver that %-formats it: ``%`` inside quoted identifiers doubled.

    A ``%`` is a valid character in a MySQL name (`discount_%`); unescaped, pymysql and the connectorx
    binder would take it for a placeholder. Only identifiers can hold one: values are always bound.
    """
    return _QUOTED.sub(lambda m: m.group(0).replace("%", "%%"), sql) if "%" in sql else sql
