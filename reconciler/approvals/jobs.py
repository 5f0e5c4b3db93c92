"""The KusciaJobs a commit (or a pull request) holds: their parties and the digest of their spec.

The approvals decision (``decisions.collect``) reads the jobs of the synced commit from here,
``kgitops approve`` reads the job it approves (to record its spec digest and warn about a domain that is not
a party), and ``from-github-event`` finds the jobs a reviewed pull request adds or changes. Files are read
with the same YAML loader as sync (so a job reads the same in both): ``.yaml``/``.yml`` files whose names do
not start with a dot, no symlinks. Files that do not load are skipped here; ``kgitops validate`` reports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pygit2

from reconciler.approvals.digest import job_digest
from reconciler.approvals.history import MAX_RECORD_BYTES, resolve_commit
from reconciler.load.documents import iter_documents
from reconciler.model import DEFAULT_NAMESPACE, JobSpec, ObjectRef
from reconciler.model.objects import KUSCIA_JOB

JOB_KIND = KUSCIA_JOB
_SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 16 * MAX_RECORD_BYTES
_CACHE_LIMIT = 65_536  # above the largest sources measured (10,000 jobs): a full tree must fit
# blob id -> the jobs its text holds (without the path): a watch loop re-reads unchanged files for free
_parsed: dict[str, tuple[JobSummary, ...]] = {}


def parsed_blobs() -> dict[str, tuple[JobSummary, ...]]:
    """A copy of the blob memo (blob id -> the jobs its text holds), to keep it on disk between processes."""
    return dict(_parsed)


def remember_blobs(known: dict[str, object]) -> None:
    """Seed the blob memo with what ``parsed_blobs`` gave earlier (values of another shape are ignored)."""
    for key, value in known.items():
        if len(_parsed) >= _CACHE_LIMIT:
            return
        if isinstance(value, tuple) and all(isinstance(j, JobSummary) for j in value):
            _parsed.setdefault(key, value)


@dataclass(frozen=True)
class JobSummary:
    name: str
    namespace: str
    initiator: str
    parties: tuple[str, ...]
    path: str
    digest: str = ""  # reconciler.approvals.digest.job_digest of its spec

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(JOB_KIND, self.namespace, self.name)


def jobs_in_text(text: str | bytes, path: str) -> list[JobSummary]:
    """Every well-formed KusciaJob document of one file (one that fails to load yields those before it)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    out = []
    try:
        for doc in iter_documents(data):
            summary = _summary(doc.data, path)
            if summary is not None:
                out.append(summary)
    except Exception:  # noqa: BLE001 - any loader failure: the file is reported by validate, never here
        pass
    return out


def _summary(doc: object, path: str) -> JobSummary | None:
    if not isinstance(doc, dict) or doc.get("kind") != JOB_KIND:
        return None
    meta = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    if not isinstance(meta, dict) or not isinstance(spec, dict) or not meta.get("name"):
        return None
    try:
        js = JobSpec.from_dict(spec)
    except (TypeError, ValueError, AttributeError):
        return None
    name = str(meta["name"])
    return JobSummary(
        name=name,
        namespace=str(meta.get("namespace") or DEFAULT_NAMESPACE),
        initiator=js.initiator,
        parties=tuple(d for d in js.domains if d),
        path=path,
        digest=job_digest(name, spec),
    )


def _blob_jobs(repo: pygit2.Repository, oid: pygit2.Oid, path: str) -> list[JobSummary]:
    key = str(oid)
    known = _parsed.get(key)
    if known is None:
        blob = repo[oid]
        if not isinstance(blob, pygit2.Blob) or blob.size > MAX_MANIFEST_BYTES or blob.is_binary:
            known = ()
        else:
            known = tuple(jobs_in_text(blob.data, ""))
        if len(_parsed) >= _CACHE_LIMIT:
            _parsed.clear()
        _parsed[key] = known
    return [JobSummary(j.name, j.namespace, j.initiator, j.parties, path, j.digest) for j in known]


def jobs_at(repo: pygit2.Repository, revision: str, skip_dir: str = "", under: str = "") -> list[JobSummary]:
    """Every KusciaJob in the commit's tree below ``under`` (all of it by default), outside ``skip_dir``."""
    commit = resolve_commit(repo, revision)
    out: list[JobSummary] = []
    top = under.strip("/")
    tree: object = commit.tree
    if top and top != ".":
        try:
            tree = commit.tree[top]
        except KeyError:
            return []
    if not isinstance(tree, pygit2.Tree):
        return []

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            name = entry.name or ""
            path = f"{prefix}{name}"
            if name.startswith(".") or (skip_dir and path == skip_dir.strip("/")):
                continue
            if entry.type_str == "tree":
                sub = repo[entry.id]
                assert isinstance(sub, pygit2.Tree)
                walk(sub, path + "/")
            elif (
                entry.type_str == "blob"
                and entry.filemode != pygit2.enums.FileMode.LINK
                and name.endswith(_SUFFIXES)
            ):
                out.extend(_blob_jobs(repo, entry.id, path))

    walk(tree, f"{top}/" if top and top != "." else "")
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
        out.extend(_blob_jobs(repo, new.id, new.path))
    return out


def index_jobs(jobs: Iterable[JobSummary]) -> dict[ObjectRef, list[JobSummary]]:
    """Jobs by reference; more than one entry means the job is defined more than once."""
    out: dict[ObjectRef, list[JobSummary]] = {}
    for j in jobs:
        out.setdefault(j.ref, []).append(j)
    return out
