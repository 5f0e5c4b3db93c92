"""Rules that need every file at once: duplicate objects, taskIDs shared across jobs, missing AppImages.

``CrossFileIndex`` keeps only what these rules need (each object's identity and the first place it was
defined, each claimed taskID, the AppImage names defined and the references still waiting for one), so files
can be checked one at a time and their documents dropped. ``check_facts`` runs it over a whole input.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import ObjectRef
from reconciler.validate.findings import RULES, Finding
from reconciler.validate.names import dns1123_subdomain
from reconciler.validate.result import Facts, FileResult, Options, Place


def _finding(
    rule: str, message: str, place: Place, ref: ObjectRef, involves: tuple[ObjectRef, ...] = ()
) -> Finding:
    return Finding(
        rule,
        RULES[rule].severity,
        message,
        place.path,
        place.line,
        place.column,
        ref.kind,
        ref.namespace,
        ref.name,
        involves,
    )


def _at(place: Place) -> str:
    return f"{place.path}:{place.line}:{place.column}" if place.line else place.path


class ImageWait:
    """A task's AppImage reference not (yet) defined in the input: XF003 unless a later file defines it.
    ``token`` is the caller's (the file it was found in). A plain class: a dataclass costs every start-up."""

    __slots__ = ("token", "place", "ref")

    def __init__(self, token: int, place: Place, ref: ObjectRef) -> None:
        self.token = token
        self.place = place
        self.ref = ref

    def finding(self) -> Finding:
        return _finding(
            "XF003",
            f"AppImage {self.place.value!r} is not defined in the input (fine if the cluster already has it)",
            self.place,
            self.ref,
        )


class _Claim:
    """Who claimed a KusciaTask name first, and where (one per taskID in the input: kept small)."""

    __slots__ = ("path", "line", "column", "ref")

    def __init__(self, path: str, line: int, column: int, ref: ObjectRef) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.ref = ref

    def at(self) -> str:
        return f"{self.path}:{self.line}:{self.column}" if self.line else self.path


class CrossFileIndex:
    """The cross-file rules, fed one object at a time in input order (pure; no documents kept).

    - XF001: an object (kind/namespace/name) defined again; reported at the later definition.
    - XF002: a KusciaTask name (a job's ``taskID``, or a KusciaTask's own name) claimed again in a namespace
      by another object; reported at the later claim (Kuscia names each task's KusciaTask after its taskID).
    - XF003: an ``appImage``/``appImageRef`` naming no AppImage anywhere in the input; known only at the end
      (the AppImage may come in a later file), so ``add`` returns such references as ``ImageWait``s, and
      ``defined`` tells which of them a later AppImage settled.
    """

    def __init__(self) -> None:
        self._first: dict[ObjectRef, Place] = {}
        self._claims: dict[str, dict[str, _Claim]] = {}  # namespace -> KusciaTask name -> first claim
        self._images: set[str] = set()
        self._waiting: dict[str, list[ImageWait]] = {}

    def add(self, facts: Facts, token: int = 0) -> tuple[list[Finding], list[ImageWait], list[ImageWait]]:
        """Index one object: (its XF001/XF002 findings, its references that wait for an AppImage, the earlier
        waits this object settles by being that AppImage)."""
        out: list[Finding] = []
        ref = facts.ref
        first = self._first.get(ref)
        if first is not None:
            out.append(_finding("XF001", f"{ref} is defined twice: also at {_at(first)}", facts.place, ref))
        else:
            self._first[ref] = facts.place
        settled: list[ImageWait] = []
        if ref.kind == "AppImage":
            self._images.add(ref.name)
            settled = self._waiting.pop(ref.name, [])
        claims: tuple[Place, ...] = ()
        if ref.kind == "KusciaJob":
            claims = facts.task_ids
        elif ref.kind == "KusciaTask":
            claims = (facts.place,)
        if claims:
            names = self._claims.setdefault(ref.namespace, {})
        for place in claims:
            prior = names.get(place.value)
            if prior is None:
                names[place.value] = _Claim(place.path, place.line, place.column, ref)
            elif prior.ref != ref:
                out.append(
                    _finding(
                        "XF002",
                        f"KusciaTask name {place.value!r} in namespace {ref.namespace!r} "
                        f"is also claimed by {prior.ref} at {prior.at()}; one of them would fail",
                        place,
                        ref,
                        (prior.ref,),
                    )
                )
        waits: list[ImageWait] = []
        for place in facts.app_images:
            # a value that is no object name at all is REF001's, not a missing AppImage
            if place.value not in self._images and dns1123_subdomain(place.value) is None:
                wait = ImageWait(token, place, ref)
                self._waiting.setdefault(place.value, []).append(wait)
                waits.append(wait)
        return out, waits, settled

    def waiting(self) -> list[ImageWait]:
        """The references still waiting: at the end of the input, each is an XF003 finding."""
        return [w for waits in self._waiting.values() for w in waits]


def check_facts(facts: Iterable[Facts]) -> list[Finding]:
    """The cross-file rules over the facts of every object in the input (in input order): every XF001, then
    each object's XF002 and XF003 findings."""
    index = CrossFileIndex()
    duplicates: list[Finding] = []
    per_object: list[tuple[list[Finding], list[ImageWait]]] = []
    settled: set[int] = set()
    for f in facts:
        found, waits, done = index.add(f)
        duplicates += [x for x in found if x.rule == "XF001"]
        per_object.append(([x for x in found if x.rule != "XF001"], waits))
        settled.update(id(w) for w in done)
    out = duplicates
    for claims, waits in per_object:
        out += claims
        out += [w.finding() for w in waits if id(w) not in settled]
    return out


def check_cross_file(results: list[FileResult], options: Options | object | None = None) -> list[Finding]:
    """Cross-file findings for a set of per-file results (one FileResult per file, in input order)."""
    return check_facts(f for r in results for f in r.facts)
