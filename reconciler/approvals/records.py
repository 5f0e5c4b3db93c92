"""The ``JobApproval`` kind: one party's decision on one job, kept in Git under ``approvals/<domain>/``.

The folder is part of the record's meaning: CODEOWNERS protects ``approvals/bob/`` with bob's reviewers, so a
record whose ``spec.domain`` differs from its folder would let one team speak for another and has no effect.
``spec.jobSpecDigest`` names the job spec the decision is about (``reconciler.approvals.digest``): the record
applies to that spec only, so a changed job needs a new decision.
Parsing is pure (a mapping in, a record or a problem out) so the validator and the collector share it.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from reconciler.kuscia.labels import KGITOPS_API_VERSION
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef
from reconciler.model.objects import JOB_APPROVAL, KUSCIA_JOB
from reconciler.validate import admission

API_VERSION = KGITOPS_API_VERSION
KIND = JOB_APPROVAL
JOB_KIND = KUSCIA_JOB
# A DNS label, as Kuscia requires of domain IDs and job names (KusciaAPI also allows dots in job IDs).
_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_REASON = 1024
SPEC_FIELDS = ("job", "domain", "decision", "jobSpecDigest", "reason")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class Decision(StrEnum):
    APPROVE = "Approve"
    REJECT = "Reject"

    @property
    def accept(self) -> bool:
        return self is Decision.APPROVE


@dataclass(frozen=True)
class ApprovalRecord:
    """A parsed JobApproval. ``path`` is relative to the repository root; ``line`` is 1-based (0: unknown)."""

    name: str
    job: str
    domain: str
    decision: Decision
    reason: str = ""
    namespace: str = DEFAULT_NAMESPACE
    path: str = ""
    line: int = 0
    job_digest: str = ""  # spec.jobSpecDigest: sha256:<hex> of the job spec decided on
    annotations: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def job_ref(self) -> ObjectRef:
        return ObjectRef(JOB_KIND, self.namespace or DEFAULT_NAMESPACE, self.job)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def to_manifest(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace and self.namespace != DEFAULT_NAMESPACE:
            meta["namespace"] = self.namespace
        if self.annotations:
            meta["annotations"] = dict(self.annotations)
        spec: dict[str, Any] = {"job": self.job, "domain": self.domain, "decision": str(self.decision)}
        if self.job_digest:
            spec["jobSpecDigest"] = self.job_digest
        if self.reason:
            spec["reason"] = self.reason
        return {"apiVersion": API_VERSION, "kind": KIND, "metadata": meta, "spec": spec}


@dataclass(frozen=True)
class RecordProblem:
    """A JobApproval that cannot be used; ``message`` names the field and the fix."""

    path: str
    line: int
    message: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def valid_name(name: str) -> bool:
    """A job name (DNS name, no slashes): safe as a file name in a record path."""
    return bool(_NAME.match(name)) and ".." not in name


def valid_digest(value: object) -> bool:
    """A ``spec.jobSpecDigest`` value: ``sha256:`` and 64 lower-case hex digits."""
    return isinstance(value, str) and bool(_DIGEST.match(value))


def valid_domain(domain: str) -> bool:
    return bool(_DOMAIN.match(domain))


def record_name(job: str, domain: str) -> str:
    return f"{job}-{domain}"[:253]


def record_path(approvals_dir: str, domain: str, job: str) -> str:
    """Where ``kgitops approve`` writes a record: one file per job and domain, so a new review replaces it."""
    return posixpath.join(approvals_dir.strip("/") or ".", domain, f"{job}.yaml")


def domain_of_path(path: str, approvals_dir: str) -> str | None:
    """The ``<domain>`` folder a record sits in, or None if it is not under ``<approvals_dir>/<domain>/``."""
    prefix = approvals_dir.strip("/")
    rel = path
    if prefix and prefix != ".":
        if not path.startswith(prefix + "/"):
            return None
        rel = path[len(prefix) + 1 :]
    parts = rel.split("/")
    return parts[0] if len(parts) >= 2 and parts[0] else None


def parse_record(doc: Any, path: str, line: int = 0) -> ApprovalRecord | RecordProblem:
    """A JobApproval mapping (one YAML document) as a record, or the first problem with it."""

    def problem(msg: str) -> RecordProblem:
        return RecordProblem(path, line, msg)

    if not isinstance(doc, dict):
        return problem(f"a {KIND} must be a mapping")
    if doc.get("kind") != KIND:
        return problem(f"kind must be {KIND}, not {doc.get('kind')!r}")
    if doc.get("apiVersion") != API_VERSION:
        return problem(f"apiVersion must be {API_VERSION}, not {doc.get('apiVersion')!r}")
    meta = doc.get("metadata") or {}
    spec = doc.get("spec")
    if not isinstance(meta, dict):
        return problem("metadata must be a mapping")
    if not isinstance(spec, dict):
        return problem(
            "spec is missing: give spec.job, spec.domain, spec.decision (Approve or Reject) and "
            "spec.jobSpecDigest"
        )
    job, domain, decision = spec.get("job"), spec.get("domain"), spec.get("decision")
    if not isinstance(job, str) or not _NAME.match(job):
        return problem(f"spec.job must be the name of a {JOB_KIND} (lower-case DNS name), not {job!r}")
    if not isinstance(domain, str) or not _DOMAIN.match(domain):
        return problem(f"spec.domain must be a domain ID (lower-case DNS label), not {domain!r}")
    if decision not in (Decision.APPROVE.value, Decision.REJECT.value):
        return problem(f"spec.decision must be Approve or Reject, not {decision!r}")
    reason = spec.get("reason", "")
    if not isinstance(reason, str):
        return problem("spec.reason must be a string")
    if len(reason) > MAX_REASON:
        return problem(f"spec.reason is longer than {MAX_REASON} characters; shorten it")
    unknown = sorted(set(spec) - set(SPEC_FIELDS))
    if unknown:
        return problem(
            f"unknown field spec.{unknown[0]}; a {KIND} has job, domain, decision, jobSpecDigest and reason"
        )
    digest = spec.get("jobSpecDigest")
    if digest is None:
        return problem(
            "spec.jobSpecDigest is missing: a decision names the job spec it is about (sha256:<64 hex>); "
            f"`kgitops approve` writes it, `kgitops approvals digest {job}` prints it"
        )
    if not valid_digest(digest):
        return problem(f"spec.jobSpecDigest must be sha256: and 64 lower-case hex digits, not {digest!r}")
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(namespace, str) or not _DOMAIN.match(namespace):
        return problem(f"metadata.namespace must be a DNS label, not {namespace!r}")
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        return problem("metadata.annotations must be a mapping")
    verdict = admission.check_manifest(doc)  # and whatever else `kgitops validate` finds in it
    if not verdict.ok:
        return problem(str(verdict.errors[0]))
    return ApprovalRecord(
        name=str(meta.get("name") or record_name(job, domain)),
        job=job,
        domain=domain,
        decision=Decision(decision),
        reason=reason,
        namespace=namespace,
        path=path,
        line=line,
        job_digest=str(digest),
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def _meant_as_record(doc: dict[str, Any]) -> bool:
    """A document in kgitops's API group, or whose kind is a near miss of JobApproval (``jobapproval``,
    ``JobApprovl``): a record written wrong, not another tool's document."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if isinstance(api_version, str) and api_version.lower().startswith(API_VERSION.split("/")[0] + "/"):
        return True
    return isinstance(kind, str) and bool(difflib.get_close_matches(kind.lower(), [KIND.lower()], cutoff=0.8))


