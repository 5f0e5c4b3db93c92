"""Whether a record's commit speaks for the record's domain: a pure judgement over facts gathered from Git.

A valid signature by one of the domain's keys is the strong proof; a committer e-mail is the weak one (anyone
can type an e-mail), accepted only where the domain does not require signatures and the commit carries no
signature at all. A signature that is present but does not verify with one of the domain's keys (another key,
a tampered commit, a kind kgitops cannot check, a missing tool) voids the record whatever the e-mail says: the
commit claims a signer, and that claim failed. Every "no" carries the reason that status files and
``kgitops job show`` print.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reconciler.config import ApprovalsConfig, DomainTrust


class SigStatus(StrEnum):
    NONE = "none"  # the commit is not signed
    GOOD = "good"  # verified with one of the domain's keys
    UNTRUSTED = "untrusted"  # signed, but not verifiably by one of the domain's keys
    UNAVAILABLE = "unavailable"  # the verifying tool (gpg, ssh-keygen) is missing
    UNSUPPORTED = "unsupported"  # e.g. an X.509 signature


@dataclass(frozen=True)
class SignatureCheck:
    status: SigStatus
    format: str = ""  # ssh | openpgp | x509
    key: str = ""  # fingerprint of the key that verified it (GOOD only)
    detail: str = ""  # what the tool said, for the "why"


@dataclass(frozen=True)
class CommitFacts:
    """What Git says about the commit that last wrote a record."""

    commit: str
    committer_name: str
    committer_email: str
    author_name: str
    author_email: str
    when: str  # RFC 3339 with the committer's offset
    timestamp: int  # seconds since the epoch
    signature: SignatureCheck

    @property
    def who(self) -> str:
        return f"{self.committer_name} <{self.committer_email}>"


def requires_signature(domain: DomainTrust, approvals: ApprovalsConfig) -> bool:
    if domain.require_signature is not None:
        return domain.require_signature
    return approvals.require_signatures


def judge(domain: str, facts: CommitFacts, approvals: ApprovalsConfig) -> tuple[bool, str]:
    """(trusted, why_not): may this commit speak for ``domain``?"""
    short = facts.commit[:12]
    trust = approvals.domains.get(domain)
    if trust is None:
        return False, (
            f"domain {domain} has no trust settings: add approvals.domains.{domain} with its committer "
            "e-mails or signing keys to the config"
        )
    if not (trust.emails or trust.ssh_keys or trust.gpg_keys):
        return (
            False,
            f"approvals.domains.{domain} lists no e-mails and no signing keys, so nobody can approve",
        )
    sig = facts.signature
    if sig.status is SigStatus.GOOD:
        return True, ""
    if sig.status is not SigStatus.NONE:
        return False, (
            f"commit {short} by {facts.who} is signed, but {_sig_problem(sig, domain)}; a signature that "
            "does not verify voids the record whatever the committer e-mail (list the key under "
            f"approvals.domains.{domain}, or commit the record again, signed with a listed key or unsigned)"
        )
    if requires_signature(trust, approvals):
        if not (trust.ssh_keys or trust.gpg_keys):
            return (
                False,
                f"domain {domain} requires signed commits but approvals.domains.{domain} lists no keys",
            )
        return False, f"commit {short} by {facts.who} is not signed, and domain {domain} requires signatures"
    allowed = {e.lower() for e in trust.emails}
    if facts.committer_email.lower() in allowed:
        return True, ""
    return False, (
        f"commit {short} was committed by {facts.who}, which is not an allowed identity of domain {domain}"
        f" (allowed e-mails: {', '.join(sorted(trust.emails)) or 'none'})"
    )


def _sig_problem(sig: SignatureCheck, domain: str) -> str:
    if sig.status is SigStatus.UNAVAILABLE:
        return f"its {sig.format} signature cannot be checked: {sig.detail}"
    if sig.status is SigStatus.UNSUPPORTED:
        return f"its {sig.format or 'unknown'} signature is of a kind kgitops does not verify"
    detail = f" ({sig.detail})" if sig.detail else ""
    return f"its {sig.format or 'unknown'} signature is not by a key of domain {domain}{detail}"
