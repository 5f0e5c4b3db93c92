"""A stand-in Kubernetes API server on 127.0.0.1 for the Kubernetes backend's tests.

It follows the API conventions the backend relies on, closely enough for the real ``kubernetes`` client,
and behaves like the real kube-apiserver (1.20) where the two were compared (test_backends_k8s_truth.py runs
each of these on both): custom-object and ConfigMap CRUD, equality/existence label selectors, resourceVersion
with 409 Conflict on a stale write and 422 on a custom-resource update without one, fields the CRD's schema
does not declare dropped, the status subresource (PUT on the object ignores status, PUT on /status ignores the
rest), ownerReference cascade on delete, and chunked watch streams in which an object that stops matching the
selector is DELETED, BOOKMARKs come once a minute with the watched resource's revision (never in a short
request), and 410 Gone follows compaction and any restart. Tests can inject failures (429/5xx with
Retry-After), compact history, and stop and restart the server on the same port to play "the API server went
away and came back".
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .k8s_standin_rules import matches, merge_patch, parse_selector, prune_unknown

GROUP_PREFIX = "/apis/kuscia.secretflow/v1alpha1"
CLUSTER_SCOPED = {"appimages"}
WITH_STATUS = {"kusciajobs", "kusciatasks"}
CUSTOM = {"kusciajobs", "kusciatasks", "appimages"}
POLL_SECONDS = 0.1  # how often an idle watch stream looks at the server's closing flag
KINDS = {
    "kusciajobs": "KusciaJob",
    "kusciatasks": "KusciaTask",
    "appimages": "AppImage",
    "configmaps": "ConfigMap",
}

_CUSTOM = re.compile(
    r"^/apis/kuscia\.secretflow/v1alpha1(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?$"
)
_CORE = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>configmaps)(?:/(?P<name>[^/]+))?$")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.metadata = metadata or {}  # a Status' own metadata (the fresh continue token of a 410)


@dataclass
class Fault:
    method: str
    path_contains: str
    code: int
    count: int
    retry_after: float | None = None


@dataclass
class Store:
    """Objects by collection, one global resourceVersion counter and an event history.

    Each event keeps the object before the change too, so a watch with a label selector can tell an object
    that stopped (or started) matching: DELETED (or ADDED), as the API server's watch cache does.
    ``cache_rv`` plays the watch cache of each resource: the revision it was (re)started at or of the
    resource's last change, whichever is later; bookmarks carry it, never another resource's revision.
    """

    objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    rv: int = 100
    history: list[Event] = field(default_factory=list)
    compacted: int = 0
    started_rv: int = 0
    last_rv: dict[str, int] = field(default_factory=dict)
    snapshots: dict[int, dict[tuple[str, str, str], list[dict[str, Any]]]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    def record(
        self, coll: tuple[str, str], etype: str, obj: dict[str, Any], before: dict[str, Any] | None = None
    ) -> None:
        self.history.append(Event(self.rv, coll, etype, copy.deepcopy(obj), copy.deepcopy(before)))
        self.last_rv[coll[0]] = self.rv
        self.cond.notify_all()

    def cache_rv(self, plural: str) -> int:
        return max(self.started_rv, self.last_rv.get(plural, 0))


@dataclass(frozen=True)
class Event:
    rv: int
    coll: tuple[str, str]
    type: str
    obj: dict[str, Any]
    before: dict[str, Any] | None  # MODIFIED: the object as it was


class StandInServer:
    """Run with ``start()``; ``url`` is the base URL for a kubeconfig."""

    def __init__(self, token: str = "", bookmark_period: float = 60.0) -> None:
        self.token = token
        self.bookmark_period = bookmark_period  # seconds between a watch request's BOOKMARKs
        self.store = Store()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.queries: list[dict[str, str]] = []  # the query of each request, in the order of ``requests``
        self.listed: list[int] = []  # how many objects each list response held
        self.port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> StandInServer:
        handler = type("Handler", (_Handler,), {"server_ref": self})
        deadline = time.monotonic() + 10
        while True:
            try:
                self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        with self.store.cond:
            # A (re)started API server fills its watch cache from a list at the current revision, so a watch
            # from any older resourceVersion gets 410 Gone ("too old resource version"), compacted or not.
            self.store.started_rv = self.store.rv
            self.store.compacted = max(self.store.compacted, self.store.rv)
        self._closing.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away: close the listener and end open watch streams (the store is kept)."""
        self._closing.set()
        with self.store.cond:
            self.store.cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- test controls ------------------------------------------------------------------------
    def compact(self) -> None:
        """Forget the event history: watches from an older resourceVersion get 410 Gone."""
        with self.store.cond:
            self.store.compacted = self.store.rv
            self.store.history.clear()
            self.store.cond.notify_all()

    def inject(
        self, method: str, path_contains: str, code: int, count: int = 1, retry_after: float | None = None
    ) -> None:
        self.faults.append(Fault(method, path_contains, code, count, retry_after))

    def set_status(self, plural: str, ns: str, name: str, status: dict[str, Any]) -> None:
        """What a Kuscia controller would do: write the status of an object."""
        with self.store.cond:
            obj = self.store.objects[(plural, ns)][name]
            before = copy.deepcopy(obj)
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = self.store.bump()
            self.store.record((plural, ns), "MODIFIED", obj, before)

    def take_fault(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.count > 0 and f.method == method and f.path_contains in path:
                f.count -= 1
                return f
        return None


class _Handler(BaseHTTPRequestHandler):
    server_ref: StandInServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    # -- plumbing -----------------------------------------------------------------------------
    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _dispatch(self, method: str) -> None:
        srv = self.server_ref
        url = urlsplit(self.path)
        srv.requests.append((method, url.path))
        srv.queries.append({k: v[-1] for k, v in parse_qs(url.query).items()})
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            if srv.token and self.headers.get("Authorization") != f"Bearer {srv.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            fault = srv.take_fault(method, url.path)
            if fault is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                reason = {429: "TooManyRequests", 409: "Conflict"}.get(fault.code, "InternalError")
                self._send(fault.code, _status(fault.code, reason, "injected failure"), headers)
                return
            m = _CUSTOM.match(url.path) or _CORE.match(url.path)
            if not m:
                raise ApiError(
                    404, "NotFound", f"the server could not find the requested resource ({url.path})"
                )
            parts = m.groupdict()
            plural, ns, name, sub = parts["plural"], parts.get("ns") or "", parts["name"], parts.get("sub")
            if plural not in KINDS:
                raise ApiError(
                    404, "NotFound", f"the server could not find the requested resource ({plural})"
                )
            if plural in CLUSTER_SCOPED and ns:
                raise ApiError(404, "NotFound", f"{plural} is cluster-scoped")
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._route(method, plural, ns, name, sub, query, body)
        except ApiError as exc:
            self._send(exc.code, {**_status(exc.code, exc.reason, exc.message), "metadata": exc.metadata})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- semantics ----------------------------------------------------------------------------------
    def _route(
        self,
        method: str,
        plural: str,
        ns: str,
        name: str | None,
        sub: str | None,
        query: dict[str, str],
        body: Any,
    ) -> None:
        store = self.server_ref.store
        what = f'{plural}.kuscia.secretflow "{name}"' if plural != "configmaps" else f'configmaps "{name}"'
        if name is None:
            if method == "GET" and query.get("watch") in ("true", "1"):
                self._watch(plural, ns, query)
                return
            if method == "GET":
                self._list(plural, ns, query)
                return
            if method == "POST":
                self._create(plural, ns, body)
                return
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
        with store.cond:
            coll = store.objects.setdefault((plural, ns), {})
            current = coll.get(name)
            if method == "GET":
                if current is None:
                    raise ApiError(404, "NotFound", f"{what} not found")
                self._send(200, current)
                return
            if current is None:
                raise ApiError(404, "NotFound", f"{what} not found")
            if method == "DELETE":
                self._delete(plural, ns, name, body or {})
                self._send(
                    200,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Success",
                        "details": {"name": name, "kind": plural},
                    },
                )
                return
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be an object")
            if method == "PATCH":
                body = merge_patch(copy.deepcopy(current), body)
            body = prune_unknown(plural, body)
            sent_rv = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if not sent_rv and plural in CUSTOM:
                # Custom resources have no unconditional update (apiextensions-apiserver's strategy); core
                # objects such as ConfigMaps do.
                raise ApiError(
                    422,
                    "Invalid",
                    f'{what} is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified '
                    "for an update",
                )
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on {what}: the object has been "
                    "modified; please apply your changes to the latest version and try again",
                )
            new = copy.deepcopy(current)
            if sub == "status":
                new["status"] = copy.deepcopy(body.get("status") or {})
            else:
                meta = body.get("metadata") or {}
                for key in ("labels", "annotations", "ownerReferences"):
                    if key in meta:
                        new["metadata"][key] = copy.deepcopy(meta[key])
                    else:
                        new["metadata"].pop(key, None)
                for key, value in body.items():
                    if key in ("metadata", "apiVersion", "kind"):
                        continue
                    if key == "status" and plural in WITH_STATUS:
                        continue
                    new[key] = copy.deepcopy(value)
                if new.get("spec") != current.get("spec"):
                    new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
            if new != current:
                new["metadata"]["resourceVersion"] = store.bump()
                coll[name] = new
                store.record((plural, ns), "MODIFIED", new, current)
            self._send(200, new)

    def _create(self, plural: str, ns: str, body: Any) -> None:
        store = self.server_ref.store
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        meta = body.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name) or len(name) > 253:
            raise ApiError(
                422, "Invalid", f'{KINDS[plural]} "{name}" is invalid: metadata.name: Invalid value'
            )
        if meta.get("namespace") and meta["namespace"] != ns:
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the request")
        with store.cond:
            coll = store.objects.setdefault((plural, ns), {})
            if name in coll:
                raise ApiError(409, "AlreadyExists", f'{plural}.kuscia.secretflow "{name}" already exists')
            obj = prune_unknown(plural, copy.deepcopy(body))
            obj.setdefault("kind", KINDS[plural])
            m = obj.setdefault("metadata", {})
            if ns:
                m["namespace"] = ns
            m["uid"] = str(uuid.uuid4())
            m["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            m["generation"] = 1
            m["resourceVersion"] = store.bump()
            if plural in WITH_STATUS:
                obj.pop("status", None)
            coll[name] = obj
            store.record((plural, ns), "ADDED", obj)
            self._send(201, obj)

    def _delete(self, plural: str, ns: str, name: str, options: dict[str, Any]) -> None:
        store = self.server_ref.store
        obj = store.objects[(plural, ns)].pop(name)
        store.bump()
        obj["metadata"]["resourceVersion"] = str(store.rv)
        store.record((plural, ns), "DELETED", obj)
        if options.get("propagationPolicy") == "Orphan":
            return
        uid = obj["metadata"]["uid"]
        for (p, n), coll in list(store.objects.items()):
            for child_name, child in list(coll.items()):
                owners = child["metadata"].get("ownerReferences") or []
                if any(o.get("uid") == uid for o in owners):
                    self._delete(p, n, child_name, {})

    def _collection(self, plural: str, ns: str) -> list[dict[str, Any]]:
        store = self.server_ref.store
        if ns or plural in CLUSTER_SCOPED:
            return list(store.objects.get((plural, ns), {}).values())
        return [o for (p, _), coll in store.objects.items() if p == plural for o in coll.values()]

    def _list(self, plural: str, ns: str, query: dict[str, str]) -> None:
        """A list; with ``limit``, a chunk and a ``continue`` token, the continued chunks read from the
        snapshot the first one was taken at (410 Expired with a fresh token once it is compacted away, as
        the API server answers after etcd compaction; 400 for a token it did not issue)."""
        store = self.server_ref.store
        selector = query.get("labelSelector", "")
        terms = parse_selector(selector)
        token = query.get("continue", "")
        with store.cond:
            start = ""
            if token:
                try:
                    decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                    at, start = int(decoded["rv"]), str(decoded["start"])
                except (ValueError, KeyError, TypeError):
                    raise ApiError(400, "BadRequest", "continue key is not valid") from None
                if at < store.compacted or at not in store.snapshots:
                    fresh = self._snapshot(plural, ns, selector, terms)
                    raise ApiError(
                        410,
                        "Expired",
                        "The provided continue parameter is too old to display a consistent list result.",
                        {"continue": _continue_token(fresh, start)},
                    )
                items = store.snapshots[at][(plural, ns, selector)]
                rv = str(at)
            else:
                rv_now = self._snapshot(plural, ns, selector, terms)
                items = store.snapshots[rv_now][(plural, ns, selector)]
                rv = str(rv_now)
        items = [copy.deepcopy(o) for o in items if _key(o) > start]
        meta: dict[str, Any] = {"resourceVersion": rv}
        limit = int(query.get("limit") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            meta["continue"] = _continue_token(int(rv), _key(items[-1]))
        self.server_ref.listed.append(len(items))
        kind = KINDS[plural] + "List"
        self._send(
            200,
            {
                "apiVersion": "v1" if plural == "configmaps" else "kuscia.secretflow/v1alpha1",
                "kind": kind,
                "metadata": meta,
                "items": items,
            },
        )

    def _snapshot(self, plural: str, ns: str, selector: str, terms: list[tuple[str, str, str]]) -> int:
        """Take the collection's state now (under the store's lock) for lists continued from it."""
        store = self.server_ref.store
        items = [
            copy.deepcopy(o)
            for o in self._collection(plural, ns)
            if matches(o["metadata"].get("labels") or {}, terms)
        ]
        items.sort(key=_key)
        store.snapshots.setdefault(store.rv, {})[(plural, ns, selector)] = items
        return store.rv

    def _watch(self, plural: str, ns: str, query: dict[str, str]) -> None:
        srv = self.server_ref
        store = srv.store
        terms = parse_selector(query.get("labelSelector", ""))
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        since_text = query.get("resourceVersion") or "0"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def in_scope(coll: tuple[str, str]) -> bool:
            return coll[0] == plural and (not ns or coll[1] == ns)

        end = time.monotonic() + timeout
        try:
            with store.cond:
                since = int(since_text) if since_text.isdigit() else 0
                if since == 0:
                    for obj in self._collection(plural, ns):
                        if matches(obj["metadata"].get("labels") or {}, terms):
                            emit({"type": "ADDED", "object": obj})
                    since = store.rv
                elif since < store.compacted:
                    emit(
                        {
                            "type": "ERROR",
                            "object": _status(
                                410, "Expired", f"too old resource version: {since} ({store.compacted})"
                            ),
                        }
                    )
                    return
            # Bookmarks as kube-apiserver 1.20 sends them (observed): a minute into a watch request, then each
            # minute, and 2 s before a timeoutSeconds longer than that; none in a shorter request. They carry
            # the watched resource's revision. Rare, so a watch must not depend on them.
            period = srv.bookmark_period
            bookmark_at = time.monotonic() + period if bookmarks else None
            last_call = end - 2 if bookmarks and timeout > period else None
            while time.monotonic() < end and not srv._closing.is_set():
                with store.cond:
                    if since < store.compacted:
                        emit(
                            {
                                "type": "ERROR",
                                "object": _status(410, "Expired", f"too old resource version: {since}"),
                            }
                        )
                        return
                    pending = [e for e in store.history if e.rv > since and in_scope(e.coll)]
                    if not pending:
                        store.cond.wait(min(POLL_SECONDS, max(0.0, end - time.monotonic())))
                        pending = [e for e in store.history if e.rv > since and in_scope(e.coll)]
                    cache_rv = store.cache_rv(plural)
                for e in pending:
                    since = max(since, e.rv)
                    etype, obj = seen_as(e, terms)
                    if etype:
                        emit({"type": etype, "object": obj})
                now = time.monotonic()
                due = [t for t in (bookmark_at, last_call) if t is not None and now >= t]
                if due:
                    since = max(since, cache_rv)
                    emit(
                        {
                            "type": "BOOKMARK",
                            "object": {"kind": KINDS[plural], "metadata": {"resourceVersion": str(since)}},
                        }
                    )
                    if bookmark_at is not None and now >= bookmark_at:
                        bookmark_at += period
                    if last_call is not None and now >= last_call:
                        last_call = None
            if srv._closing.is_set():
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
            self.close_connection = True


def seen_as(event: Event, terms: list[tuple[str, str, str]]) -> tuple[str, dict[str, Any]]:
    """How a watch with these selector terms sees ``event`` (type '' for not at all): an object that stops
    matching is DELETED, as it was before the change but with the change's resourceVersion; one that starts
    matching is ADDED (kube-apiserver 1.20's cacher, as observed)."""
    now = matches(event.obj["metadata"].get("labels") or {}, terms)
    if event.type != "MODIFIED" or event.before is None:
        return (event.type if now else ""), event.obj
    was = matches(event.before["metadata"].get("labels") or {}, terms)
    if was and now:
        return "MODIFIED", event.obj
    if was:
        gone = copy.deepcopy(event.before)
        gone["metadata"]["resourceVersion"] = str(event.rv)
        return "DELETED", gone
    return ("ADDED" if now else ""), event.obj


def _key(obj: dict[str, Any]) -> str:
    """An object's key in the store's order: namespace, then name."""
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _continue_token(rv: int, start: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": start}).encode()).decode()


def write_kubeconfig(
    path: str, server: str, token: str = "", context: str = "standin", namespace: str = "cross-domain"
) -> str:
    import yaml

    user: dict[str, Any] = {"token": token} if token else {}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": context, "user": user}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
        ],
        "current-context": context,
    }
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh)
    return path
