"""A watch that does not give up: it keeps the last resourceVersion it saw (bookmarks included), re-lists
when the server answers 410 Gone, and backs off while the API server is overloaded or away.

The caller sees a plain stream of ADDED / MODIFIED / DELETED events. After a re-list the events are the
difference between what the caller was told and what the list shows, so nothing is missed or repeated.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from reconciler.backends.k8s.objects import from_body
from reconciler.backends.k8s.paging import list_whole
from reconciler.backends.k8s.retry import RetryPolicy, Unreachable, call, describe, is_transient
from reconciler.model import Resource
from reconciler.model.objects import KUSCIA_JOB

log = logging.getLogger("kgitops.kubernetes.watch")

ListCall = Callable[..., Any]


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    resource: Resource


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    meta = doc.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _rv(doc: dict[str, Any]) -> str:
    return str((doc.get("metadata") or {}).get("resourceVersion") or "")


class ResilientWatch:
    """Iterate events of one collection until ``stop`` is set.

    ``list_call(**kwargs)`` is a CustomObjectsApi list function bound to its collection and selector.
    ``chunk_seconds`` bounds each watch request, so ``stop`` is noticed at least that often.
    """

    def __init__(
        self,
        list_call: ListCall,
        policy: RetryPolicy,
        stop: threading.Event | None = None,
        chunk_seconds: int = 60,
        request_timeout: float = 10.0,
    ) -> None:
        self.list_call = list_call
        self.policy = policy
        self.stop = stop or threading.Event()
        self.chunk_seconds = max(1, int(chunk_seconds))
        self.request_timeout = request_timeout
        self.resource_version = ""
        self.relists = 0  # how many times the collection was listed (1 + one per 410 Gone)
        self.interrupted = False  # a request failed (or 410 Gone): events may be late until one succeeds
        self._known: dict[tuple[str, str], str] = {}
        self._watch: k8s_watch.Watch | None = None
        self._response: Any = None  # the urllib3 response of the watch request under way
        self._delays = policy.delays()

    def seed(self, resource_version: str, known: dict[tuple[str, str], str]) -> None:
        """Start from a list made elsewhere instead of listing first: the list's ``resourceVersion`` and its
        objects' (namespace, name) → resourceVersion, so the stream continues right after that list and a
        re-list reports the difference from it. Call before iterating."""
        self.resource_version = resource_version
        self._known = dict(known)
        self.relists += 1

    def close(self) -> None:
        """Stop: the request under way is cut off (its socket shut down), so the iterating thread ends now."""
        self.stop.set()
        if self._watch is not None:
            self._watch.stop()
        if self._response is not None:
            _shut(self._response)

    def __iter__(self) -> Iterator[WatchEvent]:
        while not self.stop.is_set():
            if not self.resource_version:
                try:
                    events = self._relist()
                except Unreachable:  # raised only once stop is set
                    return
                yield from events
                continue
            try:
                yield from self._stream()
            except ApiException as exc:
                if exc.status == 410:
                    log.info("watch resourceVersion %s expired (410 Gone); re-listing", self.resource_version)
                    self.resource_version = ""
                    self.interrupted = True
                    continue
                if not is_transient(exc, retry_refused=True):
                    raise
                self._pause(exc)
            except Exception as exc:
                if not is_transient(exc, retry_refused=True):
                    raise
                self._pause(exc)

    def _pause(self, exc: BaseException) -> None:
        if self.stop.is_set():
            return  # closed: the request was cut off on purpose
        self.interrupted = True
        delay = next(self._delays)
        log.warning("watch interrupted (%s); retrying in %.1fs", describe(exc), delay)
        self.stop.wait(delay)

    def _relist(self) -> list[WatchEvent]:
        """List the collection (in chunks, ``paging.list_whole``) and return the difference from what the
        caller was told: ADDED, MODIFIED, and DELETED for what is gone (at the list's resourceVersion)."""

        def chunk(token: str, limit: int) -> Any:
            extra: dict[str, Any] = {"limit": limit} if limit else {}
            if token:
                extra["_continue"] = token
            request = partial(self.list_call, _request_timeout=self.request_timeout, **extra)
            return call(self.policy, request, self.stop, forever=True, retry_refused=True)

        whole = list_whole(chunk)
        self.relists += 1
        seen: dict[tuple[str, str], str] = {}
        events: list[WatchEvent] = []
        for doc in whole.items:
            key, rv = _key(doc), _rv(doc)
            seen[key] = rv
            if key not in self._known:
                events.append(WatchEvent("ADDED", from_body(doc)))
            elif self._known[key] != rv:
                events.append(WatchEvent("MODIFIED", from_body(doc)))
        kind = whole.kind.removesuffix("List") or KUSCIA_JOB
        for key in sorted(set(self._known) - set(seen)):
            ns, name = key
            gone = Resource(kind=kind, name=name, namespace=ns, resource_version=whole.resource_version)
            events.append(WatchEvent("DELETED", gone))
        self._known = seen
        self.resource_version = whole.resource_version
        self.interrupted = False
        return events

    def _stream(self) -> Iterator[WatchEvent]:
        self._watch = k8s_watch.Watch()

        def opened(*args: Any, **kwargs: Any) -> Any:
            response = self.list_call(*args, **kwargs)
            self._response = response
            if self.stop.is_set():  # closed while the request was under way: ``close`` may have missed it
                _shut(response)
            return response

        stream = self._watch.stream(
            opened,
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.chunk_seconds,
            _request_timeout=(self.request_timeout, self.chunk_seconds + self.request_timeout),
        )
        for event in stream:
            if self.stop.is_set():
                self._watch.stop()
                return
            self._delays = self.policy.delays()  # the server answers again: reset the back-off
            self.interrupted = False
            etype = str(event.get("type") or "")
            doc = event.get("raw_object") or event.get("object") or {}
            if not isinstance(doc, dict):
                continue
            rv = _rv(doc)
            if etype == "BOOKMARK":
                if rv:
                    self.resource_version = rv
                continue
            if etype not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            if rv:
                self.resource_version = rv
            key = _key(doc)
            if etype == "DELETED":
                self._known.pop(key, None)
            else:
                etype = "MODIFIED" if key in self._known else "ADDED"
                self._known[key] = rv
            yield WatchEvent(etype, from_body(doc))
        self.interrupted = False  # the request ran its course: the server is answering


def _shut(response: Any) -> None:
    """Shut a streaming urllib3 response's socket down, which ends a read blocked on it in another thread (as
    the client's own ``Watch.stop`` does)."""
    with contextlib.suppress(AttributeError, OSError):  # already closed, or released to the pool
        response.connection.sock.shutdown(socket.SHUT_RDWR)
