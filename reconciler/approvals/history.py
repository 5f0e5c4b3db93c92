"""Reading approval records and their provenance out of a Git repository (pygit2).

A record is credited to the commit that put its current content at its path (``last_change``). History is
followed back from a commit to a parent only while that parent holds the same content at the same path *and*
the commit took it from that parent unchanged:

- a one-parent commit that holds the same content as its parent did not change the record: go back;
- a merge goes back to a parent with the same content only if every other parent left the path as it was at
  their fork point (``merge-base``), i.e. the merge took that side's change against no change on the others.
  That is the ordinary merge of bob's branch: it still counts as bob's commit.
- otherwise the commit itself made the content: an edit, a copy, a delete and re-add, and also a merge that
  brings the content back against a side that deleted or changed it (an "evil" or conflict-resolving merge).
  The merge commit is then credited, and judged by who made it, never the record's original author.

So whoever edits, re-adds, copies or resurrects a record becomes its author and is judged instead.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Protocol

import pygit2

from reconciler.approvals.commit_trust import CommitFacts
from reconciler.approvals.records import ApprovalRecord, RecordProblem, parse_file
from reconciler.approvals.signatures import Verifier
from reconciler.model.objects import JOB_APPROVAL

MAX_RECORD_BYTES = 64 * 1024
_SUFFIXES = (".yaml", ".yml")


class ManifestFile(Protocol):
    """A file a source handed over (``reconciler.source.SourceFile``): its path relative to the source's
    folder, and its bytes."""

    @property
    def path(self) -> str: ...
    def read(self) -> bytes: ...


class GitHistoryHandle(Protocol):
    """The Git history behind a snapshot (``reconciler.source.GitHistory``): the repository, and the source's
    folder in it ("" for the root)."""

    @property
    def repository(self) -> pygit2.Repository: ...
    @property
    def subpath(self) -> str: ...


class HistoryError(Exception):
    """The repository or revision cannot be read; the message names it."""


def open_repo(path: str) -> pygit2.Repository:
    try:
        found = pygit2.discover_repository(path)
    except pygit2.GitError:
        found = None
    if not found:
        raise HistoryError(
            f"{path} is not in a Git repository; approvals need Git history to know who made them"
        )
    return pygit2.Repository(found)


def resolve_commit(repo: pygit2.Repository, revision: str) -> pygit2.Commit:
    try:
        obj = repo.revparse_single(revision or "HEAD")
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise HistoryError(f"{repo.workdir or repo.path}: no commit {revision or 'HEAD'!r} ({exc})") from None
    assert isinstance(commit, pygit2.Commit)
    return commit


def blob_at(commit: pygit2.Commit, path: str) -> pygit2.Oid | None:
    try:
        entry = commit.tree[path]
    except KeyError:
        return None
    return entry.id if entry.type_str == "blob" else None


def read_records(
    repo: pygit2.Repository, commit: pygit2.Commit, approvals_dir: str
) -> list[ApprovalRecord | RecordProblem]:
    """Every JobApproval under ``approvals_dir`` (repository-relative) at ``commit``, in path order."""
    try:
        top = (
            commit.tree[approvals_dir.strip("/")]
            if approvals_dir.strip("/") not in ("", ".")
            else commit.tree
        )
    except KeyError:
        return []
    if not isinstance(top, pygit2.Tree):
        return [RecordProblem(approvals_dir, 0, "is a file; approvals must be a folder of <domain>/ folders")]
    out: list[ApprovalRecord | RecordProblem] = []
    prefix = approvals_dir.strip("/")
    for path, blob in sorted(_walk(repo, top, "" if prefix in ("", ".") else prefix), key=lambda x: x[0]):
        out.extend(_records_in(path, blob.size, blob.data if blob.size <= MAX_RECORD_BYTES else b""))
    return out


def records_from_snapshot(
    files: Iterable[ManifestFile], approvals_dir: str, subpath: str = ""
) -> list[ApprovalRecord | RecordProblem]:
    """Every JobApproval under ``approvals_dir`` among a snapshot's files (paths relative to the source's
    folder ``subpath``), with repository paths, in path order: the records ``read_records`` finds at the
    snapshot's commit, handed over by the source instead of read from Git again."""
    folder = posixpath.normpath(approvals_dir.strip("/") or ".")
    found: list[tuple[str, ManifestFile]] = []
    for f in files:
        if folder != "." and not f.path.startswith(folder + "/"):
            continue
        found.append((posixpath.join(subpath, f.path) if subpath else f.path, f))
    out: list[ApprovalRecord | RecordProblem] = []
    for path, f in sorted(found, key=lambda x: x[0]):
        data = f.read()
        out.extend(_records_in(path, len(data), data))
    return out


