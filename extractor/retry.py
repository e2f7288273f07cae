"""Retries declared once: how often, how long to back off, and the warning each retry logs.

Every transient fault the extractor retries — a MySQL connection lost during a query, a lake read cut
mid-response — goes through :func:`policy`: at most ``ATTEMPTS`` attempts in all, waiting
``BASE_SECONDS * 2**(n-1)`` (capped at ``MAX_SECONDS``) before attempt ``n + 1``, and one warning per
retry (``<where>: <what> (<detail>); retrying (2/5) in 0.5 s``). After the last attempt the fault
itself is re-raised: the caller turns it into the one error line the user sees.

Only idempotent operations are retried: reads, and page queries whose position only advances after the
page is written. Writes to the lake rely on boto3's own retries and on conditional writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import tenacity
from tenacity import retry_if_exception, stop_after_attempt, wait_exponential

log = logging.getLogger("extractor")

#: Attempts in all (the first one included), and the backoff before each retry.
ATTEMPTS = 5
BASE_SECONDS = 0.5
MAX_SECONDS = 8.0

T = TypeVar("T")


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def policy(transient: Callable[[BaseException], bool], *, what: str, where: str | Callable[[], str],
           detail: Callable[[BaseException], str] = _first_line) -> tenacity.Retrying:
    """A ``tenacity.Retrying`` that re-runs on ``transient(exc)`` faults and warns before each retry.

    ``what`` names the fault for people (``lost connection to MySQL``, ``lake read interrupted``);
    ``where`` the table, object or server (or a function giving it); ``detail`` the fault's text (secrets
    already removed). Backoff values are read when the policy is made, so tests may shorten them.
    """

    def warn(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        place = where() if callable(where) else where
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s (%s); retrying (%d/%d) in %.1f s", place, what,
                    detail(exc) if exc is not None else "?", state.attempt_number + 1, ATTEMPTS, delay)

    return tenacity.Retrying(
        retry=retry_if_exception(transient),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=BASE_SECONDS, max=MAX_SECONDS),
        before_sleep=warn,
        reraise=True,
    )


def call(fn: Callable[[], T], transient: Callable[[BaseException], bool], *, what: str,
         where: str | Callable[[], str], detail: Callable[[BaseException], str] = _first_line) -> T:
    """``fn()``, re-run on transient faults under :func:`policy`; the last fault is re-raised."""
    return policy(transient, what=what, where=where, detail=detail)(fn)
