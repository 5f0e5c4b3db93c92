"""Writing back to the forge: commit statuses ``kgitops/<job>`` and the plan comment on a pull request.

- ``api``: the REST client every forge call goes through (auth header, JSON, rate-limit answers, 5xx backoff);
- ``github`` / ``gitlab``: the two forges behind one ``Forge`` protocol (``base``);
- ``statuses``: from a sync's result to commit statuses, posted off the reconciling thread, never failing it;
- ``comment``: the plan comment's Markdown, found again by a hidden marker;
- ``setup``: a ``Forge`` from the config (``forge.*``) and the CI environment.
"""

from reconciler.forge.base import CommitState, Forge, ForgeError
from reconciler.forge.comment import MARKER, plan_comment
from reconciler.forge.setup import open_forge
from reconciler.forge.statuses import StatusReporter, job_statuses

__all__ = [
    "MARKER",
    "CommitState",
    "Forge",
    "ForgeError",
    "StatusReporter",
    "job_statuses",
    "open_forge",
    "plan_comment",
]
