"""One exception root; every message says what failed, where, and how to fix it — on one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ExtractorError(Exception):
    """Root of every error the extractor reports to a user.

    ``where`` is a location (``config/pipelines/sales.yml:12``, ``sales.orders.updated_at``, an S3 key);
    ``hint`` says how to fix it. ``str(error)`` is the single line the CLI prints.
    """

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text} — {self.hint}"
        return " ".join(text.split())


class ConfigError(ExtractorError):
    """Configuration is malformed, misspelled, or refers to something that does not exist.

    A table or column the configuration (or ``--table``) names that MySQL does not have is one too: the fix
    is in the configuration (``mysql.TableNotFound``, a missing column).
    """

    exit_code = 2


class SourceError(ExtractorError):
    """MySQL could not be reached or refused a query, or a table cannot be read as configured."""

    exit_code = 3


class SourceUnreachable(SourceError):
    """MySQL refused or dropped the connection in a way that can pass; the readers retry it with backoff.

    A restart, a failover, or an SSH bastion that cannot forward to the server yet.
    """


class DataError(ExtractorError):
    """A value cannot be represented faithfully (bad encoding, out-of-range value, NULL cursor policy).

    The fix is in the data, not in the connection: its own exit code, not MySQL's.
    """

    exit_code = 8


class LakeError(ExtractorError):
    """The lake (S3 or the local directory) refused or lost a read or write."""

    exit_code = 4


class StateError(LakeError):
    """A watermark is missing, corrupt, or changed under us (conditional write failed)."""


class LockError(StateError):
    """Another extractor holds the table's lock."""

    exit_code = 5


class WarehouseError(ExtractorError):
    """dbt or the warehouse connection failed."""

    exit_code = 6


def suggest(word: object, choices: Iterable[object], *, n: int = 1, cutoff: float = 0.6) -> str | None:
    """``did you mean 'x'?`` (or ``'x' or 'y'`` with ``n`` > 1) for the closest of ``choices``, or None.

    The one "did you mean" of the extractor: configuration keys, tables, columns, pipelines, strategies.
    """
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=cutoff)
    return "did you mean " + " or ".join(f"'{m}'" for m in match) + "?" if match else None
