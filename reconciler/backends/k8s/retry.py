"""Retrying Kubernetes API calls: back off on 429 and 5xx, timeouts and reset connections, bounded.

What cannot succeed by trying again is never retried: 4xx answers, an untrusted certificate, a host name that
does not resolve, and (until the server has answered once) a refused connection; ``k8s.errors`` names each
cause. The policy is data (delays and a deadline) so that tests can shrink it; the sleeping goes through an
Event so that a stopping watch is never stuck in a back-off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes.client.exceptions import ApiException

from reconciler.backends.k8s.errors import Failure, transport_failure

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class Unreachable(Exception):
    """The API server could not be reached (or kept answering 429/5xx) until the deadline."""


@dataclass(frozen=True)
class RetryPolicy:
    initial_delay: float = 0.2
    max_delay: float = 5.0
    factor: float = 2.0
    deadline: float = 30.0  # seconds for one call before giving up; watches retry forever
    conflict_attempts: int = 8  # read-modify-write rounds on 409 Conflict

    def delays(self) -> Any:
        delay = self.initial_delay
        while True:
            yield delay
            delay = min(self.max_delay, delay * self.factor)


def is_transient(exc: BaseException, retry_refused: bool = False) -> bool:
    """Worth retrying: 429 and 5xx answers, timeouts and reset connections; a refused connection only when
    ``retry_refused`` (the server answered before, so it is restarting: a watch, or a call after the first).
    A certificate, host name, credentials or any other 4xx cannot get better by asking again."""
    if isinstance(exc, ApiException):
        if transport_failure(exc) is not None:  # the client's wrapping of an SSL error (status 0)
            return False
        return int(exc.status or 0) in RETRYABLE_STATUS
    failure = transport_failure(exc)
    if failure is None:
        return False
    if failure.kind == Failure.REFUSED:
        return retry_refused
    return failure.kind in (Failure.TIMEOUT, Failure.RESET)


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a refusal's ``Retry-After`` header (RFC 9110 §10.2.3, delay-seconds); None without."""
    value = exc.headers.get("Retry-After") if isinstance(exc, ApiException) and exc.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def call(
    policy: RetryPolicy,
    fn: Callable[[], T],
    stop: threading.Event | None = None,
    forever: bool = False,
    retry_refused: bool = False,
) -> T:
    """Run ``fn``; on a transient failure (``is_transient``) wait and try again until the policy's deadline
    (or forever); anything else is raised at once."""
    started = time.monotonic()
    waiter = stop or threading.Event()
    delays = policy.delays()
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc, retry_refused):
                raise
            delay = next(delays)
            hinted = retry_after(exc)
            if hinted is not None:
                delay = min(max(delay, hinted), policy.max_delay * 4)
            if not forever and time.monotonic() - started + delay > policy.deadline:
                raise Unreachable(describe(exc)) from exc
            if waiter.wait(delay):
                raise Unreachable("stopped while waiting for the API server") from exc


def describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip()
    text = str(exc)
    return text.split(" (Caused by")[0] if text else type(exc).__name__
