"""What a command that failed before changing anything takes away again: the entries it made in a directory
(the engine's state directory, for ``sync`` of a source that could not be read), so nothing is left behind.

Taken by name: what is in the directory after the command and was not before. The one race: a second
command that starts on the same new state directory at the same moment could lose what it made there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


def entries(directory: Path) -> set[str] | None:
    """The names in ``directory``; None when it does not exist (or cannot be listed)."""
    try:
        return set(os.listdir(directory))
    except OSError:
        return None


def remove_new_entries(directory: Path, before: set[str] | None) -> None:
    """Remove what is in ``directory`` but not in ``before`` (``entries`` taken earlier); the directory
    itself when ``before`` is None (it did not exist). Errors are ignored: this only tidies up."""
    if before is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for name in (entries(directory) or set()) - before:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
