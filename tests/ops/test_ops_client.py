"""The SDK: typed results, filters, pagination boundaries, phase rules, metadata, the GitOps guard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ops_fixtures import add_apps, drive, job_manifest, make_backend, put_job

from reconciler.backends.local import LocalBackend
from reconciler.model import ObjectRef, Resource, Stage
from reconciler.plan.ownership import ownership_metadata
from reconciler.sdk import (
    Client,
    ClientError,
    InvalidArgument,
    JobExists,
    JobInfo,
    JobNotFound,
    ManagedObject,
    PhaseNotAllowed,
    TaskNotFound,
)


def _names(page_items: list[JobInfo]) -> list[str]:
    return [j.name for j in page_items]


# -- pagination ------------------------------------------------------------------------------------


def test_pages_cover_every_job_once_and_the_last_page_has_no_marker(
    backend: LocalBackend, client: Client
) -> None:
    for n in "edcba":
        put_job(backend, f"job-{n}")
    first = client.list_job(max_keys=2)
    assert _names(first.items) == ["job-a", "job-b"] and first.next_marker
    second = client.list_job(max_keys=2, marker=first.next_marker)
    assert _names(second.items) == ["job-c", "job-d"] and second.next_marker
    last = client.list_job(max_keys=2, marker=second.next_marker)
    assert _names(last.items) == ["job-e"] and last.next_marker is None


def test_a_page_that_ends_exactly_at_the_last_job_has_no_marker(
    backend: LocalBackend, client: Client
) -> None:
    for n in "ab":
        put_job(backend, f"job-{n}")
    page = client.list_job(max_keys=2)
    assert _names(page.items) == ["job-a", "job-b"] and page.next_marker is None


def test_empty_list_and_empty_filtered_page(backend: LocalBackend, client: Client) -> None:
    empty = client.list_job()
    assert empty.items == [] and empty.next_marker is None
    put_job(backend, "job-a", "Running")
    assert client.list_job(status=["Failed"]).items == []


def test_a_marker_whose_job_was_deleted_still_continues_after_it(
    backend: LocalBackend, client: Client
) -> None:
    for n in "abcd":
        put_job(backend, f"job-{n}")
    first = client.list_job(max_keys=2)
    client.delete_job("job-b")
    assert first.next_marker is not None
    assert _names(client.list_job(max_keys=2, marker=first.next_marker).items) == ["job-c", "job-d"]


def test_a_marker_past_every_job_gives_an_empty_last_page(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "job-a")
    put_job(backend, "job-b")
    marker = client.list_job(max_keys=1).next_marker
    client.delete_job("job-b")
    page = client.list_job(max_keys=1, marker=marker)
    assert page.items == [] and page.next_marker is None


def test_bad_markers_and_page_sizes_are_refused(client: Client) -> None:
    with pytest.raises(InvalidArgument, match="is not one kgitops printed"):
        client.list_job(marker="job-a")
    for bad in (0, -1, 1001):
        with pytest.raises(InvalidArgument, match="max_keys must be between 1 and 1000"):
            client.list_job(max_keys=bad)


def test_pagination_applies_after_filters(backend: LocalBackend, client: Client) -> None:
    for i, phase in enumerate(["Running", "Failed", "Running", "Failed", "Running"]):
        put_job(backend, f"job-{i}", phase)
    first = client.list_job(status="Running", max_keys=2)
    assert _names(first.items) == ["job-0", "job-2"]
    assert _names(client.list_job(status="Running", max_keys=2, marker=first.next_marker).items) == ["job-4"]


# -- filters ---------------------------------------------------------------------------------------


def test_status_filter_takes_several_phases_in_any_case(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "a", "Running")
    put_job(backend, "b", "Failed")
    put_job(backend, "c", "initialized")  # Kuscia's spelling (D8)
    assert _names(client.list_job(status=["running", "FAILED"]).items) == ["a", "b"]
    assert _names(client.list_job(status="Initialized").items) == ["c"]
    assert _names(client.list_job(status=["running,failed"]).items) == ["a", "b"]
    with pytest.raises(InvalidArgument, match="unknown job phase `Done`; use one of: Initialized"):
        client.list_job(status=["Done"])


def test_label_filter_needs_every_label_and_matches_empty_values(
    backend: LocalBackend, client: Client
) -> None:
    put_job(backend, "a", labels={"team": "risk", "env": "prod"})
    put_job(backend, "b", labels={"team": "risk"})
    put_job(backend, "c", labels={"team": ""})
    assert _names(client.list_job(labels={"team": "risk"}).items) == ["a", "b"]
    assert _names(client.list_job(labels={"team": "risk", "env": "prod"}).items) == ["a"]
    assert _names(client.list_job(labels={"team": ""}).items) == ["c"]
    with pytest.raises(InvalidArgument, match="invalid label key `bad key`"):
        client.list_job(labels={"bad key": "x"})


def test_initiator_since_and_started_after(backend: LocalBackend, client: Client) -> None:
    put_job(
        backend,
        "old",
        status={"startTime": "2026-01-01T00:00:00Z", "lastReconcileTime": "2026-01-01T00:00:05Z"},
    )
    put_job(
        backend,
        "new",
        status={"startTime": "2026-03-01T00:00:00Z", "lastReconcileTime": "2999-03-01T10:00:00Z"},
    )
    put_job(backend, "unstarted", initiator="bob")
    assert _names(client.list_job(initiator="bob").items) == ["unstarted"]
    utc = Client(backend, tz=UTC)
    assert _names(utc.list_job(started_after="2026-02-01 00:00:00").items) == ["new"]
    assert _names(utc.list_job(started_after="2026-01-01").items) == ["new"]  # strictly after
    assert _names(utc.list_job(since="2999-03-01T09:00:00+00:00").items) == ["new"]
    stamp = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert _names(utc.list_job(since=stamp).items) == ["new", "old", "unstarted"]  # creation counts too
    with pytest.raises(
        InvalidArgument, match='started_after: `yesterday` is not a time; use "YYYY-MM-DD HH:MM:SS"'
    ):
        client.list_job(started_after="yesterday")


# -- show, create, delete --------------------------------------------------------------------------


def test_show_returns_typed_tasks_and_unknown_names_suggest_close_ones(
    backend: LocalBackend, client: Client, tmp_path: Path
) -> None:
    put_job(backend, "job-psi", "Failed", {"psi": "Failed"})
    info = client.show_job("job-psi")
    assert isinstance(info, JobInfo)
    assert [(t.alias, t.phase.value, t.reason) for t in info.tasks] == [
        ("psi", "Failed", ""),
        ("split", "Blocked", "dependency `psi` failed"),
    ]
    with pytest.raises(
        JobNotFound, match="job `job-pis` not found in namespace cross-domain; did you mean `job-psi`"
    ):
        client.show_job("job-pis")
    with pytest.raises(JobNotFound, match="there are no jobs"):
        Client(make_backend(tmp_path / "empty")).show_job("x")


def test_create_returns_the_job_and_refuses_duplicates_and_other_kinds(client: Client) -> None:
    info = client.create_job(job_manifest("fresh"))
    assert info.name == "fresh" and info.phase == "Initialized" and len(info.tasks) == 2
    with pytest.raises(
        JobExists, match="job `fresh` already exists in namespace cross-domain; jobs run once"
    ):
        client.create_job(job_manifest("fresh"))
    with pytest.raises(InvalidArgument, match="AppImage is not a KusciaJob"):
        client.create_job({"kind": "AppImage", "metadata": {"name": "x"}})


def test_delete_removes_the_job_and_unknown_names_fail(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "gone")
    client.delete_job("gone")
    with pytest.raises(JobNotFound):
        client.show_job("gone")
    with pytest.raises(JobNotFound):
        client.delete_job("gone")


# -- phase rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "phase", "allowed", "hint"),
    [
        ("suspend", "Failed", "Running", "`restart` runs its unfinished tasks again"),
        ("suspend", "Suspended", "Running", "it is suspended already"),
        ("restart", "Running", "Failed or Suspended", "`suspend` it first"),
        ("restart", "Succeeded", "Failed or Suspended", "create a new job"),
        ("stop", "Succeeded", "Initialized or AwaitingApproval or Pending or Running or Suspended", ""),
        (
            "cancel",
            "Cancelled",
            "Initialized or AwaitingApproval or Pending or Running or Suspended or Failed",
            "cancelled already",
        ),
    ],
)
def test_wrong_phase_says_the_phase_and_what_is_allowed(
    backend: LocalBackend, client: Client, verb: str, phase: str, allowed: str, hint: str
) -> None:
    put_job(backend, "j", phase)
    with pytest.raises(PhaseNotAllowed) as err:
        getattr(client, f"{verb}_job")("j")
    text = str(err.value)
    assert text.startswith(
        f"cannot {verb} job `j`: it is {phase}; {verb} is allowed only when the job is {allowed}"
    )
    assert hint in text
    assert err.value.phase == phase
    job = backend.get(ObjectRef.of("KusciaJob", "j"))
    assert (
        job is not None and job.status["phase"] == phase and "kuscia.secretflow/job-stage" not in job.labels
    )


def test_restart_of_a_job_that_failed_validation_is_refused(
    backend: LocalBackend, client: Client
) -> None:  # D6
    put_job(backend, "j", "Failed", status={"conditions": [{"type": "JobValidated", "status": "False"}]})
    with pytest.raises(PhaseNotAllowed, match="it failed validation; fix the manifest and create it again"):
        client.restart_job("j")


def test_commands_on_a_real_job_return_it_after_the_engine_acted(
    backend: LocalBackend, client: Client
) -> None:
    add_apps(backend)
    backend.create(Resource.from_manifest(job_manifest("j", app="ops-sleep")))
    drive(backend, "j", "Running", task_phase=("psi", "Running"))
    requested = client.suspend_job("j")  # no wait: the command is recorded, the engine has not run
    assert requested.phase == "Running" and requested.labels["kuscia.secretflow/job-stage"] == "Suspend"
    backend.run_until(lambda: client.show_job("j").phase == "Suspended", 10)
    suspended = client.show_job("j")
    assert [t.phase.value for t in suspended.tasks] == ["Failed", "NotCreated"]
    assert suspended.tasks[1].reason == "the job was suspended before this task started"
    assert client.restart_job("j", wait=10).phase == "Running"
    assert client.stop_job("j", reason="enough", wait=10).phase == "Failed"
    info = client.cancel_job("j", domain="bob", wait=10)
    assert info.phase == "Cancelled" and info.reason == "Party: bob execute the cmd: Cancel."


def test_a_backend_phase_error_reads_the_same(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "j", "Running")

    # the job moves on between our check and the backend's: the backend's refusal is reworded, not leaked
    class Racing(LocalBackend):
        def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
            job = self.get(ref)
            assert job is not None
            job.status["phase"] = "Failed"  # another writer got there first
            self.store.put(job)
            super().stage(ref, stage, domain, reason)

    racing = Racing(backend.state_dir, autostart=False)
    with pytest.raises(
        PhaseNotAllowed, match="cannot suspend job `j`: it is Failed; suspend is allowed only when"
    ):
        Client(racing).suspend_job("j")
    racing.close()


# -- approval --------------------------------------------------------------------------------------


def test_approve_and_reject_check_the_domain_and_the_phase(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "j", "AwaitingApproval")
    with pytest.raises(
        InvalidArgument, match="domain `carol` is not a party of job `j`; its parties: alice, bob"
    ):
        client.approve_job("j", "carol")
    with pytest.raises(InvalidArgument, match="is the initiator"):
        client.approve_job("j", "alice")
    with pytest.raises(InvalidArgument, match="needs the domain"):
        client.approve_job("j", "")
    info = client.approve_job("j", "bob", reason="ok")
    assert [(p.domain_id, p.approval) for p in info.parties] == [("alice", ""), ("bob", "JobAccepted")]
    put_job(backend, "k", "AwaitingApproval")
    assert client.reject_job("k", "bob", wait=10).phase == "ApprovalReject"
    with pytest.raises(
        PhaseNotAllowed, match="cannot approve job `k`: it is ApprovalReject; approve is allowed"
    ):
        client.approve_job("k", "bob")


# -- update: labels, annotations, priority ---------------------------------------------------------


def test_update_sets_and_removes_labels_and_annotations(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "j", labels={"team": "risk", "old": "x"}, annotations={"note": "a"})
    info = client.update_job(
        "j",
        labels={"team": "fraud", "old": "", "new": "1"},
        annotations={"note": None, "desc": "a = b, with spaces"},
    )
    assert info.labels == {"team": "fraud", "new": "1"}
    assert info.annotations == {"desc": "a = b, with spaces"}
    # removing what is not there is fine
    assert client.update_job("j", labels={"absent": ""}).labels == {"team": "fraud", "new": "1"}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"-bad": "x"}, "invalid label key `-bad`"),
        ({"a" * 64: "x"}, "invalid label key"),
        ({"Example.COM/x": "y"}, "invalid label key"),
        ({"team": "has space"}, "invalid value for label `team`: `has space`"),
        ({"team": "x" * 64}, "invalid value for label `team`"),
        ({"kuscia.secretflow/job-stage": "Stop"}, "belongs to Kuscia and can not be set by hand"),
        ({"kgitops.io/managed-by": ""}, "belongs to kgitops"),
        ({"approvals.kgitops.io/bob": "x"}, "belongs to kgitops"),
    ],
)
def test_bad_labels_are_refused_with_the_rule(
    backend: LocalBackend, client: Client, labels: dict[str, str], message: str
) -> None:
    put_job(backend, "j", labels={"team": "risk"})
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.update_job("j", labels=labels)
    assert client.show_job("j").labels == {"team": "risk"}


def test_prefixed_label_keys_and_unicode_annotations_are_fine(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "j")
    info = client.update_job("j", labels={"example.com/team": "a_b.c-d"}, annotations={"note": "数据 ✓"})
    assert info.labels == {"example.com/team": "a_b.c-d"} and info.annotations == {"note": "数据 ✓"}


def test_priority_changes_only_before_scheduling(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "waiting", "Pending")
    assert client.update_job("waiting", priority="high").priority == "HIGH"
    put_job(backend, "running", "Running")
    with pytest.raises(PhaseNotAllowed, match="cannot change the priority of job `running`: it is Running"):
        client.update_job("running", priority="low")
    with pytest.raises(InvalidArgument, match="priority `urgent` is not one of HIGH, NORMAL, LOW"):
        client.update_job("waiting", priority="urgent")
    with pytest.raises(InvalidArgument, match="nothing to update"):
        client.update_job("waiting")


# -- the GitOps guard ------------------------------------------------------------------------------


def _managed(backend: LocalBackend, name: str) -> None:
    labels, annotations = ownership_metadata("git@example.com:org/jobs.git", "jobs/psi.yaml", "abc", "rev1")
    put_job(backend, name, labels={**labels, "team": "risk"}, annotations=annotations)


def test_deleting_a_managed_job_warns_that_sync_undoes_it_and_needs_force(
    backend: LocalBackend, client: Client
) -> None:
    _managed(backend, "j")
    with pytest.raises(ManagedObject) as err:
        client.delete_job("j")
    text = str(err.value)
    assert "managed by kgitops sync (from jobs/psi.yaml in git@example.com:org/jobs.git)" in text
    assert "the next sync reports it as out of sync and, with sync.recreate_drifted, creates it again" in text
    assert "--force" in text
    assert client.show_job("j")
    client.delete_job("j", force=True)
    with pytest.raises(JobNotFound):
        client.show_job("j")


def test_changing_a_managed_jobs_keys_needs_force_but_new_keys_and_stage_commands_do_not(
    backend: LocalBackend, client: Client
) -> None:
    _managed(backend, "j")
    with pytest.raises(ManagedObject, match="the next sync reports team as drift from Git"):
        client.update_job("j", labels={"team": "x"})
    with pytest.raises(ManagedObject):
        client.update_job("j", labels={"team": ""})  # removing a key Git may set is a change too
    assert client.update_job("j", labels={"team": "x"}, force=True).labels["team"] == "x"
    # keys the job does not carry are not compared by sync: no guard
    assert client.update_job("j", labels={"extra": "1"}, annotations={"note": "n"}).labels["extra"] == "1"
    assert client.managed_source("j") == "jobs/psi.yaml in git@example.com:org/jobs.git"
    assert client.suspend_job("j").labels["kuscia.secretflow/job-stage"] == "Suspend"


# -- tasks and logs --------------------------------------------------------------------------------


def test_list_task_all_or_per_job_with_filters_and_pages(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "a", "Failed", {"psi": "Failed"})
    put_job(backend, "b", "Running", {"psi": "Succeeded", "split": "Running"})
    assert [t.name for t in client.list_task().items] == ["a-psi", "b-psi", "b-split"]
    assert [(t.alias, t.phase.value) for t in client.list_task(job="a").items] == [
        ("psi", "Failed"),
        ("split", "Blocked"),
    ]
    assert [t.name for t in client.list_task(status="blocked", job="a").items] == ["a-split"]
    first = client.list_task(max_keys=2)
    assert [t.name for t in first.items] == ["a-psi", "b-psi"]
    assert [t.name for t in client.list_task(max_keys=2, marker=first.next_marker).items] == ["b-split"]
    per_job = client.list_task(job="b", max_keys=1)
    assert [t.alias for t in client.list_task(job="b", max_keys=1, marker=per_job.next_marker).items] == [
        "split"
    ]
    with pytest.raises(InvalidArgument, match="unknown task phase `done`"):
        client.list_task(status="done")


def test_show_task_and_unknown_task(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "b", "Running", {"psi": "Succeeded", "split": "Running"})
    info = client.show_task("b-split")
    assert (info.job, info.alias, info.phase.value, info.dependencies) == ("b", "split", "Running", ["psi"])
    with pytest.raises(
        TaskNotFound, match="task `b-splt` not found in namespace cross-domain; did you mean `b-split`"
    ):
        client.show_task("b-splt")


def test_logs_of_an_unknown_task_name_the_tasks(backend: LocalBackend, client: Client) -> None:
    put_job(backend, "b", "Running", {"psi": "Running"})
    assert list(client.job_logs("b")) == []  # no process has written anything
    with pytest.raises(InvalidArgument, match="job b has no task `nope`; its tasks are: psi, split"):
        list(client.job_logs("b", task="nope"))


def test_errors_are_client_errors(client: Client) -> None:
    assert issubclass(JobNotFound, ClientError) and issubclass(PhaseNotAllowed, ClientError)
    with pytest.raises(InvalidArgument, match="a job name is required"):
        client.show_job("")
