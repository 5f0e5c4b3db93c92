"""Rules that need every file at once: duplicate objects, taskIDs shared across jobs, missing AppImages.

``CrossFileIndex`` keeps only what these rules need (each object's identity and the first place it was
defined, each claimed taskID, the AppImage names defined and the references still waiting for one), so files
can be checked one at a time and their documents dropped. ``check_facts`` runs it over a whole input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from reconciler.model import ObjectRef
from reconciler.model.objects import APP_IMAGE, KUSCIA_JOB, KUSCIA_TASK
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
            f"{APP_IMAGE} {self.place.value!r} is not defined in the input "
            "(fine if the cluster already has it)",
            self.place,
            self.ref,
        )


# What a store keeps of a first definition or claim: (path, line, column, kind, namespace, name); the ref is
# the claimant's for a KusciaTask name, empty for an object's own definition.
FirstPlace = tuple[str, int, int, str, str, str]


class FirstSeen(Protocol):
    """Keys with the value recorded when each was first seen: the memory of the cross-file rules, one entry
    per object and per KusciaTask name of the input. ``SeenInMemory`` keeps it in a dict; a caller that runs
    over inputs of any size gives one that keeps its memory flat (``reconciler.validate.spill``)."""

    def first(self, key: str, value: FirstPlace) -> FirstPlace | None:
        """The value recorded for ``key``; or None, having recorded ``value`` for it."""
        ...


class SeenInMemory:
    """``FirstSeen`` in a dict."""

    def __init__(self) -> None:
        self._seen: dict[str, FirstPlace] = {}

    def first(self, key: str, value: FirstPlace) -> FirstPlace | None:
        prior = self._seen.get(key)
        if prior is None:
            self._seen[key] = value
        return prior


def _shown(path: str, line: int, column: int) -> str:
    return f"{path}:{line}:{column}" if line else path


class CrossFileIndex:
    """The cross-file rules, fed one object at a time in input order (pure; no documents kept).

    - XF001: an object (kind/namespace/name) defined again; reported at the later definition.
    - XF002: a KusciaTask name (a job's ``taskID``, or a KusciaTask's own name) claimed again in a namespace
      by another object; reported at the later claim (Kuscia names each task's KusciaTask after its taskID).
    - XF003: an ``appImage``/``appImageRef`` naming no AppImage anywhere in the input; known only at the end
      (the AppImage may come in a later file), so ``add`` returns such references as ``ImageWait``s, and
      ``defined`` tells which of them a later AppImage settled.
    """

    def __init__(self, objects: FirstSeen | None = None, claims: FirstSeen | None = None) -> None:
        # kind/namespace/name -> where the object is first defined
        self._objects = objects if objects is not None else SeenInMemory()
        # namespace/KusciaTask name -> who claimed it first, and where
        self._claims = claims if claims is not None else SeenInMemory()
        self._images: set[str] = set()
        self._waiting: dict[str, list[ImageWait]] = {}

    def add(self, facts: Facts, token: int = 0) -> tuple[list[Finding], list[ImageWait], list[ImageWait]]:
        """Index one object: (its XF001/XF002 findings, its references that wait for an AppImage, the earlier
        waits this object settles by being that AppImage)."""
        out: list[Finding] = []
        ref, place = facts.ref, facts.place
        key = f"{ref.kind} {len(ref.namespace)} {ref.namespace}{ref.name}"  # (a kind has no space)
        first = self._objects.first(key, (place.path, place.line, place.column, "", "", ""))
        if first is not None:
            at = _shown(first[0], first[1], first[2])
            out.append(_finding("XF001", f"{ref} is defined twice: also at {at}", place, ref))
        settled: list[ImageWait] = []
        if ref.kind == APP_IMAGE:
            self._images.add(ref.name)
            settled = self._waiting.pop(ref.name, [])
        claims: tuple[Place, ...] = ()
        if ref.kind == KUSCIA_JOB:
            claims = facts.task_ids
        elif ref.kind == KUSCIA_TASK:
            claims = (facts.place,)
        for claim in claims:
            prior = self._claims.first(
                f"{len(ref.namespace)} {ref.namespace}{claim.value}",
                (claim.path, claim.line, claim.column, ref.kind, ref.namespace, ref.name),
            )
            if prior is None:
                continue
            path, line, column, kind, namespace, name = prior
            other = ObjectRef(kind, namespace, name)
            if other != ref:
                out.append(
                    _finding(
                        "XF002",
                        f"{KUSCIA_TASK} name {claim.value!r} in namespace {ref.namespace!r} "
                        f"is also claimed by {other} at {_shown(path, line, column)}; one of them would fail",
                        claim,
                        ref,
                        (other,),
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


def check_cross_file(results: list[FileResult], options: Options | None = None) -> list[Finding]:
    """Cross-file findings for a set of per-file results (one FileResult per file, in input order)."""
    return check_facts(f for r in results for f in r.facts)
