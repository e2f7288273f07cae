"""What ``extractor verify`` found per table, and the report it prints."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from extractor.verify.canonical import _float32

_SAMPLES = 5  # differing keys shown per kind of difference




@dataclass
class TableVerification:
    """One table's comparison: counts per side, checksums over the compared rows, and differences."""

    table: str
    strategy: str
    source_rows: int = 0  # MySQL rows due in the lake (within the watermark)
    in_flight: int = 0  # MySQL rows changed after the watermark (not compared)
    lake_rows: int = 0  # the lake's current rows
    warehouse_rows: int | None = None  # staging rows (None: no warehouse model)
    source_checksum: str = ""
    lake_checksum: str = ""
    warehouse_checksum: str | None = None
    missing_in_lake: int = 0
    different_in_lake: int = 0
    extra_in_lake: int = 0  # in the lake, gone from MySQL (a full_sync table must have a tombstone)
    deleted_at_source: int = 0  # cursor tables: hard deletes cursor CDC cannot see (not a failure)
    delete_detection: str = "none"  # the table's setting: with reconcile, the next run tombstones those keys
    future_cursor_rows: int = 0  # MySQL rows dated beyond the clock by more than the lag: no run reads them yet
    null_cursor_stale: int = 0  # rows whose cursor is NULL and that differ from (or are missing in) the lake
    warehouse_differences: int = 0
    warehouse_skipped_columns: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    not_extracted: int = 0  # MySQL rows of a table nothing was committed for (not compared; see the module doc)
    last_run: str | None = None  # the watermark's last run status (None: never synced)
    error: str | None = None  # set when the table could not be checked: then nothing above was compared
    exit_code: int | None = None  # the error's own exit code (3 MySQL, 4 lake, …)

    @property
    def checked(self) -> bool:
        """The comparison ran (an error means it did not, so no count or verdict above means anything)."""
        return self.error is None

    @property
    def extraction_failed(self) -> bool:
        """Runs happened but none committed anything: the lake holds none of the table's rows."""
        return self.not_extracted > 0 and self.last_run is not None

    @property
    def lake_ok(self) -> bool:
        """The lake holds exactly the source rows due in it (and the table's runs got something there)."""
        return self.checked and not (self.missing_in_lake or self.different_in_lake or self.extra_in_lake
                                     or self.extraction_failed)

    @property
    def warehouse_ok(self) -> bool:
        """Staging equals the lake's current state (or there is no staging model)."""
        return self.checked and (self.warehouse_rows is None or self.warehouse_differences == 0)

    @property
    def ok(self) -> bool:
        """Everything that was compared matches."""
        return self.lake_ok and self.warehouse_ok

    @property
    def status(self) -> str:
        """``ok``, ``mismatch``, or ``error`` (could not be checked)."""
        return "error" if not self.checked else ("ok" if self.ok else "mismatch")

    def _sample(self, key_kinds: Sequence[str], key: tuple[Any, ...], what: str) -> None:
        """Record one difference; the key is formatted only if the sample is kept (most are not)."""
        if len(self.samples) < 3 * _SAMPLES:
            self.samples.append(f"key {_show_key(key_kinds, key)} {what}")


