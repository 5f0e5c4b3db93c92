"""The calls a ``KubernetesBackend`` makes on Kuscia's custom resources (``CustomObjectsApi``): the request
each one is (for authorization checks and messages, ``k8s.errors.Request``), made through ``k8s.calls``
(retried on 429/5xx, failures named), the configured namespace in place of Kuscia's default one, and
read-modify-write guarded by resourceVersion and retried on 409 Conflict (``_modify``).
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from kubernetes import client as k8s_client

from reconciler.backends.base import Backend, Conflict
from reconciler.backends.k8s.calls import ApiCalls
from reconciler.backends.k8s.connect import Identity
from reconciler.backends.k8s.errors import Request
from reconciler.backends.k8s.informer import ChangeFeeds
from reconciler.backends.k8s.objects import GROUP, VERSION, from_body, kind_info, label_selector
from reconciler.backends.k8s.retry import RetryPolicy
from reconciler.model import DEFAULT_NAMESPACE, ObjectRef, Resource

log = logging.getLogger("kgitops.kubernetes")

Doc = dict[str, Any]


class CustomObjectCalls(Backend):
    """The calls of ``KubernetesBackend`` (which sets every attribute declared here)."""

    api_client: k8s_client.ApiClient
    custom: k8s_client.CustomObjectsApi
    namespace: str
    policy: RetryPolicy
    identity: Identity
    calls: ApiCalls
    feeds: ChangeFeeds

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
