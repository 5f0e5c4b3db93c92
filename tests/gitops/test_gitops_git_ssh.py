"""Git over SSH against a real sshd on 127.0.0.1: clone, fetch and status-branch push with a deploy key for
the URL's user; unknown or changed host keys refused; passphrase-protected keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply.session import open_session
from reconciler.source import SourceError

from .git_servers import Sshd, keygen, sshd_missing, start_sshd
from .gitops_support import Repo, config, job_doc, local_backend

pytestmark = pytest.mark.skipif(bool(sshd_missing()), reason=sshd_missing() or "sshd present")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    server = start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()


def _setup(
    tmp_path: Path, sshd: Sshd, kind: str = "ed25519", passphrase: str = ""
) -> tuple[Repo, Path, Path]:
    remote = Repo(tmp_path / "remote.git", bare=True)
    remote.commit({"job-a.yaml": job_doc("job-a")})
    key = keygen(tmp_path / f"deploy_{kind}", kind, passphrase)
    sshd.authorize(key.with_name(key.name + ".pub"))
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line(), encoding="utf-8")
    return remote, key, known


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_clone_fetch_and_status_push_over_ssh_with_a_deploy_key(
    tmp_path: Path, sshd: Sshd, kind: str
) -> None:
    remote, key, known = _setup(tmp_path, sshd, kind)
    state = tmp_path / "state"
    cfg = config(sshd.url(remote.path), state)
    cfg.source.ssh_key, cfg.source.known_hosts = str(key), str(known)
    backend = local_backend(state)
    try:
        session = open_session(cfg, backend)
        _, result = session.reconciler.sync()
        assert not result.plan.error, result.plan.error
        session.status.write(result)
        assert not session.status.errors
        pushed = remote.repo.references["refs/heads/kgitops/status"].target
        assert "job-a: new, " in remote.repo[pushed].message
        new_tip = remote.commit({"job-b.yaml": job_doc("job-b")})
        assert session.source.latest() == new_tip  # fetched over SSH
    finally:
        backend.close()


def _open_error(tmp_path: Path, sshd: Sshd, key: Path, known: Path, remote: Repo) -> str:
    state = tmp_path / "state"
    cfg = config(sshd.url(remote.path), state)
    cfg.source.ssh_key, cfg.source.known_hosts = str(key), str(known)
    backend = local_backend(state)
    try:
        with pytest.raises(SourceError) as err:
            open_session(cfg, backend).source.latest()
        return str(err.value)
    finally:
        backend.close()


def test_an_unknown_host_key_is_refused(tmp_path: Path, sshd: Sshd) -> None:
    remote, key, known = _setup(tmp_path, sshd)
    known.write_text("", encoding="utf-8")
    message = _open_error(tmp_path, sshd, key, known, remote)
    assert "host key of 127.0.0.1" in message and "unknown or has changed" in message, message
    assert str(known) in message and "ssh-keyscan" in message
    # once the key is verified and listed, the same state directory clones
    known.write_text(sshd.known_hosts_line(), encoding="utf-8")
    state = tmp_path / "state"
    cfg = config(sshd.url(remote.path), state)
    cfg.source.ssh_key, cfg.source.known_hosts = str(key), str(known)
    backend = local_backend(state)
    try:
        tip = str(remote.repo.references["refs/heads/main"].target)
        assert open_session(cfg, backend).source.latest() == tip
    finally:
        backend.close()


def test_a_changed_host_key_is_refused(tmp_path: Path, sshd: Sshd) -> None:
    remote, key, known = _setup(tmp_path, sshd)
    impostor = keygen(tmp_path / "other_host_key")
    known.write_text(sshd.known_hosts_line(impostor), encoding="utf-8")
    message = _open_error(tmp_path, sshd, key, known, remote)
    assert "unknown or has changed" in message, message


def test_a_passphrase_protected_key_needs_its_passphrase(
    tmp_path: Path, sshd: Sshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote, key, known = _setup(tmp_path, sshd, passphrase="open sesame")
    message = _open_error(tmp_path, sshd, key, known, remote)
    assert "protected by a passphrase" in message and "ssh_key_passphrase_env" in message, message
    assert "open sesame" not in message

    monkeypatch.setenv("DEPLOY_KEY_PASSPHRASE", "open sesame")
    state = tmp_path / "state2"
    cfg = config(sshd.url(remote.path), state)
    cfg.source.ssh_key, cfg.source.known_hosts = str(key), str(known)
    cfg.source.ssh_key_passphrase_env = "DEPLOY_KEY_PASSPHRASE"
    backend = local_backend(state)
    try:
        session = open_session(cfg, backend)
        assert session.source.latest() == str(remote.repo.references["refs/heads/main"].target)
    finally:
        backend.close()
