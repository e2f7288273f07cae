"""Watermark documents (typed, exact cursor values) and the single-writer table lock, kept in the lake.

Over 400 lines: the watermark document's models and the lock that guards it are one state format.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import tenacity
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
)
from tenacity import retry_if_exception_type, stop_after_attempt

from extractor.errors import ExtractorError, LockError, StateError
from extractor.lake import Storage, TableLayout
from extractor.strategies import Strategy, uses_cursor

log = logging.getLogger(__name__)

_TAG = "$type"
RESET_HINT = ("inspect it; `extractor watermark rebuild` rebuilds it from the data files' checkpoints, "
              "`extractor watermark reset` starts the table again")
BREAK_LOCK_COMMAND = "extractor lock break"


# ------------------------------------------------------------------------------------- cursor values


def encode_value(value: Any) -> Any:
    """A JSON-ready form of a cursor/checkpoint value that ``decode_value`` turns back into the same type.

    JSON scalars stay plain; datetime/date/time/timedelta/Decimal/bytes/tuple become ``{"$type", "value"}``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {_TAG: "float", "value": repr(value)}  # also carries nan/inf exactly
    if isinstance(value, datetime):
        return {_TAG: "datetime", "value": value.isoformat(timespec="microseconds")}
    if isinstance(value, date):
        return {_TAG: "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {_TAG: "time", "value": value.isoformat(timespec="microseconds")}
    if isinstance(value, timedelta):
        micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
        return {_TAG: "timedelta", "value": str(micros)}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "value": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {_TAG: "bytes", "value": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "value": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        encoded = {str(k): encode_value(v) for k, v in value.items()}
        return {_TAG: "dict", "value": encoded} if _TAG in encoded else encoded
    raise TypeError(f"cannot store a {type(value).__name__} in a watermark: {value!r}")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "float": float,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "timedelta": lambda v: timedelta(microseconds=int(v)),
    "decimal": Decimal,
    "bytes": lambda v: base64.b64decode(v.encode("ascii"), validate=True),
    "tuple": lambda v: tuple(decode_value(x) for x in v),
    "dict": lambda v: {k: decode_value(x) for k, x in v.items()},
}


def decode_value(value: Any) -> Any:
    """Inverse of ``encode_value``; already-decoded Python values pass through unchanged."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if _TAG in value:
            kind = value[_TAG]
            if kind not in _DECODERS or set(value) != {_TAG, "value"}:
                raise ValueError(f"unknown tagged value {value!r}")
            return _DECODERS[kind](value["value"])
        return {k: decode_value(v) for k, v in value.items()}
    return value


CursorValue = Annotated[Any, PlainValidator(decode_value), PlainSerializer(encode_value)]


# ---------------------------------------------------------------------------------------------- model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CursorState(_Model):
    """The last cursor tuple fully written: ``(last_value, *last_ids)`` in ``(column, *id_columns)`` order."""

    column: str | None = None
    id_columns: list[str] = Field(default_factory=list)
    last_value: CursorValue = None
    last_ids: list[CursorValue] | None = Field(default_factory=list)

    def position(self) -> tuple[Any, ...] | None:
        """The cursor tuple, or None before the first incremental row."""
        ids = self.last_ids or []
        if self.column is None:
            return tuple(ids) if ids else None
        if self.last_value is None and not ids:
            return None
        return (self.last_value, *ids)

    def set_position(self, values: tuple[Any, ...] | None) -> None:
        """Store a cursor tuple in the order of ``position()``."""
        if values is None:
            self.last_value, self.last_ids = None, []
        elif self.column is None:
            self.last_ids = list(values)
        else:
            self.last_value, self.last_ids = values[0], list(values[1:])


class SnapshotProgress(_Model):
    """A resumable initial load: bounded by ``upper_bound``, resumed after ``last_key`` (primary key)."""

    upper_bound: CursorValue = None
    last_key: list[CursorValue] | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    files: int = 0


class MysqlStage(_Model):
    """What the last extraction did."""

    last_run_id: str | None = None
    status: Literal["running", "success", "failed"] | None = None
    rows_extracted: int = 0
    last_run_rows: int = 0
    last_data_timestamp: CursorValue = None
    finished_at: AwareDatetime | None = None
    committed_seq: int | None = None


class LoadStage(_Model):
    """What the warehouse has acknowledged (batch ids that reached landing)."""

    status: Literal["pending", "loaded", "failed"] | None = None
    rows_loaded: int = 0
    acknowledged_batches: list[str] = Field(default_factory=list)
    high_water_batch: str | None = None
    acknowledged_at: AwareDatetime | None = None
    manifest_key: str | None = None

    def is_acknowledged(self, batch_id: str) -> bool:
        """Whether ``batch_id`` is loaded: listed, or at/below the high-water batch (ids sort by time)."""
        if self.high_water_batch is not None and batch_id <= self.high_water_batch:
            return True
        return batch_id in self.acknowledged_batches


class PendingFile(_Model):
    """A data file written and not yet acknowledged by the warehouse."""

    key: str
    batch_id: str
    rows: int
    bytes: int
    run_id: str
    seq: int
    written_at: AwareDatetime


def _now() -> datetime:
    return datetime.now(UTC)


class Watermark(_Model):
    """The watermark document of one table (``state/…/<table>.json``)."""

    table: str
    pipeline: str
    #: ``db.table`` the watermark tracks (None in documents written before it was recorded).
    source_table: str | None = None
    strategy: Strategy
    cursor: CursorState = Field(default_factory=CursorState)
    phase: Literal["snapshot", "incremental"] = "snapshot"
    snapshot: SnapshotProgress = Field(default_factory=SnapshotProgress)
    mysql: MysqlStage = Field(default_factory=MysqlStage)
    load: LoadStage = Field(default_factory=LoadStage)
    pending_files: list[PendingFile] = Field(default_factory=list)
    schema_fingerprint: str | None = None
    version: int = 0
    created_at: AwareDatetime = Field(default_factory=_now)
    updated_at: AwareDatetime = Field(default_factory=_now)

    @classmethod
    def new(cls, *, table: str, pipeline: str, strategy: str, cursor_column: str | None,
            id_columns: list[str], now: datetime | None = None, source_table: str | None = None) -> Watermark:
        """A fresh watermark (nothing extracted yet) for a table."""
        now = now or _now()
        return cls(table=table, pipeline=pipeline, source_table=source_table,
                   strategy=strategy,  # type: ignore[arg-type]
                   cursor=CursorState(column=cursor_column, id_columns=id_columns), created_at=now,
                   updated_at=now)

    def to_json(self) -> bytes:
        """The stored form: indented, stable key order."""
        return (self.model_dump_json(indent=2) + "\n").encode()


def parse_watermark(data: bytes, where: str) -> Watermark:
    """Parse a stored watermark; anything malformed is a ``StateError`` naming the object."""
    try:
        return Watermark.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "document"
        raise StateError(f"corrupt watermark: {loc}: {first['msg']} ({exc.error_count()} error(s))",
                         where=where, hint=RESET_HINT) from None


class WatermarkStore:
    """Load and conditionally save one table's watermark."""

    def __init__(self, storage: Storage, layout: TableLayout) -> None:
        self.storage = storage
        self.layout = layout

    @property
    def where(self) -> str:
        """Location of the document, for messages."""
        return self.storage.uri(self.layout.state_key)

    def load(self) -> tuple[Watermark | None, str | None]:
        """The stored watermark and its token, or ``(None, None)`` if the table has none yet."""
        found = self.storage.get_bytes(self.layout.state_key)
        if found is None:
            return None, None
        data, token = found
        return parse_watermark(data, self.where), token

    def save(self, wm: Watermark, token: str | None) -> str:
        """Publish ``wm`` if the stored one is still ``token`` (None: must not exist); returns the new token.

        On success ``wm.version`` is incremented and ``wm.updated_at`` set.
        """
        stored = wm.model_copy(update={"version": wm.version + 1, "updated_at": _now()})
        try:
            new_token = self.storage.put_bytes(self.layout.state_key, stored.to_json(),
                                               if_match=token, if_none_match=token is None)
        except StateError as exc:
            if isinstance(exc, LockError):
                raise
            raise StateError(
                f"watermark for {self.layout.display} changed while this run held it — another extractor? "
                "(nothing was overwritten)", where=self.where,
                hint="check for another run of this table, then re-run; data files already written are "
                     "adopted or ignored by batch id") from exc
        wm.version, wm.updated_at = stored.version, stored.updated_at
        return new_token

    def delete(self) -> None:
        """Remove the watermark document."""
        self.storage.delete([self.layout.state_key])

    def reset(self) -> bool:
        """``watermark reset``: a fresh watermark (no position: the next run reloads everything).

        It keeps the same table, strategy, cursor and key, the files still pending and what the warehouse
        acknowledged, so the reload is deliberate rather than a lost watermark (which a run refuses).
        A missing or corrupt watermark cannot be carried over: it is removed and False returned.
        """
        try:
            wm, token = self.load()
        except StateError:
            wm, token = None, None
        if wm is None:
            self.delete()
            return False
        fresh = Watermark.new(table=wm.table, pipeline=wm.pipeline, strategy=wm.strategy,
                              cursor_column=wm.cursor.column, id_columns=list(wm.cursor.id_columns),
                              source_table=wm.source_table)
        fresh.phase = "snapshot" if uses_cursor(wm.strategy) else "incremental"
        fresh.pending_files, fresh.load = list(wm.pending_files), wm.load
        fresh.version, fresh.created_at = wm.version, wm.created_at
        self.save(fresh, token)
        return True


# ----------------------------------------------------------------------------------------------- lock


class LockInfo(_Model):
    """The content of a table lock object."""

    owner: str
    run_id: str
    host: str
    pid: int
    acquired_at: AwareDatetime
    expires_at: AwareDatetime


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_reason(info: LockInfo, now: datetime) -> str | None:
    """Why a lock is abandoned (expired, or its process on this host is gone), or None while it may be live.

    A holder on another host is known dead only once its lock expires (it refreshes it after every file).
    """
    if info.expires_at <= now:
        return f"expired at {info.expires_at.isoformat()}"
    if info.host == socket.gethostname() and not _pid_alive(info.pid):
        return f"its process {info.pid} on this host is gone"
    return None


class _LockRaced(Exception):
    """The lock changed between being read and being written: look at it again."""


class TableLock:
    """Single writer per table: a lock object created with If-None-Match, taken over only when stale.

    A lock is stale when it expired, or was taken on this host by a process that no longer exists;
    takeover is conditional on the stale lock's token, so of two racers exactly one wins.
    """

    def __init__(self, storage: Storage, layout: TableLayout, owner: str, ttl_seconds: float, *,
                 run_id: str | None = None) -> None:
        self.storage = storage
        self.layout = layout
        self.owner = owner
        self.run_id = run_id or owner
        self.ttl = timedelta(seconds=ttl_seconds)
        self._token: str | None = None
        self._acquired_at: datetime | None = None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._token is not None

    def _document(self) -> bytes:
        now = _now()
        info = LockInfo(owner=self.owner, run_id=self.run_id, host=socket.gethostname(), pid=os.getpid(),
                        acquired_at=self._acquired_at or now, expires_at=now + self.ttl)
        return info.model_dump_json(indent=2).encode()

    def acquire(self) -> TableLock:
        """Take the lock or raise ``LockError`` naming the holder.

        Taking it races other extractors starting at the same moment: a lock that changed between being
        read and being written is looked at again, up to five times (``tenacity``), with no wait.
        """
        if self.held:
            return self
        key = self.layout.lock_key
        try:
            for attempt in tenacity.Retrying(retry=retry_if_exception_type(_LockRaced), stop=stop_after_attempt(5)):
                with attempt:
                    self._try_acquire(key)
        except tenacity.RetryError:
            raise LockError(f"table {self.layout.display}: the lock kept changing while acquiring it",
                            where=self.storage.uri(key), hint="another extractor is starting; retry shortly") from None
        return self

    def _try_acquire(self, key: str) -> None:
        """One attempt: create the lock, or take over a stale one; ``_LockRaced`` if it changed meanwhile."""
        self._acquired_at = _now()
        try:
            self._token = self.storage.put_bytes(key, self._document(), if_none_match=True)
            return
        except StateError:
            pass
        found = self.storage.get_bytes(key)
        if found is None:
            raise _LockRaced  # released in between: try to create again
        data, token = found
        try:
            holder = LockInfo.model_validate_json(data)
        except ValidationError:
            raise LockError(f"table {self.layout.display} has an unreadable lock",
                            where=self.storage.uri(key),
                            hint=f"if no extractor runs for it, run `{self._break_command()}`") from None
        reason = stale_reason(holder, _now())
        if reason is None:
            raise LockError(
                f"table {self.layout.display} is locked by run {holder.run_id} (owner {holder.owner}, "
                f"pid {holder.pid} on host {holder.host}) since {holder.acquired_at.isoformat()}, "
                f"expires {holder.expires_at.isoformat()}",
                where=self.storage.uri(key),
                hint=f"wait for it, or if that process is dead run `{self._break_command()}` to break it")
        try:
            self._token = self.storage.put_bytes(key, self._document(), if_match=token)
        except StateError:
            raise _LockRaced from None  # someone else took it over first; look again
        log.warning("took over the lock of %s from run %s (pid %s on %s): %s", self.layout.display,
                    holder.run_id, holder.pid, holder.host, reason)

    def refresh(self) -> None:
        """Extend the expiry; ``LockError`` if the lock was taken over meanwhile."""
        if not self.held:
            raise LockError(f"table {self.layout.display}: lock not held", hint="call acquire() first")
        try:
            self._token = self.storage.put_bytes(self.layout.lock_key, self._document(), if_match=self._token)
        except StateError:
            self._token = None
            raise LockError(f"table {self.layout.display}: lost the lock (it expired and was taken over)",
                            where=self.storage.uri(self.layout.lock_key),
                            hint="raise lock_ttl_seconds above the longest run, then re-run") from None

    def release(self) -> None:
        """Delete the lock if it is still ours; never removes someone else's."""
        if not self.held:
            return
        token, self._token = self._token, None
        if token is None or not self.storage.delete_if_match(self.layout.lock_key, token):
            log.warning("lock of %s was no longer ours at release; left it alone", self.layout.display)

    def _break_command(self) -> str:
        return f"{BREAK_LOCK_COMMAND} {self.layout.display}"

    def __enter__(self) -> TableLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if exc_type is None:
            self.release()
            return
        # The run already failed: that failure is the one to report. A lock left behind by a failing
        # release (the lake went away) expires after its TTL, or is taken over by the next run.
        try:
            self.release()
        except ExtractorError as err:
            log.warning("could not release the lock of %s after a failure: %s", self.layout.display, err)


def read_lock(storage: Storage, layout: TableLayout) -> LockInfo | None:
    """The current lock holder, or None (for ``lock show``)."""
    found = storage.get_bytes(layout.lock_key)
    if found is None:
        return None
    try:
        return LockInfo.model_validate_json(found[0])
    except ValidationError:
        raise StateError("unreadable lock object", where=storage.uri(layout.lock_key),
                         hint=f"run `{BREAK_LOCK_COMMAND} {layout.display}` if no extractor runs") from None


def break_lock(storage: Storage, layout: TableLayout) -> LockInfo | None:
    """Remove the lock unconditionally (the operator says its holder is dead); returns who held it."""
    found = storage.get_bytes(layout.lock_key)
    if found is None:
        return None
    try:
        holder: LockInfo | None = LockInfo.model_validate_json(found[0])
    except ValidationError:
        holder = None
    if not storage.delete_if_match(layout.lock_key, found[1]):
        raise LockError(f"table {layout.display}: the lock changed while breaking it",
                        where=storage.uri(layout.lock_key), hint="a new run took it; check before retrying")
    return holder
