"""``job create``, ``job update`` and approvals, at the command line and in the SDK, pass validate's checks,
plus what only the live backend knows: a taskID another job already claims."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from ops_fixtures import job_manifest, put_job

from reconciler.backends.local import LocalBackend
from reconciler.cli import main
from reconciler.model import Resource
from reconciler.sdk import Client, InvalidObject


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def test_job_create_refuses_a_task_id_a_live_job_claims(cli_backend: LocalBackend, tmp_path: Path) -> None:
    put_job(cli_backend, "live", "Running", {"psi": "Running"})
    new = job_manifest("new")
    new["spec"]["tasks"][0]["taskID"] = "live-psi"
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(new, sort_keys=False))
    out = run("job", "create", "-f", "new.yaml", code=1).output
    assert "KusciaJob/cross-domain/new is not valid, nothing was created" in out
    assert "XF002 KusciaTask name 'live-psi'" in out and "KusciaJob/cross-domain/live" in out
    assert [j.name for j in cli_backend.list("KusciaJob")] == ["live"]


def test_job_create_refuses_two_jobs_of_a_file_sharing_a_task_id(
    cli_backend: LocalBackend, tmp_path: Path
) -> None:
    first, second = job_manifest("one"), job_manifest("two")
    second["spec"]["tasks"][0]["taskID"] = "one-psi"
    (tmp_path / "two.yaml").write_text(yaml.safe_dump_all([first, second], sort_keys=False))
    out = run("job", "create", "-f", "two.yaml", code=1).output
    assert "two.yaml is not valid, nothing was created" in out and "XF002" in out
    assert cli_backend.list("KusciaJob") == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"maxParallelism": 129}, "SCHEMA004"),
        ({"maxParallelism": 99999999999}, "SCHEMA004"),
        ({"bogus": 1}, "SCHEMA008"),
    ],
)
def test_sdk_create_job_runs_admission(client: Client, change: dict[str, object], rule: str) -> None:
    manifest = job_manifest("sdk")
    manifest["spec"].update(change)
    with pytest.raises(InvalidObject, match=rule):
        client.create_job(manifest)
    with pytest.raises(InvalidObject, match=rule):  # a Resource is checked the same way
        client.create_job(Resource.from_manifest(manifest))
    assert client.list_job().items == []


def test_sdk_create_job_sees_fields_a_resource_would_drop(client: Client) -> None:
    manifest = job_manifest("sdk")
    manifest["metadata"]["generateName"] = "x-"
    manifest["metadata"]["nmae"] = "typo"
    with pytest.raises(InvalidObject, match="unknown field `nmae`"):
        client.create_job(manifest)


def test_job_update_refuses_annotations_beyond_the_limit(cli_backend: LocalBackend) -> None:
    put_job(cli_backend, "j", "Pending")
    big = "x" * (100 * 1024)
    run("job", "update", "j", "-a", f"one={big}", "-a", f"two={big}")
    out = run("job", "update", "j", "-a", f"three={big}", code=1).output
    assert "is not valid, nothing was updated" in out and "META003 annotations total" in out
    job = cli_backend.get(Resource(kind="KusciaJob", name="j").ref)
    assert job is not None and "three" not in job.annotations


def test_approving_a_job_that_fails_admission_is_refused(cli_backend: LocalBackend) -> None:
    legacy = Resource.from_manifest(job_manifest("legacy", maxParallelism=1000))
    legacy.status = {"phase": "AwaitingApproval"}
    cli_backend.store.create(legacy)  # stored before admission existed (or by another writer)
    out = run("job", "approve", "legacy", "--domain", "bob", code=1).output
    assert "KusciaJob/cross-domain/legacy is not valid, nothing was approved" in out and "SCHEMA004" in out
    run("job", "reject", "legacy", "--domain", "bob")  # a rejection is always recorded
    job = cli_backend.get(legacy.ref)
    assert job is not None and job.status["approveStatus"] == {"bob": "JobRejected"}
