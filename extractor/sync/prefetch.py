"""Read ahead: produce the next item of an iterator in a background thread while the caller works.

The table loop reads a page (connectorx: Rust, GIL released; the server works too) and then writes it
(Parquet encoding and zstd: C++, GIL mostly released). On a 2-core machine running both at once hides
most of the shorter of the two. Memory stays bounded: at most ``depth`` items wait in the queue, plus
the one the producer is building and the one the caller holds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 1, *, name: str = "prefetch") -> Iterator[T]:
    """Yield ``items`` in order, computing up to ``depth`` of them ahead in one background thread.

    An exception raised by ``items`` is re-raised to the caller at the position it happened. If the
    caller stops early (break, exception, ``close()``), the producer stops before its next item and the
    thread is joined, so no query runs on after the caller has gone.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            while not stop.is_set():
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and stop.is_set():
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


__all__ = ["prefetch"]