def _records_in(path: str, size: int, data: bytes) -> list[ApprovalRecord | RecordProblem]:
    """The records of one file of ``size`` bytes (``data``, unread when too large): none larger than
    ``MAX_RECORD_BYTES``, UTF-8 text."""
    if size > MAX_RECORD_BYTES:
        return [RecordProblem(path, 0, f"larger than {MAX_RECORD_BYTES} bytes; a {JOB_APPROVAL} is small")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [RecordProblem(path, 0, "not UTF-8 text")]
    return parse_file(text, path)


def _walk(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str) -> list[tuple[str, pygit2.Blob]]:
    found: list[tuple[str, pygit2.Blob]] = []
    for entry in tree:
        name = entry.name or ""
        path = posixpath.join(prefix, name) if prefix else name
        obj = repo[entry.id]
        if isinstance(obj, pygit2.Tree):
            found.extend(_walk(repo, obj, path))
        elif (
            isinstance(obj, pygit2.Blob)
            and entry.filemode != pygit2.enums.FileMode.LINK
            and name.endswith(_SUFFIXES)
            and not name.startswith(".")
        ):
            found.append((path, obj))
    return found


class Credits:
    """Finds the commit credited with a record's content (the rule in the module docstring), for many records
    of one repository: fork points and folder listings are read once and shared by every record, so judging
    all records costs about one walk of the history, not one per record."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self._forks: dict[tuple[pygit2.Oid, pygit2.Oid], pygit2.Oid | None] = {}
        self._folders: dict[tuple[pygit2.Oid, str], pygit2.Oid | None] = {}  # (commit, folder) -> tree
        self._listings: dict[pygit2.Oid, dict[str, pygit2.Oid]] = {}  # tree -> {file name: blob}
        self._parents: dict[pygit2.Oid, list[pygit2.Commit]] = {}

    def blob(self, commit: pygit2.Commit, path: str) -> pygit2.Oid | None:
        """The blob at ``path`` in ``commit`` (None if absent or not a file)."""
        folder, _, name = path.rpartition("/")
        key = (commit.id, folder)
        if key in self._folders:
            tree_id = self._folders[key]
        else:
            tree_id = commit.tree_id
            if folder:
                try:
                    entry = commit.tree[folder]
                    tree_id = entry.id if entry.type_str == "tree" else None
                except KeyError:
                    tree_id = None
            self._folders[key] = tree_id
        if tree_id is None:
            return None
        listing = self._listings.get(tree_id)
        if listing is None:
            tree = self.repo[tree_id]
            assert isinstance(tree, pygit2.Tree)
            listing = {e.name or "": e.id for e in tree if e.type_str == "blob"}
            self._listings[tree_id] = listing
        return listing.get(name)

    def last_change(self, commit: pygit2.Commit, path: str) -> pygit2.Commit | None:
        """The commit that put the file's current content at ``path`` (None if the file is not there)."""
        blob = self.blob(commit, path)
        if blob is None:
            return None
        current = commit
        while True:
            parent = self._taken_from(current, path, blob)
            if parent is None:
                return current
            current = parent

    def _taken_from(self, commit: pygit2.Commit, path: str, blob: pygit2.Oid) -> pygit2.Commit | None:
        """The parent ``commit`` took ``blob`` at ``path`` from unchanged, or None if ``commit`` made it."""
        parents = self._parents.get(commit.id)
        if parents is None:
            parents = self._parents[commit.id] = list(commit.parents)
        same = [p for p in parents if self.blob(p, path) == blob]
        if not same or len(parents) == 1:
            return same[0] if same else None
        others = [p for p in parents if self.blob(p, path) != blob]
        for side in same:
            if all(self._untouched_since_fork(side, other, path) for other in others):
                return side
        return None

    def _untouched_since_fork(self, side: pygit2.Commit, other: pygit2.Commit, path: str) -> bool:
        """Whether ``other`` holds at ``path`` what the fork point of ``side`` and ``other`` held."""
        key = (side.id, other.id)
        if key not in self._forks:
            self._forks[key] = self.repo.merge_base(side.id, other.id)
        base = self._forks[key]
        base_blob = self.blob(self.repo[base].peel(pygit2.Commit), path) if base is not None else None
        return self.blob(other, path) == base_blob


def last_change(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> pygit2.Commit | None:
    """The commit credited with the content at ``path`` in ``commit`` (one record; see ``Credits``)."""
    return Credits(repo).last_change(commit, path)


def descends(repo: pygit2.Repository, later: str, earlier: str) -> bool:
    """Whether commit ``later`` has ``earlier`` in its history (a commit does not descend from itself)."""
    if later == earlier:
        return False
    return bool(repo.descendant_of(pygit2.Oid(hex=later), pygit2.Oid(hex=earlier)))


def commit_time(commit: pygit2.Commit) -> str:
    tz = timezone(timedelta(minutes=commit.committer.offset))
    return datetime.fromtimestamp(commit.committer.time, tz).isoformat()


def commit_facts(commit: pygit2.Commit, domain: str, verifier: Verifier) -> CommitFacts:
    signature, payload = commit.gpg_signature
    check = verifier.verify(domain, signature, payload or b"")
    return CommitFacts(
        commit=str(commit.id),
        committer_name=commit.committer.name,
        committer_email=commit.committer.email,
        author_name=commit.author.name,
        author_email=commit.author.email,
        when=commit_time(commit),
        timestamp=commit.committer.time,
        signature=check,
    )
