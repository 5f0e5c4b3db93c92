"""Shared fixtures. Tests that need ``../shared`` (reference material beside the repo) skip without it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"reference material not found at {SHARED} (only CI and developers have ../shared)")
    return SHARED


def require_shared() -> Path:
    """For module-level parametrisation: the shared dir, or a skip."""
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"reference material not found at {SHARED}", allow_module_level=True)
    return SHARED
