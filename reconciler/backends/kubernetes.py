"""The Kubernetes backend: Kuscia's own CRDs (``kuscia.secretflow/v1alpha1``) through the API server, so that
Kuscia's controllers run the jobs and kgitops only writes what a user of Kuscia would write.

Stage commands and approvals are written exactly as KusciaAPI writes them (labels with trigger and version;
``status.approveStatus``), with read-modify-write guarded by resourceVersion and retried on 409 Conflict.
Calls back off on 429/5xx, timeouts and reset connections (``k8s.retry``); every other failure is reported at
once, naming its cause and fix (``k8s.errors``: certificate, credentials, RBAC, missing namespace or CRD).
"""

from __future__ import annotations

import copy
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from functools import partial
from typing import Any

from kubernetes import client as k8s_client

from reconciler.backends.base import (
    Backend,
    BackendError,
    Capabilities,
    Conflict,
    LiveChanges,
    NotFound,
    PhaseError,
    parse_stage,
)
from reconciler.backends.k8s import inventory, paging
from reconciler.backends.k8s.calls import ApiCalls
from reconciler.backends.k8s.connect import Identity, identity_of, load_api_client
from reconciler.backends.k8s.errors import Request
from reconciler.backends.k8s.informer import ChangeFeeds, Informer
from reconciler.backends.k8s.objects import (
    GROUP,
    VERSION,
    from_body,
    kind_info,
    label_selector,
    to_body,
)
from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.backends.k8s.watch import ResilientWatch, WatchEvent
from reconciler.backends.pages import Page, PageRequest, TaskPageRequest
from reconciler.config import Config
from reconciler.kuscia.stages import kusciaapi_refusal, kusciaapi_stage_labels
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource, Stage
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK

__all__ = ["KubernetesBackend", "load_api_client"]

log = logging.getLogger("kgitops.kubernetes")

APPROVE_VALUES = {True: "JobAccepted", False: "JobRejected"}
Doc = dict[str, Any]


INFORMER_WATCH_SECONDS = 30  # each watch request of an informer (a new one follows at once)


