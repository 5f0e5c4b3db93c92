"""Status commits: the status records committed to a dedicated branch of the source repository.

Written with pygit2 object by object (blobs → tree → commit → ref), so the working tree, the index and the
tracked branch are never touched. The branch holds one snapshot of the records per commit; a batch that
changes nothing makes no commit, and a batch writes only what changed: the blobs of changed records, and the
trees along their paths, built on the parent's (a commit costs what changed, not how many records exist).
A fresh writer (after a restart, each CLI ``sync``) starts from the memo kept in the repository's Git
directory (``<git dir>/kgitops/status-memo.json``, ``reconciler.status.memo``), so it dumps only the records
that changed too. For a URL source the branch is pushed; when someone else moved the remote branch, the same
snapshot is committed again on top of theirs (their other files kept) and pushed again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygit2
import yaml

from reconciler.status import memo
from reconciler.status.record import StatusRecord, relative_path, transitions
from reconciler.urls import redact_urls

DEFAULT_BRANCH = "kgitops/status"
_BLOB = int(pygit2.enums.FileMode.BLOB)
_TREE = int(pygit2.enums.FileMode.TREE)
_EMPTY_TREE = pygit2.Oid(hex="4b825dc642cb6eb9a060e54bf8d69288fbee4904")  # Git's tree of no entries
_Entries = dict[str, tuple[pygit2.Oid, int]]  # path → (blob id, file mode)
_Known = tuple[StatusRecord | None, bytes | None, pygit2.Oid]  # record (None: memo only), its digest, blob id
MEMO_FILE = "kgitops/status-memo.json"  # inside the repository's Git directory


class StatusCommitError(Exception):
    pass


class StatusBranch:
    def __init__(
        self,
        repo: pygit2.Repository,
        branch: str = DEFAULT_BRANCH,
        push: bool = False,
        callbacks: Callable[[], pygit2.RemoteCallbacks] | None = None,
        retries: int = 5,
    ) -> None:
        self.repo = repo
        self.branch = branch or DEFAULT_BRANCH
        self.ref_name = f"refs/heads/{self.branch}"
        self.push_enabled = push
        self.callbacks = callbacks or pygit2.RemoteCallbacks
        self.retries = retries
        self.last_commit = ""
        self._blobs: dict[str, _Known] = {}  # path → the record last seen there (or its digest), its blob id
        self._memo_path = Path(repo.path) / MEMO_FILE
        self._memo_read = False
        self._memo_dirty = False  # ``_blobs`` differs from the memo on disk
        self._known: tuple[pygit2.Oid, _Entries] | None = None  # the last tip we saw, its status files

    def _tip(self) -> pygit2.Commit | None:
        ref = self.repo.references.get(self.ref_name)
        return ref.peel(pygit2.Commit) if ref is not None else None

    def _entries_at(self, commit: pygit2.Commit | None) -> _Entries:
        """The status files of ``commit``'s tree (``<namespace>/<kind>/<name>.yaml`` → blob id and mode), read
        from the trees alone (no blob is read); the tip this writer saw or made last is remembered."""
        if commit is None:
            return {}
        if self._known is not None and self._known[0] == commit.id:
            return self._known[1]
        out: _Entries = {}
        for ns in commit.tree:
            if ns.filemode != _TREE:
                continue
            for kind in self.repo[ns.id].peel(pygit2.Tree):
                if kind.filemode != _TREE:
                    continue
                prefix = f"{ns.name}/{kind.name}/"
                for entry in self.repo[kind.id].peel(pygit2.Tree):
                    name = entry.name or ""
                    if entry.filemode != _TREE and name.endswith(".yaml"):
                        out[prefix + name] = (entry.id, int(entry.filemode))
        return out

    def _blob_id(
        self, rel: str, record: StatusRecord, entry: tuple[pygit2.Oid, int] | None
    ) -> tuple[pygit2.Oid, bytes | None, bytes | None]:
        """The blob id of ``record``'s bytes, the bytes when they had to be made, and the record's digest.

        No bytes (None) when the record is the one last seen at ``rel`` (its id is remembered), or when the
        memo has the record's digest at ``rel`` with the very blob the parent holds there (``entry``): a memo
        entry is believed only where the branch agrees, so a stale or foreign memo costs a dump, never a wrong
        blob. ``pygit2.hash`` computes the id without writing."""
        seen = self._blobs.get(rel)
        if seen is not None:
            known, digest, oid = seen
            if known is not None:
                if known == record:
                    return oid, None, digest
            elif digest is not None and entry == (oid, _BLOB) and memo.record_digest(record) == digest:
                return oid, None, digest
        data = record.to_yaml()
        return pygit2.hash(data), data, memo.record_digest(record)

    def _read_memo(self) -> None:
        """Start from the memo (once, in a fresh writer): ``path → [record digest, blob id]``, hex."""
        self._memo_read = True
        for rel, entry in memo.load(self._memo_path).items():
            try:
                digest, oid = bytes.fromhex(entry[0]), pygit2.Oid(hex=entry[1])
            except (TypeError, ValueError, IndexError, KeyError):
                continue
            self._blobs[rel] = (None, digest, oid)

    def _save_memo(self) -> None:
        if self._memo_dirty:
            entries = {rel: [d.hex(), str(oid)] for rel, (_, d, oid) in self._blobs.items() if d is not None}
            memo.save(self._memo_path, entries)
            self._memo_dirty = False

    def _old_record(self, rel: str, oid: pygit2.Oid) -> StatusRecord | None:
        """The record a parent holds at ``rel`` (blob ``oid``): the one remembered when its id matches, else
        read from the blob; None when the blob is not a YAML record."""
        seen = self._blobs.get(rel)
        if seen is not None and seen[2] == oid and seen[0] is not None:
            return seen[0]
        try:
            return StatusRecord.from_yaml(self.repo[oid].peel(pygit2.Blob).data)
        except (yaml.YAMLError, ValueError):
            return None

    def _tree(self, base: pygit2.Tree | None, changes: dict[str, pygit2.Oid | None]) -> pygit2.Oid:
        """``base`` with ``changes`` made (path → new blob id, None: removed), rebuilt only along the changed
        paths (``TreeBuilder`` on each old tree); a directory left empty is dropped, as Git has no empty
        trees. Everything else on the branch (a README, notes) is kept as it is."""
        grouped: dict[str, dict[str, dict[str, pygit2.Oid | None]]] = {}
        for rel, oid in changes.items():
            ns, kind, name = rel.split("/")
            grouped.setdefault(ns, {}).setdefault(kind, {})[name] = oid
        root = self._builder(base)
        for ns, kinds in grouped.items():
            ns_tree = self._subtree(base, ns)
            ns_builder = self._builder(ns_tree)
            for kind, names in kinds.items():
                builder = self._builder(self._subtree(ns_tree, kind))
                for name, oid in names.items():
                    if oid is not None:
                        builder.insert(name, oid, _BLOB)
                    elif builder.get(name) is not None:
                        builder.remove(name)
                self._put(ns_builder, kind, builder)
            self._put(root, ns, ns_builder)
        return root.write()

    def _builder(self, tree: pygit2.Tree | None) -> pygit2.TreeBuilder:
        return self.repo.TreeBuilder(tree) if tree is not None else self.repo.TreeBuilder()

    def _subtree(self, tree: pygit2.Tree | None, name: str) -> pygit2.Tree | None:
        if tree is None or name not in tree:
            return None
        entry = tree[name]
        return self.repo[entry.id].peel(pygit2.Tree) if entry.filemode == _TREE else None

    def _put(self, parent: pygit2.TreeBuilder, name: str, child: pygit2.TreeBuilder) -> None:
        oid = child.write()
        if oid != _EMPTY_TREE:
            parent.insert(name, oid, _TREE)
        elif parent.get(name) is not None:
            parent.remove(name)

    def commit(self, records: list[StatusRecord]) -> str | None:
        """Commit the records as the branch's new content; None when nothing changed.

        Only what changed is written: each record's blob id is compared with the parent tree's entry
        (remembered ids for records seen before, ``pygit2.hash`` of the bytes otherwise), new blobs are
        written for the changed records alone, and the tree is rebuilt from the parent's along the changed
        paths. Status files of objects that are gone are removed; other files on the branch are kept.
        Raises StatusCommitError when the branch kept moving under us or a push failed."""
        snapshot = {rel: rec for rec in records if (rel := relative_path(rec.ref)) is not None}
        if not self._memo_read:
            self._read_memo()
        try:
            return self._commit(snapshot)
        finally:
            self._save_memo()

    def _commit(self, snapshot: dict[str, StatusRecord]) -> str | None:
        for _ in range(self.retries):
            parent = self._tip()
            entries = self._entries_at(parent)
            changes: dict[str, pygit2.Oid | None] = {}
            learned: dict[str, tuple[pygit2.Oid, bytes | None]] = {}  # path → blob id, digest
            for rel, rec in snapshot.items():
                entry = entries.get(rel)
                oid, data, digest = self._blob_id(rel, rec, entry)
                if data is not None or self._blobs[rel][0] is None:
                    learned[rel] = (oid, digest)
                if entry != (oid, _BLOB):
                    changes[rel] = oid
                    if data is not None:
                        self.repo.create_blob(data)  # the blobs of changed records only
                    elif oid not in self.repo:  # remembered, but not in this repository (a force push)
                        self.repo.create_blob(rec.to_yaml())
            for rel in entries.keys() - snapshot.keys():
                changes[rel] = None
            if not changes:  # also a first batch of no records: no branch, never an empty commit
                self._learn(snapshot, learned)
                if parent is not None:
                    self._known = (parent.id, entries)  # the next batch need not list the tree again
                return None
            tree_id = self._tree(parent.tree if parent is not None else None, changes)
            old: dict[str, StatusRecord] = {}
            for rel in changes:
                if rel in entries and (before := self._old_record(rel, entries[rel][0])) is not None:
                    old[rel] = before
            self._learn(snapshot, learned)
            lines = transitions(old, {rel: snapshot[rel] for rel in changes if rel in snapshot})
            if not lines:  # files changed, yet no record's state did (a stray file gone, bytes rewritten)
                lines = [f"{rel}: {'removed' if changes[rel] is None else 'rewritten'}" for rel in changes]
            title = f"kgitops status: {len(lines)} change{'s' if len(lines) != 1 else ''}"
            message = title + "\n\n" + "\n".join(lines) + "\n"
            sig = pygit2.Signature("kgitops", "kgitops@localhost")
            parents = [parent.id] if parent is not None else []
            commit = self.repo.create_commit(None, sig, sig, message, tree_id, parents)
            if not self._move_ref(commit, parent):
                continue  # another writer moved the branch since we read it: rebuild on top of theirs
            now = dict(entries)
            for rel, change in changes.items():
                if change is None:
                    del now[rel]
                else:
                    now[rel] = (change, _BLOB)
            self._known = (commit, now)  # what the branch holds, for the next batch (``watch``)
            if not self.push_enabled or self._push():
                self.last_commit = str(commit)
                return str(commit)
            self._fetch_branch()  # someone else moved it: rebuild on top of theirs
        raise StatusCommitError(f"could not move or push {self.branch}: the branch kept moving")

    def _learn(self, snapshot: dict[str, StatusRecord], learned: dict[str, tuple[pygit2.Oid, bytes | None]]
               ) -> None:
        """Remember each record's blob id for the next batch; forget the objects no longer managed."""
        for rel in self._blobs.keys() - snapshot.keys():
            del self._blobs[rel]
            self._memo_dirty = True
        for rel, (oid, digest) in learned.items():
            seen = self._blobs.get(rel)
            if seen is None or seen[1:] != (digest, oid):
                self._memo_dirty = True
            self._blobs[rel] = (snapshot[rel], digest, oid)

    def _move_ref(self, oid: pygit2.Oid, parent: pygit2.Commit | None) -> bool:
        """Move the branch from ``parent`` to ``oid`` only if it is still at ``parent`` (compare and swap):
        the branch only ever moves forward, never back over a commit someone else made meanwhile."""
        ref = self.repo.references.get(self.ref_name)
        if ref is None:
            if parent is not None:
                return False
            try:
                self.repo.references.create(self.ref_name, oid)  # fails if it appeared meanwhile
            except (ValueError, pygit2.AlreadyExistsError, pygit2.GitError):
                return False
            return True
        if parent is None or ref.target != parent.id:
            return False
        try:
            ref.set_target(oid, "kgitops: status commit")  # libgit2 refuses if the ref moved since read
        except (ValueError, pygit2.GitError):
            return False
        return True

    def _push(self) -> bool:
        try:
            remote = self.repo.remotes["origin"]
            remote.push([f"{self.ref_name}:{self.ref_name}"], callbacks=self.callbacks())
        except pygit2.GitError as exc:
            text = str(exc).lower()
            if any(m in text for m in ("not present locally", "fast-forward", "fastforward", "fetch first")):
                return False
            raise StatusCommitError(f"push of {self.branch} failed: {self._clean(exc)}") from None
        return True

    def _fetch_branch(self) -> None:
        try:
            remote = self.repo.remotes["origin"]
            remote.fetch([f"+{self.ref_name}:{self.ref_name}"], callbacks=self.callbacks())
        except (pygit2.GitError, KeyError) as exc:
            raise StatusCommitError(f"fetch of {self.branch} failed: {self._clean(exc)}") from None

    def _clean(self, exc: BaseException) -> str:
        """libgit2 messages may quote the remote's URL: never with its credentials."""
        try:
            url = str(self.repo.remotes["origin"].url or "")
        except (KeyError, pygit2.GitError):
            url = ""
        return redact_urls(str(exc), url)
