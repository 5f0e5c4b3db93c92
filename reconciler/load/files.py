"""Reading one file a user named, bounded: never more than the limit, never a pipe, socket or device.

Every file a command reads because a user named it (``validate``'s files, ``job create -f``, ``simulate``,
``graph FILE``, ``--config``) goes through ``read_bounded``, so ``/dev/zero`` cannot exhaust memory and a FIFO
cannot hang a command: the file is opened without blocking and checked with ``fstat`` before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from reconciler.load.entries import UNREADABLE, not_regular, unreadable

__all__ = ["FileReadError", "read_bounded"]

_PIECE = 64 * 1024
NOT_REGULAR = UNREADABLE
TOO_LARGE = "IO003"


class FileReadError(Exception):
    """A file that was not read: ``rule`` is ``IO001`` (missing, unreadable, not a regular file) or
    ``IO003`` (over the limit); ``message`` says why, without the path."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def read_bounded(path: str | Path, max_size: int) -> bytes:
    """The bytes of the regular file ``path`` when it holds at most ``max_size`` bytes (``max_size >= 0``).

    Raises ``FileReadError``: ``IO001`` when it cannot be opened or is not a regular file (a FIFO, socket,
    device or directory), ``IO003`` when it is larger than ``max_size`` (also when it grows while read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FileReadError(NOT_REGULAR, unreadable(exc.strerror or str(exc)).message) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileReadError(NOT_REGULAR, not_regular().message)
        if st.st_size > max_size:
            raise FileReadError(TOO_LARGE, too_large(st.st_size, max_size))
        # os.read of the size plus one byte: a read of n bytes allocates n bytes first, and the limit (5 MiB)
        # per file was most of the cost of reading a small one; a file that grows is read on, in pieces of
        # at most _PIECE bytes (the read that finds the end allocates no more), to one byte past the limit
        data = os.read(fd, st.st_size + 1)
        while len(data) <= max_size:
            more = os.read(fd, min(_PIECE, max_size + 1 - len(data)))
            if not more:
                break
            data += more
    except OSError as exc:
        raise FileReadError(NOT_REGULAR, unreadable(exc.strerror or str(exc)).message) from None
    finally:
        os.close(fd)
    if len(data) > max_size:
        raise FileReadError(TOO_LARGE, too_large(len(data), max_size, grew=True))
    return data


def too_large(size: int, max_size: int, grew: bool = False) -> str:
    """The message of ``IO003``: the size found and the limit, in bytes."""
    found = f"more than {max_size} bytes (it grew while read)" if grew else f"{size} bytes"
    return f"the file is {found}, above the limit of {max_size}"
