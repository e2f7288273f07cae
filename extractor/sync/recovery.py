"""Crash recovery: adopt the files an interrupted run wrote after its last commit, delete the rest.

A data file's footer holds the position after its last row (:mod:`extractor.sync.checkpoint`), so the
files an interrupted run published but did not commit continue the watermark in sequence: nothing is
re-extracted and nothing duplicated. A gap (a missing sequence number, another phase) stops adoption; the
files after it are deleted and read again.
"""

from __future__ import annotations

import extractor.sync.checkpoint as checkpoint
from extractor import writer
from extractor.lake import Storage, TableLayout
from extractor.state import Watermark


def recover(storage: Storage, layout: TableLayout, wm: Watermark, strategy: str) -> tuple[int, list[str]]:
    """Adopt what can be adopted into ``wm``; ``(files adopted, warnings)``. The caller saves ``wm``."""
    crashed = checkpoint.crashed_run(wm)
    if crashed is None:
        return 0, []
    committed = {p.key for p in wm.pending_files}
    orphans = sorted((o for o in storage.list(layout.data_prefix)
                      if f"__{crashed}__" in o.key and o.key not in committed), key=lambda o: o.key)
    adoptable = strategy != "full_sync"
    adopted, warnings = 0, []
    for obj in orphans:
        found = writer.read_written_file(storage, layout, obj.key) if adoptable else None
        if found and checkpoint.continues(wm, found.seq, found.checkpoint or {}):
            checkpoint.record_file(wm, wm.phase, found.pending(), found.checkpoint)
            adopted += 1
        else:
            adoptable = False  # a gap: later files cannot be adopted in order
            storage.delete([obj.key])
            warnings.append(f"deleted uncommitted file {obj.key} of crashed run {crashed}")
    if adopted:
        warnings.append(f"adopted {adopted} file(s) written by crashed run {crashed} before its commit")
    return adopted, warnings
