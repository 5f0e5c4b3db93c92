"""Only trusted AppImages run as local processes: their commands run with the user's rights."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from reconciler.model.objects import APP_IMAGE


def is_trusted(appimage: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(appimage, p) for p in patterns)


def untrusted_message(appimage: str) -> str:
    return (
        f"{APP_IMAGE} {appimage} is not trusted to run processes on this machine. The embedded engine runs "
        f"an {APP_IMAGE}'s command with your user's rights, so it runs only {APP_IMAGE}s you list: "
        f"add `{appimage}` (or a "
        f"glob such as `{appimage.split('-')[0]}-*`) to `engine.trusted_appimages` in kgitops.yaml, or pass "
        f"`--trust {appimage}` to `kgitops engine run`, then restart the job"
    )
