"""The plan as a pull-request comment, for ``kgitops diff --comment``: ``diff_for_comment`` (the plan, and
which parties' Approve already counts in Git at its revision) and ``post_plan_comment`` (create or edit the
one comment on the pull request through the forge's REST API: ``reconciler.forge``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.config import Config
from reconciler.sdk.gitops import GitopsError, RunOptions, run_session

if TYPE_CHECKING:
    from reconciler.plan.model import Plan


class PlanCommentError(GitopsError):
    """The forge did not take the plan comment (a warning for ``diff``: the plan itself stands)."""

    exit_code = 1


def diff_for_comment(cfg: Config, options: RunOptions | None = None) -> tuple[Plan, set[tuple[str, str]]]:
    """``diff``, plus the (job, domain) pairs whose Approve counts in Git at the plan's revision (a Git
    source; empty otherwise), which the pull-request comment leaves out of "still has to approve"."""
    from reconciler.forge.setup import approved_in_git

    with run_session(cfg, options or RunOptions(), readonly=True) as session:
        plan = session.reconciler.plan().plan
        history = session.source.history
        if history is None or not plan.revision:
            return plan, set()
        repo = history.repository.path
        approved = session.reconciler.with_blob_memo(
            lambda: approved_in_git(repo, plan.revision, cfg, history.subpath)
        )
        return plan, approved


def post_plan_comment(
    cfg: Config, plan: Plan, approved: set[tuple[str, str]], pull_request: int | None, forge_url: str = ""
) -> str:
    """Create or edit the one plan comment on the pull request (``forge.*`` config; found again by a hidden
    marker); returns what was done (``created``/``updated``/``unchanged``) and the number as text. Raises
    ``GitopsError`` when no pull request is named (``pull_request`` or, in CI, ``GITHUB_REF`` /
    ``CI_MERGE_REQUEST_IID``), and ``PlanCommentError`` when the forge or its token refuses."""
    from reconciler.credentials import CredentialError
    from reconciler.forge import MARKER, ForgeError, open_forge, plan_comment
    from reconciler.forge.setup import pull_request_number

    number = pull_request_number(pull_request)
    if number is None:
        raise GitopsError(
            "--comment: which pull request? pass --pull-request N (found in CI from GITHUB_REF or "
            "CI_MERGE_REQUEST_IID)"
        )
    try:
        done = open_forge(cfg.forge, forge_url).upsert_comment(number, MARKER, plan_comment(plan, approved))
    except (ForgeError, CredentialError) as exc:
        raise PlanCommentError(f"the plan comment was not posted: {exc}") from None
    return f"plan comment {done} on pull request #{number}"
