"""Commit statuses and the plan comment against a stand-in GitHub and GitLab on 127.0.0.1: the REST shapes,
the comment edited in place, the forge's rate-limit answers honoured, 5xx retried, 404/422 reported."""

from __future__ import annotations

import time

import pytest

from reconciler.forge import MARKER, CommitState, ForgeError
from reconciler.forge.api import rate_limit_wait
from reconciler.forge.github import GitHub
from reconciler.forge.gitlab import GitLab

from .standin import StandInForge

SHA = "e" * 40


def test_github_commit_status_and_one_comment_edited_in_place() -> None:
    with StandInForge() as forge:
        gh = GitHub("example-org/jobs", "t0ken", forge.url)
        gh.set_status(SHA, "kgitops/job-a", CommitState.PENDING, "Running: 1/2 tasks succeeded", "")
        gh.set_status(SHA, "kgitops/job-a", CommitState.SUCCESS, "Succeeded", "https://dash.example/job-a")
        latest = forge.state.latest()["kgitops/job-a"]
        assert (latest["state"], latest["description"], latest["sha"]) == ("success", "Succeeded", SHA)
        assert latest["target_url"] == "https://dash.example/job-a"
        forge.state.comments[7] = [{"id": 1, "body": "an unrelated review comment"}]
        assert gh.upsert_comment(7, MARKER, f"{MARKER}\nplan one") == "created"
        assert gh.upsert_comment(7, MARKER, f"{MARKER}\nplan two") == "updated"
        bodies = [c["body"] for c in forge.state.comments[7]]
        assert bodies == ["an unrelated review comment", f"{MARKER}\nplan two"]


def test_gitlab_commit_status_and_one_note_edited_in_place() -> None:
    with StandInForge(repository="example-org/jobs") as forge:
        gl = GitLab("example-org/jobs", "t0ken", forge.url + "/api/v4")
        gl.set_status(SHA, "kgitops/job-a", CommitState.PENDING, "Pending: awaiting approval from bob", "")
        gl.set_status(SHA, "kgitops/job-a", CommitState.FAILURE, "Failed: task psi failed", "")
        latest = forge.state.latest()["kgitops/job-a"]
        assert (latest["state"], latest["name"]) == ("failed", "kgitops/job-a")
        assert forge.state.statuses[0]["state"] == "running"
        assert gl.upsert_comment(3, MARKER, f"{MARKER}\nv1") == "created"
        assert gl.upsert_comment(3, MARKER, f"{MARKER}\nv2") == "updated"
        assert [c["body"] for c in forge.state.comments[3]] == [f"{MARKER}\nv2"]
        assert ("POST", "/api/v4/projects/example-org%2Fjobs/statuses/" + SHA) in forge.state.requests


def test_rate_limit_answers_are_waited_out_and_5xx_retried() -> None:
    with StandInForge() as forge:
        forge.state.script = [
            (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()))}),
            (429, {"Retry-After": "0"}),
            (502, {}),
        ]
        GitHub("example-org/jobs", "t0ken", forge.url, backoff=0.01).set_status(
            SHA, "kgitops/job-a", CommitState.SUCCESS, "Succeeded", ""
        )
        assert len(forge.state.requests) == 4
        assert forge.state.latest()["kgitops/job-a"]["state"] == "success"


def test_a_rate_limit_longer_than_the_limit_or_endless_5xx_give_up_with_a_clear_error() -> None:
    with StandInForge() as forge:
        gh = GitHub("example-org/jobs", "t0ken", forge.url, backoff=0.01)
        forge.state.script = [(429, {"Retry-After": "3600"})]
        with pytest.raises(ForgeError, match="asks to wait 3600s"):
            gh.set_status(SHA, "kgitops/a", CommitState.PENDING, "x", "")
        forge.state.script = [(503, {})] * 4
        with pytest.raises(ForgeError, match="HTTP 503.*after 4 attempts"):
            gh.set_status(SHA, "kgitops/a", CommitState.PENDING, "x", "")


def test_404_422_and_a_bad_token_fail_at_once_without_showing_the_token() -> None:
    with StandInForge() as forge:
        with pytest.raises(ForgeError, match="HTTP 404 Not Found") as e404:
            GitHub("other-org/jobs", "t0ken", forge.url).set_status(
                SHA, "kgitops/a", CommitState.PENDING, "", ""
            )
        with pytest.raises(ForgeError, match="HTTP 401 Bad credentials") as e401:
            GitHub("example-org/jobs", "wrong-token", forge.url).set_status(
                SHA, "kgitops/a", CommitState.PENDING, "", ""
            )
        assert "wrong-token" not in str(e401.value) and "t0ken" not in str(e404.value)
        assert len(forge.state.requests) == 2  # no retries for answers that will not change


def test_rate_limit_wait_reads_each_forges_headers() -> None:
    assert rate_limit_wait(429, {"retry-after": "7"}, 0) == 7
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "110"}, 100) == 10
    assert rate_limit_wait(429, {"ratelimit-remaining": "0", "ratelimit-reset": "105"}, 100) == 5  # GitLab
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "12"}, 0) is None  # a permission 403: no retry
    assert rate_limit_wait(500, {}, 0) is None
