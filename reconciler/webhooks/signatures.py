"""Which forge sent a webhook delivery, and whether it holds the shared secret.

Each forge's rule, compared in constant time (``hmac.compare_digest``):

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` (GitHub docs, "Validating
  webhook deliveries");
- GitLab: ``X-Gitlab-Token: <the secret token itself>`` (GitLab docs, "Webhooks", secret token);
- Gitea/Forgejo: ``X-Gitea-Signature`` (or ``X-Forgejo-Signature``): ``<hex HMAC-SHA256 of the body>``;
- generic: a configurable header (default ``X-Kgitops-Signature``) holding ``sha256=<hex>`` or ``<hex>``.

Pure: headers, body and secret in, a ``Verdict`` out. The secret never appears in a reason.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

GENERIC_HEADER = "X-Kgitops-Signature"


class Forge(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    GENERIC = "generic"


@dataclass(frozen=True)
class Verdict:
    """``forge`` that the headers name (None: no known signature header); ``ok`` when the secret matched;
    ``reason`` says why not, without the secret."""

    forge: Forge | None
    ok: bool
    reason: str = ""


def hmac_sha256(secret: str, body: bytes) -> str:
    """The lower-case hex HMAC-SHA256 of ``body`` under ``secret`` (as GitHub and Gitea compute it)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().lower().encode("utf-8"), expected.encode("utf-8"))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify(
    headers: Mapping[str, str], body: bytes, secret: str, generic_header: str = GENERIC_HEADER
) -> Verdict:
    """Check a delivery's signature; the first known signature header decides (Gitea's before GitHub's,
    since Gitea sends both)."""
    gitea = _header(headers, "X-Gitea-Signature") or _header(headers, "X-Forgejo-Signature")
    if gitea is not None:
        ok = _same(gitea, hmac_sha256(secret, body))
        return Verdict(Forge.GITEA, ok, "" if ok else "X-Gitea-Signature does not match the body")
    github = _header(headers, "X-Hub-Signature-256")
    if github is not None:
        if not github.startswith("sha256="):
            return Verdict(Forge.GITHUB, False, "X-Hub-Signature-256 must be sha256=<hex>")
        ok = _same(github.removeprefix("sha256="), hmac_sha256(secret, body))
        return Verdict(Forge.GITHUB, ok, "" if ok else "X-Hub-Signature-256 does not match the body")
    gitlab = _header(headers, "X-Gitlab-Token")
    if gitlab is not None:
        ok = hmac.compare_digest(gitlab.encode("utf-8"), secret.encode("utf-8"))
        return Verdict(Forge.GITLAB, ok, "" if ok else "X-Gitlab-Token is not the configured secret")
    generic = _header(headers, generic_header)
    if generic is not None:
        ok = _same(generic.removeprefix("sha256="), hmac_sha256(secret, body))
        return Verdict(Forge.GENERIC, ok, "" if ok else f"{generic_header} does not match the body")
    return Verdict(
        None,
        False,
        f"no signature: expected X-Hub-Signature-256, X-Gitlab-Token, X-Gitea-Signature or {generic_header}",
    )
