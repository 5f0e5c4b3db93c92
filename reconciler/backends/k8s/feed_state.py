"""What an informer (``k8s.informer``) knows of one collection, and the answers to ``Backend.changes`` it
gives: a pure data structure, fed by lists, watch events and the backend's own writes, with no I/O and no
locking of its own (the informer holds its lock around every call).

Per object: its newest state, its ``resourceVersion`` and a local sequence number (its position in this
history; the version token is ``<epoch>:<sequence>``). An object deleted, or that stopped carrying the
labels, leaves a tombstone. An object that changed many times since a token (Kuscia's controllers write
status often, each write a MODIFIED event) is reported once, as it is now: memory grows with the objects, not
with the events. Tombstones are kept up to ``KEPT_TOMBSTONES``; dropping older ones moves the horizon, and a
token from before it, like one of another epoch, gets ``complete``.

States are ordered by ``resourceVersion``. Kubernetes calls it opaque, but kube-apiserver's are etcd
revisions, integers that grow with every write; so a state older than the one held (a watch event that comes
after the backend's own write of a later state) is skipped. Where either version is not an integer, the
later arrival wins.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from reconciler.backends.base import LiveChanges
from reconciler.backends.k8s.objects import from_body
from reconciler.model import ObjectRef, Resource

KEPT_TOMBSTONES = 10_000
"""Deleted objects remembered for ``changes``; past this the older half is dropped and the horizon moves."""

Key = tuple[str, str]
"""(namespace, name), as ``ResilientWatch`` keys objects; namespace "" for a cluster-scoped kind."""


@dataclass
class Entry:
    seq: int
    resource_version: str
    obj: Resource | None  # None: deleted, or no longer carrying the labels (a tombstone)


def not_newer(rv: str, held: str) -> bool:
    """``rv`` is not a newer state than ``held`` (both etcd revisions); False when either is not an
    integer (no order known)."""
    if rv.isdigit() and held.isdigit():
        return int(rv) <= int(held)
    return False


class FeedState:
    """The objects of one collection of ``kind`` (``namespaced``: keys carry the namespace) by key, in the
    order they last changed; ``epoch`` makes its tokens its own."""

    def __init__(self, kind: str, namespaced: bool, epoch: str) -> None:
        self.kind = kind
        self.namespaced = namespaced
        self.epoch = epoch
        self._entries: OrderedDict[Key, Entry] = OrderedDict()  # oldest change first
        self._seq = 0
        self._horizon = 0  # the newest sequence number of a dropped tombstone
        self._tombstones = 0

    @property
    def token(self) -> str:
        return f"{self.epoch}:{self._seq}"

    def key(self, namespace: str, name: str) -> Key:
        return (namespace if self.namespaced else "", name)

    def held(self, key: Key) -> Entry | None:
        return self._entries.get(key)

    def known(self) -> dict[Key, str]:
        """Key → resourceVersion of every object held (what a watch started now has been told)."""
        return {k: e.resource_version for k, e in self._entries.items() if e.obj is not None}

    # -- answers ----------------------------------------------------------------------------------------
    def answers(self, since: str) -> bool:
        """``since`` is a token of this epoch within the horizon: ``answer`` tells what changed since."""
        epoch, _, seq_text = since.partition(":")
        return epoch == self.epoch and seq_text.isdigit() and self._horizon <= int(seq_text) <= self._seq

    def answer(self, since: str) -> LiveChanges:
        """What changed since the token ``since``: incremental for a token of this epoch within the
        horizon, else ``complete``. Changed objects sorted by name; a ref is in ``changed`` or ``removed``,
        never both."""
        if not self.answers(since):
            return self.complete()
        seq = int(since.partition(":")[2])
        changed: list[Resource] = []
        removed: list[ObjectRef] = []
        for key in reversed(self._entries):
            entry = self._entries[key]
            if entry.seq <= seq:
                break
            if entry.obj is None:
                removed.append(ObjectRef(self.kind, key[0], key[1]))
            else:
                changed.append(entry.obj)
        changed.sort(key=lambda r: (r.name, r.namespace))
        return LiveChanges(self.token, False, changed, removed)

    def complete(self) -> LiveChanges:
        objects = [e.obj for e in self._entries.values() if e.obj is not None]
        objects.sort(key=lambda r: (r.name, r.namespace))
        return LiveChanges(self.token, True, objects)

    # -- what the server and the backend's writes say -----------------------------------------------------
    def fold_list(self, items: list[dict[str, Any]], list_rv: str) -> None:
        """Take a list in (manifest dicts; the list's resourceVersion): objects whose resourceVersion moved
        are changed, unchanged ones stay the very same ``Resource`` (the differ's memo knows them), and what
        is held but not listed is gone as of ``list_rv``."""
        listed: set[Key] = set()
        for doc in items:
            meta = doc.get("metadata") or {}
            key = self.key(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            listed.add(key)
            rv = str(meta.get("resourceVersion") or "")
            held = self._entries.get(key)
            if held is not None and held.obj is not None and held.resource_version == rv:
                continue
            self.put(key, rv, from_body(doc))
        for key in [k for k, e in self._entries.items() if e.obj is not None and k not in listed]:
            self.put(key, list_rv, None)

    def put(self, key: Key, rv: str, obj: Resource | None, deleting: bool = False) -> bool:
        """Record the state ``obj`` at ``rv`` (None: gone; ``deleting``: the backend's own delete, which
        holds whatever version it reports); False when it is no news (the state held, or an older one)."""
        held = self._entries.get(key)
        if held is None:
            if obj is None:
                return False  # never held: nothing to report gone
        elif held.obj is None:
            if obj is None or not_newer(rv, held.resource_version):
                return False  # already gone, or a state from before the deletion
        elif obj is not None:
            if held.resource_version == rv or not_newer(rv, held.resource_version):
                return False  # this state, or an older one than held
        elif not deleting and rv != held.resource_version and not_newer(rv, held.resource_version):
            return False  # the deletion of an older incarnation (held: the object created again since)
        self._seq += 1
        if held is not None and held.obj is None:
            self._tombstones -= 1
        self._entries[key] = Entry(self._seq, rv, obj)
        self._entries.move_to_end(key)
        if obj is None:
            self._tombstones += 1
            if self._tombstones > KEPT_TOMBSTONES:
                self._drop_tombstones()
        return True

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
