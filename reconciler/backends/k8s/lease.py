"""Leader election for ``kgitops watch`` replicas on a ``coordination.k8s.io/v1`` Lease.

``LeaseClient`` reads and writes one Lease through the API server (the kubernetes backend's ``ApiClient``,
so the same kubeconfig or service account); ``LeaseElector`` runs client-go's election loop in a thread (the
decision itself is ``election.decide``): every ``retry_period`` it tries to acquire or renew; a leader that
has not renewed for ``renew_deadline`` stops leading at once (``leading()`` turns False on the clock alone,
even while a request hangs); ``end()`` releases the Lease so a follower takes over at its next try.

RBAC: ``leases`` in ``coordination.k8s.io``: get, create, update (``deploy/rbac.yaml``).
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from reconciler.backends.base import AlreadyExists, BackendError, Conflict, NotFound
from reconciler.backends.k8s.election import (
    JITTER_FACTOR,
    Action,
    LeaseRecord,
    Timing,
    decide,
    from_spec,
    released,
    to_spec,
)
from reconciler.backends.k8s.errors import Request, translate
from reconciler.backends.k8s.inventory import source_object_name

log = logging.getLogger("kgitops.lease")

POD_NAME_ENV = "POD_NAME"  # set from the Downward API (metadata.name) in deploy/deployment.yaml


def default_identity() -> str:
    """Who this process is in ``holderIdentity``: ``$POD_NAME``, else ``<hostname>_<pid>``."""
    return os.environ.get(POD_NAME_ENV) or f"{socket.gethostname()}_{os.getpid()}"


def default_lease_name(source_id: str) -> str:
    """One Lease per source (as one inventory ConfigMap per source): watchers of other sources never wait."""
    return source_object_name("kgitops-leader", source_id)


class LostRace(Exception):
    """A write lost to another candidate's (409 Conflict, or the Lease was created meanwhile)."""


class LeaseStore(Protocol):
    """One Lease: its record and ``resourceVersion``; writes are guarded by the version read."""

    def describe(self) -> str: ...

    def get(self) -> tuple[LeaseRecord, str] | None: ...

    def create(self, record: LeaseRecord) -> str: ...

    def update(self, record: LeaseRecord, resource_version: str) -> str: ...


class LeaseClient:
    """``Lease/<namespace>/<name>`` through the API server. Errors: ``LostRace`` (409), ``BackendError`` with
    the cause (403: the Role; a missing namespace), ``ConnectionError`` when the server cannot be reached."""

    def __init__(
        self, api_client: k8s_client.ApiClient, namespace: str, name: str, request_timeout: float = 5.0
    ) -> None:
        self.api = k8s_client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.request_timeout = request_timeout

    def describe(self) -> str:
        return f"Lease/{self.namespace}/{self.name}"

    def _call(self, verb: str, fn: Callable[..., Any], *args: Any) -> tuple[LeaseRecord, str]:
        try:
            resp = fn(*args, _request_timeout=self.request_timeout, _preload_content=False)
        except ApiException as exc:
            req = Request(verb, "leases", "coordination.k8s.io", self.namespace, self.name, self.describe())
            err = translate(exc, req, str(self.api.api_client.configuration.host))
            if isinstance(err, Conflict | AlreadyExists):
                raise LostRace(str(err)) from None
            raise err from None
        except (Urllib3Error, OSError) as exc:
            what = self.describe()
            raise ConnectionError(f"cannot reach the Kubernetes API server for {what}: {exc}") from None
        doc = json.loads(resp.data)
        return from_spec(doc.get("spec")), str((doc.get("metadata") or {}).get("resourceVersion") or "")

    def _body(self, record: LeaseRecord, resource_version: str = "") -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "kgitops"},
        }
        if resource_version:
            meta["resourceVersion"] = resource_version
        spec = to_spec(record)
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def get(self) -> tuple[LeaseRecord, str] | None:
        try:
            return self._call("get", self.api.read_namespaced_lease, self.name, self.namespace)
        except NotFound:
            return None

    def create(self, record: LeaseRecord) -> str:
        try:
            create = self.api.create_namespaced_lease
            return self._call("create", create, self.namespace, self._body(record))[1]
        except NotFound:
            raise BackendError(
                f"cannot create {self.describe()}: the namespace `{self.namespace}` does not exist; create "
                "it, or set leader_election.namespace (--leader-elect-namespace)"
            ) from None

    def update(self, record: LeaseRecord, resource_version: str) -> str:
        body = self._body(record, resource_version)
        try:
            return self._call("update", self.api.replace_namespaced_lease, self.name, self.namespace, body)[1]
        except NotFound:
            raise LostRace(f"{self.describe()} was deleted meanwhile") from None


@dataclass
class _Seen:
    record: LeaseRecord | None = None
    resource_version: str = ""
    observed_at: float = 0.0  # our clock when the record last changed


