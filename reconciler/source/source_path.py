"""Where a source's manifests live below its root (``--path``, ``source.subpath``): one normal spelling, never
outside the root.

``jobs``, ``jobs/``, ``./jobs`` and ``jobs//`` are one folder, spelled ``jobs``; the root itself is ``""``.
A path that is absolute, or whose ``..`` climbs above the root, would read another tree than the source the
user named (``--path ../../..`` walked ``/``): it is refused, as is, for a directory source, a folder reached
through a symbolic link (its files would be another directory's, under this source's name).
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath

from reconciler.source.snapshot import SourceError


class SourcePathError(SourceError):
    """``--path`` (``source.subpath``) is not a relative path inside the source: a usage error (exit 2)."""


def normal_subpath(subpath: str) -> str:
    """``subpath`` in its one spelling: POSIX separators, no ``.``, empty or doubled components, no trailing
    slash; "" for the root. Raises SourcePathError when it is absolute or leaves the root."""
    text = subpath.replace("\\", "/").strip()
    if not text:
        return ""
    if PurePosixPath(text).is_absolute():
        raise SourcePathError(
            f"--path `{subpath}` is an absolute path: give the folder of the manifests relative to SOURCE "
            "(e.g. --path jobs), or make that folder SOURCE itself"
        )
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../"):
        raise SourcePathError(
            f"--path `{subpath}` leaves the source: `..` climbs above SOURCE; give a folder inside it "
            "(e.g. --path jobs), or name the other folder as SOURCE"
        )
    return "" if normal == "." else normal


def directory_below(root: Path, subpath: str) -> Path:
    """The folder ``subpath`` (``normal_subpath``) of the directory ``root``, reached without following a
    symbolic link below ``root`` (``root`` itself may be one). Raises SourcePathError naming the link."""
    folder = root
    for part in filter(None, normal_subpath(subpath).split("/")):
        folder = folder / part
        if folder.is_symlink():
            raise SourcePathError(
                f"--path `{subpath}`: {folder} is a symbolic link (to {folder.resolve()}); a source folder "
                "is not reached through a link: give the real folder as SOURCE or --path"
            )
    return folder
