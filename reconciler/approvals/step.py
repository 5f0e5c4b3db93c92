"""The approvals step of a sync: after the plan is applied (so a job and its approvals may arrive together),
judge the records at the synced revision and hand the trusted ones to the backend.

Only a Git source has the history that says who made a record; for a directory source the step reports that
approvals need Git and does nothing else.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pygit2

from reconciler.approvals.decisions import ApprovalDecision, collect
from reconciler.approvals.effects import ApprovalOutcome, Effect, apply_decisions
from reconciler.approvals.history import GitHistoryHandle, HistoryError, ManifestFile, records_from_snapshot
from reconciler.backends.base import Backend
from reconciler.config import Config
from reconciler.model import ObjectRef
from reconciler.source.snapshot import is_manifest_name


class SnapshotOfGit(Protocol):
    """What the step needs of a source's snapshot (``reconciler.source.Snapshot``): its files and the Git
    history behind them (None for a directory)."""

    @property
    def files(self) -> Sequence[ManifestFile]: ...
    @property
    def history(self) -> GitHistoryHandle | None: ...


class _Applied(Protocol):
    """An entry of a sync result (``reconciler.apply.sync.Applied``): its ref and the live object after it."""

    @property
    def ref(self) -> ObjectRef: ...

    live: Any


@dataclass
class ApprovalsReport:
    revision: str
    outcomes: list[ApprovalOutcome] = field(default_factory=list)
    decisions: list[ApprovalDecision] = field(default_factory=list)  # dry run: judged, not applied
    error: str = ""

    @property
    def touched(self) -> set[ObjectRef]:
        return {o.decision.job for o in self.outcomes if o.decision.job is not None}

    @property
    def failed(self) -> list[ApprovalOutcome]:
        return [o for o in self.outcomes if o.effect is Effect.FAILED]

    def applied_jobs(self) -> list[ObjectRef]:
        """The jobs a decision was sent to now (``Effect.APPLIED``), in the order of the records."""
        jobs = (o.decision.job for o in self.outcomes if o.effect is Effect.APPLIED)
        return list(dict.fromkeys(j for j in jobs if j is not None))

    @property
    def ignored(self) -> int:
        """How many records have no effect (``Effect.IGNORED``; in a dry run, the decisions that do not
        count): a commit by an identity the domain does not list, a missing or bad signature, a record outside
        its folder, superseded or conflicting, for the initiator or a non-party, for another spec, too late, a
        broken file. Each is a record in Git that the live state does not follow, so ``sync`` is not clean
        (exit 1, ``docs/exit-codes.md``); ``lines`` says why for each. A record waiting for its job, or one
        the job already carries, is not counted."""
        if self.outcomes:
            return sum(1 for o in self.outcomes if o.effect is Effect.IGNORED)
        return sum(1 for d in self.decisions if not d.trusted)

    def problems(self) -> list[str]:
        """Why the approvals leave a sync not clean, one short phrase each (empty: clean): the step failed,
        the backend refused a decision, or a record is ignored."""
        out = ["approvals failed"] if self.error or self.failed else []
        if self.ignored:
            out.append(f"{self.ignored} approval record(s) ignored")
        return out

    def lines(self, dry_run: bool = False) -> list[str]:
        """What ``kgitops sync`` prints: every record that changed something or has no effect, and why."""
        if self.error:
            return [f"approvals: {self.error}"]
        out = []
        for d in self.decisions:
            what = f"{d.decision} {d.job.name} for {d.domain}" if d.job else d.path
            if not d.trusted:
                verdict = f"ignored: {d.why_not}"
            else:
                verdict = f"waits: {d.waiting}" if d.waiting else "would apply"
            out.append(f"(dry run) approval {what}: {verdict}")
        for o in self.outcomes:
            if o.effect is Effect.UNCHANGED:
                continue
            d = o.decision
            what = f"{d.decision} {d.job.name} for {d.domain}" if d.job else d.path
            out.append(f"approval {what}: {o.effect}" + (f" ({o.message})" if o.message else ""))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "error": self.error,
            "records": [o.to_dict() for o in self.outcomes] or [d.to_dict() for d in self.decisions],
        }


@dataclass(frozen=True)
class RecordFile:
    """One file under the approvals folder: its path relative to the source's folder, and its bytes."""

    path: str
    data: bytes

    def read(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class FolderSnapshot:
    """What the step needs of a snapshot, for the approvals folder only: the files a whole snapshot
    (``reconciler.source.GitSource.snapshot``) lists under it, without walking the rest of the tree (the
    jobs: 10,000 files in a large source)."""

    files: tuple[RecordFile, ...]
    history: GitHistoryHandle | None


def folder_snapshot(history: GitHistoryHandle, revision: str, approvals_dir: str) -> FolderSnapshot | None:
    """The files under ``approvals_dir`` (relative to the source's folder) at commit ``revision``, as a
    snapshot lists them: no name starting with a dot at any level, no links or submodules, manifest names
    only. None when only a whole snapshot can say (the folder is the source's root) or the commit cannot be
    read."""
    folder = posixpath.normpath(approvals_dir.strip("/") or ".")
    if folder == "." or folder.startswith(".."):
        return None
    repo = history.repository
    try:
        tree: Any = repo[revision].peel(pygit2.Commit).tree
        if history.subpath:  # looked up as the snapshot does: any name, a folder
            top = tree[history.subpath]
            if top.filemode != pygit2.enums.FileMode.TREE:
                return None
            tree = repo[top.id].peel(pygit2.Tree)
        for part in folder.split("/"):
            found = _entry(tree, part)
            if found is None:
                return FolderSnapshot((), history)  # no such folder: no records, as in a snapshot
            tree = repo[found.id].peel(pygit2.Tree)
        files: list[RecordFile] = []
        _walk(repo, tree, folder + "/", files)
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return FolderSnapshot(tuple(files), history)


def _entry(tree: Any, name: str) -> Any:
    """The sub-tree ``name`` of ``tree`` as a snapshot walks into it (None: a snapshot finds no files there:
    absent, not a folder, or hidden by its dot)."""
    if name.startswith(".") or name not in tree:
        return None
    entry = tree[name]
    return entry if entry.filemode == pygit2.enums.FileMode.TREE else None


def _walk(repo: pygit2.Repository, tree: Any, prefix: str, out: list[RecordFile]) -> None:
    for entry in tree:
        name = entry.name or ""
        if name.startswith("."):
            continue
        if entry.filemode == pygit2.enums.FileMode.TREE:
            _walk(repo, repo[entry.id].peel(pygit2.Tree), f"{prefix}{name}/", out)
        elif entry.filemode in (pygit2.enums.FileMode.COMMIT, pygit2.enums.FileMode.LINK):
            continue
        elif is_manifest_name(name):
            out.append(RecordFile(prefix + name, bytes(repo[entry.id].peel(pygit2.Blob).data)))


def sync_approvals(
    snapshot: SnapshotOfGit | None, backend: Backend, config: Config, revision: str, dry_run: bool = False
) -> ApprovalsReport:
    """Judge the records of ``snapshot`` (a Git source's, at ``revision``) against its history and (unless
    ``dry_run``) apply them. The records are the snapshot's files under ``approvals.dir``; who made each one
    comes from the snapshot's ``GitHistory``."""
    history = snapshot.history if snapshot is not None else None
    if snapshot is None or history is None or not revision:
        return ApprovalsReport(revision, error="approval records are read only from a Git source")
    subpath = history.subpath
    records = records_from_snapshot(snapshot.files, config.approvals.dir, subpath)
    try:
        decisions = collect(history.repository, revision, records, config, subpath=subpath)
    except HistoryError as exc:
        return ApprovalsReport(revision, error=str(exc))
    if dry_run:
        return ApprovalsReport(revision, decisions=decisions)
    return ApprovalsReport(revision, outcomes=apply_decisions(backend, decisions))


def refresh_live(applied: Iterable[_Applied], backend: Backend, refs: set[ObjectRef]) -> None:
    """Re-read the jobs the step touched, so status written after it shows the new approvals."""
    if not refs:
        return  # the usual case: nothing to look for among every applied object
    for a in applied:
        if a.ref in refs and a.live is not None:
            a.live = backend.get(a.ref) or a.live
