"""Git over HTTP(S) with a token from the config, an environment variable or a file, against ``git
http-backend`` behind a Basic-auth server on 127.0.0.1: sent in the Authorization header, never in the URL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply.session import open_session
from reconciler.source import SourceError

from .git_servers import GitHttpServer
from .gitops_support import Repo, config, job_doc, local_backend

TOKEN = "s3cr3t-token-value"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    srv = GitHttpServer(tmp_path / "served", "deployer", TOKEN)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("where", ["inline", "env", "file"])
def test_clone_fetch_and_status_push_with_a_token(
    tmp_path: Path, server: GitHttpServer, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = Repo(tmp_path / "served" / "jobs.git", bare=True)
    remote.commit({"job-a.yaml": job_doc("job-a")})
    state = tmp_path / "state"
    cfg = config(server.url("jobs.git"), state)
    cfg.source.https_username = "deployer"
    if where == "inline":
        cfg.source.https_password = TOKEN
    elif where == "env":
        monkeypatch.setenv("GIT_TOKEN", TOKEN)
        cfg.source.https_password_env = "GIT_TOKEN"
    else:
        (tmp_path / "token").write_text(TOKEN + "\n", encoding="utf-8")
        cfg.source.https_password_file = str(tmp_path / "token")
    backend = local_backend(state)
    try:
        session = open_session(cfg, backend)
        _, result = session.reconciler.sync()
        assert not result.plan.error, result.plan.error
        session.status.write(result)
        assert not session.status.errors, session.status.errors
        pushed = remote.repo.references["refs/heads/kgitops/status"].target
        assert "job-a: new, " in remote.repo[pushed].message
        new_tip = remote.commit({"job-b.yaml": job_doc("job-b")})
        assert session.source.latest() == new_tip
    finally:
        backend.close()
    expected = "Basic " + base64.b64encode(f"deployer:{TOKEN}".encode()).decode()
    assert expected in server.authorizations  # sent as a header
    assert not any(TOKEN in line for line in server.request_lines)  # never in the URL
    cache_config = next((state / "git").glob("*/config")).read_text(encoding="utf-8")
    assert TOKEN not in cache_config and "deployer" not in cache_config


def test_a_wrong_token_is_refused_without_showing_it(tmp_path: Path, server: GitHttpServer) -> None:
    remote = Repo(tmp_path / "served" / "jobs.git", bare=True)
    remote.commit({"job-a.yaml": job_doc("job-a")})
    state = tmp_path / "state"
    cfg = config(server.url("jobs.git"), state)
    cfg.source.https_password = "wrong-token"
    backend = local_backend(state)
    try:
        with pytest.raises(SourceError) as err:
            open_session(cfg, backend).source.latest()
    finally:
        backend.close()
    assert "refused the credentials" in str(err.value) and "wrong-token" not in str(err.value), err.value


def test_a_missing_token_variable_is_named(tmp_path: Path, server: GitHttpServer) -> None:
    remote = Repo(tmp_path / "served" / "jobs.git", bare=True)
    remote.commit({"job-a.yaml": job_doc("job-a")})
    state = tmp_path / "state"
    cfg = config(server.url("jobs.git"), state)
    cfg.source.https_password_env = "KGITOPS_TEST_UNSET_TOKEN"
    backend = local_backend(state)
    try:
        with pytest.raises(SourceError, match="KGITOPS_TEST_UNSET_TOKEN is not set"):
            open_session(cfg, backend).source.latest()
    finally:
        backend.close()
