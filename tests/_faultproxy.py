"""A fault-injecting TCP proxy for tests: loopback only, seeded, bounded in time.

Put it between the extractor and a server (moto, MariaDB): a fraction ``rate`` of the connections it
accepts gets one fault, drawn from a seeded RNG in accept order —

- ``drop``: the connection is closed as soon as it is accepted (nothing reaches the server);
- ``delay``: it is forwarded after a pause of up to ``max_delay`` seconds, and each reply chunk is
  delayed a little too (slow, not broken);
- ``cut``: it is forwarded until the server has sent a random number of bytes (``cut_min`` …
  ``cut_bytes``), then both ends are reset: a handshake, a result set or an HTTP response broken off
  mid-stream.

``first=N`` limits the faults to the first N connections (a fault that passes).

``stats`` counts connections per outcome. The proxy runs its own asyncio loop in a daemon thread, stops
accepting after ``lifetime`` seconds, and ``close()`` stops it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter
from collections.abc import Sequence


class _Cut(Exception):
    """The byte budget of a cut connection is spent."""


class FaultProxy:
    """``127.0.0.1:<port>`` → ``upstream``, with seeded faults (see the module docstring)."""

    def __init__(self, upstream_port: int, *, rate: float, seed: int, upstream_host: str = "127.0.0.1",
                 kinds: Sequence[str] = ("drop", "delay", "cut"), max_delay: float = 0.2,
                 cut_bytes: int = 32_768, cut_min: int = 1, first: int | None = None,
                 lifetime: float = 300.0) -> None:
        if upstream_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy forwards to loopback only")
        unknown = set(kinds) - {"drop", "delay", "cut"}
        if unknown or not kinds:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self.upstream = (upstream_host, upstream_port)
        self.rate, self.kinds, self.max_delay, self.cut_bytes = rate, tuple(kinds), max_delay, cut_bytes
        self.cut_min, self.first = cut_min, first
        self.lifetime = lifetime
        self.enabled = True  # False: a plain proxy (faults off), e.g. for a final healing run
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop.call_later(self.lifetime, self._server.close)  # bounded in time
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one connection -------------------------------------------------------------------------------

    def _draw(self) -> tuple[str, float, int]:
        """The fault of the next connection (drawn in accept order: reproducible for a seed)."""
        accepted = sum(self.stats.values())
        if not self.enabled or (self.first is not None and accepted >= self.first) or self._rng.random() >= self.rate:
            return "pass", 0.0, 0
        kind = self._rng.choice(self.kinds)
        return kind, self._rng.uniform(0, self.max_delay), self._rng.randint(self.cut_min, self.cut_bytes)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(client_r, client_w)
        finally:
            self._tasks.discard(task)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        kind, delay, budget = self._draw()
        self.stats[kind] += 1
        if kind == "drop":
            client_w.transport.abort()
            return
        if kind == "delay":
            await asyncio.sleep(delay)
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        to_server = asyncio.ensure_future(self._pipe(client_r, upstream_w, None, 0.0))
        to_client = asyncio.ensure_future(
            self._pipe(upstream_r, client_w, budget if kind == "cut" else None, delay / 10 if kind == "delay" else 0.0))
        try:
            done, _ = await asyncio.wait({to_server, to_client}, return_when=asyncio.FIRST_EXCEPTION)
            if any(t.exception() is not None for t in done if not t.cancelled()):
                raise _Cut
            await asyncio.gather(to_server, to_client)
        except (_Cut, OSError, asyncio.CancelledError):
            client_w.transport.abort()  # a reset, as a failing network gives it
            upstream_w.transport.abort()
            for t in (to_server, to_client):
                t.cancel()
        finally:
            for writer in (client_w, upstream_w):
                with contextlib.suppress(Exception):
                    writer.close()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, budget: int | None,
                    delay: float) -> None:
        sent = 0
        while True:
            data = await src.read(65_536)
            if not data:
                with contextlib.suppress(OSError):
                    if dst.can_write_eof():
                        dst.write_eof()
                return
            if delay:
                await asyncio.sleep(delay)
            if budget is not None and sent + len(data) >= budget:
                dst.write(data[: budget - sent])
                with contextlib.suppress(OSError):
                    await dst.drain()
                raise _Cut
            dst.write(data)
            await dst.drain()
            sent += len(data)
