"""Fixtures for the engine tests: a LocalBackend in a temp state dir and AppImages running shell scripts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends.local import LocalBackend


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    b = LocalBackend(
        tmp_path / "state",
        trusted_appimages=["app*", "slow*", "trap*"],
        workspace=tmp_path,
        kill_grace_seconds=0.5,
        autostart=False,
        auto_approve=["bob"],
    )
    yield b
    # stop anything still running so no test leaves processes behind
    for job in b.list("KusciaJob"):
        b.delete(job.ref)
    b.close()
