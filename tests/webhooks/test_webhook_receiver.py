"""The push webhook receiver, over real HTTP on 127.0.0.1, with each forge's signature computed as the forge
computes it: who may trigger a reconcile, which pushes do, and what the sender is told."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from reconciler.webhooks import Receiver, ReceiverSettings, Target, Trigger

SECRET = "s3cret-value-never-logged"
REPO_URL = "https://github.com/example-org/jobs.git"
HEAD = "a" * 40


def github_push(ref: str = "refs/heads/main", after: str = HEAD, full_name: str = "example-org/jobs") -> dict:
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": after,
        "repository": {
            "full_name": full_name,
            "clone_url": f"https://github.com/{full_name}.git",
            "default_branch": "main",
        },
    }


def gitlab_push(ref: str = "refs/heads/main", after: str = HEAD) -> dict:
    return {
        "object_kind": "push",
        "ref": ref,
        "before": "0" * 40,
        "after": after,
        "checkout_sha": after,
        "project": {
            "path_with_namespace": "example-org/jobs",
            "git_http_url": "https://gitlab.example.com/example-org/jobs.git",
            "default_branch": "main",
        },
    }


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    settings = ReceiverSettings("127.0.0.1:0", SECRET, Target(REPO_URL, "main"), max_body=64 * 1024)
    r = Receiver(settings, Trigger())
    r.start()
    try:
        yield r
    finally:
        r.stop()


def post(r: Receiver, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://{r.address}/", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def github(r: Receiver, doc: dict, delivery: str = "", secret: str = SECRET) -> tuple[int, dict]:
    body = json.dumps(doc).encode()
    return post(
        r,
        body,
        {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + sign(body, secret),
            "Content-Type": "application/json",
        },
    )


def test_a_signed_github_push_to_the_watched_branch_triggers_a_reconcile(receiver: Receiver) -> None:
    code, answer = github(receiver, github_push())
    assert (code, answer["result"]) == (202, "accepted")
    assert receiver.trigger.take() == HEAD


def test_gitlab_token_gitea_signature_and_generic_hmac_are_each_accepted(receiver: Receiver) -> None:
    body = json.dumps(gitlab_push(after="b" * 40)).encode()
    code, answer = post(receiver, body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET,
                                         "X-Gitlab-Event-UUID": str(uuid.uuid4())})  # fmt: skip
    assert (code, answer["result"]) == (202, "accepted"), answer
    assert receiver.trigger.take() == "b" * 40

    body = json.dumps(github_push(after="c" * 40)).encode()  # Gitea and Forgejo send GitHub's payload shape
    code, answer = post(receiver, body, {"X-Gitea-Event": "push", "X-Gitea-Signature": sign(body),
                                         "X-Gitea-Delivery": str(uuid.uuid4())})  # fmt: skip
    assert (code, answer["result"]) == (202, "accepted"), answer
    assert receiver.trigger.take() == "c" * 40

    body = json.dumps(github_push(after="d" * 40)).encode()
    code, answer = post(receiver, body, {"X-Kgitops-Signature": "sha256=" + sign(body)})
    assert (code, answer["result"]) == (202, "accepted"), answer
    assert receiver.trigger.take() == "d" * 40


def test_a_wrong_or_missing_signature_gets_401_and_the_secret_is_never_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kgitops")
    code, answer = github(receiver, github_push(), secret="guessed")
    assert (code, answer["result"]) == (401, "unauthorized")
    assert "X-Hub-Signature-256 does not match" in answer["reason"]
    body = json.dumps(gitlab_push()).encode()
    code, answer = post(receiver, body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET + "x"})
    assert (code, answer["result"]) == (401, "unauthorized")
    code, answer = post(receiver, json.dumps(github_push()).encode(), {"X-GitHub-Event": "push"})
    assert code == 401 and "no signature" in answer["reason"]
    assert receiver.trigger.take() is None
    assert receiver.counts["unauthorized"] == 3
    assert "webhook refused" in caplog.text
    assert SECRET not in caplog.text and SECRET not in json.dumps(answer)
    assert SECRET not in repr(receiver.settings)


def test_pushes_to_another_repository_branch_or_a_tag_are_ignored_with_a_reason(receiver: Receiver) -> None:
    code, answer = github(receiver, github_push(full_name="someone/else"))
    assert (code, answer["result"]) == (202, "ignored")
    assert "not the watched repository" in answer["reason"]
    code, answer = github(receiver, github_push(ref="refs/heads/feature"))
    assert answer["result"] == "ignored" and "branch feature, not the watched branch main" in answer["reason"]
    code, answer = github(receiver, github_push(ref="refs/tags/v1"))
    assert answer["result"] == "ignored" and "not a branch" in answer["reason"]
    code, answer = github(receiver, github_push(after="0" * 40))
    assert answer["result"] == "ignored" and "deleted" in answer["reason"]
    body = json.dumps({"zen": "hi"}).encode()
    ping = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(body)}
    code, answer = post(receiver, body, ping)
    assert (code, answer["result"]) == (202, "ignored") and "ping event" in answer["reason"]
    assert receiver.trigger.take() is None


def test_a_repeated_delivery_id_is_ignored(receiver: Receiver) -> None:
    delivery = str(uuid.uuid4())
    assert github(receiver, github_push(), delivery=delivery)[1]["result"] == "accepted"
    assert receiver.trigger.take() == HEAD
    code, answer = github(receiver, github_push(), delivery=delivery)
    assert (code, answer["result"]) == (202, "duplicate")
    assert receiver.trigger.take() is None


def test_a_body_over_the_limit_is_refused_unread(receiver: Receiver) -> None:
    doc = github_push()
    doc["padding"] = "x" * (65 * 1024)
    code, answer = github(receiver, doc)
    assert (code, answer["result"]) == (413, "too_large")
    assert "over the limit of 65536 bytes" in answer["reason"]
    assert receiver.trigger.take() is None
    code, answer = github(receiver, github_push())  # the receiver still serves
    assert answer["result"] == "accepted"


def test_a_signed_body_that_is_not_a_push_payload_gets_400_naming_the_field(receiver: Receiver) -> None:
    code, answer = github(receiver, {"after": HEAD})
    assert (code, answer["result"]) == (400, "bad_request")
    assert "`ref` is missing" in answer["reason"]


def test_a_burst_of_pushes_coalesces_into_one_reconcile_of_the_newest(receiver: Receiver) -> None:
    heads = [f"{i:040x}" for i in range(1, 8)]
    for head in heads:  # the watcher is busy meanwhile: nothing takes the trigger
        assert github(receiver, github_push(after=head))[1]["result"] == "accepted"
    assert receiver.trigger.take() == heads[-1]
    assert receiver.trigger.take() is None
    assert (receiver.trigger.pushes, receiver.trigger.taken) == (7, 1)
