"""GitLab's REST API v4 (gitlab.com or self-hosted, at its ``/api/v4`` base URL).

- commit status: ``POST /projects/{id}/statuses/{sha}`` with ``state`` (pending | running | success |
  failed | canceled), ``name`` (our context), ``description`` and ``target_url``; answers 201;
- merge-request comments are notes: ``GET /projects/{id}/merge_requests/{iid}/notes`` (paged), ``POST``
  there (201), ``PUT /projects/{id}/merge_requests/{iid}/notes/{note_id}`` (200).

``{id}`` is the numeric project id or the URL-encoded ``group/project`` path. Auth: ``PRIVATE-TOKEN``.
"""

from __future__ import annotations

from urllib.parse import quote

from reconciler.forge.api import RestClient
from reconciler.forge.base import CommitState, ForgeError

DEFAULT_URL = "https://gitlab.com/api/v4"
STATE = {CommitState.PENDING: "running", CommitState.SUCCESS: "success", CommitState.FAILURE: "failed"}
MAX_DESCRIPTION = 255
MAX_PAGES = 20


class GitLab:
    name = "gitlab"

    def __init__(
        self, repository: str, token: str, url: str = "", backoff: float = 0.5, max_wait: float = 60.0
    ) -> None:
        if not repository:
            raise ForgeError("forge.repository: GitLab wants group/project or the project's numeric id")
        self.project = quote(repository, safe="")
        self.api = RestClient(
            url or DEFAULT_URL, {"PRIVATE-TOKEN": token}, backoff=backoff, max_wait=max_wait
        )

    def set_status(
        self, sha: str, context: str, state: CommitState, description: str, target_url: str
    ) -> None:
        payload = {"state": STATE[state], "name": context, "description": description[:MAX_DESCRIPTION]}
        if target_url:
            payload["target_url"] = target_url
        self.api.call("POST", f"/projects/{self.project}/statuses/{sha}", payload)

    def upsert_comment(self, pull: int, marker: str, body: str) -> str:
        base = f"/projects/{self.project}/merge_requests/{pull}/notes"
        for page in range(1, MAX_PAGES + 1):
            answer = self.api.call("GET", f"{base}?per_page=100&page={page}")
            notes = answer.body if isinstance(answer.body, list) else []
            for note in notes:
                if isinstance(note, dict) and marker in str(note.get("body", "")):
                    self.api.call("PUT", f"{base}/{note['id']}", {"body": body})
                    return "updated"
            if len(notes) < 100:
                break
        self.api.call("POST", base, {"body": body})
        return "created"
