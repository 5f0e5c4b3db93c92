"""Status commits: the status records committed to a dedicated branch of the source repository.

Written with pygit2 object by object (blobs → tree → commit → ref), so the working tree, the index and the
tracked branch are never touched. The branch holds one snapshot of the records per commit; a batch that
changes nothing makes no commit. For a URL source the branch is pushed; when someone else moved the remote
branch, the same snapshot is committed again on top of theirs (their other files kept) and pushed again.
"""

from __future__ import annotations

from collections.abc import Callable

import pygit2
import yaml

from reconciler.status.record import StatusRecord, relative_path, transitions
from reconciler.urls import redact_urls

DEFAULT_BRANCH = "kgitops/status"
_BLOB = pygit2.enums.FileMode.BLOB


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

    def _tip(self) -> pygit2.Commit | None:
        ref = self.repo.references.get(self.ref_name)
        return ref.peel(pygit2.Commit) if ref is not None else None

    def _records_at(self, commit: pygit2.Commit | None) -> dict[str, StatusRecord]:
        out: dict[str, StatusRecord] = {}
        if commit is None:
            return out
        stack: list[tuple[str, pygit2.Tree]] = [("", commit.tree)]
        while stack:
            prefix, tree = stack.pop()
            for entry in tree:
                path = prefix + (entry.name or "")
                obj = self.repo[entry.id]
                if isinstance(obj, pygit2.Tree):
                    stack.append((path + "/", obj))
                elif isinstance(obj, pygit2.Blob) and path.endswith(".yaml"):
                    try:
                        doc = yaml.safe_load(obj.data)
                        out[path] = StatusRecord.from_dict(doc if isinstance(doc, dict) else {})
                    except yaml.YAMLError:
                        continue
        return out

    def _files_at(self, commit: pygit2.Commit | None) -> dict[str, tuple[pygit2.Oid, pygit2.enums.FileMode]]:
        out: dict[str, tuple[pygit2.Oid, pygit2.enums.FileMode]] = {}
        if commit is None:
            return out
        stack: list[tuple[str, pygit2.Tree]] = [("", commit.tree)]
        while stack:
            prefix, tree = stack.pop()
            for entry in tree:
                path = prefix + (entry.name or "")
                if entry.filemode == pygit2.enums.FileMode.TREE:
                    stack.append((path + "/", self.repo[entry.id].peel(pygit2.Tree)))
                else:
                    out[path] = (entry.id, pygit2.enums.FileMode(entry.filemode))
        return out

    def _tree(self, records: dict[str, StatusRecord], parent: pygit2.Commit | None) -> pygit2.Oid:
        """Our records, plus whatever else others keep on the branch (a README, notes): only files shaped
        like status files (``<namespace>/<kind>/<name>.yaml``) are ours to replace or remove."""
        index = pygit2.Index()
        for rel, (oid, mode) in self._files_at(parent).items():
            if not (rel.count("/") == 2 and rel.endswith(".yaml")):
                index.add(pygit2.IndexEntry(rel, oid, mode))
        for rel, rec in sorted(records.items()):
            index.add(pygit2.IndexEntry(rel, self.repo.create_blob(rec.to_yaml()), _BLOB))
        return index.write_tree(self.repo)

    def commit(self, records: list[StatusRecord]) -> str | None:
        """Commit the records as the branch's new content; None when nothing changed."""
        snapshot = {rel: rec for rec in records if (rel := relative_path(rec.ref)) is not None}
        for _ in range(self.retries):
            parent = self._tip()
            tree_id = self._tree(snapshot, parent)
            if parent is not None and parent.tree_id == tree_id:
                return None
            lines = transitions(self._records_at(parent), snapshot)
            title = f"kgitops status: {len(lines)} change{'s' if len(lines) != 1 else ''}"
            message = title + "\n\n" + "\n".join(lines) + "\n"
            sig = pygit2.Signature("kgitops", "kgitops@localhost")
            parents = [parent.id] if parent is not None else []
            oid = self.repo.create_commit(None, sig, sig, message, tree_id, parents)
            if not self._move_ref(oid, parent):
                continue  # another writer moved the branch since we read it: rebuild on top of theirs
            if not self.push_enabled or self._push():
                self.last_commit = str(oid)
                return str(oid)
            self._fetch_branch()  # someone else moved it: rebuild on top of theirs
        raise StatusCommitError(f"could not move or push {self.branch}: the branch kept moving")

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
