"""A push event from a forge's payload, and whether it concerns the watched repository and branch (pure).

Payload fields read (GitHub, Gitea and Forgejo share GitHub's push payload; GitLab's "Push Hook"):

- ``ref`` (``refs/heads/<branch>``), ``after`` (the new head; GitLab also ``checkout_sha``);
- the repository's names: ``repository.full_name``, ``clone_url``, ``ssh_url``, ``html_url`` (GitHub/Gitea),
  ``project.path_with_namespace``, ``git_http_url``, ``git_ssh_url``, ``web_url`` (GitLab);
- the delivery id from ``X-GitHub-Delivery``, ``X-Gitlab-Event-UUID``, ``X-Gitea-Delivery`` or
  ``X-Kgitops-Delivery``; the event kind from ``X-GitHub-Event``, ``X-Gitlab-Event`` or ``X-Gitea-Event``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reconciler.webhooks.signatures import Forge

ZERO = "0" * 40
EVENT_HEADERS = ("X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gitlab-Event", "X-Kgitops-Event")
DELIVERY_HEADERS = ("X-GitHub-Delivery", "X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gitlab-Event-UUID",
                    "X-Kgitops-Delivery")  # fmt: skip
PUSH_EVENTS = {"push", "push hook"}
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:(.+)$")  # git@host:owner/name.git


class WebhookEventError(Exception):
    """The body is not a usable push payload; the message names the field."""


@dataclass(frozen=True)
class PushEvent:
    """One push: ``ref`` as pushed (``refs/heads/main``), the new head ``revision`` (40 hex; all zeros when
    the branch was deleted), the ``repositories`` names the payload gives, and the ``delivery`` id."""

    forge: Forge
    ref: str
    revision: str
    repositories: tuple[str, ...]
    delivery: str = ""
    default_branch: str = ""

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""


@dataclass(frozen=True)
class Target:
    """What the watcher follows: its repository (a URL, a path or ``owner/name``) and branch ("" = the
    repository's default branch when the payload names it, else any branch)."""

    repository: str
    branch: str = ""


def header(headers: Mapping[str, str], names: tuple[str, ...]) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    return next((lower[n.lower()] for n in names if n.lower() in lower), "")


def event_kind(headers: Mapping[str, str]) -> str:
    """The event's kind as the forge names it, lower case (``push``, ``push hook``, ``ping``); "" if none."""
    return header(headers, EVENT_HEADERS).strip().lower()


def _str(data: Mapping[str, Any], *path: str) -> str:
    cur: Any = data
    for part in path:
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    return cur if isinstance(cur, str) else ""


def parse_push(forge: Forge, headers: Mapping[str, str], data: Any) -> PushEvent:
    """The push a payload describes. Raises WebhookEventError naming a missing or mistyped field."""
    if not isinstance(data, Mapping):
        raise WebhookEventError("the body must be a JSON object (a push event payload)")
    ref = _str(data, "ref")
    if not ref:
        raise WebhookEventError("`ref` is missing: is this a push event payload?")
    revision = _str(data, "checkout_sha") or _str(data, "after")
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", revision):
        raise WebhookEventError("`after` must be the pushed commit id (40 or 64 hex digits)")
    if forge == Forge.GITLAB:
        keys = [
            ("project", "path_with_namespace"),
            ("project", "git_http_url"),
            ("project", "git_ssh_url"),
            ("project", "web_url"),
            ("repository", "git_http_url"),
            ("repository", "homepage"),
        ]
        default = _str(data, "project", "default_branch")
    else:
        keys = [("repository", k) for k in ("full_name", "clone_url", "ssh_url", "html_url", "url")]
        default = _str(data, "repository", "default_branch")
    names = tuple(dict.fromkeys(n for n in (_str(data, *k) for k in keys) if n))
    if not names:
        raise WebhookEventError("the payload names no repository (`repository.full_name` or `project`)")
    return PushEvent(forge, ref, revision, names, header(headers, DELIVERY_HEADERS), default)


def normalise(location: str) -> str:
    """A repository's URL, scp-style address, path or ``owner/name`` as a comparable path:
    ``https://github.com/Org/Jobs.git`` → ``org/jobs``, ``/srv/git/jobs.git`` → ``srv/git/jobs``."""
    text = location.strip()
    scp = _SCP.match(text)
    if scp:
        text = scp.group(1)
    elif "://" in text:
        text = urlsplit(text).path
    return text.strip("/").removesuffix(".git").strip("/").lower()


def same_repository(a: str, b: str) -> bool:
    """Whether two names denote one repository: equal, or one ends with the other as whole path segments."""
    x, y = normalise(a), normalise(b)
    if not x or not y:
        return False
    return x == y or x.endswith("/" + y) or y.endswith("/" + x)


def decide(event: PushEvent, target: Target) -> str:
    """The empty string when the push should trigger a reconcile, else why it is ignored (one line, for the
    202 answer)."""
    if not any(same_repository(name, target.repository) for name in event.repositories):
        return f"push to {event.repositories[0]}, not the watched repository"
    if not event.branch:
        return f"{event.ref} is not a branch"
    wanted = target.branch.removeprefix("refs/heads/") or event.default_branch
    if wanted and event.branch != wanted:
        return f"push to branch {event.branch}, not the watched branch {wanted}"
    if event.revision.strip("0") == "":
        return f"branch {event.branch} was deleted"
    return ""