class KubernetesBackend(Backend):
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

    # -- plumbing -----------------------------------------------------------------------------
    def _request(self, verb: str, kind: str, namespace: str | None, name: str = "", sub: str = "") -> Request:
        """The request on a Kuscia kind, for authorization and for messages."""
        info = kind_info(kind)
        ns = self._ns(kind, namespace)
        what = f"the {kind} list" if verb in ("list", "watch") else str(ObjectRef.of(kind, name, ns or None))
        resource = f"{info.plural}/{sub}" if sub else info.plural
        return Request(verb, resource, GROUP, ns, name, what)

    def _call(self, fn: Callable[..., Any], req: Request, *args: Any, **kwargs: Any) -> Any:
        return self.calls.run(self.policy, fn, req, *args, **kwargs)

    def _ns(self, kind: str, namespace: str | None) -> str:
        """Objects in Kuscia's default namespace go to the configured one (the same unless overridden)."""
        if not kind_info(kind).namespaced:
            return ""
        return self.namespace if not namespace or namespace == DEFAULT_NAMESPACE else namespace

    def _get_raw(self, ref: ObjectRef) -> Doc:
        info = kind_info(ref.kind)
        req = self._request("get", ref.kind, ref.namespace, ref.name)
        if info.namespaced:
            fn = self.custom.get_namespaced_custom_object
            return self._call(fn, req, GROUP, VERSION, req.namespace, info.plural, ref.name)
        return self._call(self.custom.get_cluster_custom_object, req, GROUP, VERSION, info.plural, ref.name)

    def _replace(self, ref: ObjectRef, body: Doc, status: bool = False) -> Doc:
        info = kind_info(ref.kind)
        if info.namespaced:
            fn = (
                self.custom.replace_namespaced_custom_object_status
                if status
                else self.custom.replace_namespaced_custom_object
            )
            req = self._request("update", ref.kind, ref.namespace, ref.name, "status" if status else "")
            return self._call(fn, req, GROUP, VERSION, req.namespace, info.plural, ref.name, body)
        cluster_fn = (
            self.custom.replace_cluster_custom_object_status
            if status
            else self.custom.replace_cluster_custom_object
        )
        req = self._request("update", ref.kind, None, ref.name, "status" if status else "")
        return self._call(cluster_fn, req, GROUP, VERSION, info.plural, ref.name, body)

    def _modify(self, ref: ObjectRef, mutate: Callable[[Doc], Doc | None], status: bool = False) -> Resource:
        """Read, change, write back with the read resourceVersion; on 409 Conflict read again and retry."""
        for attempt in range(self.policy.conflict_attempts):
            current = self._get_raw(ref)
            new = mutate(copy.deepcopy(current))
            if new is None:
                return from_body(current)
            new.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                stored = from_body(self._replace(ref, new, status))
            except Conflict:
                log.info("conflict writing %s; reading it again", ref)
                time.sleep(
                    random.uniform(0, self.policy.initial_delay * (attempt + 1))
                )  # de-synchronise writers
                continue
            self.feeds.observe(stored)  # the next ``changes`` includes this write
            return stored
        raise Conflict(
            f"{ref} kept changing underneath kgitops ({self.policy.conflict_attempts} attempts); try again"
        )

    # -- objects --------------------------------------------------------------------------------
    def _create(self, obj: Resource) -> Resource:
        info = kind_info(obj.kind)
        body = to_body(obj)
        if info.namespaced:
            ns = self._ns(obj.kind, obj.namespace)
            body["metadata"]["namespace"] = ns
            doc = self._call(
                self.custom.create_namespaced_custom_object,
                self._request("create", obj.kind, ns, obj.name),
                GROUP,
                VERSION,
                ns,
                info.plural,
                body,
            )
        else:
            doc = self._call(
                self.custom.create_cluster_custom_object,
                self._request("create", obj.kind, None, obj.name),
                GROUP,
                VERSION,
                info.plural,
                body,
            )
        stored = from_body(doc)
        self.feeds.observe(stored)  # the next ``changes`` includes this write
        return stored

    def _update(self, obj: Resource) -> Resource:
        def mutate(doc: Doc) -> Doc:
            meta = doc.setdefault("metadata", {})
            meta["labels"] = dict(obj.labels)
            meta["annotations"] = dict(obj.annotations)
            doc["spec"] = copy.deepcopy(obj.spec)
            return doc

        return self._modify(obj.ref, mutate)

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

    def _list_call(
        self, kind: str, namespace: str | None, labels: Mapping[str, str] | None
    ) -> Callable[..., Any]:
        info = kind_info(kind)
        selector = label_selector(labels)
        if info.namespaced:
            return partial(
                self.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self._ns(kind, namespace),
                info.plural,
                label_selector=selector,
            )
        return partial(
            self.custom.list_cluster_custom_object, GROUP, VERSION, info.plural, label_selector=selector
        )

    def delete(self, ref: ObjectRef) -> None:
        info = kind_info(ref.kind)
        req = self._request("delete", ref.kind, ref.namespace, ref.name)
        # Background: the object goes now; Kubernetes' garbage collector removes the job's KusciaTasks
        # (they carry an ownerReference to the job), as KusciaAPI's delete does.
        if info.namespaced:
            fn = partial(
                self.custom.delete_namespaced_custom_object, GROUP, VERSION, req.namespace, info.plural
            )
        else:
            fn = partial(self.custom.delete_cluster_custom_object, GROUP, VERSION, info.plural)
        answer = self._call(fn, req, ref.name, propagation_policy="Background")
        self.feeds.observe_deleted(ref, answer)  # the next ``changes`` reports it gone

    def _update_metadata(
        self,
        ref: ObjectRef,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Resource:
        def merge(
            current: Mapping[str, str] | None, change: Mapping[str, str | None] | None
        ) -> dict[str, str]:
            out = dict(current or {})
            for key, value in (change or {}).items():
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = value
            return out

        def mutate(doc: Doc) -> Doc | None:
            meta = doc.setdefault("metadata", {})
            new_labels = merge(meta.get("labels"), labels)
            new_annotations = merge(meta.get("annotations"), annotations)
            if new_labels == (meta.get("labels") or {}) and new_annotations == (
                meta.get("annotations") or {}
            ):
                return None
            meta["labels"], meta["annotations"] = new_labels, new_annotations
            return doc

        return self._modify(ref, mutate)

    # -- job commands ------------------------------------------------------------------------------
    def stage(self, ref: ObjectRef, stage: Stage, domain: str = "", reason: str = "") -> None:
        if ref.kind != KUSCIA_JOB:
            raise BackendError(f"stage commands apply to KusciaJobs, not to {ref}")
        command = parse_stage(stage)

        def mutate(doc: Doc) -> Doc | None:
            refusal = kusciaapi_refusal(command, doc.get("status") or {})
            if refusal is not None:
                raise PhaseError.of(refusal, refusal.kusciaapi_text(ref.name))
            meta = doc.setdefault("metadata", {})
            trigger = domain or self.domain or str((doc.get("spec") or {}).get("initiator") or "")
            new_labels = kusciaapi_stage_labels(meta.get("labels") or {}, command, trigger)
            if new_labels is None:
                return None
            meta["labels"] = new_labels
            return doc

        self._modify(ref, mutate)
        log.info(
            "%s: stage %s issued by %s%s",
            ref,
            command.value,
            domain or self.domain or "the initiator",
            f" ({reason})" if reason else "",
        )

    def _approve(self, ref: ObjectRef, domain: str, accept: bool, reason: str = "") -> None:
        if ref.kind != KUSCIA_JOB:
            raise BackendError(f"approvals apply to KusciaJobs, not to {ref}")
        if not domain:
            raise BackendError("an approval needs the approving domain")
        value = APPROVE_VALUES[bool(accept)]

        def mutate(doc: Doc) -> Doc | None:
            status = doc.setdefault("status", {})
            approvals = dict(status.get("approveStatus") or {})
            if approvals.get(domain) == value:
                return None
            approvals[domain] = value
            status["approveStatus"] = approvals
            return doc

        self._modify(ref, mutate, status=True)

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