def parse_file(text: str, path: str) -> list[ApprovalRecord | RecordProblem]:
    """Every JobApproval document of a YAML file; other kinds are not ours and are skipped."""
    out: list[ApprovalRecord | RecordProblem] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError) as exc:
        mark = exc.problem_mark if isinstance(exc, yaml.MarkedYAMLError) else None
        return [RecordProblem(path, mark.line + 1 if mark else 0, f"not valid YAML: {exc}")]
    for node in nodes:
        if node is None:
            continue
        try:
            doc = yaml.safe_load(yaml.serialize(node))
        except (yaml.YAMLError, ValueError, RecursionError) as exc:  # e.g. an integer too long to convert
            out.append(RecordProblem(path, node.start_mark.line + 1, f"cannot be read: {exc}"))
            continue
        if isinstance(doc, dict) and doc.get("kind") not in (KIND, None):
            if _meant_as_record(doc):  # a misspelt record must not vanish: a lost Reject would approve
                out.append(
                    RecordProblem(
                        path,
                        node.start_mark.line + 1,
                        f"kind {doc.get('kind')!r} is not a kind of kgitops.io; did you mean `{KIND}`?",
                    )
                )
            continue
        out.append(parse_record(doc, path, node.start_mark.line + 1))
    return out


def render_record(record: ApprovalRecord) -> str:
    return yaml.safe_dump(record.to_manifest(), sort_keys=False, allow_unicode=True)
