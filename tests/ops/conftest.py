"""Fixtures for the job/task operation tests: a LocalBackend in a temp state dir (helpers: ops_fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_fixtures import config_text, make_backend

from reconciler.backends.local import LocalBackend
from reconciler.sdk import Client


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    b = make_backend(tmp_path / "state")
    yield b
    for job in b.list("KusciaJob"):  # no test leaves processes behind
        b.delete(job.ref)
    b.close()


@pytest.fixture
def client(backend: LocalBackend) -> Client:
    return Client(backend)


@pytest.fixture
def cli_backend(backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    """The CLI, run in ``tmp_path``, finds a kgitops.yaml there that opens the same engine state."""
    (tmp_path / "kgitops.yaml").write_text(config_text(backend.state_dir))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("KGITOPS_CONFIG", raising=False)
    return backend
