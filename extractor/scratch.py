"""Scratch directories of file writers, and removing what dead processes left in them.

A writer stages its open Parquet file in ``extractor-writer-<host>_<pid>_<start>_<random>`` under the lake's
scratch directory (``<lake>/.tmp-scratch``, or a per-user directory in the system's temp dir for S3). A
process killed with SIGKILL cannot remove it; the next writer does: a directory whose owner — same host,
that pid, that process start time — no longer runs is removed at once. Directories of another host (a lake
on a shared filesystem) or without an owner in their name (older versions) are removed after a day
untouched, as before; a live writer's directory is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "extractor-writer-"
#: Owner-less or foreign directories untouched this long are abandoned.
RETENTION_SECONDS = 24 * 3600
_OWNED = re.compile(r"^extractor-writer-(?P<host>[A-Za-z0-9.-]+)_(?P<pid>\d+)_(?P<start>\d+)_")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat``); None if it does not run.

    0 where ``/proc`` is not available and the process exists: then only the pid is compared.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # another user's live process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # The command name (field 2) may hold spaces or parentheses: fields after its last ')' are fixed.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19])  # field 22, starttime


def new_writer_dir(base: str | None) -> str:
    """A fresh scratch directory for one writer, named after this process (so a later run can tell it died)."""
    pid = os.getpid()
    return tempfile.mkdtemp(prefix=f"{PREFIX}{_host()}_{pid}_{process_start(pid) or 0}_", dir=base)


def owner_alive(name: str) -> bool | None:
    """Whether the process that created scratch directory ``name`` still runs; None: cannot tell."""
    match = _OWNED.match(name)
    if match is None or match["host"] != _host():
        return None
    started = process_start(int(match["pid"]))
    if started is None:
        return False
    recorded = int(match["start"])
    return not (recorded and started and started != recorded)  # the pid was reused by another process


def sweep(path: str | os.PathLike[str]) -> list[str]:
    """Remove what dead writers left under ``path``; returns the names removed.

    Writer directories whose owner is gone are removed at once; anything else untouched for a day too.
    """
    removed = []
    stale = datetime.now(UTC).timestamp() - RETENTION_SECONDS
    for entry in os.scandir(path):
        with contextlib.suppress(OSError):
            if not entry.is_dir(follow_symlinks=False):
                if entry.stat(follow_symlinks=False).st_mtime < stale:
                    os.unlink(entry.path)
                    removed.append(entry.name)
                continue
            alive = owner_alive(entry.name) if entry.name.startswith(PREFIX) else None
            if alive is None:
                touched = [entry.stat(follow_symlinks=False).st_mtime]
                touched += [f.stat(follow_symlinks=False).st_mtime for f in os.scandir(entry.path)]
                alive = max(touched) >= stale
            if not alive:
                shutil.rmtree(entry.path)
                removed.append(entry.name)
    return removed


def temp_scratch_dir() -> str:
    """``<system temp>/extractor-scratch-<uid>`` (created private), swept like a lake's scratch directory."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"extractor-scratch-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and path.stat().st_uid != uid:  # someone else's: do not stage files there
        return tempfile.gettempdir()
    sweep(path)
    return str(path)


__all__ = ["new_writer_dir", "owner_alive", "process_start", "sweep", "temp_scratch_dir"]
