"""The REST client behind every forge call: JSON in and out, the token in the forge's auth header, and the
forge's answers honoured.

- 403 or 429 with ``Retry-After`` (seconds), or with ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset``
  (epoch seconds; GitHub) / ``RateLimit-Reset`` (GitLab): wait that long (at most ``max_wait``) and retry;
- 5xx and connection errors: retry with exponential backoff (``backoff`` × 2ⁿ seconds);
- anything else that is not 2xx: ``ForgeError`` at once (a 404 or 422 does not get better by retrying).

Waiting is bounded: after ``attempts`` tries, or when the forge asks for more than ``max_wait`` seconds, the
call gives up with a ForgeError. The token never appears in an error.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from reconciler.forge.base import ForgeError


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RestClient:
    """``base_url`` e.g. ``https://api.github.com``; ``auth`` the headers carrying the token."""

    base_url: str
    auth: dict[str, str]
    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 60.0
    sleep: Any = time.sleep

    def __repr__(self) -> str:  # never the token
        return f"RestClient(base_url={self.base_url!r})"

    def call(self, method: str, path: str, payload: Any = None) -> Answer:
        """One call, retried as the module says. Raises ForgeError."""
        url = self.base_url.rstrip("/") + path
        data = json.dumps(payload).encode() if payload is not None else None
        last = ""
        for attempt in range(self.attempts):
            request = urllib.request.Request(url, data=data, method=method)
            for key, value in {**self.auth, "Accept": "application/json", "User-Agent": "kgitops"}.items():
                request.add_header(key, value)
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
                    return Answer(
                        response.status, json.loads(raw) if raw else None, _headers(response.headers)
                    )
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                headers = _headers(exc.headers)
                last = f"{method} {path}: HTTP {exc.code} {_message(raw)}".rstrip()
                wait = rate_limit_wait(exc.code, headers, time.time())
                if wait is None and exc.code >= 500:
                    wait = self.backoff * 2**attempt
                if wait is None:
                    raise ForgeError(last) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                last = f"{method} {path}: cannot reach {self.base_url} ({reason})"
                wait = self.backoff * 2**attempt
            if wait > self.max_wait:
                raise ForgeError(f"{last}; the forge asks to wait {wait:.0f}s, over {self.max_wait:.0f}s")
            if attempt + 1 < self.attempts:
                self.sleep(wait)
        raise ForgeError(f"{last} (after {self.attempts} attempts)")


def _headers(msg: Message | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (msg.items() if msg is not None else [])}


def _message(raw: bytes) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw[:200].decode("utf-8", "replace")
    if isinstance(doc, dict):
        return str(doc.get("message") or doc.get("error") or "")[:200]
    return ""


def rate_limit_wait(status: int, headers: dict[str, str], now: float) -> float | None:
    """Seconds a 403/429 answer asks us to wait, or None when it is not a rate-limit answer (pure).

    ``Retry-After`` wins; else an exhausted ``X-RateLimit-Remaining`` with ``X-RateLimit-Reset`` (GitHub)
    or ``RateLimit-Reset`` (GitLab), both epoch seconds. A 429 without either waits one second."""
    if status not in (403, 429):
        return None
    retry_after = headers.get("retry-after", "")
    if retry_after.strip().isdigit():
        return float(retry_after)
    remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining", ""))
    reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset", ""))
    if remaining.strip() == "0" and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return 1.0 if status == 429 else None
