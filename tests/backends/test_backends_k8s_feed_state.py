"""``k8s.feed_state``, the informer's memory, on its own: which states win, what a token gets back, and the
horizon past which a token gets a complete answer. Pure data: no server."""

from __future__ import annotations

import pytest

from reconciler.backends.k8s import feed_state
from reconciler.backends.k8s.feed_state import FeedState
from reconciler.model import ObjectRef, Resource

NS = "cross-domain"


def job(name: str, rv: int, phase: str = "") -> Resource:
    return Resource("KusciaJob", name, NS, status={"phase": phase}, resource_version=str(rv))


def put(state: FeedState, name: str, rv: int, phase: str | None = "", deleting: bool = False) -> bool:
    obj = None if phase is None else job(name, rv, phase)
    return state.put(state.key(NS, name), str(rv), obj, deleting)


def seen(state: FeedState, since: str) -> tuple[bool, dict[str, str], list[str]]:
    found = state.answer(since)
    phases = {o.name: o.status.get("phase", "") for o in found.changed}
    return found.complete, phases, [r.name for r in found.removed]


def test_many_status_writes_are_one_change_and_older_states_never_win() -> None:
    state = FeedState("KusciaJob", True, "e1")
    put(state, "a", 10)
    token = state.token
    for rv, phase in ((11, "Pending"), (12, "Running"), (13, "Running"), (14, "Failed")):
        assert put(state, "a", rv, phase)
    assert seen(state, token) == (False, {"a": "Failed"}, [])  # four MODIFIED events, reported once
    token = state.token
    assert not put(state, "a", 12, "Running")  # a watch event older than the write folded in
    assert not put(state, "a", 14, "Failed")  # the same state again
    assert not put(state, "a", 13, None)  # the deletion of an older incarnation
    assert seen(state, token) == (False, {}, [])


def test_a_deletion_is_kept_and_older_states_do_not_bring_the_object_back() -> None:
    state = FeedState("KusciaJob", True, "e1")
    put(state, "a", 10)
    put(state, "b", 11)
    token = state.token
    assert put(state, "a", 10, None, deleting=True)  # the backend's own delete, at the version it held
    assert not put(state, "a", 10, "")  # the watch's late ADDED of the deleted object
    assert not put(state, "a", 15, None)  # its DELETED event, after the fact
    assert seen(state, token) == (False, {}, ["a"])
    assert put(state, "a", 20, "Pending")  # created again
    found = state.answer(token)
    assert [o.name for o in found.changed] == ["a"] and found.removed == []  # in one list only: changed
    assert state.answer("").complete and [o.name for o in state.answer("").changed] == ["a", "b"]


def test_a_list_reports_what_moved_and_what_went() -> None:
    state = FeedState("KusciaJob", True, "e1")
    put(state, "a", 10)
    put(state, "b", 11)
    kept = state.answer("").changed
    token = state.token
    a = {"metadata": {"name": "a", "namespace": NS, "resourceVersion": "10"}}
    c = {"metadata": {"name": "c", "namespace": NS, "resourceVersion": "30"}, "kind": "KusciaJob"}
    state.fold_list([a, c], "31")
    assert seen(state, token) == (False, {"c": ""}, ["b"])
    assert state.answer("").changed[0] is kept[0]  # unchanged: the very same object


def test_tokens_of_another_epoch_from_the_future_or_past_the_horizon_get_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed_state, "KEPT_TOMBSTONES", 4)
    state = FeedState("KusciaJob", True, "e1")
    put(state, "keep", 1)
    start = state.token
    for i in range(10):
        put(state, f"j{i}", 100 + 2 * i)
        put(state, f"j{i}", 101 + 2 * i, None)
    recent = f"e1:{int(state.token.split(':')[1]) - 2}"
    assert seen(state, recent) == (False, {}, ["j9"])
    for token in (start, "e2:" + state.token.split(":")[1], "e1:999", "e1:", "", "junk"):
        assert seen(state, token) == (True, {"keep": ""}, []), token


def test_cluster_scoped_refs_have_no_namespace() -> None:
    state = FeedState("AppImage", False, "e1")
    key = state.key("ignored", "img")
    state.put(key, "5", Resource(kind="AppImage", name="img", resource_version="5"))
    token = state.token
    state.put(key, "6", None)
    assert state.answer(token).removed == [ObjectRef("AppImage", "", "img")]