@dataclass
class VerifyReport:
    """A pipeline's verification: one entry per table."""

    pipeline: str
    checked_at: datetime
    tables: list[TableVerification] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every table matches."""
        return all(t.ok for t in self.tables)

    @property
    def exit_code(self) -> int:
        """0 when everything matches; else the first unchecked table's error code, else 7 (a mismatch).

        An error wins over a mismatch: a verification that could not look at every table is not a finding
        about the data, and scripts should see the cause (MySQL down, lake unreadable) first.
        """
        codes = [t.exit_code or 1 for t in self.tables if not t.checked]
        if codes:
            return codes[0]
        return 0 if self.ok else VERIFY_MISMATCH_EXIT

    def table(self, name: str) -> TableVerification:
        """The entry of table ``name``."""
        return next(t for t in self.tables if t.table == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        tables = []
        for t in self.tables:
            entry = asdict(t)
            # Not checked: there is no lake or warehouse verdict, only the error.
            entry.update(status=t.status, ok=t.ok, lake_ok=t.lake_ok if t.checked else None,
                         warehouse_ok=t.warehouse_ok if t.checked else None)
            tables.append(entry)
        return {"pipeline": self.pipeline, "checked_at": self.checked_at.isoformat(), "ok": self.ok,
                "exit_code": self.exit_code, "tables": tables}

    def text(self) -> str:
        """A table for humans, then one line per difference sample."""
        header = ["table", "source rows", "in flight", "lake rows", "warehouse rows", "lake", "warehouse"]
        rows = [header]
        for t in self.tables:
            if not t.checked:
                rows.append([t.table, "-", "-", "-", "-", "error", "error"])
                continue
            rows.append([
                t.table, f"{t.source_rows:,}", f"{t.in_flight:,}", f"{t.lake_rows:,}",
                "-" if t.warehouse_rows is None else f"{t.warehouse_rows:,}",
                "yes" if t.lake_ok else "NO",
                "-" if t.warehouse_rows is None else ("yes" if t.warehouse_ok else "NO"),
            ])
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        for t in self.tables:
            if t.error:
                lines.append(f"error: {t.table}: not checked: {t.error}")
            if t.extraction_failed:
                lines.append(f"diff: {t.table}: no run has committed anything (last run: {t.last_run}), so none of "
                             f"its {t.not_extracted:,} MySQL row(s) are in the lake — fix the sync's error, re-run it")
            elif t.not_extracted:
                lines.append(f"note: {t.table}: never synced: its {t.not_extracted:,} MySQL row(s) are not in the "
                             "lake yet (not compared)")
            if t.deleted_at_source and t.delete_detection == "reconcile":
                lines.append(f"note: {t.table}: {t.deleted_at_source} key(s) deleted at the source since the last "
                             "run are still current in the lake: the next run lands their tombstones "
                             "(delete_detection: reconcile)")
            elif t.deleted_at_source:
                lines.append(f"note: {t.table}: {t.deleted_at_source} key(s) deleted at the source are still "
                             "current in the lake: hard deletes are invisible to cursor CDC — set "
                             "delete_detection: reconcile and the next run lands their tombstones")
            if t.future_cursor_rows:
                lines.append(f"{'note' if t.lake_ok else 'diff'}: {t.table}: {t.future_cursor_rows:,} MySQL row(s) "
                             "have a cursor dated in the future: runs read rows up to the clock minus "
                             "safety_lag_seconds, so these reach the lake only once the clock passes them — use a "
                             "last-modified column as cursor_column, or cdc_strategy full_sync")
            if t.null_cursor_stale:
                lines.append(f"diff: {t.table}: {t.null_cursor_stale:,} row(s) with a NULL cursor differ from the "
                             "lake, and no run will change that: incremental runs find rows by their cursor — set "
                             "the cursor on those rows (UPDATE … SET cursor = NOW(6) WHERE cursor IS NULL), or make "
                             "the column NOT NULL")
            if t.strategy == "id" and t.different_in_lake:
                lines.append(f"note: {t.table}: {t.different_in_lake:,} row(s) changed in MySQL after they were "
                             "extracted: cdc_strategy id lands each key once and never sees updates — use hybrid "
                             "with a cursor column for a table whose rows change")
            if t.warehouse_skipped_columns:
                lines.append(f"note: {t.table}: warehouse not compared on renamed/missing column(s) "
                             f"{', '.join(t.warehouse_skipped_columns)}")
            lines += [f"diff: {t.table}: {s}" for s in t.samples]
        lines.append(f"verify {self.pipeline}: {self._verdict()}")
        return "\n".join(lines)

    def _verdict(self) -> str:
        unchecked = [t.table for t in self.tables if not t.checked]
        differ = [t.table for t in self.tables if t.checked and not t.ok]
        if not unchecked and not differ:
            never = [t.table for t in self.tables if t.not_extracted and not t.extraction_failed]
            return "OK: lake and warehouse match the source" + (f" (never synced: {', '.join(never)})" if never else "")
        if not unchecked:
            return "MISMATCH"
        verdict = f"ERROR: could not check {', '.join(unchecked)}"
        return verdict + (f"; MISMATCH in {', '.join(differ)}" if differ else "")


_STUCK = {
    "null_cursor": " and will stay so: its cursor is NULL, which no incremental run reads",
    "future": " until the clock passes its cursor (dated in the future)",
}


def _show_key(kinds: Sequence[str], key: tuple[Any, ...]) -> str:
    """A ``_sort_key`` for a message: binary as ``0x…`` hex (need not be text); TIME, FLOAT as MySQL shows them."""
    parts = []
    for kind, part in zip(kinds, key, strict=True):
        value = part[1] if len(part) > 1 else None
        if value is None:
            parts.append("NULL")
        elif isinstance(value, bytes) and kind in ("binary", "geometry"):
            parts.append("0x" + value.hex())
        elif isinstance(value, bytes):
            parts.append(value.decode("utf-8", "backslashreplace"))
        elif kind == "time":
            parts.append(_time_text(value))
        elif kind == "float":
            parts.append(_float32_text(value))
        else:
            parts.append(str(value))
    return "(" + ", ".join(parts) + ")"


def _time_text(micros: int) -> str:
    """Microseconds as MySQL writes a TIME: ``-01:00:00``, ``100:00:00.5``."""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{'-' if micros < 0 else ''}{hours:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}".rstrip("0") if fraction else text


def _float32_text(value: float) -> str:
    """The shortest text that reads back as this float32 (``3.3``, not ``3.299999952316284``)."""
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        text = f"{value:.{digits}g}"
        with contextlib.suppress(OverflowError):  # rounded up past the largest float32
            if _float32(float(text)) == value:
                return text
    return repr(value)


#: Exit code of ``extractor verify`` when something differs (errors keep their own codes 1–6).
VERIFY_MISMATCH_EXIT = 7
