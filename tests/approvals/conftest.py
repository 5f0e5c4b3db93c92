"""Fixtures for the approvals tests: a fresh repository and throwaway signing keys made per test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from approvals_support import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def ssh_keys(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Throwaway ed25519 keys for bob and mallory (private key path; public key at <path>.pub)."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed (apt-get install openssh-client)")
    keys = {}
    for who in ("bob", "mallory"):
        path = tmp_path / "keys" / who
        path.parent.mkdir(exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{who}@laptop", "-f", str(path)],
            check=True,
            capture_output=True,
        )
        keys[who] = path
    yield keys


@pytest.fixture
def gnupg_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A throwaway GNUPGHOME with one passphrase-less signing key for bob: (home, fingerprint)."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed: OpenPGP signatures cannot be made or checked here")
    home = tempfile.mkdtemp(prefix="kgg-")  # short: gpg-agent's socket path has a length limit
    try:
        subprocess.run(
            [
                "gpg",
                "--homedir",
                home,
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Bob <bob@bob.example>",
                "ed25519",
                "sign",
                "never",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        out = subprocess.run(
            ["gpg", "--homedir", home, "--batch", "--with-colons", "--list-secret-keys"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
        monkeypatch.setenv("GNUPGHOME", home)
        yield home, fpr
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def local_backend(tmp_path: Path) -> Iterator[Any]:
    """The embedded engine's backend over a fresh state directory, driven in this process."""
    from reconciler.backends.local import LocalBackend

    backend = LocalBackend(tmp_path / "state", autostart=False, workspace=tmp_path)
    try:
        yield backend
    finally:
        backend.close()
