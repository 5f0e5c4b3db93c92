"""Files and directories of the engine's state that only their owner may read: the state directory, the
engine store, the party data and output folders, the pods' working directories, launch and spawn records
(a spawn record holds the environment of a process, secrets included) and logs.

Directories are made mode 0700 and files 0600 whatever the umask (the mode is set again after creating,
``chmod(2)``: a umask only takes bits away, and a umask of 0 or 022 must not make them readable by others).
Only what is created here gets the mode: a directory that exists already (a user's own ``--state-dir``) is
left as it is.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Make ``path`` and its missing parents, each created one mode 0700; returns ``path``. Raises
    ``OSError`` when a part cannot be made (``NotADirectoryError`` naming a file in the way; no
    permission)."""
    missing: list[Path] = []
    for p in (path, *path.parents):
        if p.is_dir():
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            p.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not p.is_dir():  # a file in the way
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(p)) from None
            continue  # made by another process meanwhile: theirs to set
        os.chmod(p, DIR_MODE)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, created or truncated, mode 0600 (a file there before is
    set to 0600 too). Does not follow a symlink at ``path`` (``O_NOFOLLOW``). Raises ``OSError``."""
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    try:
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def open_private(path: Path, flags: int) -> int:
    """``os.open`` of ``path`` with ``flags`` plus ``O_CREAT | O_NOFOLLOW | O_CLOEXEC``, the file set to mode
    0600; returns the descriptor. Raises ``OSError``."""
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd
