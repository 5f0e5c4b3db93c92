"""Finding the real cause of a 404: the object is not there, its namespace is not, or the API server does not
serve the resource type at all (Kuscia's CRD not installed).

A missing object and a missing namespace look alike to a GET (the API server answers
``kusciajobs.kuscia.secretflow "x" not found`` either way), and an unserved type answers a bare
``the server could not find the requested resource``. ``Causes`` asks the two questions that tell them apart:
``GET /api/v1/namespaces/<ns>`` and discovery of ``kuscia.secretflow/v1alpha1``
(``GET /apis/kuscia.secretflow/v1alpha1``, an ``APIResourceList``). Neither is granted by deploy/rbac.yaml's
Role for namespaces; a probe that is refused leaves the original error as it is.
"""

from __future__ import annotations

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from reconciler.backends.base import BackendError
from reconciler.backends.k8s.errors import ApiStatus, Request, crd_missing, namespace_missing, translate
from reconciler.backends.k8s.objects import GROUP, KIND_INFO, VERSION


class Causes:
    """Turns an error answer into the BackendError naming its cause, probing the server when a 404 needs it.

    ``host`` and ``identity`` are for the messages; ``request_timeout`` (seconds) bounds each probe."""

    def __init__(
        self, api_client: k8s_client.ApiClient, host: str, identity: str = "", request_timeout: float = 30.0
    ) -> None:
        self.api_client = api_client
        self.core = k8s_client.CoreV1Api(api_client)
        self.host = host
        self.identity = identity
        self.request_timeout = request_timeout
        self.namespaces_seen: set[str] = set()

    def api_error(self, exc: ApiException, req: Request) -> BackendError:
        """``k8s.errors.translate``; for a 404 that is not about the object itself (or about an object in a
        namespace that does not exist), the probes that name the real cause."""
        status = ApiStatus.of(exc)
        error = translate(exc, req, self.host, self.identity)
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
        grant it); a namespace once seen is not asked about again."""
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
