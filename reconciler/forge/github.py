"""GitHub's REST API (also GitHub Enterprise Server, at its ``/api/v3`` base URL).

- commit status: ``POST /repos/{owner}/{repo}/statuses/{sha}`` with ``state``, ``context``,
  ``description`` (at most 140 characters) and ``target_url``; answers 201;
- pull-request comments are issue comments: ``GET /repos/{owner}/{repo}/issues/{number}/comments`` (paged,
  ``per_page`` ≤ 100), ``POST`` there (201), ``PATCH /repos/{owner}/{repo}/issues/comments/{id}`` (200).

Auth: ``Authorization: Bearer <token>``; ``X-GitHub-Api-Version: 2022-11-28``.
"""

from __future__ import annotations

from reconciler.forge.api import RestClient
from reconciler.forge.base import CommitState, ForgeError

DEFAULT_URL = "https://api.github.com"
MAX_DESCRIPTION = 140
MAX_PAGES = 20


class GitHub:
    name = "github"

    def __init__(
        self, repository: str, token: str, url: str = "", backoff: float = 0.5, max_wait: float = 60.0
    ) -> None:
        if repository.count("/") != 1:
            raise ForgeError(f"forge.repository `{repository}`: GitHub wants owner/name")
        self.repository = repository
        auth = {"Authorization": f"Bearer {token}", "X-GitHub-Api-Version": "2022-11-28"}
        self.api = RestClient(url or DEFAULT_URL, auth, backoff=backoff, max_wait=max_wait)

    def set_status(
        self, sha: str, context: str, state: CommitState, description: str, target_url: str
    ) -> None:
        payload = {"state": state.value, "context": context, "description": description[:MAX_DESCRIPTION]}
        if target_url:
            payload["target_url"] = target_url
        self.api.call("POST", f"/repos/{self.repository}/statuses/{sha}", payload)

    def upsert_comment(self, pull: int, marker: str, body: str) -> str:
        base = f"/repos/{self.repository}/issues"
        for page in range(1, MAX_PAGES + 1):
            answer = self.api.call("GET", f"{base}/{pull}/comments?per_page=100&page={page}")
            comments = answer.body if isinstance(answer.body, list) else []
            for comment in comments:
                if isinstance(comment, dict) and marker in str(comment.get("body", "")):
                    self.api.call("PATCH", f"{base}/comments/{comment['id']}", {"body": body})
                    return "updated"
            if len(comments) < 100:
                break
        self.api.call("POST", f"{base}/{pull}/comments", {"body": body})
        return "created"
