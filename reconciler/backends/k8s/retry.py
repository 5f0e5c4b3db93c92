"""Retrying Kubernetes API calls: back off on 429 and 5xx and while the API server is unreachable.

The policy is data (delays and a deadline) so that tests can shrink it; the sleeping goes through an
Event so that a stopping watch is never stuck in a back-off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

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


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: overload, server errors, and connection failures (server gone, restarting)."""
    if isinstance(exc, ApiException):
        return int(exc.status or 0) in RETRYABLE_STATUS
    return isinstance(exc, Urllib3Error | ConnectionError | TimeoutError)


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def call(
    policy: RetryPolicy,
    fn: Callable[[], T],
    stop: threading.Event | None = None,
    forever: bool = False,
) -> T:
    """Run ``fn``; on a transient failure wait and try again until the policy's deadline (or forever)."""
    started = time.monotonic()
    waiter = stop or threading.Event()
    delays = policy.delays()
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
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
