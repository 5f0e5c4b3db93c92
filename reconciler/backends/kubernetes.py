"""The Kubernetes backend: Kuscia's own CRDs (``kuscia.secretflow/v1alpha1``) through the API server, so that
Kuscia's controllers run the jobs and kgitops only writes what a user of Kuscia would write.

Stage commands and approvals are written exactly as KusciaAPI writes them (labels with trigger and version;
``status.approveStatus``), with read-modify-write guarded by resourceVersion and retried on 409 Conflict.
Calls back off on 429/5xx, timeouts and reset connections (``k8s.retry``); every other failure is reported at
once, naming its cause and fix (``k8s.errors``: certificate, credentials, RBAC, missing namespace or CRD).

This module holds the backend's construction, its reads (pages through ``k8s.paging``, the change feed through
``k8s.informer``), inventories and watches; the writes are ``k8s.writes``, the calls ``k8s.custom_calls``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from functools import partial

from kubernetes import client as k8s_client

from reconciler.backends.base import Capabilities, LiveChanges, NotFound
from reconciler.backends.k8s import inventory, paging
from reconciler.backends.k8s.calls import ApiCalls
from reconciler.backends.k8s.connect import Identity, identity_of, load_api_client
from reconciler.backends.k8s.informer import ChangeFeeds, Informer
from reconciler.backends.k8s.objects import from_body
from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.k8s.watch import ResilientWatch, WatchEvent
from reconciler.backends.k8s.writes import APPROVE_VALUES, KubernetesWrites
from reconciler.backends.pages import Page, PageRequest, TaskPageRequest
from reconciler.config import Config
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK

__all__ = ["APPROVE_VALUES", "INFORMER_WATCH_SECONDS", "KubernetesBackend", "load_api_client"]

INFORMER_WATCH_SECONDS = 30  # each watch request of an informer (a new one follows at once)


class KubernetesBackend(KubernetesWrites):
    name = "kubernetes"
    capabilities = Capabilities(change_feed=True)

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        namespace: str = DEFAULT_NAMESPACE,
        domain: str = "",
        policy: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        identity: Identity | None = None,
    ) -> None:
        self.api_client = api_client
        self.custom = k8s_client.CustomObjectsApi(api_client)
        self.core = k8s_client.CoreV1Api(api_client)
        self.namespace = namespace or DEFAULT_NAMESPACE
        self.domain = domain
        self.policy = policy or RetryPolicy()
        self.request_timeout = request_timeout
        self.identity = identity or Identity()
        self._watches: list[ResilientWatch] = []
        self.calls = ApiCalls(api_client, self.identity, request_timeout)
        self.feeds = ChangeFeeds(self._informer)

    @classmethod
    def from_config(cls, config: Config) -> KubernetesBackend:
        kube = config.backend.kubernetes
        in_cluster = kube.in_cluster or (
            not kube.kubeconfig
            and "KUBERNETES_SERVICE_HOST" in os.environ
            and not os.environ.get("KUBECONFIG")
            and not os.path.exists(os.path.expanduser("~/.kube/config"))
        )
        path = str(config.resolve(kube.kubeconfig)) if kube.kubeconfig else ""
        api = load_api_client(path, kube.context, in_cluster)
        policy = RetryPolicy(deadline=kube.retry_seconds)
        who = identity_of(path, kube.context, in_cluster)
        return cls(api, kube.namespace, kube.domain, policy, kube.request_timeout, who)

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    # -- reads (the writes: ``k8s.writes``) -------------------------------------------------------------
    def get(self, ref: ObjectRef) -> Resource | None:
        try:
            return from_body(self._get_raw(ref))
        except NotFound:
            return None

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Resource]:
        req = self._request("list", kind, namespace)
        result = self._call(self._list_call(kind, namespace, labels), req)
        items = [from_body(doc) for doc in result.get("items") or ()]
        return sorted(items, key=lambda r: (r.name, r.namespace))

    def changes(self, kind: str, since: str = "", labels: Mapping[str, str] | None = None) -> LiveChanges:
        """From an informer of the kind in the configured namespace (``k8s.informer``): the first call lists,
        the second lists and starts a watch, later ones answer from the watch's events without a request."""
        return self.feeds.changes(kind, since, labels)

    def _informer(self, kind: str, labels: Mapping[str, str]) -> Informer:
        list_call = self._list_call(kind, None, labels)
        chunk = paging.chunk_caller(list_call, self._call, self._request("list", kind, None))
        watch = partial(  # the informer closes its watch itself
            ResilientWatch, list_call, self.policy, None, INFORMER_WATCH_SECONDS, self.request_timeout
        )
        return Informer(kind, self._ns(kind, None), labels, partial(paging.list_whole, chunk), watch)

    def list_jobs(self, page: PageRequest) -> Page:
        """A page from the API server's chunked list (``limit``/``continue``; ``backends.k8s.paging``)."""
        fn = self._list_call(KUSCIA_JOB, page.namespace, page.labels)
        req = self._request("list", KUSCIA_JOB, page.namespace)
        fetch = paging.chunk_fetcher(fn, self._call, req, page.marker)
        return paging.object_page(fetch, page)

    def list_tasks(self, page: TaskPageRequest) -> Page:
        """A page of KusciaTasks the same way; the phase filter is checked on each chunk."""
        fn = self._list_call(KUSCIA_TASK, page.namespace, None)
        req = self._request("list", KUSCIA_TASK, page.namespace)
        return paging.object_page(paging.chunk_fetcher(fn, self._call, req, page.marker), page)

    # -- inventory --------------------------------------------------------------------------------------
    def _inventory(self, source_id: str) -> inventory.InventoryMap:
        return inventory.InventoryMap(self.core, self._call, self.namespace, source_id)

    def get_inventory(self, source_id: str) -> set[ObjectRef]:
        return self._inventory(source_id).read()

    def set_inventory(self, source_id: str, refs: set[ObjectRef]) -> None:
        self._inventory(source_id).edit(lambda _current: set(refs), self.policy.conflict_attempts)

    def update_inventory(
        self,
        source_id: str,
        add: AbstractSet[ObjectRef] = frozenset(),
        remove: AbstractSet[ObjectRef] = frozenset(),
    ) -> None:
        """Merged into the ConfigMap as it is now, guarded by its resourceVersion (retried on a conflict),
        so a concurrent writer's entries are never lost."""
        def change(current: set[ObjectRef]) -> set[ObjectRef]:
            return (current | set(add)) - set(remove)

        if add or remove:
            self._inventory(source_id).edit(change, self.policy.conflict_attempts)

    # -- watch ------------------------------------------------------------------------------------------
    def watch(
        self,
        kind: str = KUSCIA_JOB,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        stop: threading.Event | None = None,
        chunk_seconds: int = 60,
    ) -> Iterator[WatchEvent]:
        """Events of one kind until ``stop`` is set: first ADDED for what exists, then changes as they happen.

        Survives 410 Gone (re-list), 429/5xx and the API server restarting; see ``k8s.watch``."""
        return iter(self.open_watch(kind, namespace, labels, stop, chunk_seconds))

    def open_watch(
        self,
        kind: str = KUSCIA_JOB,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        stop: threading.Event | None = None,
        chunk_seconds: int = 60,
    ) -> ResilientWatch:
        """Like ``watch`` but returns the watch object (its resource_version and relists are observable)."""
        w = ResilientWatch(
            self._list_call(kind, namespace, labels), self.policy, stop, chunk_seconds, self.request_timeout
        )
        self._watches.append(w)
        return w

    def close(self) -> None:
        self.feeds.close()
        for w in self._watches:
            w.close()
        self._watches.clear()
        self.api_client.close()
