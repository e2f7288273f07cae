"""Logging, configured once per process: human lines on a terminal, or JSON lines for a scheduler's log.

Every extractor logger is a child of ``extractor``. :func:`configure` (the CLI calls it once) puts one
handler on stderr: ``human`` writes the message as it is; ``json`` writes one object per line with the
time, level, logger, message and the record's ``fields``. A table's run logs one line per stage
(:func:`stage`: ``start``, ``page``, ``commit``, ``end``) with counts and timings; they are INFO, so
they show with ``--log-format json`` (whose level defaults to info) or ``--log-level info``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["human", "json"]
LEVELS = ("debug", "info", "warning", "error")

_root = logging.getLogger("extractor")
_run_log = logging.getLogger("extractor.run")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message`` and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", None) or {})
        return json.dumps(data, default=str)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on whatever ``sys.stderr`` is when a record is written (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        """The current stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(fmt: LogFormat = "human", level: str | None = None) -> None:
    """Send the extractor's log records to stderr in ``fmt``; ``level`` defaults to warning (info for json)."""
    chosen = (level or ("info" if fmt == "json" else "warning")).upper()
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(message)s"))
    for old in list(_root.handlers):
        _root.removeHandler(old)
    _root.addHandler(handler)
    _root.setLevel(chosen)  # records still propagate: a host application's (or pytest's) root handlers see them


def stage(pipeline: str, table: str, name: str, **fields: Any) -> None:
    """Log one stage of a table's run (``start``, ``page``, ``commit``, ``end``) with its counts and timings."""
    if not _run_log.isEnabledFor(logging.INFO):
        return
    shown = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    _run_log.info("%s.%s %s %s", pipeline, table, name, shown,
                  extra={"fields": {"pipeline": pipeline, "table": table, "stage": name, **fields}})
