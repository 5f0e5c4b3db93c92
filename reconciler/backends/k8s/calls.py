"""One API call: retried where that can help (``k8s.retry``), and a failure turned into the error that names
its cause (``k8s.errors``), probing the server when a 404 needs it.

A 404 means one of three things: the object is not there, its namespace is not, or the API server does not
serve the resource type at all (Kuscia's CRD not installed).

A missing object and a missing namespace look alike to a GET (the API server answers
``kusciajobs.kuscia.secretflow "x" not found`` either way), and an unserved type answers a bare
``the server could not find the requested resource``. ``ApiCalls`` asks the two questions that tell them
apart: ``GET /api/v1/namespaces/<ns>`` (only for a namespace where nothing was read or written yet;
deploy/rbac.yaml does not grant it, and a refused probe leaves the plain "not found") and discovery of
``kuscia.secretflow/v1alpha1`` (``GET /apis/kuscia.secretflow/v1alpha1``, an ``APIResourceList``, open to
every authenticated user).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from reconciler.backends.base import BackendError
from reconciler.backends.k8s.connect import Identity
from reconciler.backends.k8s.errors import (
    ApiStatus,
    Request,
    crd_missing,
    gave_up,
    namespace_missing,
    translate,
    transport_failure,
    unreachable,
)
from reconciler.backends.k8s.objects import GROUP, KIND_INFO, VERSION
from reconciler.backends.k8s.retry import RetryPolicy, Unreachable, call


class ApiCalls:
    """Runs API calls against one server and names the cause of each failure.

    ``identity`` (who the credentials are) is for the messages; ``request_timeout`` (seconds) bounds each
    request, the probes too."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        identity: Identity | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self.api_client = api_client
        self.core = k8s_client.CoreV1Api(api_client)
        self.host = str(api_client.configuration.host)
        self.identity = identity or Identity()
        self.request_timeout = request_timeout
        self.namespaces_seen: set[str] = set()
        self.answered = False  # the server answered once: a refused connection now means a restart

    def run(
        self,
        policy: RetryPolicy,
        fn: Callable[..., Any],
        req: Request,
        *args: Any,
        raw_status: Collection[int] = (),
        **kwargs: Any,
    ) -> Any:
        """``fn(*args, **kwargs)`` under ``policy``; raises the BackendError naming the cause of a failure,
        except an answer with an HTTP status in ``raw_status``, left to the caller as the ApiException."""
        kwargs.setdefault("_request_timeout", self.request_timeout)
        context = self.identity.context
        try:
            result = call(policy, lambda: fn(*args, **kwargs), retry_refused=self.answered)
        except ApiException as exc:
            self.answered = True
            if int(exc.status or 0) in raw_status:
                raise
            raise self.api_error(exc, req) from None
        except Unreachable as exc:
            failure = transport_failure(exc.__cause__) if exc.__cause__ is not None else None
            if failure is not None and not self.answered:
                raise unreachable(failure, req, self.host, context) from None
            raise gave_up(str(exc), req, self.host) from None
        except Exception as exc:
            failure = transport_failure(exc)
            if failure is None:
                raise
            raise unreachable(failure, req, self.host, context) from None
        self.answered = True
        if req.namespace and req.verb not in ("list", "watch"):  # a list of a missing namespace is empty
            self.namespaces_seen.add(req.namespace)  # an object was read or written there: it exists
        return result

    def api_error(self, exc: ApiException, req: Request) -> BackendError:
        """``k8s.errors.translate``; for a 404 that is not about the object itself (or about an object in a
        namespace that does not exist), the probes that name the real cause."""
        failure = transport_failure(exc)
        if failure is not None:  # the client's wrapping of an SSL error (status 0)
            return unreachable(failure, req, self.host, self.identity.context)
        status = ApiStatus.of(exc)
        error = translate(exc, req, self.host, str(self.identity))
        if status.code != 404 or status.namespace_missing:
            return error
        if status.object_missing(req):
            if req.namespace and self.namespace_exists(req.namespace) is False:
                return namespace_missing(req.namespace, self.host)
            return error
        missing = self.crds_missing()
        if missing is None or req.group != GROUP or req.plural not in missing:
            return error
        return crd_missing(req, self.host, missing)

    def namespace_exists(self, namespace: str) -> bool | None:
        """None when the server will not say (no permission to read namespaces: deploy/rbac.yaml does not
        grant it, so a ServiceAccount gets the plain "not found"); a namespace where an object was read or
        written, or that was seen here before, is not asked about."""
        if namespace in self.namespaces_seen:
            return True
        try:
            self.core.read_namespace(namespace, _request_timeout=self.request_timeout)
        except ApiException as exc:
            return False if ApiStatus.of(exc).namespace_missing == namespace else None
        except Exception:  # noqa: BLE001 - a probe for a better message; the original error stands
            return None
        self.namespaces_seen.add(namespace)
        return True

    def crds_missing(self) -> set[str] | None:
        """Kuscia's plurals that discovery of ``kuscia.secretflow/v1alpha1`` does not list (all of them when
        the group version is not served); None when discovery fails otherwise."""
        kinds = {info.plural for info in KIND_INFO.values()}
        try:
            found = k8s_client.CustomObjectsApi(self.api_client).get_api_resources(
                GROUP, VERSION, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            return kinds if int(exc.status or 0) == 404 else None
        except Exception:  # noqa: BLE001 - a probe for a better message; the original error stands
            return None
        served = {str(r.name) for r in found.resources or ()}
        return kinds - served