class LeaseElector:
    """client-go's leader election loop for one identity (the ``reconciler.apply.lock.Leadership`` protocol).

    ``clock`` (monotonic seconds) and ``wall`` (UTC now) are injectable; ``tick()`` is one try, for tests."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.identity = identity
        self.timing = timing or Timing()
        self.timing.check()
        self.clock = clock
        self.wall = wall
        self._lock = threading.Lock()
        self._seen = _Seen()
        self._renewed_at: float | None = None  # our clock when we last wrote the Lease as its holder
        self._holder = ""  # who holds it, as last read
        self._failure = ""  # why the last try failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_change: Callable[[], None] = lambda: None
        self._was_leading = False
        self._transitions = 0

    # -- the Leadership protocol ---------------------------------------------------------------------------
    def begin(self, on_change: Callable[[], None]) -> None:
        """Try once now (so a lone replica leads at once), then keep trying in a thread. Raises
        ``BackendError`` when the Lease cannot be used at all (no permission, no namespace)."""
        self._on_change = on_change
        self.tick()
        self._thread = threading.Thread(target=self._run, name="kgitops-lease", daemon=True)
        self._thread.start()

    def leading(self) -> bool:
        """True while our last renewal is younger than the renew deadline (client-go's ``RenewDeadline``)."""
        with self._lock:
            at = self._renewed_at
        return at is not None and self.clock() - at < self.timing.renew_deadline

    def end(self) -> None:
        """Stop trying and, if we lead, release the Lease (client-go's ``ReleaseOnCancel``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timing.renew_deadline + 5)
        was_leading = self.leading()
        with self._lock:
            self._renewed_at = None
            seen = self._seen
        if not was_leading or seen.record is None:
            return
        try:
            self.store.update(released(seen.record, self.wall()), seen.resource_version)
            _info(f"released {self.store.describe()}: another replica takes over now", lease="released")
        except (LostRace, BackendError, ConnectionError) as exc:
            log.warning(f"could not release {self.store.describe()} ({exc}); it expires by itself")

    def describe(self) -> str:
        return f"{self.store.describe()} as {self.identity}"

    # -- the loop -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            period = self.timing.retry_period
            if not self.leading():  # followers spread their tries (client-go's JitterUntil)
                period *= random.uniform(1.0, JITTER_FACTOR)
            if self._stop.wait(period):
                return
            try:
                self.tick()
            except BackendError as exc:  # a lost permission, a deleted namespace: keep trying, say why
                self._failed(str(exc))

    def tick(self) -> bool:
        """One try to acquire or renew; returns whether we lead afterwards. ``BackendError`` for what retrying
        cannot fix; a lost race or an unreachable server only counts as a failed try."""
        try:
            self._try()
        except LostRace as exc:
            self._failed(f"lost the race for {self.store.describe()}: {exc}")
        except ConnectionError as exc:
            self._failed(str(exc))
        return self._settle()

    def _try(self) -> None:
        now = self.clock()
        got = self.store.get()
        with self._lock:
            seen = self._seen
            record, version = got if got is not None else (None, "")
            if got is None or record != seen.record or version != seen.resource_version:
                seen = self._seen = _Seen(record, version, now)
        decision = decide(seen.record, now - seen.observed_at, self.identity, self.timing, self.wall())
        if decision.action is Action.WAIT or decision.record is None:
            with self._lock:
                changed = decision.holder != self._holder
                self._holder = decision.holder
                self._failure = ""
                if self._renewed_at is not None:  # someone took it while we thought we led: step down
                    self._renewed_at = None
            if changed:
                _info(
                    f"following: {decision.holder} holds {self.store.describe()} (may be taken over in "
                    f"{decision.expires_in:.1f} s unless renewed); not reconciling",
                    lease="following",
                    holder=decision.holder,
                    identity=self.identity,
                )
            return
        if decision.action is Action.CREATE:
            new_version = self.store.create(decision.record)
        else:
            new_version = self.store.update(decision.record, seen.resource_version)
        with self._lock:
            self._seen = _Seen(decision.record, new_version, self.clock())
            self._renewed_at = now  # the renewal counts from before the request (client-go, too)
            self._holder = self.identity
            self._failure = ""
            self._transitions = decision.record.lease_transitions

    def _failed(self, why: str) -> None:
        with self._lock:
            repeated = why == self._failure
            self._failure = why
        if not repeated:
            log.warning(f"leader election: {why}", extra={"fields": {"identity": self.identity}})

    def _settle(self) -> bool:
        """Log and report a change of role (stepping down when the renew deadline passed)."""
        leading = self.leading()
        if leading == self._was_leading:
            return leading
        self._was_leading = leading
        if leading:
            _info(
                f"leading: holding {self.describe()} (transitions {self._transitions}); reconciling",
                lease="leading",
                identity=self.identity,
            )
        else:
            with self._lock:
                holder, failure = self._holder, self._failure
            why = f"{holder} holds it now" if holder and holder != self.identity else failure or "not renewed"
            log.warning(
                f"stepped down: {self.describe()} not renewed within {self.timing.renew_deadline:g} s "
                f"({why}); not reconciling",
                extra={"fields": {"lease": "lost", "identity": self.identity}},
            )
        self._on_change()
        return leading

    def following(self) -> str:
        """Who leads, as last read ("" when nobody or unknown)."""
        with self._lock:
            return "" if self._holder == self.identity else self._holder


def _info(msg: str, **fields: Any) -> None:
    log.info(msg, extra={"fields": fields})
