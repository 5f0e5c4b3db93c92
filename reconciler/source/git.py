"""The Git source: a repository of manifests, read with pygit2 straight from a commit's tree (never checked
out).

``GitSource`` opens the repository and keeps it current: a local path is opened in place (so status commits
land in the repository the user looks at); a URL is cloned bare into a cache directory under the state dir
and fetched on every poll. It finds the default branch and the commit to read (names resolved by
``git_refs``), and reads the manifest files at ``subpath`` of that commit (trees walked by ``git_tree``,
memoised by id, so listing a revision after a one-file commit only walks the trees on that file's path).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import pygit2

from reconciler.source.git_auth import GitCredentials
from reconciler.source.git_refs import RefNames
from reconciler.source.git_tree import ManifestTrees
from reconciler.source.snapshot import FileChanges, GitHistory, Snapshot, SourceError
from reconciler.source.source_path import normal_subpath
from reconciler.urls import redact_url, redact_urls

log = logging.getLogger("kgitops.source")

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def looks_like_url(location: str) -> bool:
    return "://" in location or bool(_SCP_LIKE.match(location))


def _top_folder(repo: pygit2.Repository) -> str:
    """A local repository's top folder: its work tree, or a bare repository's own folder."""
    return str(Path(repo.workdir or repo.path).resolve())


def redact(location: str) -> str:
    """The location without credentials (``https://user:token@host/...``, ``?access_token=...``), as logs,
    labels and status show it."""
    return redact_url(location)


class GitSource:
    """A ``Source`` (and its ``GitHistory``) reading the commit ``ref`` (default: the default branch) of the
    repository at ``location`` (a path or a URL), under ``subpath``."""

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
        known_id: Callable[[str], bool] | None = None,
    ) -> None:
        """``subpath`` is spelled as ``normal_subpath`` spells it (raises SourcePathError when it is absolute
        or leaves the repository). ``source_id``: the id to use as it is (``--source-id``); else the canonical
        one (``source_id``). ``known_id(id)``: whether the backend holds an inventory under ``id``, so that
        an id an earlier kgitops recorded for this very source is kept (``source_id``)."""
        self.location = location
        self.ref = ref
        self.subpath = normal_subpath(subpath)
        self._spelled_subpath = subpath
        self.remote = looks_like_url(location)
        self.credentials = credentials or GitCredentials(ssh_key)
        self._cache_root = Path(cache_dir)
        self._repo: pygit2.Repository | None = None
        self._default_branch = ""
        self.shown = redact(location)
        self._id = source_id
        self._known_id = known_id

    @property
    def source_id(self) -> str:
        """What names this source in labels, annotations and the inventory: ``git:WHERE#REF:PATH``, one id
        however the same source is spelled. WHERE is the URL without credentials, or the local repository's
        top folder (its work tree; a bare repository's own folder), whatever folder in it was named; REF is
        the branch read (``main`` for no ref, ``HEAD``, ``main`` and ``refs/heads/main`` alike when HEAD is
        main; ``HEAD`` for a detached HEAD), a tag's short name, a commit's full id, or a revision expression
        as written; PATH is ``--path`` in its normal spelling (``.`` for the root).

        When the backend holds no inventory under that id but does under an id that an earlier kgitops
        made for this same source from another spelling (``#HEAD`` for the default branch, ``:./jobs``, the
        folder named rather than the top), that id is kept, so no managed object is orphaned. Until the
        repository can be read, the id is made from the spelling alone (and not kept)."""
        if not self._id:
            try:
                self._id = self._settled_id()
            except SourceError:
                return self._spelled_id()
        return self._id

    def _settled_id(self) -> str:
        where = self.shown if self.remote else _top_folder(self.repository)
        ref = self._canonical_ref()
        canonical = f"git:{where}#{ref}:{self.subpath or '.'}"
        if self._known_id is None or self._known_id(canonical):
            return canonical
        wheres = [where] + ([] if self.remote else [str(Path(self.location).resolve())])
        refs = [ref, self._spelled_ref()]
        try:
            if self._default() == ref:
                refs.append("HEAD")  # no ref meant HEAD: the default branch
        except SourceError:
            pass  # a remote that cannot list its branches now: its HEAD spelling is not looked for
        subs = [self.subpath or ".", self._spelled_subpath.strip("/") or "."]
        subs += [f"./{self.subpath}"] if self.subpath else []
        spellings = dict.fromkeys(f"git:{w}#{r}:{p}" for w in wheres for r in refs for p in subs)
        for old in spellings:
            if old != canonical and self._known_id(old):
                log.info("%s: keeping the source id %s an earlier run recorded (canonical: %s)",
                         self.shown, old, canonical)  # fmt: skip
                return old
        return canonical

    def _spelled_ref(self) -> str:
        """REF as kgitops spelled it before ids were canonical: the ref as given, less ``refs/heads/`` or
        ``refs/tags/``; ``HEAD`` for none."""
        return self.ref.removeprefix("refs/heads/").removeprefix("refs/tags/") or "HEAD"

    def _spelled_id(self) -> str:
        """The id kgitops made before ids were canonical, from the spelling alone."""
        where = self.shown if self.remote else str(Path(self.location).resolve())
        return f"git:{where}#{self._spelled_ref()}:{self._spelled_subpath.strip('/') or '.'}"

    def _canonical_ref(self) -> str:
        """REF of ``source_id``: the branch's short name, a tag's short name, a commit's full id, or the
        revision expression as written; ``HEAD`` only for a detached HEAD."""
        name = self.ref or "HEAD"
        if name == "HEAD":
            name = self._default()
            if name == "HEAD":
                return name  # a detached HEAD: whatever commit it points at
        full, commit = self.resolve_ref(name)
        if full.startswith(("refs/heads/", "refs/tags/")):
            return full.split("/", 2)[2]
        if full:
            return full.removeprefix("refs/")
        return str(commit.id) if re.fullmatch(r"[0-9a-fA-F]{4,64}", name) else name

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

    def resolve_ref(self, name: str) -> tuple[str, pygit2.Commit]:
        """The full ref name (as the source repository names it, e.g. ``refs/tags/v1``; "" for a commit id)
        and the commit that ``name`` means, resolved as ``git rev-parse`` does (gitrevisions(7)); see
        ``RefNames.resolve``. Raises SourceError naming the branches and tags that do exist."""
        return self._refs.resolve(name, self._default)

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
        commit = self.repository[revision].peel(pygit2.Commit) if revision else self._resolve()
        files, problems = self._trees.files(self._manifest_root(commit))
        return Snapshot(self.source_id, str(commit.id), files, problems, history=self)

    def changed_files(self, since: str, revision: str) -> FileChanges | None:
        """The manifest files that differ between the commits ``since`` and ``revision`` (under ``subpath``),
        from a tree diff (``ManifestTrees.changes``). None when the diff touches anything ``snapshot`` would
        not read as a plain manifest file (a link, a submodule, a directory named like a manifest), or a
        commit or the subpath cannot be found: the caller then reads the whole snapshot."""
        repo = self.repository
        try:
            old, new = (self._manifest_root(repo[r].peel(pygit2.Commit)) for r in (since, revision))
        except (KeyError, ValueError, pygit2.GitError, SourceError):
            return None
        return self._trees.changes(old, new, revision)

    def _manifest_root(self, commit: pygit2.Commit) -> pygit2.Tree:
        """The tree of ``commit`` at ``subpath``. Raises SourceError when it is missing or not a directory."""
        tree = commit.tree
        if not self.subpath:
            return tree
        try:
            entry = tree[self.subpath]
        except KeyError:
            raise SourceError(
                f"{self.shown}: path `{self.subpath}` does not exist at {str(commit.id)[:12]}"
            ) from None
        if entry.filemode != pygit2.enums.FileMode.TREE:
            raise SourceError(f"{self.shown}: `{self.subpath}` is not a directory")
        return self.repository[entry.id].peel(pygit2.Tree)

    @cached_property
    def _refs(self) -> RefNames:
        return RefNames(self.repository, remote=self.remote, shown=self.shown)

    @cached_property
    def _trees(self) -> ManifestTrees:
        return ManifestTrees(self.repository)

    def _clean(self, exc: BaseException) -> str:
        """A libgit2 message, made actionable (a refused host key) and never with the URL's credentials."""
        return redact_urls(self.credentials.explain(str(exc)), self.location)
