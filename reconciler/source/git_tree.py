"""Which manifest files a Git tree holds, read straight from the object database (never checked out).

``ManifestTrees`` lists the manifest files of a tree, memoised by tree id so that the next commit's listing
only walks the trees on the changed paths; judges the entries that may hide manifests (submodules, links,
directories named like manifest files); and reads the manifest files a diff of two trees changes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import pygit2

from reconciler.load import entries
from reconciler.source.snapshot import FileChanges, FileProblem, SourceFile, is_manifest_name

_TREE = pygit2.enums.FileMode.TREE
_LINK = pygit2.enums.FileMode.LINK
_COMMIT = pygit2.enums.FileMode.COMMIT
_BLOB = pygit2.enums.FileMode.BLOB
_EXEC = pygit2.enums.FileMode.BLOB_EXECUTABLE
_Listing = tuple[list[SourceFile], list[tuple[str, str]]]  # files, (path, "tree" | "submodule" | "link")


class ManifestTrees:
    """The manifest files of trees of ``repo``; keeps the listing of the last tree read, so that the next one
    shares its unchanged sub-trees (the very same ``SourceFile`` objects)."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo
        self._memo: dict[tuple[str, str], _Listing] = {}

    def files(self, root: pygit2.Tree) -> tuple[tuple[SourceFile, ...], tuple[FileProblem, ...]]:
        """The manifest files under ``root`` (paths relative to it, sorted by tree order; dot-files and
        dot-directories skipped) and the problems of entries that may hide manifests."""
        memo: dict[tuple[str, str], _Listing] = {}
        found, odd = self._walk(root, "", memo)
        self._memo = memo
        problems = (self._judge(root, path, what) for path, what in odd)
        return tuple(found), tuple(p for p in problems if p is not None)

    def changes(self, old: pygit2.Tree, new: pygit2.Tree, revision: str) -> FileChanges | None:
        """The manifest files that differ between the trees ``old`` and ``new`` (``revision`` is the commit of
        ``new``), from a tree diff: only the sub-trees whose ids differ are walked. None when the diff touches
        anything ``files`` would not read as a plain manifest file (a link, a submodule, a directory named
        like a manifest): the caller then reads the whole tree."""
        changed: list[SourceFile] = []
        deleted: list[str] = []
        if old.id == new.id:
            return FileChanges(revision, (), ())
        for delta in old.diff_to_tree(new).deltas:
            for side in (delta.old_file, delta.new_file):
                parts = side.path.split("/")
                if side.mode not in (0, _BLOB, _EXEC):
                    return None  # a link or a submodule: what files() judges as a problem
                if any(is_manifest_name(d) for d in parts[:-1] if not d.startswith(".")):
                    return None  # a directory named like a manifest: a problem too
            path = delta.new_file.path if delta.new_file.mode else delta.old_file.path
            if any(part.startswith(".") for part in path.split("/")) or not is_manifest_name(path):
                continue  # never read by files() either
            if delta.old_file.path != delta.new_file.path:
                return None  # rename detection is off; a renamed delta is not expected
            if delta.new_file.mode:
                oid = str(delta.new_file.id)
                changed.append(SourceFile(path, oid, self._reader(oid)))
            else:
                deleted.append(path)
        return FileChanges(revision, tuple(changed), tuple(deleted))

    def _judge(self, root: pygit2.Tree, path: str, what: str) -> FileProblem | None:
        """Whether an entry the source does not read as a manifest hides manifests, judged and worded as a
        checkout of the tree is judged by ``validate`` and the directory source (``reconciler.load.entries``):
        a submodule, a tree named like a manifest file, a link named like one, or a link (perhaps to a
        directory) that leads outside the source or nowhere. A link to a directory inside the source is
        harmless: its files are read where they really are."""
        if what == "submodule":
            return FileProblem(path, str(entries.submodule()))
        if what == "tree":
            return FileProblem(path, str(entries.manifest_directory()))
        manifest = is_manifest_name(path.rsplit("/", 1)[-1])
        text, target = _link_target(self._repo, root, path)
        if text is not None and _leaves(path, text):  # named like a manifest: to a file; else to a directory
            return FileProblem(path, str(entries.link_outside(text, directory=not manifest)))
        if target is None:
            return FileProblem(path, str(entries.broken_link()))
        if manifest:
            return FileProblem(path, str(entries.manifest_link()))
        return None

    def _walk(self, tree: pygit2.Tree, prefix: str, memo: dict[tuple[str, str], _Listing]) -> _Listing:
        """(files, entries that may hide manifests) under ``tree``; memoised by (tree id, prefix) across
        snapshots, so an unchanged sub-tree costs one dictionary look-up, and its files are the very same
        objects."""
        key = (str(tree.id), prefix)
        cached = memo.get(key) or self._memo.get(key)
        if cached is not None:
            memo[key] = cached
            return cached
        files: list[SourceFile] = []
        odd: list[tuple[str, str]] = []
        for entry in sorted(tree, key=lambda e: e.name or ""):
            name = entry.name or ""
            if name.startswith("."):
                continue
            if entry.filemode == _TREE:
                if is_manifest_name(name):
                    odd.append((prefix + name, "tree"))
                sub_files, sub_odd = self._walk(
                    self._repo[entry.id].peel(pygit2.Tree), f"{prefix}{name}/", memo
                )
                files.extend(sub_files)
                odd.extend(sub_odd)
            elif entry.filemode == _COMMIT:
                odd.append((prefix + name, "submodule"))
            elif entry.filemode == _LINK:
                if is_manifest_name(name) or "." not in name:  # named like a manifest, or like a directory
                    odd.append((prefix + name, "link"))
            elif is_manifest_name(name):
                oid = str(entry.id)
                files.append(SourceFile(prefix + name, oid, self._reader(oid)))
        listing = (files, odd)
        memo[key] = listing
        return listing

    def _reader(self, oid: str) -> Callable[[], bytes]:
        repo = self._repo

        def read() -> bytes:
            return bytes(repo[oid].peel(pygit2.Blob).data)

        return read


def _leaves(path: str, target: str) -> bool:
    """Whether the link text ``target`` of the link at ``path`` leads outside the tree (absolute, or up past
    its root)."""
    if target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def _link_target(repo: pygit2.Repository, root: pygit2.Tree, path: str) -> tuple[str | None, str | None]:
    """(the text of the link at ``path``, where it leads inside ``root``): the text is None when it cannot
    be read; the place None when the link leads outside ``root`` or to nothing there (``"."``: ``root``)."""
    try:
        text = bytes(repo[root[path].id].peel(pygit2.Blob).data).decode("utf-8")
    except (KeyError, ValueError, UnicodeDecodeError):
        return None, None
    if _leaves(path, text):
        return text, None
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), text))
    if resolved == ".":
        return text, resolved
    try:
        root[resolved]
    except KeyError:
        return text, None
    return text, resolved
