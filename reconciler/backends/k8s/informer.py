"""The Kubernetes backend's change feed (``Backend.changes``): what client-go's informers do, for the plan's
live cache (``reconciler.apply.live_cache``).

One ``Informer`` per collection the plan reads (kind, namespace, label selector). Its first ``changes`` lists
the collection in chunks (``paging.list_whole``) and answers ``complete``. The second lists again, answers
the difference, and starts a watch from that list's ``resourceVersion`` (``watch.ResilientWatch``, in a
thread); every later ``changes`` with a token of its own is answered from the watch's events, without a
request. So a one-shot ``kgitops diff`` pays for one list and no watch, and ``kgitops watch`` pays for two
lists, then only for what changes. A ``complete`` answer (for "", a token of another informer, or one past
the horizon) always comes from a fresh list: a caller that starts over (a new leader) reads the cluster.

What is kept, and how an answer is made from it: ``k8s.feed_state`` (one state per object, however many
events it had; tombstones up to a horizon). The version token is ``<epoch>:<sequence>``; the epoch is random
per informer, so a token of another process or another informer (or one from before a ``close``) gets a
complete answer, as ``LiveChanges`` prescribes for a passed horizon.

Freshness: the backend folds the answer of each of its own writes in (``observe``, ``observe_deleted``), so
the next ``changes`` includes them even before the watch delivers the event (whose older states, arriving
later, are skipped). Another client's writes are seen once their watch event has arrived (milliseconds on a
healthy server; ``bench/k8s_feed_bench.py``), as with client-go's informers. While the watch is interrupted
(a failed request, 410 Gone) or after it failed for good, ``changes`` lists instead (and restarts a watch
that ended).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.backends.base import LiveChanges
from reconciler.backends.k8s.feed_state import FeedState
from reconciler.backends.k8s.objects import from_body
from reconciler.backends.k8s.paging import Whole
from reconciler.backends.k8s.watch import ResilientWatch, WatchEvent
from reconciler.model import ObjectRef, Resource

log = logging.getLogger("kgitops.kubernetes.informer")


class Informer:
    """The change feed of one collection. ``list_all()`` lists it (``paging.Whole``; errors named by the
    backend); ``open_watch()`` returns a ``ResilientWatch`` on it (not started). Thread-safe: the watch thread
    applies events while ``changes`` and the backend's writes read and fold in."""

    def __init__(
        self,
        kind: str,
        namespace: str,
        labels: Mapping[str, str],
        list_all: Callable[[], Whole],
        open_watch: Callable[[], ResilientWatch],
    ) -> None:
        self.kind = kind
        self.namespace = namespace  # "" for a cluster-scoped kind
        self.labels = dict(labels)
        self._list_all = list_all
        self._open_watch = open_watch
        self.state = FeedState(kind, bool(namespace), uuid.uuid4().hex[:12])
        self.lists = 0  # how many times ``changes`` listed the collection (not counting the watch's relists)
        self._lock = threading.Lock()
        self._listed = False
        self._watch: ResilientWatch | None = None
        self._thread: threading.Thread | None = None
        self._failed = False
        self._closed = False

    # -- answers ----------------------------------------------------------------------------------------
    def changes(self, since: str) -> LiveChanges:
        """What changed since the token ``since`` (``LiveChanges``); see the module's docstring for when this
        lists and when it answers from the watch."""
        with self._lock:
            first = not self._listed
            watching = self._thread is not None and not self._failed
            stale = watching and self._watch is not None and self._watch.interrupted
            answerable = self.state.answers(since)
        if first or not watching or stale or not answerable:
            whole = self._list_all()
            with self._lock:
                self.lists += 1
                self.state.fold_list(whole.items, whole.resource_version)
                self._listed = True
                if not first and not watching and not self._closed:
                    self._start_watch(whole)
                if first or not answerable:
                    return self.state.complete()
        with self._lock:
            return self.state.answer(since)

    # -- what the server and the backend's writes say -----------------------------------------------------
    def _start_watch(self, whole: Whole) -> None:
        watch = self._open_watch()
        watch.seed(whole.resource_version, self.state.known())
        name = f"informer-{self.kind}"
        thread = threading.Thread(target=self._follow, args=(watch,), daemon=True, name=name)
        self._watch, self._thread, self._failed = watch, thread, False
        thread.start()

    def _follow(self, watch: ResilientWatch) -> None:
        try:
            for event in watch:
                self.apply(event)
        except Exception as exc:  # noqa: BLE001 - the next ``changes`` lists (and names the error, if any)
            log.warning("the watch of %s ended (%s); the next plan lists them", self.kind, exc)
        with self._lock:
            if self._watch is watch:
                self._failed = True

    def apply(self, event: WatchEvent) -> None:
        """One watch event (a re-list's too: its DELETED carry the list's resourceVersion)."""
        r = event.resource
        key = self.state.key(r.namespace, r.name)
        with self._lock:
            self.state.put(key, r.resource_version, None if event.type == "DELETED" else r)

    def observe(self, obj: Resource) -> None:
        """The server's answer to the backend's own create or update: held at once if it is of this
        collection (else a tombstone, if it was held: it stopped carrying the labels)."""
        if self.namespace and obj.namespace != self.namespace:
            return
        matches = all(obj.labels.get(k) == v for k, v in self.labels.items())
        key = self.state.key(obj.namespace, obj.name)
        with self._lock:  # also while the first list is under way: that list may be older than the write
            self.state.put(key, obj.resource_version, obj if matches else None)

    def observe_deleted(self, ref: ObjectRef, answer: Any) -> None:
        """The backend deleted ``ref``; ``answer`` is the server's reply (the object as deleted, or a Status).
        An object that finalizers still hold is there until they are done: kept as the answer shows it."""
        meta = answer.get("metadata") if isinstance(answer, dict) and answer.get("kind") != "Status" else None
        if isinstance(meta, dict) and meta.get("deletionTimestamp") and meta.get("finalizers"):
            self.observe(from_body(answer))
            return
        if self.namespace and ref.namespace != self.namespace:
            return
        key = self.state.key(ref.namespace, ref.name)
        with self._lock:
            held = self.state.held(key)
            if held is None:
                return  # not held: nothing to report gone
            rv = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
            self.state.put(key, rv or held.resource_version, None, deleting=True)

    # -- lifetime -----------------------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The token ``changes`` would answer with now: it moves when anything arrives (no request)."""
        with self._lock:
            return self.state.token

    @property
    def watch(self) -> ResilientWatch | None:
        """The watch that follows the collection (None before the second ``changes``)."""
        return self._watch

    @property
    def watching(self) -> bool:
        """A watch thread follows the collection."""
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the watch and wait (``timeout`` seconds) for its thread to end."""
        with self._lock:
            self._closed = True
            watch, thread = self._watch, self._thread
        if watch is not None:
            watch.close()
        if thread is not None:
            thread.join(timeout)


class ChangeFeeds:
    """The backend's informers, one per (kind, label selector), made on first use by ``make``."""

    def __init__(self, make: Callable[[str, Mapping[str, str]], Informer]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._informers: dict[tuple[str, tuple[tuple[str, str], ...]], Informer] = {}

    def changes(self, kind: str, since: str, labels: Mapping[str, str] | None) -> LiveChanges:
        key = (kind, tuple(sorted((labels or {}).items())))
        with self._lock:
            informer = self._informers.get(key)
            if informer is None:
                informer = self._informers[key] = self._make(kind, dict(labels or {}))
        return informer.changes(since)

    def informers(self, kind: str) -> list[Informer]:
        with self._lock:
            return [i for (k, _labels), i in self._informers.items() if k == kind]

    def observe(self, obj: Resource) -> None:
        """Fold the answer to the backend's own create or update into every informer of its kind."""
        for informer in self.informers(obj.kind):
            informer.observe(obj)

    def observe_deleted(self, ref: ObjectRef, answer: Any) -> None:
        for informer in self.informers(ref.kind):
            informer.observe_deleted(ref, answer)

    def close(self) -> None:
        with self._lock:
            informers = list(self._informers.values())
            self._informers.clear()
        for informer in informers:
            informer.close()
