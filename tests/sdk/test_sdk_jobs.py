"""Jobs, graphs, approvals, checks and the engine through the SDK, as a script would use them."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitops.gitops_support import Repo, appimage_doc, dump, job_doc, write, write_config

from reconciler import sdk
from reconciler.errors import KgitopsError, UsageError


def test_the_sdk_is_one_lazy_namespace() -> None:
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None, name
    with pytest.raises(AttributeError):
        sdk.nothing_here  # noqa: B018


def test_create_show_and_graph_a_job(tmp_path: Path) -> None:
    cfg = sdk.configure(write_config(tmp_path / "kgitops.yaml", tmp_path / "state"))
    manifest = write(tmp_path, "job.yaml", dump(job_doc("job-a", ("psi", "train"))))
    (job,) = sdk.read_job_file(manifest)
    with sdk.Client.from_config(cfg) as client:
        created = client.create_job(job)
        assert created.name == "job-a" and [t.alias for t in client.show_job("job-a").tasks] == [
            "psi",
            "train",
        ]
        with pytest.raises(sdk.JobNotFound) as err:
            client.show_job("job-b")
        assert err.value.exit_code == 1 and "job-a" in err.value.message  # did you mean
    graphs = sdk.job_graphs(manifest, cfg, live=True)
    assert [g.title for g in graphs.graphs] == ["job-a"] and not graphs.warnings
    assert [n.alias for n in graphs.graphs[0].nodes] == ["psi", "train"] and graphs.graphs[0].nodes[0].phase
    with pytest.raises(sdk.ManifestError):
        sdk.job_graphs(manifest, cfg, job="other")


def test_a_broken_manifest_names_the_file_and_position(tmp_path: Path) -> None:
    broken = write(tmp_path, "bad.yaml", dump(job_doc("job-a")).replace("dependencies", "dependency"))
    broken.write_text(broken.read_text().replace("taskInputConfig", "taskInput"))
    with pytest.raises(sdk.ManifestError) as err:
        sdk.read_job_file(broken)
    assert err.value.message.startswith(f"{broken} is not valid") and f"{broken}:" in err.value.message


def test_validate_and_simulate(tmp_path: Path) -> None:
    write(tmp_path / "m", "app.yaml", appimage_doc())
    job = write(tmp_path / "m", "job.yaml", job_doc("job-a", ("psi", "train")))
    report = sdk.validate([str(tmp_path / "m")], max_file_size=sdk.parse_size("1MiB"))
    assert report.exit_code == 0
    with pytest.raises(UsageError) as err:
        sdk.validate([str(tmp_path / "nope")])
    assert err.value.exit_code == 2
    run = sdk.simulate(job, fail={"psi"})
    assert run.simulation is not None and run.final_phase == "Failed"
    with pytest.raises(UsageError):
        sdk.simulate(job, fail={"nope"})


def test_engine_status_and_run_until_idle(tmp_path: Path) -> None:
    cfg = sdk.configure(write_config(tmp_path / "kgitops.yaml", tmp_path / "state"))
    with pytest.raises(sdk.EngineError) as err:
        sdk.engine_status(cfg)
    assert "no engine state" in err.value.message and "--state-dir" in err.value.hint
    with sdk.Client.from_config(cfg) as client:
        client.create_job(job_doc("job-a"))
    assert sdk.run_engine(cfg, until_idle=True, timeout=60)
    status = sdk.engine_status(cfg)
    assert status.driver_pid is None and sum(status.jobs.values()) == 1
    assert status.to_dict()["state_dir"] == str(tmp_path / "state")


def test_approvals_commit_list_and_digest(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"jobs/job-a.yaml": job_doc("job-a")})
    (tmp_path / "kgitops.yaml").write_text(
        "approvals:\n  domains:\n    bob:\n      emails: [bob@example.com]\n", encoding="utf-8"
    )
    cfg = sdk.configure(tmp_path / "kgitops.yaml")
    digest = sdk.job_digest(cfg, "job-a", repo_path=repo.path)
    assert digest.startswith("sha256:")
    done = sdk.commit_approval(
        cfg, "job-a", "bob", repo_path=repo.path, author_name="Bob", author_email="bob@example.com"
    )
    assert done.record.job_digest == digest and done.written.branch.endswith("bob/job-a")
    decisions = sdk.list_approvals(cfg, repo.path, done.written.commit)
    assert [(d.domain, d.verdict) for d in decisions] == [("bob", "OK")]
    with pytest.raises(KgitopsError) as err:
        sdk.commit_approval(cfg, "job-z", "bob", repo_path=repo.path, author_name="B", author_email="b@x")
    assert err.value.exit_code == 1 and "--job-at" in err.value.hint


def test_durations_and_sizes_read_the_same_everywhere() -> None:
    assert (
        sdk.parse_duration("1h30m") == 5400 and sdk.parse_duration("90s") == 90 and sdk.parse_duration(5) == 5
    )
    assert sdk.parse_size("5MiB") == 5 * 1024**2 and sdk.parse_size("512K") == 512 * 1024
    with pytest.raises(UsageError) as err:
        sdk.parse_duration("10 minutes")
    assert "10m" in err.value.message


def test_no_sdk_name_is_shadowed_by_a_module_of_the_package() -> None:
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(sdk.__path__):
        importlib.import_module(f"reconciler.sdk.{module.name}")
    for name in sdk.__all__:
        assert not isinstance(getattr(sdk, name), type(sdk)), name
