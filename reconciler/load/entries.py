"""What a source holds besides manifest files, and which of it kgitops cannot read: the one home of these
problems, their rule ids and their wording.

``validate``'s file discovery (``reconciler.load.discover``), the directory source
(``reconciler.source.directory``) and the Git tree listing (``reconciler.source.git_tree``) judge the entries
they meet here, so the pull-request check reports, with the same rule id and words, exactly what ``sync``
holds (``held jobs/x.yaml: IO001 a directory where …``). The rule ids are the validator's (``IO001`` the entry
cannot be read, ``IO002`` a link leads outside; ``reconciler.validate.findings``, docs/validate.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

MANIFEST_SUFFIXES = (".yaml", ".yml")
UNREADABLE = "IO001"
OUTSIDE = "IO002"


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """Why an entry of a source cannot be read as manifests: ``rule`` (``IO001``/``IO002``) and ``message``
    (without the path). ``str()`` is ``RULE message``, as a held file is reported."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} {self.message}"


def is_manifest_name(name: str) -> bool:
    """A file name kgitops reads as manifests: ``*.yaml`` or ``*.yml``, not hidden (``.``-prefixed)."""
    return name.endswith(MANIFEST_SUFFIXES) and not name.startswith(".")


def manifest_directory() -> EntryProblem:
    """A directory named like a manifest file: most often a file replaced by a directory; its files are read,
    but the objects the file defined would silently be missing."""
    return EntryProblem(
        UNREADABLE, "a directory where a manifest file is expected (a file replaced by a directory?)"
    )


def link_outside(target: str | None, directory: bool) -> EntryProblem:
    """A symbolic link (to a directory when ``directory``) whose target, ``target`` when known, lies outside
    the source: never followed, so that nothing outside the source is read."""
    to = f" (to {target})" if target else ""
    if directory:
        return EntryProblem(OUTSIDE, f"a directory link leading outside the source{to}; not followed")
    return EntryProblem(OUTSIDE, f"a symbolic link leading outside the source{to}; not read")


def manifest_link() -> EntryProblem:
    """A symbolic link named like a manifest file, leading inside the source: not followed (a Git source
    never follows one; its target, when a manifest, is read where it is)."""
    return EntryProblem(UNREADABLE, "a symbolic link named like a manifest file; not followed")


def broken_link() -> EntryProblem:
    """A symbolic link to nothing, named like a manifest file or like a directory (it may have been one)."""
    return EntryProblem(UNREADABLE, "a broken symbolic link (its target does not exist)")


def not_regular() -> EntryProblem:
    """A pipe, socket or device named like a manifest file: never opened for reading (it could block)."""
    return EntryProblem(UNREADABLE, "not a regular file (a pipe, socket, device or directory)")


def unreadable(reason: str) -> EntryProblem:
    """A file or directory the operating system refuses to read; ``reason`` is its error (``strerror``)."""
    return EntryProblem(UNREADABLE, f"cannot read the file ({reason})")


def submodule() -> EntryProblem:
    """A Git submodule (a commit entry in a tree): its files are in another repository, not read."""
    return EntryProblem(UNREADABLE, "a Git submodule; its files are not read")


class Entry(Enum):
    """What a walk does with a directory entry: read it as a manifest file, descend into it, or pass it by."""

    FILE = "file"
    DIRECTORY = "directory"
    SKIP = "skip"


def inside(real: str, real_root: str) -> bool:
    """Whether the resolved path ``real`` is ``real_root`` or below it."""
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def judge(
    path: str, name: str, is_dir: bool, is_link: bool, real_root: str
) -> tuple[Entry, EntryProblem | None]:
    """How a walk of the directory whose resolved path is ``real_root`` treats the entry at ``path``
    (``name`` its last part, not hidden), and the problem it is, if any.

    ``is_dir``: it is a directory or a link to one (``os.DirEntry.is_dir()``); ``is_link``: it is a symbolic
    link. A link is never followed, as a Git source never follows one: a link to a directory inside the
    source is passed by (its files are read where they really are); one leading outside is ``IO002``; a link
    named like a manifest file is ``IO001`` (read, it would define its target's objects a second time), and so
    is a broken one named like a directory. A directory named like a manifest file is descended into and is
    ``IO001`` too."""
    manifest = is_manifest_name(name)
    if is_link:
        real = os.path.realpath(path)
        if not os.path.exists(path):
            return Entry.SKIP, broken_link() if manifest or "." not in name else None
        if not inside(real, real_root):
            if is_dir:
                return Entry.SKIP, link_outside(real, directory=True)
            return Entry.SKIP, link_outside(real, directory=False) if manifest else None
        return Entry.SKIP, manifest_link() if manifest else None
    if is_dir:
        return Entry.DIRECTORY, manifest_directory() if manifest else None
    return (Entry.FILE if manifest else Entry.SKIP), None
