"""What kgitops asks of a forge, whichever it is (GitHub or GitLab)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class ForgeError(Exception):
    """A forge call failed after its retries; the message names the call and the answer, never the token."""


class CommitState(StrEnum):
    """A commit status's state in GitHub's words (GitLab's ``failed`` is ``FAILURE`` here)."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"


class Forge(Protocol):
    """A forge's commit statuses and pull-request comments. Methods raise ForgeError."""

    name: str  # github | gitlab

    def set_status(
        self, sha: str, context: str, state: CommitState, description: str, target_url: str
    ) -> None:
        """Create a commit status ``context`` on commit ``sha`` (the newest of a context is what shows)."""
        ...

    def upsert_comment(self, pull: int, marker: str, body: str) -> str:
        """Edit the pull request's (GitHub) or merge request's (GitLab) comment holding ``marker``, or add
        one; returns ``created`` or ``updated``. ``body`` must contain the marker."""
        ...
