"""A ``Forge`` from the config (``forge.*``) and, where the config is silent, the CI environment:
``GITHUB_REPOSITORY`` / ``GITHUB_TOKEN`` / ``GITHUB_API_URL`` on GitHub Actions, ``CI_PROJECT_ID`` /
``GITLAB_TOKEN`` / ``CI_API_V4_URL`` on GitLab CI."""

from __future__ import annotations

import os

from reconciler.config import Config, ForgeConfig
from reconciler.credentials import SecretSource
from reconciler.forge.base import Forge, ForgeError
from reconciler.forge.github import GitHub
from reconciler.forge.gitlab import GitLab

ENV = {
    "github": ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_API_URL"),
    "gitlab": ("CI_PROJECT_ID", "GITLAB_TOKEN", "CI_API_V4_URL"),
}


def detect_kind(cfg: ForgeConfig) -> str:
    """``forge.kind``, else github on GitHub Actions, gitlab on GitLab CI, else ""."""
    if cfg.kind:
        return cfg.kind
    if os.environ.get("GITHUB_ACTIONS"):
        return "github"
    if os.environ.get("GITLAB_CI"):
        return "gitlab"
    return ""


def open_forge(cfg: ForgeConfig, url: str = "", backoff: float = 0.5) -> Forge:
    """The configured forge; ``url`` (``--forge-url``) overrides ``forge.url``. Raises ForgeError when the
    kind, repository or token is missing (naming the setting; never showing the token), or
    reconciler.credentials.CredentialError when the token cannot be read."""
    kind = detect_kind(cfg)
    if kind not in ENV:
        raise ForgeError("no forge configured: set forge.kind to github or gitlab")
    repo_env, token_env, url_env = ENV[kind]
    repository = cfg.repository or os.environ.get(repo_env, "")
    if not repository:
        raise ForgeError(f"forge.repository is not set (nor ${repo_env})")
    token = SecretSource(
        "forge.token",
        cfg.token,
        cfg.token_env or ("" if cfg.token or cfg.token_file else token_env),
        cfg.token_file,
    ).read()
    base = url or cfg.url or os.environ.get(url_env, "")
    if kind == "github":
        return GitHub(repository, token, base, backoff=backoff)
    return GitLab(repository, token, base, backoff=backoff)


def pull_request_number(explicit: int | None) -> int | None:
    """The pull request to comment on: ``--pull-request``, else GitHub Actions' ``refs/pull/<n>/merge``
    (``GITHUB_REF``), else GitLab CI's ``CI_MERGE_REQUEST_IID``."""
    if explicit is not None:
        return explicit
    ref = os.environ.get("GITHUB_REF", "")
    parts = ref.split("/")
    if len(parts) >= 3 and parts[:2] == ["refs", "pull"] and parts[2].isdigit():
        return int(parts[2])
    iid = os.environ.get("CI_MERGE_REQUEST_IID", "")
    return int(iid) if iid.isdigit() else None


def approved_in_git(repo_path: str, revision: str, config: Config, subpath: str = "") -> set[tuple[str, str]]:
    """(job, domain) pairs with a trusted Approve record at ``revision`` of the Git repository, judged as
    ``sync`` judges them (``reconciler.approvals.decisions.collect``); empty when history cannot be read."""
    from reconciler.approvals.decisions import collect
    from reconciler.approvals.history import HistoryError
    from reconciler.approvals.records import Decision

    try:
        decisions = collect(repo_path, revision, None, config, subpath=subpath)
    except HistoryError:
        return set()
    return {
        (d.job.name, d.domain)
        for d in decisions
        if d.job is not None and d.trusted and d.decision == Decision.APPROVE
    }
