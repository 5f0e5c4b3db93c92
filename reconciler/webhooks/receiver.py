"""The webhook endpoint of ``kgitops watch``: an HTTP server that turns verified pushes into wake-ups.

Each POST goes through, in order (the answer in brackets):

1. the size limit, from ``Content-Length`` before the body is read [413; 411 without a length];
2. the signature (``reconciler.webhooks.signatures``) [401, logged with the forge and reason, never the
   secret];
3. the event kind: only pushes act [202 ``ignored``; a GitHub/Gitea ``ping`` also 202];
4. the delivery id: a repeated one is ignored [202 ``duplicate``];
5. the payload and the repository/branch filter (``reconciler.webhooks.events.decide``) [400 / 202
   ``ignored`` with the reason];
6. the ``Trigger``: the newest revision is kept and the watcher woken [202 ``accepted``].

The answer body is JSON: ``{"result": ..., "reason": ...}``. A burst of pushes coalesces: the watcher takes
only the newest revision when it is next free, however many arrived meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from reconciler.background_http import BackgroundHTTPServer
from reconciler.webhooks.events import PUSH_EVENTS, Target, WebhookEventError, decide, event_kind, parse_push
from reconciler.webhooks.signatures import GENERIC_HEADER, verify

log = logging.getLogger("kgitops.webhooks")
MAX_BODY = 1024 * 1024  # bytes; GitHub caps payloads at 25 MB, but a push of manifests is far smaller
SEEN_DELIVERIES = 1024  # delivery ids remembered for dedupe


class ListenError(Exception):
    """The receiver cannot listen on its address (taken, or not ours); the message names it and the fix."""


class Trigger:
    """The hand-off from the receiver's threads to the single reconciling thread.

    ``push(revision)`` keeps the newest revision and calls ``wake``; ``take()`` returns it once (None when
    nothing arrived since the last take). Thread-safe."""

    def __init__(self, wake: Callable[[], None] = lambda: None) -> None:
        self._lock = threading.Lock()
        self._pending: str | None = None
        self._wake = wake
        self.pushes = 0
        self.taken = 0

    def push(self, revision: str) -> None:
        with self._lock:
            self._pending = revision
            self.pushes += 1
        self._wake()

    def take(self) -> str | None:
        with self._lock:
            revision, self._pending = self._pending, None
            if revision is not None:
                self.taken += 1
            return revision


@dataclass(frozen=True)
class ReceiverSettings:
    """``listen`` is HOST:PORT (port 0: any free port); ``secret`` the shared secret (already read);
    ``max_body`` in bytes; ``generic_header`` the generic sender's signature header."""

    listen: str
    secret: str
    target: Target
    max_body: int = MAX_BODY
    generic_header: str = GENERIC_HEADER

    def __repr__(self) -> str:  # never the secret
        return f"ReceiverSettings(listen={self.listen!r}, target={self.target!r}, max_body={self.max_body})"


def parse_listen(addr: str) -> tuple[str, int]:
    """HOST:PORT → (host, port). Raises ValueError with the expected form."""
    host, _, port = addr.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"`{addr}`: expected HOST:PORT, e.g. 0.0.0.0:9000")
    return host.strip("[]") or "127.0.0.1", int(port)


class Receiver(BackgroundHTTPServer):
    """The HTTP server. ``counts`` holds deliveries by result (accepted, ignored, duplicate, unauthorized,
    too_large, bad_request); ``on_delivery(result)`` is called for each, e.g. to count it in metrics."""

    def __init__(
        self,
        settings: ReceiverSettings,
        trigger: Trigger,
        on_delivery: Callable[[str], None] = lambda result: None,
    ) -> None:
        self.settings = settings
        self.trigger = trigger
        self.counts: Counter[str] = Counter()
        self._on_delivery = on_delivery
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                code, result, reason = receiver.handle(self)
                body = json.dumps({"result": result, "reason": reason}).encode() + b"\n"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if result == "too_large":
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                body = b"kgitops webhook receiver: POST push events here\n"
                self.send_response(405)
                self.send_header("Allow", "POST")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        try:
            super().__init__(parse_listen(settings.listen), Handler, "kgitops-webhooks")
        except OSError as exc:
            raise ListenError(
                f"--webhook-listen {settings.listen}: cannot listen ({exc.strerror or exc}); "
                "pick a free HOST:PORT"
            ) from None

    def _count(self, result: str) -> None:
        with self._lock:
            self.counts[result] += 1
        self._on_delivery(result)

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, str, str]:
        """(HTTP status, result, reason) for one delivery; the body is read only within the size limit."""
        code, result, reason = self._judge(request)
        self._count(result)
        if result == "unauthorized":
            log.warning(f"webhook refused from {request.client_address[0]}: {reason}")
        elif result in ("too_large", "bad_request"):
            log.warning(f"webhook refused: {reason}")
        else:
            log.info(f"webhook {result}: {reason}")
        return code, result, reason

    def _judge(self, request: BaseHTTPRequestHandler) -> tuple[int, str, str]:
        s = self.settings
        length_text = request.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            request.close_connection = True
            return 411, "bad_request", "a Content-Length header is required"
        length = int(length_text)
        if length > s.max_body:
            request.close_connection = True
            return 413, "too_large", f"body of {length} bytes is over the limit of {s.max_body} bytes"
        body = request.rfile.read(length)
        headers = dict(request.headers.items())
        verdict = verify(headers, body, s.secret, s.generic_header)
        if not verdict.ok or verdict.forge is None:
            return 401, "unauthorized", verdict.reason
        kind = event_kind(headers)
        if kind and kind not in PUSH_EVENTS:
            return 202, "ignored", f"{kind} event: only push events trigger a reconcile"
        try:
            event = parse_push(verdict.forge, headers, json.loads(body or b"null"))
        except (ValueError, WebhookEventError) as exc:
            return 400, "bad_request", f"not a push event payload: {exc}"
        if event.delivery:
            with self._lock:
                if event.delivery in self._seen:
                    return 202, "duplicate", f"delivery {event.delivery} was already received"
                self._seen[event.delivery] = None
                while len(self._seen) > SEEN_DELIVERIES:
                    self._seen.popitem(last=False)
        why = decide(event, s.target)
        if why:
            return 202, "ignored", why
        self.trigger.push(event.revision)
        return 202, "accepted", f"{verdict.forge.value} push of {event.revision[:12]} to {event.branch}"
