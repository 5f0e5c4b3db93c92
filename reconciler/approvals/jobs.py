"""The KusciaJobs a commit (or a pull request) holds, just enough to know their parties.

``kgitops approve`` uses this to warn about a domain that is not a party, and ``from-github-event`` to find
the jobs a reviewed pull request adds or changes. Files that do not parse are skipped here;
``kgitops validate`` is where they get reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2
import yaml

from reconciler.approvals.history import MAX_RECORD_BYTES, resolve_commit
from reconciler.model import DEFAULT_NAMESPACE, JobSpec

JOB_KIND = "KusciaJob"
_SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 16 * MAX_RECORD_BYTES


@dataclass(frozen=True)
class JobSummary:
    name: str
    namespace: str
    initiator: str
    parties: tuple[str, ...]
    path: str


def jobs_in_text(text: str, path: str) -> list[JobSummary]:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return []
    out = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != JOB_KIND:
            continue
        meta = doc.get("metadata") or {}
        spec = doc.get("spec") or {}
        if not isinstance(meta, dict) or not isinstance(spec, dict) or not meta.get("name"):
            continue
        try:
            js = JobSpec.from_dict(spec)
        except (TypeError, ValueError, AttributeError):
            continue
        out.append(
            JobSummary(
                name=str(meta["name"]),
                namespace=str(meta.get("namespace") or DEFAULT_NAMESPACE),
                initiator=js.initiator,
                parties=tuple(d for d in js.domains if d),
                path=path,
            )
        )
    return out


def _blob_text(repo: pygit2.Repository, oid: pygit2.Oid) -> str | None:
    blob = repo[oid]
    if not isinstance(blob, pygit2.Blob) or blob.size > MAX_MANIFEST_BYTES or blob.is_binary:
        return None
    try:
        return blob.data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def jobs_at(repo: pygit2.Repository, revision: str, skip_dir: str = "") -> list[JobSummary]:
    """Every KusciaJob in the commit's tree (outside ``skip_dir``, the approvals folder)."""
    commit = resolve_commit(repo, revision)
    out: list[JobSummary] = []

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            name = entry.name or ""
            path = f"{prefix}{name}"
            if skip_dir and path == skip_dir.strip("/"):
                continue
            obj = repo[entry.id]
            if isinstance(obj, pygit2.Tree):
                walk(obj, path + "/")
            elif name.endswith(_SUFFIXES):
                text = _blob_text(repo, entry.id)
                if text is not None:
                    out.extend(jobs_in_text(text, path))

    walk(commit.tree, "")
    return out


def jobs_changed(repo: pygit2.Repository, base: str, head: str) -> list[JobSummary]:
    """KusciaJobs added or changed between the merge base of ``base``/``head`` and ``head``: a PR's jobs."""
    head_commit = resolve_commit(repo, head)
    base_commit = resolve_commit(repo, base)
    merge_base = repo.merge_base(base_commit.id, head_commit.id) or base_commit.id
    diff = repo.diff(merge_base, head_commit.id)
    out: list[JobSummary] = []
    for delta in diff.deltas:
        new = delta.new_file
        if delta.status_char() == "D" or not (new.path or "").endswith(_SUFFIXES):
            continue
        text = _blob_text(repo, new.id)
        if text is not None:
            out.extend(jobs_in_text(text, new.path))
    return out
