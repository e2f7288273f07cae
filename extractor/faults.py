"""Named fault points for crash testing: ``EXTRACTOR_FAULTS=file_written:2`` kills the process there.

Production runs never set the variable; the check is one dictionary lookup. Each entry is
``point[:n]`` (the n-th time the point is reached, default 1), comma-separated.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def _plan() -> dict[str, int]:
    spec = os.environ.get("EXTRACTOR_FAULTS", "")
    plan: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition(":")
        plan[name] = int(nth or 1)
    return plan


def fault_point(name: str) -> None:
    """SIGKILL this process if ``EXTRACTOR_FAULTS`` asks for a crash at the n-th visit of ``name``."""
    if "EXTRACTOR_FAULTS" not in os.environ:
        return
    nth = _plan().get(name)
    if nth is None:
        return
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    if hit == nth:
        os.kill(os.getpid(), signal.SIGKILL)
