"""Helpers for the approvals tests: real Git repositories with commits by different people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2
import yaml

from reconciler.approvals.digest import job_digest
from reconciler.approvals.signatures import SigningSpec, sign_payload
from reconciler.config import ApprovalsConfig, Config, DomainTrust

ALICE = ("Alice", "alice@alice.example")
BOB = ("Bob", "bob@bob.example")
CAROL = ("Carol", "carol@carol.example")
MALLORY = ("Mallory", "mallory@evil.example")
MAINTAINER = ("Maintainer", "ops@alice.example")


def job_manifest(
    name: str = "job-psi", initiator: str = "alice", parties: tuple[str, ...] = ("alice", "bob", "carol")
) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "kuscia.secretflow/v1alpha1",
            "kind": "KusciaJob",
            "metadata": {"name": name, "namespace": "cross-domain"},
            "spec": {
                "initiator": initiator,
                "scheduleMode": "Strict",
                "maxParallelism": 1,
                "tasks": [
                    {
                        "alias": "psi",
                        "taskID": f"{name}-psi",
                        "appImage": "secretflow-image",
                        "taskInputConfig": "{}",
                        "parties": [{"domainID": d} for d in parties],
                    }
                ],
            },
        },
        sort_keys=False,
    )


def spec_digest(manifest: str) -> str:
    """The jobSpecDigest of a KusciaJob manifest (as ``kgitops approve`` records it)."""
    doc = yaml.safe_load(manifest)
    return job_digest(doc["metadata"]["name"], doc["spec"])


def approval(job: str, domain: str, decision: str = "Approve", reason: str = "", digest: str = "") -> str:
    """A JobApproval; by default for the spec ``job_manifest(job)`` has."""
    spec = {"job": job, "domain": domain, "decision": decision}
    spec["jobSpecDigest"] = digest or spec_digest(job_manifest(job))
    if reason:
        spec["reason"] = reason
    return yaml.safe_dump(
        {
            "apiVersion": "kgitops.io/v1alpha1",
            "kind": "JobApproval",
            "metadata": {"name": f"{job}-{domain}"},
            "spec": spec,
        },
        sort_keys=False,
    )


class Repo:
    """A Git repository that tests commit to as any identity, optionally signed, on any branch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), initial_head="main")
        self.clock = 1_700_000_000

    def commit(
        self,
        files: dict[str, str | None],
        who: tuple[str, str],
        message: str = "change",
        branch: str = "main",
        signing: SigningSpec | None = None,
        parents: list[str] | None = None,
        when: int | None = None,
    ) -> str:
        """Write (or with None, delete) files on ``branch``; returns the commit id.

        ``when`` fixes the commit time (seconds since the epoch); by default each commit is a minute later."""
        ref = f"refs/heads/{branch}"
        if parents is None:
            parents = [str(self.repo.references[ref].target)] if ref in self.repo.references else []
        index = pygit2.Index()
        if parents:
            index.read_tree(self.repo[parents[0]].peel(pygit2.Commit).tree)
        for path, text in files.items():
            if text is None:
                index.remove(path)
            else:
                index.add(
                    pygit2.IndexEntry(path, self.repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
                )
        tree = index.write_tree(self.repo)
        self.clock += 60
        sig = pygit2.Signature(who[0], who[1], self.clock if when is None else when, 0)
        parent_ids = [pygit2.Oid(hex=p) for p in parents]
        if signing is None:
            oid = self.repo.create_commit(None, sig, sig, message, tree, parent_ids)
        else:
            content = str(self.repo.create_commit_string(sig, sig, message, tree, parent_ids))
            oid = self.repo.create_commit_with_signature(
                content, sign_payload(content.encode(), signing).decode()
            )
        if ref in self.repo.references:
            self.repo.references[ref].set_target(oid)
        else:
            self.repo.references.create(ref, oid)
        return str(oid)

    def merge(self, branch: str, who: tuple[str, str], into: str = "main") -> str:
        """A merge commit of ``branch`` into ``into`` (no conflicts), as a maintainer would make it."""
        ours = self.repo.references[f"refs/heads/{into}"].target
        theirs = self.repo.references[f"refs/heads/{branch}"].target
        index = self.repo.merge_commits(ours, theirs)
        assert not index.conflicts
        tree = index.write_tree(self.repo)
        self.clock += 60
        sig = pygit2.Signature(who[0], who[1], self.clock, 0)
        oid = self.repo.create_commit(f"refs/heads/{into}", sig, sig, f"Merge {branch}", tree, [ours, theirs])
        return str(oid)


def make_config(tmp_path: Path, **domains: DomainTrust) -> Config:
    cfg = Config(approvals=ApprovalsConfig(domains=dict(domains)))
    cfg.base_dir = str(tmp_path)
    return cfg


# The shape of GitHub's documented example (webhook event "pull_request_review", action "submitted"),
# trimmed of the many fields kgitops does not read.
EVENT: dict[str, Any] = {
    "action": "submitted",
    "review": {
        "id": 237895671,
        "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3MjM3ODk1Njcx",
        "user": {"login": "bob-gh", "id": 21031067, "type": "User", "site_admin": False},
        "body": None,
        "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "submitted_at": "2019-05-15T15:20:38Z",
        "state": "approved",
        "html_url": "https://github.com/Codertocat/Hello-World/pull/2#pullrequestreview-237895671",
        "pull_request_url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2",
        "author_association": "OWNER",
    },
    "pull_request": {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2",
        "id": 279147437,
        "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
        "number": 2,
        "state": "open",
        "title": "Add job-psi",
        "head": {
            "label": "Codertocat:changes",
            "ref": "changes",
            "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        },
        "base": {
            "label": "Codertocat:master",
            "ref": "master",
            "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        },
    },
    "repository": {"id": 186853002, "name": "Hello-World", "full_name": "Codertocat/Hello-World"},
    "sender": {"login": "bob-gh", "id": 21031067},
}
