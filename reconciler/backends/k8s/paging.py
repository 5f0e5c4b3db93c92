"""A page of KusciaJobs or KusciaTasks from Kubernetes' own chunked lists (``limit`` and ``continue``; API
conventions, "Retrieving large results sets in chunks"), for ``KubernetesBackend.list_jobs`` and
``list_tasks``, the way ``kubectl get --chunk-size`` reads them.

The API server returns a namespace's objects in key order, that is name order, and a ``continue`` token for
the rest; a continued list reads the snapshot of the first one. The label filter travels as a label selector;
the other filters (phase, initiator, times) are not selectable on custom resources (their field selectors know
only ``metadata.name`` and ``metadata.namespace``) and are checked here, on one chunk at a time. A page can
end inside a chunk, so the marker holds the token that chunk was read with, the chunk's size and the page's
last name: the next page reads the same chunk again and starts after that name. A token that the API server
has let expire (410 Gone; etcd compacted its revision) is replaced by the one the server sends with the 410,
which continues at the same key in the current state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from reconciler.backends.base import BackendError
from reconciler.backends.k8s.errors import ApiStatus, Request
from reconciler.backends.k8s.objects import from_body
from reconciler.backends.pages import (
    KUBERNETES_MARKER,
    MAX_LIMIT,
    InvalidMarker,
    Page,
    PageQuery,
    decode_fields,
    encode_fields,
)
from reconciler.model import Resource

Run = Callable[..., Any]
"""``KubernetesBackend._call``: (API function, ``Request``, *args, raw_status=..., **kwargs) → the answer."""
Fetch = Callable[[str, int], tuple[list[Resource], str]]
"""(continue token, "" for the start; limit) → (the chunk's objects in name order, the next token or "")."""


def read_marker(marker: str, limit: int) -> tuple[str, int, str]:
    """(continue token, chunk size, name to continue after) of a Kubernetes marker; InvalidMarker if it is
    not one ``object_page`` printed."""
    if not marker:
        return "", limit, ""
    fields = decode_fields(marker, KUBERNETES_MARKER)
    token, size, after = fields.get("c"), fields.get("n"), fields.get("a")
    if not (isinstance(token, str) and isinstance(size, int) and isinstance(after, str)):
        raise InvalidMarker(marker)
    if not 1 <= size <= MAX_LIMIT + 1 or not after:
        raise InvalidMarker(marker)
    return token, size, after


def object_page(fetch: Fetch, page: PageQuery) -> Page:
    """One page of jobs (``PageRequest``) or tasks (``TaskPageRequest``): chunks of ``page.limit`` objects
    (the marker's chunk first) until the page is full."""
    token, size, after = read_marker(page.marker, page.limit)
    items: list[Resource] = []
    while True:
        chunk, next_token = fetch(token, size)
        for obj in chunk:
            if obj.name <= after or not page.matches(obj):
                continue
            if len(items) == page.limit:  # one more matches: continue inside this chunk next time
                return Page(items, _marker(token, size, items[-1].name))
            items.append(obj)
        if not next_token:
            return Page(items, None)
        if len(items) == page.limit:
            return Page(items, _marker(next_token, page.limit, items[-1].name))
        token, size = next_token, page.limit


job_page = object_page  # the name it had when only jobs were paged


def _marker(token: str, size: int, after: str) -> str:
    return encode_fields(KUBERNETES_MARKER, {"c": token, "n": size, "a": after})


def chunk_fetcher(list_call: Callable[..., Any], run: Run, request: Request, marker: str) -> Fetch:
    """``Fetch`` over a ``CustomObjectsApi`` list call (its group, version, namespace, plural and label
    selector bound), made through ``run`` (the backend's call: retried, failures named, ``k8s.calls``). A
    continue token the server let expire (410) is replaced by the one its Status carries; without one, or
    for a token the server can not read (400), the user is told to list again (the marker ``marker`` came
    from)."""

    def fetch(token: str, limit: int) -> tuple[list[Resource], str]:
        extra: dict[str, Any] = {"_continue": token} if token else {}
        try:
            result = run(list_call, request, limit=limit, raw_status=(400, 410) if token else (), **extra)
        except ApiException as exc:  # 400 or 410 on a continued list
            renewed = _continue_of(exc) if exc.status == 410 else ""
            if renewed:
                return fetch(renewed, limit)
            if exc.status == 400:
                raise InvalidMarker(marker) from None
            raise BackendError(
                f"the marker has expired on the Kubernetes API server ({ApiStatus.of(exc).message}); "
                "list again without --marker"
            ) from None
        items = [from_body(doc) for doc in result.get("items") or ()]
        return items, str((result.get("metadata") or {}).get("continue") or "")

    return fetch


def _continue_of(exc: ApiException) -> str:
    """The fresh continue token of a 410 Gone for an expired one (``metadata.continue`` of its Status)."""
    try:
        doc = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return ""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return str(meta.get("continue") or "") if isinstance(meta, dict) else ""



LIST_CHUNK = 500
"""Objects per chunk of a whole-collection list (client-go's pager and informers ask for 500)."""

Chunk = Callable[[str, int], Any]
"""(continue token, "" for the start; limit, 0 for no limit) → the API server's list answer (a dict), or
ApiException 410 for a continue token that expired meanwhile."""


@dataclass(frozen=True)
class Whole:
    """A whole collection as one snapshot: its objects (manifest dicts, in key order), the snapshot's
    ``resourceVersion`` (where a watch continues) and the list's ``kind`` (``KusciaJobList``)."""

    items: list[dict[str, Any]]
    resource_version: str
    kind: str


def list_whole(chunk: Chunk, limit: int = LIST_CHUNK) -> Whole:
    """Every object of a collection, read in chunks of ``limit`` from one snapshot (API conventions,
    "Retrieving large results sets in chunks"). A continue token that the server let expire (410 Gone: etcd
    compacted the snapshot's revision) means the chunks can no longer be of one snapshot, so the collection is
    read again in one unchunked request, as client-go's pager does."""
    first = chunk("", limit)
    items = [dict(i) for i in first.get("items") or ()]
    meta = first.get("metadata") or {}
    token = str(meta.get("continue") or "")
    while token:
        try:
            answer = chunk(token, limit)
        except ApiException as exc:
            if exc.status != 410:
                raise
            return _whole(chunk("", 0))
        items.extend(dict(i) for i in answer.get("items") or ())
        token = str((answer.get("metadata") or {}).get("continue") or "")
    return Whole(items, str(meta.get("resourceVersion") or ""), str(first.get("kind") or ""))


def _whole(answer: Any) -> Whole:
    meta = answer.get("metadata") or {}
    items = [dict(i) for i in answer.get("items") or ()]
    return Whole(items, str(meta.get("resourceVersion") or ""), str(answer.get("kind") or ""))


def chunk_caller(list_call: Callable[..., Any], run: Run, request: Request) -> Chunk:
    """``Chunk`` over a ``CustomObjectsApi`` list call (group, version, namespace, plural and label selector
    bound), made through ``run`` (the backend's call: retried, failures named); a continued chunk's 410 is
    left to ``list_whole``."""

    def chunk(token: str, limit: int) -> Any:
        extra: dict[str, Any] = {"limit": limit} if limit else {}
        if token:
            extra["_continue"] = token
        return run(list_call, request, raw_status=(410,) if token else (), **extra)

    return chunk
