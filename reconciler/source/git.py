"""A Git repository of manifests, read with pygit2 straight from a commit's tree (never checked out).

A local path is opened in place (so status commits land in the repository the user looks at); a URL is cloned
bare into a cache directory under the state dir and fetched on every poll. Trees are memoised by id, so
listing the files of a revision after a one-file commit only walks the trees on that file's path.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2

from reconciler.source.git_auth import GitCredentials
from reconciler.source.snapshot import (
    FileChanges,
    FileProblem,
    GitHistory,
    Snapshot,
    SourceError,
    SourceFile,
    is_manifest_name,
)
from reconciler.urls import redact_url, redact_urls

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_TREE = pygit2.enums.FileMode.TREE
_LINK = pygit2.enums.FileMode.LINK
_COMMIT = pygit2.enums.FileMode.COMMIT
_BLOB = pygit2.enums.FileMode.BLOB
_EXEC = pygit2.enums.FileMode.BLOB_EXECUTABLE
_Listing = tuple[list[SourceFile], list[tuple[str, str]]]  # files, (path, "tree" | "submodule" | "link")
log = logging.getLogger("kgitops.source")


def looks_like_url(location: str) -> bool:
    return "://" in location or bool(_SCP_LIKE.match(location))


def redact(location: str) -> str:
    """The location without credentials (``https://user:token@host/...``, ``?access_token=...``), as logs,
    labels and status show it."""
    return redact_url(location)


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
        credentials: GitCredentials | None = None,
    ) -> None:
        self.location = location
        self.ref = ref
        self.subpath = subpath.strip("/")
        self.remote = looks_like_url(location)
        self.credentials = credentials or GitCredentials(ssh_key)
        self._cache_root = Path(cache_dir)
        self._repo: pygit2.Repository | None = None
        self._default_branch = ""
        self._memo: dict[tuple[str, str], _Listing] = {}
        self._warned: set[tuple[str, tuple[str, ...]]] = set()
        self.shown = redact(location)
        where = self.shown if self.remote else str(Path(location).resolve())
        # `main`, `refs/heads/main` (and a tag's two spellings) name one source: one id, one inventory
        short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        self.source_id = source_id or f"git:{where}#{short or 'HEAD'}:{self.subpath or '.'}"

    @property
    def history(self) -> GitHistory:
        """This source is its own history reader (``GitHistory``)."""
        return self

    def latest(self) -> str:
        """``fetch()``: the commit id the ref points at, after bringing a URL source's cache up to date."""
        return self.fetch()

    def watch(self, on_change: Callable[[], None], quiet: float = 0.15) -> None:
        """A Git source is polled (``latest()``); it never calls ``on_change``."""
        return None

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
            raise SourceError(f"{self.shown}: cannot clone: {self._clean(exc)}") from None
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
                raise SourceError(f"{self.shown}: fetch failed: {self._clean(exc)}") from None
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
                    f"{self.shown}: cannot list the remote's branches: {self._clean(exc)}"
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
        return self.resolve_ref(self.ref or self._default())[1]

    def _local_name(self, refname: str) -> str:
        """Where a ref of the repository kgitops reads lives here: a URL source's branches are fetched to
        refs/remotes/origin/ of the cache (its refs/heads/ is a stale copy from the clone and never read)."""
        if not self.remote:
            return refname
        if refname.startswith("refs/heads/"):
            return "refs/remotes/origin/" + refname.removeprefix("refs/heads/")
        return refname if refname.startswith("refs/tags/") else ""

    def _ref_exists(self, refname: str) -> bool:
        local = self._local_name(refname)
        try:
            return bool(local) and self.repository.references.get(local) is not None
        except (pygit2.InvalidSpecError, ValueError):
            return False

    def resolve_ref(self, name: str) -> tuple[str, pygit2.Commit]:
        """The full ref name (as the source repository names it, e.g. ``refs/tags/v1``; "" for a commit id)
        and the commit that ``name`` means, resolved as ``git rev-parse`` does (gitrevisions(7)).

        The first of these that exists wins: NAME itself (``HEAD``, a fully qualified ``refs/heads/main``),
        refs/NAME, refs/tags/NAME, refs/heads/NAME, refs/remotes/NAME, refs/remotes/NAME/HEAD; then a commit
        id (for a local repository, any revision expression such as ``main~1``). When more than one ref
        matches (a branch and a tag of the same name), the one git picks is used and a warning says so, as
        git warns "refname is ambiguous". Raises SourceError naming the branches and tags that do exist."""
        if self.remote and name == "HEAD":
            name = f"refs/heads/{self._default()}"
        rules = [name] if name.startswith("refs/") or name.endswith("HEAD") else []
        rules += [f"refs/{name}", f"refs/tags/{name}", f"refs/heads/{name}"]
        rules += [f"refs/remotes/{name}", f"refs/remotes/{name}/HEAD"]
        found = list(dict.fromkeys(r for r in rules if self._ref_exists(r)))
        if found:
            if len(found) > 1:
                self._warn_ambiguous(name, found)
            local = self.repository.references[self._local_name(found[0])]
            return found[0], local.peel(pygit2.Commit)
        commit = self._commit_id(name)
        if commit is not None:
            return "", commit
        raise SourceError(self._not_found(name))

    def _commit_id(self, name: str) -> pygit2.Commit | None:
        """A commit id (full or abbreviated); for a local repository any revision expression too."""
        if self.remote and not re.fullmatch(r"[0-9a-fA-F]{4,64}", name):
            return None  # the cache's own branches are stale copies: only ids are meaningful there
        try:
            return self.repository.revparse_single(name).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None

    def _warn_ambiguous(self, name: str, found: list[str]) -> None:
        key = (name, tuple(found))
        if key in self._warned:
            return
        self._warned.add(key)
        others = ", ".join(found[1:])
        log.warning(
            "warning: %s: ref `%s` is ambiguous: it names %s and also %s; using %s, as git does "
            "(give the full name, e.g. --ref %s, to choose)",
            self.shown,
            name,
            _kind(found[0]),
            others,
            found[0],
            found[-1],
        )

    def _not_found(self, name: str) -> str:
        prefix = "refs/remotes/origin/" if self.remote else "refs/heads/"
        names = list(self.repository.references)
        branches = sorted(n.removeprefix(prefix) for n in names if n.startswith(prefix))
        branches = [b for b in branches if b != "HEAD"]
        tags = sorted(n.removeprefix("refs/tags/") for n in names if n.startswith("refs/tags/"))
        short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
        close = difflib.get_close_matches(short, branches + tags, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        listed = f" (branches: {', '.join(branches[:10]) or 'none'}; tags: {', '.join(tags[:10]) or 'none'})"
        return f"{self.shown}: ref `{name}` not found: no branch, tag or commit of that name{hint}{listed}"

    @property
    def tracked_branch(self) -> str:
        """The branch kgitops reads (short name), or the ref as given when it is a tag or a commit."""
        ref = self.ref or self._default()
        try:
            full, _ = self.resolve_ref(ref)
        except SourceError:
            return ref
        return full.removeprefix("refs/heads/") if full.startswith("refs/heads/") else ref

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
        return Snapshot(self.source_id, str(commit.id), files, problems, history=self)

    def changed_files(self, since: str, revision: str) -> FileChanges | None:
        """The manifest files that differ between the commits ``since`` and ``revision`` (under ``subpath``),
        from a tree diff: only the sub-trees whose ids differ are walked. None when the diff touches anything
        ``snapshot`` would not read as a plain manifest file (a link, a submodule, a directory named like a
        manifest), or a commit cannot be found: the caller then reads the whole snapshot."""
        try:
            old, new = self._tree_at(since), self._tree_at(revision)
        except (KeyError, ValueError, pygit2.GitError, SourceError):
            return None
        if old is None or new is None:
            return None
        changed: list[SourceFile] = []
        deleted: list[str] = []
        if old.id == new.id:
            return FileChanges(revision, (), ())
        for delta in old.diff_to_tree(new).deltas:
            for side in (delta.old_file, delta.new_file):
                parts = side.path.split("/")
                if side.mode not in (0, _BLOB, _EXEC):
                    return None  # a link or a submodule: what snapshot() judges as a problem
                if any(is_manifest_name(d) for d in parts[:-1] if not d.startswith(".")):
                    return None  # a directory named like a manifest: a problem too
            path = delta.new_file.path if delta.new_file.mode else delta.old_file.path
            if any(part.startswith(".") for part in path.split("/")) or not is_manifest_name(path):
                continue  # never read by snapshot() either
            if delta.old_file.path != delta.new_file.path:
                return None  # rename detection is off; a renamed delta is not expected
            if delta.new_file.mode:
                oid = str(delta.new_file.id)
                changed.append(SourceFile(path, oid, self._reader(oid)))
            else:
                deleted.append(path)
        return FileChanges(revision, tuple(changed), tuple(deleted))

    def _tree_at(self, revision: str) -> pygit2.Tree | None:
        tree: Any = self.repository[revision].peel(pygit2.Commit).tree
        if self.subpath:
            try:
                entry = tree[self.subpath]
            except KeyError:
                return None
            if entry.filemode != _TREE:
                return None
            tree = self.repository[entry.id].peel(pygit2.Tree)
        return tree  # type: ignore[no-any-return]

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

    def _clean(self, exc: BaseException) -> str:
        """A libgit2 message, made actionable (a refused host key) and never with the URL's credentials."""
        return redact_urls(self.credentials.explain(str(exc)), self.location)

    def _reader(self, oid: str) -> Callable[[], bytes]:
        repo = self.repository

        def read() -> bytes:
            return bytes(repo[oid].peel(pygit2.Blob).data)

        return read


def _kind(refname: str) -> str:
    if refname.startswith("refs/tags/"):
        return f"the tag {refname}"
    if refname.startswith("refs/heads/"):
        return f"the branch {refname}"
    return refname


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
