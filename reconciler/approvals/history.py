"""Reading approval records and their provenance out of a Git repository (pygit2).

A record is attributed to the commit that last changed its file: following history back while some parent
holds the same blob, so a merge of bob's branch still counts as bob's commit, while anyone who edits,
deletes and re-adds, or copies the file becomes its author and is judged instead.
"""

from __future__ import annotations

import posixpath
from datetime import datetime, timedelta, timezone

import pygit2

from reconciler.approvals.records import ApprovalRecord, RecordProblem, parse_file
from reconciler.approvals.signatures import Verifier
from reconciler.approvals.trust import CommitFacts

MAX_RECORD_BYTES = 64 * 1024
_SUFFIXES = (".yaml", ".yml")


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
        if blob.size > MAX_RECORD_BYTES:
            out.append(
                RecordProblem(path, 0, f"larger than {MAX_RECORD_BYTES} bytes; a JobApproval is small")
            )
            continue
        try:
            text = blob.data.decode("utf-8")
        except UnicodeDecodeError:
            out.append(RecordProblem(path, 0, "not UTF-8 text"))
            continue
        out.extend(parse_file(text, path))
    return out


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


def last_change(commit: pygit2.Commit, path: str) -> pygit2.Commit | None:
    """The commit that put the file's current content at ``path`` (None if the file is not there)."""
    blob = blob_at(commit, path)
    if blob is None:
        return None
    current = commit
    while True:
        for parent in current.parents:
            if blob_at(parent, path) == blob:
                current = parent
                break
        else:
            return current


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
