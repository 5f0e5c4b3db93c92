"""A page of jobs from KusciaAPI, for ``KusciaAPIBackend.list_jobs``.

``kgitops serve`` lists jobs a page at a time (its extension ``POST /api/v1/job/list`` with ``page_size`` and
``page_token``; ``docs/kusciaapi.md``): pages are asked for with the size still missing, so a page never
reads more jobs than it returns, and the filters the server does not know (labels kept by kgitops, phase,
initiator, times) are checked here. A Kuscia node has no list call: there the jobs kgitops knows of (its
inventories and records) are queried one by one in name order, and the marker is the last name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from reconciler.backends.base import BackendError, NotSupported
from reconciler.backends.pages import (
    KUSCIAAPI_MARKER,
    NAME_MARKER,
    InvalidMarker,
    Page,
    PageRequest,
    decode_marker,
    encode_marker,
    name_marker,
)
from reconciler.model import Resource

ListCall = Callable[[int, str], tuple[list[dict[str, Any]], str]]
"""(page size, page token "" for the first) → (the page's QueryJob data, the next page token or "");
NotSupported where the server has no list call."""
ToJob = Callable[[dict[str, Any]], Resource]


def job_page(
    page: PageRequest,
    list_call: ListCall,
    known_names: Callable[[], Iterable[str]],
    query: Callable[[str], dict[str, Any] | None],
    to_job: ToJob,
    endpoint: str,
) -> Page:
    """One page: from the server's pages, or, where it cannot list, by querying ``known_names``."""
    token, after = "", ""
    if page.marker:
        try:
            token = decode_marker(page.marker, KUSCIAAPI_MARKER)
        except InvalidMarker:
            after = decode_marker(page.marker, NAME_MARKER)
    if not after:
        try:
            return _served(page, list_call, to_job, token, endpoint)
        except NotSupported:
            if token:
                raise BackendError(
                    f"KusciaAPI at {endpoint} no longer lists jobs; list again without --marker"
                ) from None
    items: list[Resource] = []
    for name in sorted(n for n in set(known_names()) if n > after):
        data = query(name)
        if data is None:
            continue
        job = to_job(data)
        if not page.matches(job):
            continue
        if len(items) == page.limit:
            return Page(items, name_marker(items[-1].name))
        items.append(job)
    return Page(items, None)


def _served(page: PageRequest, list_call: ListCall, to_job: ToJob, token: str, endpoint: str) -> Page:
    items: list[Resource] = []
    while True:
        size = page.limit - len(items)
        found, next_token = list_call(size, token)
        if len(found) > size:
            raise BackendError(
                f"KusciaAPI at {endpoint} answered a page of {size} jobs with {len(found)}: its kgitops "
                "serve predates paging; upgrade it"
            )
        items.extend(job for job in map(to_job, found) if page.matches(job))
        if not next_token:
            return Page(items, None)
        if len(items) == page.limit:
            return Page(items, encode_marker(KUSCIAAPI_MARKER, next_token))
        token = next_token
