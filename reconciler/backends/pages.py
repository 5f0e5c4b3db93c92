"""Paging through a backend's KusciaJobs and KusciaTasks: the requests (``PageRequest``, ``TaskPageRequest``),
the answer (``Page``), the opaque markers, and the filters as pure functions for what a backend cannot filter
where the objects are stored (``page_of`` pages a sorted list the same way).

A page holds jobs (tasks) in name order (within one namespace: the order of Kubernetes' keys and of the
embedded store's primary key). ``Page.next_marker`` is opaque: each backend puts in it what it needs to
continue (the name of the page's last job; Kubernetes' ``continue`` token too), wrapped so that anything
kgitops did not print is refused with ``InvalidMarker`` (exit code 2) before any request is made.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reconciler.errors import UsageError
from reconciler.model import Resource
from reconciler.views import job_phase_of, parse_time, task_phase_of

MAX_LIMIT = 1000
NAME_MARKER = "m1"  # "after this name": the embedded store, KusciaAPI without its list extension or for tasks
KUBERNETES_MARKER = "k1"  # Kubernetes' continue token, its chunk size and the last name returned
KUSCIAAPI_MARKER = "a1"  # the page token of kgitops' KusciaAPI list extension


class InvalidMarker(UsageError):
    """A page marker that kgitops did not print (or printed for another backend): a usage error (exit 2)."""

    def __init__(self, marker: str) -> None:
        super().__init__(
            f"marker `{marker}` is not one kgitops printed; pass the marker shown after the previous page"
        )
        self.marker = marker


_URLSAFE = bytes.maketrans(b"+/", b"-_")  # RFC 4648's URL-safe alphabet from the standard one, and back
_STANDARD = bytes.maketrans(b"-_", b"+/")


def encode_marker(kind: str, payload: str) -> str:
    """An opaque marker: ``kind`` (one of the ``*_MARKER`` constants) and what the backend needs; URL-safe
    base64 without padding, so it can be typed, quoted in a URL or put in JSON as it is."""
    # binascii, not base64: the same encoding (RFC 4648 §5) without importing base64 into every `job list`
    encoded = binascii.b2a_base64(f"{kind}:{payload}".encode(), newline=False)
    return encoded.translate(_URLSAFE).decode().rstrip("=")


def decode_marker(marker: str, kind: str) -> str:
    """The payload of a marker of ``kind``; InvalidMarker if it is anything else."""
    try:
        data = (marker + "=" * (-len(marker) % 4)).encode("ascii").translate(_STANDARD)
        text = binascii.a2b_base64(data).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not marker or not text.startswith(kind + ":"):
        raise InvalidMarker(marker)
    return text[len(kind) + 1 :]


def encode_fields(kind: str, fields: Mapping[str, Any]) -> str:
    """A marker carrying several fields (a JSON object)."""
    return encode_marker(kind, json.dumps(dict(fields), separators=(",", ":"), sort_keys=True))


def decode_fields(marker: str, kind: str) -> dict[str, Any]:
    try:
        fields = json.loads(decode_marker(marker, kind))
    except ValueError:
        raise InvalidMarker(marker) from None
    if not isinstance(fields, dict):
        raise InvalidMarker(marker)
    return fields


@dataclass(frozen=True)
class PageRequest:
    """One page of KusciaJobs of ``namespace``, in name order, after ``marker`` (a ``Page.next_marker`` of
    the same backend; "" for the first page), at most ``limit`` (1-1000) of them, filtered:

    ``labels``: all must match exactly (Kubernetes' equality selector); ``phases``: the job's phase in our
    spelling (``JobPhase`` values; Kuscia's ``""`` and ``initialized`` read as Initialized) is one of them;
    ``initiator``: ``spec.initiator``; ``updated_after``: the latest of ``status.lastReconcileTime``,
    ``.completionTime``, ``.startTime`` and ``metadata.creationTimestamp`` is after it; ``started_after``:
    ``status.startTime`` is after it.
    """

    namespace: str
    limit: int = 50
    marker: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    phases: frozenset[str] = frozenset()
    initiator: str = ""
    updated_after: datetime | None = None
    started_after: datetime | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise UsageError(f"a page holds 1 to {MAX_LIMIT} jobs, not {self.limit}")

    def matches(self, job: Resource) -> bool:
        """Whether a job passes every filter (for what a backend does not filter where jobs are stored)."""
        if any(job.labels.get(k) != v for k, v in self.labels.items()):
            return False
        if self.phases and job_phase_of(job) not in self.phases:
            return False
        if self.initiator and str(job.spec.get("initiator") or "") != self.initiator:
            return False
        st = job.status
        return self.times_match(
            st.get("startTime"),
            st.get("completionTime"),
            st.get("lastReconcileTime"),
            job.creation_timestamp,
        )

    def times_match(self, start: Any, completion: Any, last_reconcile: Any, created: Any) -> bool:
        """The two time filters, from the raw RFC 3339 fields (so a store can check them without decoding
        the whole job)."""
        if self.started_after is not None:
            started = parse_time(start)
            if started is None or started <= self.started_after:
                return False
        if self.updated_after is not None:
            times = [t for t in map(parse_time, (last_reconcile, completion, start, created)) if t]
            if not times or max(times) <= self.updated_after:
                return False
        return True


@dataclass(frozen=True)
class TaskPageRequest:
    """One page of KusciaTasks of ``namespace``, in name order, after ``marker`` (a ``Page.next_marker`` of
    the same backend; "" for the first page), at most ``limit`` (1-1000) of them, filtered: ``phases``, the
    task's phase as shown (``views.task_phase_of``: ``status.phase``, unset or unknown read as Pending) is one
    of them. A created task is never ``NotCreated`` or ``Blocked`` (those are a job's tasks that do not
    exist): asking for only those gives an empty page.
    """

    namespace: str
    limit: int = 50
    marker: str = ""
    phases: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise UsageError(f"a page holds 1 to {MAX_LIMIT} tasks, not {self.limit}")

    def matches(self, task: Resource) -> bool:
        """Whether a task passes the filter (for what a backend does not filter where tasks are stored)."""
        return not self.phases or task_phase_of(task) in self.phases


class PageQuery(Protocol):
    """What paging needs of a ``PageRequest`` or a ``TaskPageRequest``."""

    @property
    def limit(self) -> int: ...

    @property
    def marker(self) -> str: ...

    def matches(self, obj: Resource, /) -> bool: ...


@dataclass
class Page:
    """Jobs (tasks) in name order; ``next_marker`` continues after the last of them (None: there are no
    more)."""

    items: list[Resource]
    next_marker: str | None = None


def name_marker(name: str) -> str:
    """The marker "after the job (task) ``name``"."""
    return encode_marker(NAME_MARKER, name)


def marker_name(marker: str) -> str:
    """The job (task) name a name marker continues after ("" for no marker)."""
    return decode_marker(marker, NAME_MARKER) if marker else ""


def page_of(objects: Iterable[Resource], request: PageQuery) -> Page:
    """The page ``request`` asks for out of ``objects`` (in name order): the ones named after the marker's
    name that match, ``request.limit`` of them, and a name marker when another one matching follows."""
    after = marker_name(request.marker)
    items: list[Resource] = []
    for obj in objects:
        if obj.name <= after or not request.matches(obj):
            continue
        if len(items) == request.limit:
            return Page(items, name_marker(items[-1].name))
        items.append(obj)
    return Page(items, None)


def names_of_pages(read_page: Callable[[str], Page]) -> list[str]:
    """The names of every object ``read_page`` (marker → page, "" for the first) returns, page after page."""
    names: list[str] = []
    marker: str | None = ""
    while marker is not None:
        page = read_page(marker)
        names.extend(obj.name for obj in page.items)
        marker = page.next_marker
    return names
