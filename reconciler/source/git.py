"""A Git repository of manifests, read with pygit2 straight from a commit's tree (never checked out).

A local path is opened in place (so status commits land in the repository the user looks at); a URL is cloned
bare into a cache directory under the state dir and fetched on every poll. Trees are memoised by id, so
listing the files of a revision after a one-file commit only walks the trees on that file's path.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2

from reconciler.source.snapshot import FileProblem, Snapshot, SourceError, SourceFile, is_manifest_name

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_TREE = pygit2.enums.FileMode.TREE
_LINK = pygit2.enums.FileMode.LINK
_COMMIT = pygit2.enums.FileMode.COMMIT
_Listing = tuple[list[SourceFile], list[tuple[str, str]]]  # files, (path, "tree" | "submodule" | "link")


def looks_like_url(location: str) -> bool:
    return "://" in location or bool(_SCP_LIKE.match(location))


def redact(location: str) -> str:
    """The location without credentials (``https://user:token@host/...``), as logs and labels show it."""
    scheme, sep, rest = location.partition("://")
    if not sep:
        return location
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path}"


class GitCredentials:
    """SSH key (from the config) or nothing; never logged."""

    def __init__(self, ssh_key: str = "", username: str = "git") -> None:
        self.ssh_key = ssh_key
        self.username = username

    def callbacks(self) -> pygit2.RemoteCallbacks:
        creds: Any = None
        if self.ssh_key:
            key = Path(self.ssh_key).expanduser()
            pub = key.with_name(key.name + ".pub")
            creds = pygit2.Keypair(self.username, str(pub) if pub.exists() else None, str(key), "")
        return pygit2.RemoteCallbacks(credentials=creds)


