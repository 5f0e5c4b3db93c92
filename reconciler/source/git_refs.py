"""How a Git source names a revision: a branch, tag or commit resolved to a commit as ``git rev-parse`` does
(gitrevisions(7)), with git's warning for an ambiguous name and an error listing what does exist.

A URL source reads a bare cache whose branches are fetched to ``refs/remotes/origin/``; the names here are
always the source repository's own (``refs/heads/main``), mapped to where the cache keeps them.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable

import pygit2

from reconciler.source.snapshot import SourceError

log = logging.getLogger("kgitops.source")


class RefNames:
    """The refs of one repository (``repo``; a URL source's bare cache when ``remote``), resolved to commits.
    ``shown`` is the source's location without credentials, as messages name it."""

    def __init__(self, repo: pygit2.Repository, *, remote: bool, shown: str) -> None:
        self._repo = repo
        self._remote = remote
        self._shown = shown
        self._warned: set[tuple[str, tuple[str, ...]]] = set()

    def resolve(self, name: str, default_branch: Callable[[], str]) -> tuple[str, pygit2.Commit]:
        """The full ref name (as the source repository names it, e.g. ``refs/tags/v1``; "" for a commit id)
        and the commit that ``name`` means, resolved as ``git rev-parse`` does (gitrevisions(7)).

        The first of these that exists wins: NAME itself (``HEAD``, a fully qualified ``refs/heads/main``),
        refs/NAME, refs/tags/NAME, refs/heads/NAME, refs/remotes/NAME, refs/remotes/NAME/HEAD; then a commit
        id (for a local repository, any revision expression such as ``main~1``). A URL source's ``HEAD`` is
        its ``default_branch()`` (short name). When more than one ref matches (a branch and a tag of the same
        name), the one git picks is used and a warning says so, as git warns "refname is ambiguous". Raises
        SourceError naming the branches and tags that do exist."""
        if self._remote and name == "HEAD":
            name = f"refs/heads/{default_branch()}"
        rules = [name] if name.startswith("refs/") or name.endswith("HEAD") else []
        rules += [f"refs/{name}", f"refs/tags/{name}", f"refs/heads/{name}"]
        rules += [f"refs/remotes/{name}", f"refs/remotes/{name}/HEAD"]
        found = list(dict.fromkeys(r for r in rules if self._exists(r)))
        if found:
            if len(found) > 1:
                self._warn_ambiguous(name, found)
            local = self._repo.references[self._local_name(found[0])]
            return found[0], local.peel(pygit2.Commit)
        commit = self._commit_id(name)
        if commit is not None:
            return "", commit
        raise SourceError(self._not_found(name))

    def _local_name(self, refname: str) -> str:
        """Where a ref of the repository kgitops reads lives here: a URL source's branches are fetched to
        refs/remotes/origin/ of the cache (its refs/heads/ is a stale copy from the clone and never read)."""
        if not self._remote:
            return refname
        if refname.startswith("refs/heads/"):
            return "refs/remotes/origin/" + refname.removeprefix("refs/heads/")
        return refname if refname.startswith("refs/tags/") else ""

    def _exists(self, refname: str) -> bool:
        local = self._local_name(refname)
        try:
            return bool(local) and self._repo.references.get(local) is not None
        except (pygit2.InvalidSpecError, ValueError):
            return False

    def _commit_id(self, name: str) -> pygit2.Commit | None:
        """A commit id (full or abbreviated); for a local repository any revision expression too."""
        if self._remote and not re.fullmatch(r"[0-9a-fA-F]{4,64}", name):
            return None  # the cache's own branches are stale copies: only ids are meaningful there
        try:
            return self._repo.revparse_single(name).peel(pygit2.Commit)
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
            self._shown,
            name,
            _kind(found[0]),
            others,
            found[0],
            found[-1],
        )

    def _not_found(self, name: str) -> str:
        prefix = "refs/remotes/origin/" if self._remote else "refs/heads/"
        names = list(self._repo.references)
        branches = sorted(n.removeprefix(prefix) for n in names if n.startswith(prefix))
        branches = [b for b in branches if b != "HEAD"]
        tags = sorted(n.removeprefix("refs/tags/") for n in names if n.startswith("refs/tags/"))
        short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
        close = difflib.get_close_matches(short, branches + tags, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        listed = f" (branches: {', '.join(branches[:10]) or 'none'}; tags: {', '.join(tags[:10]) or 'none'})"
        return f"{self._shown}: ref `{name}` not found: no branch, tag or commit of that name{hint}{listed}"


def _kind(refname: str) -> str:
    if refname.startswith("refs/tags/"):
        return f"the tag {refname}"
    if refname.startswith("refs/heads/"):
        return f"the branch {refname}"
    return refname
