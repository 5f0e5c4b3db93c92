"""What a ``KubernetesBackend`` writes, as a user of Kuscia would: objects created, replaced and deleted
(Background propagation: Kubernetes' garbage collector takes a job's KusciaTasks), labels and annotations
merged, and stage commands and approvals exactly as KusciaAPI writes them (the stage labels with trigger and
version; ``status.approveStatus``), each a read-modify-write retried on 409 Conflict.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import partial

from reconciler.backends.base import BackendError, PhaseError, parse_stage
from reconciler.backends.k8s.custom_calls import CustomObjectCalls, Doc, log
from reconciler.backends.k8s.objects import GROUP, VERSION, from_body, kind_info, to_body
from reconciler.kuscia.stages import kusciaapi_refusal, kusciaapi_stage_labels
from reconciler.model import ObjectRef, Resource, Stage
from reconciler.model.objects import KUSCIA_JOB
from reconciler.model.phases import ApprovePhase

APPROVE_VALUES = {True: ApprovePhase.ACCEPTED.value, False: ApprovePhase.REJECTED.value}


class KubernetesWrites(CustomObjectCalls):
    """The writes of ``KubernetesBackend`` (which sets every attribute declared here)."""

    domain: str

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
            raise BackendError(f"stage commands apply to {KUSCIA_JOB}s, not to {ref}")
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
            raise BackendError(f"approvals apply to {KUSCIA_JOB}s, not to {ref}")
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
