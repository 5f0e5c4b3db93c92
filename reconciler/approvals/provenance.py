"""Who approved a job, kept on the job itself so every view (``job show``, status files) can say it.

Each party's last judged record is stored as a JSON annotation ``approvals.kgitops.io/<domain>`` on the live
job; ``party_approvals`` joins it with the backend's ``approveStatus`` into one row per party.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.kuscia.labels import APPROVALS_ANNOTATION_PREFIX
from reconciler.model import Resource
from reconciler.model.phases import ApprovePhase

ANNOTATION_PREFIX = APPROVALS_ANNOTATION_PREFIX


def annotation_key(domain: str) -> str:
    return ANNOTATION_PREFIX + domain


def encode(entry: Mapping[str, Any]) -> str:
    return json.dumps(dict(entry), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PartyApproval:
    """One party of a job: what the backend recorded and which Git record (if any) it came from."""

    domain: str
    initiator: bool
    status: str  # approveStatus: JobAccepted | JobRejected | "" (not yet)
    decision: str = ""  # Approve | Reject, from the record
    who: str = ""
    when: str = ""
    commit: str = ""
    path: str = ""
    effective: bool = False
    why_not: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "initiator": self.initiator,
            "approveStatus": self.status,
            "decision": self.decision,
            "who": self.who,
            "when": self.when,
            "commit": self.commit,
            "path": self.path,
            "effective": self.effective,
            "whyNot": self.why_not,
        }

    def to_status(self) -> dict[str, Any]:
        """The compact form for status files: the party, its approveStatus, and its Git record if any."""
        out: dict[str, Any] = {"domain": self.domain}
        if self.status:
            out["approveStatus"] = self.status
        if self.decision or self.why_not:
            record = {"decision": self.decision, "who": self.who, "when": self.when, "commit": self.commit,
                      "path": self.path, "whyNot": self.why_not}  # fmt: skip
            out.update({k: v for k, v in record.items() if v})
            out["effective"] = self.effective
        return out

    def describe(self) -> str:
        """One line for ``kgitops job show``."""
        words: dict[str, str] = {ApprovePhase.ACCEPTED: "approved", ApprovePhase.REJECTED: "rejected"}
        state = words.get(self.status, "waiting")
        text = f"{self.domain}: initiator ({state})" if self.initiator else f"{self.domain}: {state}"
        if self.effective and self.commit:
            return text + f" by {self.who} at {self.when}, commit {self.commit[:12]} ({self.path})"
        if self.commit or self.why_not:
            text += f"; the {self.decision or 'record'} in {self.path or 'Git'}"
            if self.commit:
                text += f" (commit {self.commit[:12]} by {self.who})"
            text += f" has no effect: {self.why_not}"
        return text


def job_parties(job: Resource) -> tuple[str, tuple[str, ...]]:
    """(initiator, every party domain) of a live job; tolerant of a spec the backend let through."""
    try:
        from reconciler.model import JobSpec  # the typed spec, for a job with approvals only

        spec = JobSpec.from_dict(job.spec)
    except (TypeError, ValueError, AttributeError):
        return str(job.spec.get("initiator", "")), ()
    return spec.initiator, tuple(d for d in spec.domains if d)


def party_approvals(job: Resource) -> list[PartyApproval]:
    """One row per party of the job, the initiator first, then in the order parties appear in its tasks."""
    initiator, parties = job_parties(job)
    domains = ([initiator] if initiator else []) + [d for d in parties if d != initiator]
    status = job.status.get("approveStatus") or {}
    approve = status if isinstance(status, dict) else {}
    return [party_row(job.annotations, d, str(approve.get(d, "")), d == initiator) for d in domains]


def party_row(annotations: Mapping[str, str], domain: str, status: str, initiator: bool) -> PartyApproval:
    """One party's row from the job's annotations and its approveStatus value."""
    raw = annotations.get(annotation_key(domain), "")
    try:
        entry = json.loads(raw) if raw else {}
    except ValueError:
        entry = {}
    if not isinstance(entry, dict):
        entry = {}
    return PartyApproval(
        domain=domain,
        initiator=initiator,
        status=status,
        decision=str(entry.get("decision", "")),
        who=str(entry.get("who", "")),
        when=str(entry.get("when", "")),
        commit=str(entry.get("commit", "")),
        path=str(entry.get("path", "")),
        effective=bool(entry.get("effective", False)),
        why_not=str(entry.get("whyNot", "")),
    )


def git_record_lines(
    annotations: Mapping[str, str], parties: list[tuple[str, str]], initiator: str
) -> list[str]:
    """``job show`` lines for parties with a Git record: who, when, which commit, or why it is ignored.

    ``parties`` are (domain, approveStatus) pairs as the view already holds them."""
    rows = [party_row(annotations, d, status, d == initiator) for d, status in parties]
    return [row.describe() for row in rows if row.commit or row.why_not]


def without_provenance(annotations: Mapping[str, str]) -> dict[str, str]:
    """The annotations minus ours (shown as their own section instead of as JSON)."""
    return {k: v for k, v in annotations.items() if not k.startswith(ANNOTATION_PREFIX)}
