"""Committing a record on a new branch, ready for a pull request, without touching the working tree.

The commit is built in the object database (base tree + one blob) so an approver's uncommitted work is never
disturbed; signing uses the same tools and formats as ``git commit -S``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2

from reconciler.approvals.history import resolve_commit
from reconciler.approvals.records import ApprovalRecord, render_record
from reconciler.approvals.signatures import SigningSpec, sign_payload


class WriteError(Exception):
    """The record could not be committed; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    branch: str
    commit: str
    path: str
    signed: bool


def identity(repo: pygit2.Repository, name: str = "", email: str = "") -> pygit2.Signature:
    """The approver: explicit values, else git's user.name / user.email."""
    cfg = repo.config

    def get(key: str) -> str:
        try:
            return str(cfg[key])
        except KeyError:
            return ""

    name = name or get("user.name")
    email = email or get("user.email")
    if not name or not email:
        raise WriteError(
            "who is approving? set git's user.name and user.email (git config user.email you@example.org) "
            "or pass --author-name and --author-email"
        )
    return pygit2.Signature(name, email)


def signing_from_git(repo: pygit2.Repository, fmt: str = "", key: str = "") -> SigningSpec:
    """git's own signing settings (``gpg.format``, ``user.signingkey``), overridden by the flags."""
    cfg = repo.config

    def get(name: str) -> str:
        try:
            return str(cfg[name])
        except KeyError:
            return ""

    return SigningSpec(format=fmt or get("gpg.format") or "openpgp", key=key or get("user.signingkey"))


def commit_record(
    repo: pygit2.Repository,
    record: ApprovalRecord,
    *,
    branch: str,
    base: str = "HEAD",
    who: pygit2.Signature,
    message: str = "",
    signing: SigningSpec | None = None,
) -> Written:
    """Create ``branch`` from ``base`` with one new commit that writes ``record`` at ``record.path``."""
    ref_name = f"refs/heads/{branch}"
    if not pygit2.reference_is_valid_name(ref_name):
        raise WriteError(f"{branch!r} is not a valid branch name; pass another with --branch")
    if ref_name in repo.references:
        raise WriteError(
            f"branch {branch} already exists; pass --branch NAME or delete it (git branch -D {branch})"
        )
    parent = resolve_commit(repo, base)
    index = pygit2.Index()
    index.read_tree(parent.tree)
    blob = repo.create_blob(render_record(record).encode("utf-8"))
    index.add(pygit2.IndexEntry(record.path, blob, pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(repo)
    if tree == parent.tree_id:
        raise WriteError(
            f"{record.path} already says exactly this at {base}, so there is nothing to commit; if that "
            "record does not count (someone else committed it), pass a --reason so your commit differs"
        )
    verb = "Approve" if record.decision.accept else "Reject"
    message = message or f"{verb} job {record.job} for {record.domain}\n\n{record.reason}\n".replace(
        "\n\n\n", "\n"
    )
    if signing is None:
        oid = repo.create_commit(None, who, who, message, tree, [parent.id])
    else:
        content = str(repo.create_commit_string(who, who, message, tree, [parent.id]))
        signature = sign_payload(content.encode("utf-8"), signing)
        oid = repo.create_commit_with_signature(content, signature.decode("ascii"))
    repo.references.create(ref_name, oid)
    return Written(branch=branch, commit=str(oid), path=record.path, signed=signing is not None)
