"""Checkpoint transitions of a table's watermark: pure functions, no MySQL and no lake.

A run moves the watermark through these steps, each saved by the caller with a conditional write:
``start_run`` (before any file), ``record_file`` (after each durable file), ``complete_snapshot`` (the
initial snapshot reached its bound), ``finish`` (success). Crash recovery asks :func:`continues` whether a
file an interrupted run wrote is the next one of the committed sequence, and adopts it with
:func:`record_file` too. Unit-tested in tests/extractor/test_checkpoint.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from extractor.state import PendingFile, Watermark
from extractor.strategies import uses_cursor


def new_watermark(*, table: str, pipeline: str, strategy: str, cursor: str | None, ids: list[str],
                  source_table: str, now: datetime) -> Watermark:
    """A table's first watermark: cursor tables start with a snapshot, the others incremental."""
    wm = Watermark.new(table=table, pipeline=pipeline, strategy=strategy, cursor_column=cursor, id_columns=ids,
                       now=now, source_table=source_table)
    wm.phase = "snapshot" if uses_cursor(strategy) else "incremental"
    return wm


def refreshed(old: Watermark | None, fresh: Watermark) -> Watermark:
    """``fresh`` replacing ``old`` (``--full-refresh``): unacknowledged files and the document's identity kept."""
    if old is not None:
        fresh.pending_files = list(old.pending_files)
        fresh.version = old.version
        fresh.created_at = old.created_at
    return fresh


def position(wm: Watermark, strategy: str) -> tuple[Any, ...] | None:
    """Where reading resumes: the snapshot's last key, else the cursor tuple (None for full_sync)."""
    if wm.phase == "snapshot":
        return tuple(wm.snapshot.last_key) if wm.snapshot.last_key else None
    return None if strategy == "full_sync" else wm.cursor.position()


def set_position(wm: Watermark, phase: str, at: tuple[Any, ...]) -> None:
    """Move the position of ``phase`` (the snapshot's key, or the cursor tuple) to ``at``."""
    if phase == "snapshot":
        wm.snapshot.last_key = list(at)
    else:
        wm.cursor.set_position(at)


def file_checkpoint(phase: str, at: tuple[Any, ...] | None, upper: tuple[Any, ...] | None) -> dict[str, Any]:
    """What a data file records in its footer: the phase and the position after its last row.

    A snapshot's file also records its bound, so ``watermark rebuild`` can resume the snapshot exactly.
    """
    checkpoint: dict[str, Any] = {"phase": phase, "position": None if at is None else list(at)}
    if phase == "snapshot" and upper:
        checkpoint["upper"] = upper[0]
    return checkpoint


def start_run(wm: Watermark, run_id: str) -> None:
    """Register the run before it writes any file: from here on a crash is recoverable."""
    wm.mysql.last_run_id = run_id
    wm.mysql.status = "running"
    wm.mysql.committed_seq = None


def record_file(wm: Watermark, phase: str, pending: PendingFile, checkpoint: dict[str, Any] | None) -> None:
    """A file is durable: list it as pending and move the position to its checkpoint."""
    at = checkpoint.get("position") if checkpoint else None
    if at is not None and phase != "full":
        set_position(wm, phase, tuple(at))
    wm.pending_files.append(pending)
    wm.mysql.committed_seq = pending.seq
    wm.mysql.rows_extracted += pending.rows


def next_seq(wm: Watermark) -> int:
    """The sequence number the next committed file of the current run has."""
    return 0 if wm.mysql.committed_seq is None else wm.mysql.committed_seq + 1


def continues(wm: Watermark, seq: int, checkpoint: dict[str, Any]) -> bool:
    """Whether a file a crashed run left (``seq``, its footer ``checkpoint``) is the next one to adopt."""
    return seq == next_seq(wm) and checkpoint.get("phase") == wm.phase and checkpoint.get("position") is not None


def crashed_run(wm: Watermark) -> str | None:
    """The run that was interrupted (or failed) after registering itself, if the last one was."""
    if wm.mysql.status in ("running", "failed") and wm.mysql.last_run_id:
        return wm.mysql.last_run_id
    return None


def complete_snapshot(wm: Watermark, upper: tuple[Any, ...] | None, now: datetime) -> None:
    """The snapshot read everything up to its bound: continue incrementally from that bound."""
    wm.phase = "incremental"
    wm.cursor.last_value = upper[0] if upper else None
    wm.cursor.last_ids = None
    wm.snapshot.finished_at = now


def finish(wm: Watermark, *, rows: int, manifest_key: str | None, now: datetime) -> None:
    """The run succeeded: record its rows, its COPY manifest and the newest cursor timestamp."""
    if manifest_key is not None:
        wm.load.manifest_key = manifest_key
    wm.mysql.status = "success"
    wm.mysql.finished_at = now
    wm.mysql.last_run_rows = rows
    if wm.cursor.last_value is not None and isinstance(wm.cursor.last_value, datetime):
        wm.mysql.last_data_timestamp = wm.cursor.last_value
