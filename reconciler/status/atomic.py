"""Replacing a file atomically: a temp file beside it, then a rename, so a reader sees the old bytes or the
new ones, never a part (POSIX ``rename(2)``)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from reconciler.filenames import fitting_name


def replace_file(target: Path, data: bytes, pid: int) -> os.stat_result:
    """Replace ``target`` with ``data``, creating its directory; returns the new file's ``fstat``.

    The temp file is ``.<name>.<pid>.tmp`` (mode 0600; shortened by ``reconciler.filenames.fitting_name``
    when that would not fit in a file name, so it still starts with ``.`` and ends with ``.tmp``), opened
    with ``O_EXCL`` so it is never written through a file or symlink someone put there; one left by a
    killed writer with the same pid goes first.
    Raises ``OSError`` (the temp file removed) when the file cannot be written."""
    tmp = target.parent / fitting_name(f".{target.name}", f".{pid}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:  # a new directory
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:  # left by a killed writer that had our pid
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return st