class GitSource:
    kind = "git"

    def __init__(
        self,
        location: str,
        *,
        ref: str = "",
        subpath: str = "",
        cache_dir: str | Path = ".kgitops/git",
        ssh_key: str = "",
        source_id: str = "",
    ) -> None:
        self.location = location
        self.ref = ref
        self.subpath = subpath.strip("/")
        self.remote = looks_like_url(location)
        self.credentials = GitCredentials(ssh_key)
        self._cache_root = Path(cache_dir)
        self._repo: pygit2.Repository | None = None
        self._default_branch = ""
        self._memo: dict[tuple[str, str], _Listing] = {}
        self.shown = redact(location)
        where = self.shown if self.remote else str(Path(location).resolve())
        self.source_id = source_id or f"git:{where}#{ref or 'HEAD'}:{self.subpath or '.'}"

    def describe(self) -> str:
        extra = f" @ {self.ref}" if self.ref else ""
        sub = f" path {self.subpath}" if self.subpath else ""
        return f"{self.shown}{extra}{sub}"

    # -- repository ------------------------------------------------------------------------------------------
    @property
    def repository(self) -> pygit2.Repository:
        if self._repo is None:
            self._repo = self._open()
        return self._repo

    def _open(self) -> pygit2.Repository:
        if not self.remote:
            path = Path(self.location)
            if not path.exists():
                raise SourceError(f"{self.location}: no such Git repository")
            found = pygit2.discover_repository(str(path))
            if found is None:
                raise SourceError(
                    f"{self.location}: not a Git repository (use a directory source without --git)"
                )
            return pygit2.Repository(found)
        digest = hashlib.sha256(self.location.encode()).hexdigest()[:16]
        target = self._cache_root / digest
        try:
            if (target / "HEAD").exists():
                repo = pygit2.Repository(str(target))
            else:
                self._cache_root.mkdir(parents=True, exist_ok=True)
                repo = pygit2.clone_repository(
                    self.location, str(target), bare=True, callbacks=self.credentials.callbacks()
                )
        except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
            raise SourceError(f"{self.shown}: cannot clone: {_clean(exc, self.location)}") from None
        return repo

    def fetch(self) -> str:
        """Bring the cache up to date (a URL source) and return the commit id the ref points at."""
        repo = self.repository
        if self.remote:
            try:
                remote = repo.remotes["origin"]
                remote.fetch(
                    ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                    callbacks=self.credentials.callbacks(),
                    prune=pygit2.enums.FetchPrune.PRUNE,
                )
            except (pygit2.GitError, KeyError) as exc:
                raise SourceError(f"{self.shown}: fetch failed: {_clean(exc, self.location)}") from None
        return str(self._resolve().id)

    def _default(self) -> str:
        """The default branch: the remote's HEAD (or main/master/the only branch), the local HEAD's branch."""
        if self._default_branch:
            return self._default_branch
        repo = self.repository
        name = ""
        if self.remote:
            branches: list[str] = []
            try:
                for remote_head in repo.remotes["origin"].list_heads(callbacks=self.credentials.callbacks()):
                    head_name = str(remote_head.name or "")
                    if head_name == "HEAD" and remote_head.symref_target:
                        name = str(remote_head.symref_target).removeprefix("refs/heads/")
                    elif head_name.startswith("refs/heads/"):
                        branches.append(head_name.removeprefix("refs/heads/"))
            except (pygit2.GitError, KeyError) as exc:
                raise SourceError(
                    f"{self.shown}: cannot list the remote's branches: {_clean(exc, self.location)}"
                ) from None
            if not name:
                name = next((b for b in ("main", "master") if b in branches), branches[0] if branches else "")
            if not name:
                raise SourceError(f"{self.shown}: the repository has no branches yet")
        else:
            local_head = repo.references.get("HEAD")
            target = local_head.target if local_head is not None else ""
            name = str(target).removeprefix("refs/heads/") if isinstance(target, str) else ""
            if not name:  # detached HEAD: read the commit it points at
                name = "HEAD"
        self._default_branch = name
        return name

    def _resolve(self) -> pygit2.Commit:
        repo = self.repository
        ref = self.ref or self._default()
        candidates = (
            [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", ref]
            if self.remote
            else [f"refs/heads/{ref}", f"refs/tags/{ref}", ref]
        )
        for name in candidates:
            reference = repo.references.get(name) if name.startswith("refs/") else None
            if reference is not None:
                return reference.peel(pygit2.Commit)
        try:
            return repo.revparse_single(ref).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise SourceError(f"{self.shown}: ref `{ref}` not found (check --ref)") from None

    @property
    def tracked_branch(self) -> str:
        return self.ref or self._default()

    # -- reading ------------------------------------------------------------------------------------------
    def snapshot(self, revision: str | None = None) -> Snapshot:
        repo = self.repository
        commit = repo[revision].peel(pygit2.Commit) if revision else self._resolve()
        tree: Any = commit.tree
        if self.subpath:
            try:
                entry = tree[self.subpath]
            except KeyError:
                raise SourceError(
                    f"{self.shown}: path `{self.subpath}` does not exist at {str(commit.id)[:12]}"
                ) from None
            if entry.filemode != _TREE:
                raise SourceError(f"{self.shown}: `{self.subpath}` is not a directory")
            tree = repo[entry.id]
        memo: dict[tuple[str, str], _Listing] = {}
        found, odd = self._walk(tree, "", memo)
        self._memo = memo
        files = tuple(found)
        problems = tuple(p for p in (self._judge(tree, path, what) for path, what in odd) if p is not None)
        return Snapshot(self.source_id, str(commit.id), files, problems)

    def _judge(self, root: pygit2.Tree, path: str, what: str) -> FileProblem | None:
        """Whether an entry the source does not read as a manifest hides manifests: a submodule, a tree named
        like a manifest file, a link named like one, or a link (perhaps to a directory) that leads outside
        the source or nowhere. A link to a directory inside the source is harmless: its files are read
        where they really are."""
        if what == "submodule":
            return FileProblem(path, "a Git submodule; its files are not read")
        if what == "tree":
            return FileProblem(path, "a directory where a manifest file is expected (a replaced file?)")
        if is_manifest_name(path.rsplit("/", 1)[-1]):
            return FileProblem(path, "a symbolic link in the repository; not followed")
        target = _link_target(self.repository, root, path)
        if target is None:
            return FileProblem(path, "a symbolic link leading outside the source or nowhere; not followed")
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
                    self.repository[entry.id].peel(pygit2.Tree), f"{prefix}{name}/", memo
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
        repo = self.repository

        def read() -> bytes:
            return bytes(repo[oid].peel(pygit2.Blob).data)

        return read


def _link_target(repo: pygit2.Repository, root: pygit2.Tree, path: str) -> str | None:
    """Where the link at ``path`` leads inside ``root`` (a path), or None when outside or nowhere."""
    try:
        target = bytes(repo[root[path].id].peel(pygit2.Blob).data).decode("utf-8")
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    if target.startswith("/"):
        return None
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        return None
    if resolved == ".":
        return resolved
    try:
        root[resolved]
    except KeyError:
        return None
    return resolved


def _clean(exc: BaseException, location: str) -> str:
    """A libgit2 message may quote the URL; never with its credentials."""
    return str(exc).replace(location, redact(location))
