"""The Kubernetes backend's change feed (``Backend.changes``): what client-go's informers do, for the plan's
live cache (``reconciler.apply.live_cache``).

One ``Informer`` per collection the plan reads (kind, namespace, label selector). Its first ``changes`` lists
the collection in chunks (``paging.list_whole``) and answers ``complete``. The second lists again, answers
the difference, and starts a watch from that list's ``resourceVersion`` (``watch.ResilientWatch``, in a
thread); every later ``changes`` is answered from the watch's events, without a request. So a one-shot
``kgitops diff`` pays for one list and no watch, and ``kgitops watch`` pays for two lists, then only for what
changes.

What is kept: per object its newest state and a local sequence number (its position in this informer's
history); an object deleted, or that stopped carrying the labels, leaves a tombstone. Kuscia's controllers
write status often (each write is a MODIFIED event): an object that changed many times since a token is
reported once, as it is now, and memory grows with the objects, not with the events. Tombstones are kept up
to ``KEPT_TOMBSTONES``; dropping older ones moves the horizon, and a token from before it gets ``complete``.

The version token is ``<epoch>:<sequence>``; the epoch is random per informer, so a token of another process
or another informer (or one from before a ``close``) gets a complete answer, as ``LiveChanges`` prescribes for
a passed horizon.

Freshness: the backend folds the answer of each of its own writes in (``observe``, ``observe_deleted``), so
the next ``changes`` includes them even before the watch delivers the event. States are ordered by
``resourceVersion``: kube-apiserver's are etcd revisions (integers), so an event older than the state held
(a watch behind the backend's own write) is skipped. While the watch is interrupted (a failed request, 410
Gone) or after it failed for good, ``changes`` lists instead (and restarts a watch that ended).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.backends.base import LiveChanges
from reconciler.backends.k8s.objects import from_body
from reconciler.backends.k8s.paging import Whole
from reconciler.backends.k8s.watch import ResilientWatch, WatchEvent
from reconciler.model import ObjectRef, Resource

log = logging.getLogger("kgitops.kubernetes.informer")

KEPT_TOMBSTONES = 10_000
"""Deleted objects remembered for ``changes``; past this the older half is dropped and the horizon moves."""

Key = tuple[str, str]  # (namespace, name), as ``ResilientWatch`` keys objects


@dataclass
class _Entry:
    seq: int
    resource_version: str
    obj: Resource | None  # None: deleted, or no longer carrying the labels (a tombstone)


def _not_newer(rv: str, held: str) -> bool:
    """``rv`` is not a newer state than ``held`` (both etcd revisions); False when either is not an
    integer (no order known: the newer arrival wins)."""
    if rv.isdigit() and held.isdigit():
        return int(rv) <= int(held)
    return False


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
        self.epoch = uuid.uuid4().hex[:12]
        self.calls = 0
        self.lists = 0  # how many times ``changes`` listed the collection (not counting the watch's relists)
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()  # oldest change first
        self._seq = 0
        self._horizon = 0  # the newest sequence number of a dropped tombstone
        self._tombstones = 0
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
            self.calls += 1
            first = not self._listed
            watching = self._thread is not None and not self._failed
            stale = watching and self._watch is not None and self._watch.interrupted
        if first or not watching or stale:
            whole = self._list_all()
            with self._lock:
                self.lists += 1
                self._fold_list(whole)
                if first:
                    return self._complete()
                if not watching and not self._closed:
                    self._start_watch(whole)
        with self._lock:
            return self._answer(since)

    def _answer(self, since: str) -> LiveChanges:
        epoch, _, seq_text = since.partition(":")
        if epoch != self.epoch or not seq_text.isdigit():
            return self._complete()
        seq = int(seq_text)
        if seq < self._horizon or seq > self._seq:
            return self._complete()
        changed: list[Resource] = []
        removed: list[ObjectRef] = []
        for key in reversed(self._entries):
            entry = self._entries[key]
            if entry.seq <= seq:
                break
            if entry.obj is None:
                removed.append(self._ref(key))
            else:
                changed.append(entry.obj)
        changed.sort(key=lambda r: (r.name, r.namespace))
        return LiveChanges(self._token(), False, changed, removed)

    def _complete(self) -> LiveChanges:
        objects = [e.obj for e in self._entries.values() if e.obj is not None]
        objects.sort(key=lambda r: (r.name, r.namespace))
        return LiveChanges(self._token(), True, objects)

    def _token(self) -> str:
        return f"{self.epoch}:{self._seq}"

    def _ref(self, key: Key) -> ObjectRef:
        return ObjectRef(self.kind, key[0], key[1]) if self.namespace else ObjectRef(self.kind, "", key[1])

    # -- what the server and the backend's writes say -----------------------------------------------------
    def _fold_list(self, whole: Whole) -> None:
        """Take a list in: objects whose resourceVersion moved are changed, what is held but not listed is
        gone (as of the list's resourceVersion)."""
        listed: set[Key] = set()
        for doc in whole.items:
            meta = doc.get("metadata") or {}
            key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            listed.add(key)
            rv = str(meta.get("resourceVersion") or "")
            held = self._entries.get(key)
            if held is not None and held.obj is not None and held.resource_version == rv:
                continue  # unchanged: the very same Resource stays (the differ's memo knows it)
            self._put(key, rv, from_body(doc))
        for key in [k for k, e in self._entries.items() if e.obj is not None and k not in listed]:
            self._put(key, whole.resource_version, None)
        self._listed = True

    def _start_watch(self, whole: Whole) -> None:
        watch = self._open_watch()
        known = {k: e.resource_version for k, e in self._entries.items() if e.obj is not None}
        watch.seed(whole.resource_version, known)
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
        key = (r.namespace if self.namespace else "", r.name)
        with self._lock:
            self._put(key, r.resource_version, None if event.type == "DELETED" else r)

    def observe(self, obj: Resource) -> None:
        """The server's answer to the backend's own create or update: held at once if it is of this
        collection (else a tombstone, if it was held: it stopped carrying the labels)."""
        if self.namespace and obj.namespace != self.namespace:
            return
        matches = all(obj.labels.get(k) == v for k, v in self.labels.items())
        with self._lock:
            if self._listed:
                key = (obj.namespace if self.namespace else "", obj.name)
                self._put(key, obj.resource_version, obj if matches else None)

    def observe_deleted(self, ref: ObjectRef, answer: Any) -> None:
        """The backend deleted ``ref``; ``answer`` is the server's reply (the object as deleted, or a Status).
        An object that finalizers still hold is there until they are done: kept as the answer shows it."""
        meta = answer.get("metadata") if isinstance(answer, dict) and answer.get("kind") != "Status" else None
        if isinstance(meta, dict) and meta.get("deletionTimestamp") and meta.get("finalizers"):
            self.observe(from_body(answer))
            return
        if self.namespace and ref.namespace != self.namespace:
            return
        key = (ref.namespace if self.namespace else "", ref.name)
        with self._lock:
            held = self._entries.get(key)
            if not self._listed or held is None:
                return
            rv = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
            self._put(key, rv or held.resource_version, None, deleting=True)

    def _put(self, key: Key, rv: str, obj: Resource | None, deleting: bool = False) -> None:
        held = self._entries.get(key)
        if held is None:
            if obj is None:
                return  # never held: nothing to report gone
        elif held.obj is None:
            if obj is None or _not_newer(rv, held.resource_version):
                return  # already gone, or a state from before the deletion
        elif obj is not None:
            if held.resource_version == rv or _not_newer(rv, held.resource_version):
                return  # this state, or an older one than held
        elif not deleting and rv != held.resource_version and _not_newer(rv, held.resource_version):
            return  # the deletion of an older incarnation (held: the object created again since)
        self._seq += 1
        if held is not None and held.obj is None:
            self._tombstones -= 1
        self._entries[key] = _Entry(self._seq, rv, obj)
        self._entries.move_to_end(key)
        if obj is None:
            self._tombstones += 1
            if self._tombstones > KEPT_TOMBSTONES:
                self._drop_tombstones()

    def _drop_tombstones(self) -> None:
        """Forget the older half of the tombstones; a token from before the newest one dropped gets
        ``complete``."""
        for key in list(self._entries):
            if self._tombstones <= KEPT_TOMBSTONES // 2:
                break
            entry = self._entries[key]
            if entry.obj is None:
                del self._entries[key]
                self._tombstones -= 1
                self._horizon = entry.seq

    # -- lifetime -----------------------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The token ``changes`` would answer with now: it moves when anything arrives (no request)."""
        with self._lock:
            return self._token()

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
