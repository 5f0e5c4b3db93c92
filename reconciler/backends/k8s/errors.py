"""Why a Kubernetes API call failed, in words that name the cause and the fix.

Two sources of failure, classified here and nowhere else:

- an HTTP answer: the ``Status`` object in its body (``reason``, ``message``, ``details.kind``/``.name``;
  Kubernetes API conventions, "Response Status Kind") read together with the request (``Request``: verb,
  resource, namespace, name), so that a 404 can tell a missing object from a missing namespace from a resource
  type the server does not serve (Kuscia's CRD not installed);
- no answer at all: the exception chain urllib3 raises (``transport_failure``): an untrusted certificate
  (``ssl.SSLCertVerificationError``), a refused connection, a host name that does not resolve, a timeout, a
  reset connection.

Errors about the cluster's setup (certificate, credentials, permissions, CRDs, namespace, address) are
``ClusterError``: exit code 2, the command could not do its work (``reconciler.cli.exitcodes``).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

from reconciler.backends.base import AlreadyExists, BackendError, Conflict, NotFound

KUSCIA_CRD_FILES = "https://github.com/secretflow/kuscia/tree/main/crds/v1alpha1"
RBAC_FILE = "deploy/rbac.yaml"


class ClusterError(BackendError):
    """The cluster cannot be used as configured: its address, certificate, credentials, permissions, a
    missing namespace or CRD. Exit code 2 (the command could not do its work)."""

    exit_code = 2


@dataclass(frozen=True)
class Request:
    """One API request, as Kubernetes' authorization sees it (verb, resource, namespace, name) and as the
    message names it (``what``: ``KusciaJob/cross-domain/train``, ``the AppImage list``)."""

    verb: str  # get, list, watch, create, update, delete
    resource: str  # the plural, with a subresource after "/": kusciajobs, kusciajobs/status, configmaps
    group: str  # "" for the core group (configmaps, namespaces)
    namespace: str  # "" for a cluster-scoped resource
    name: str = ""
    what: str = ""

    @property
    def plural(self) -> str:
        return self.resource.split("/")[0]

    @property
    def where(self) -> str:
        return f' in namespace "{self.namespace}"' if self.namespace else " (cluster-wide)"


@dataclass(frozen=True)
class ApiStatus:
    """The parts of a Kubernetes ``Status`` body (or of a bare HTTP answer) that classification reads."""

    code: int
    reason: str
    message: str
    kind: str = ""  # details.kind: the resource (plural) the answer is about
    name: str = ""  # details.name

    @classmethod
    def of(cls, exc: ApiException) -> ApiStatus:
        code = int(exc.status or 0)
        reason = str(exc.reason or "")
        doc: Any = None
        if exc.body:
            try:
                doc = json.loads(exc.body)
            except (TypeError, ValueError):
                doc = None
        if not isinstance(doc, dict) or doc.get("kind") != "Status":
            return cls(code, reason, reason or f"HTTP {code}")
        found = doc.get("details")
        details: dict[str, Any] = found if isinstance(found, dict) else {}
        return cls(
            code,
            str(doc.get("reason") or reason),
            str(doc.get("message") or reason or f"HTTP {code}"),
            str(details.get("kind") or ""),
            str(details.get("name") or ""),
        )

    @property
    def namespace_missing(self) -> str:
        """The namespace this 404 says does not exist, or ""."""
        if self.code != 404:
            return ""
        if self.kind == "namespaces":
            return self.name
        match = re.match(r'namespaces "([^"]+)" not found', self.message)
        return match.group(1) if match else ""

    def object_missing(self, request: Request) -> bool:
        """This 404 is about the requested object (the type is served, the object is not there)."""
        if self.code != 404 or not request.name:
            return False
        return self.name == request.name or f'"{request.name}" not found' in self.message


# -- HTTP answers ---------------------------------------------------------------------------------------
def namespace_missing(namespace: str, host: str) -> ClusterError:
    return ClusterError(
        f'namespace "{namespace}" does not exist on the Kubernetes cluster at {host}',
        hint=f"create it (kubectl create namespace {namespace}), or name the namespace Kuscia uses: "
        "backend.kubernetes.namespace in the config, or -n/--namespace",
    )


def crd_missing(request: Request, host: str, missing: Set[str]) -> ClusterError:
    """Kuscia's CRDs (``<plural>.kuscia.secretflow``) that the server does not serve: the request's type, and
    every other of ``missing`` (plurals) in the same message, with the command that installs them."""
    plurals = sorted(missing | {request.plural})
    names = ", ".join(f"{p}.{request.group}" for p in plurals)
    raw = KUSCIA_CRD_FILES.replace("/tree/", "/raw/")
    files = " ".join(f"-f {raw}/{request.group}_{p}.yaml" for p in plurals)
    crds = f"Kuscia's CRDs {names} are" if len(plurals) > 1 else f"Kuscia's CRD {names} is"
    return ClusterError(
        f"{crds} not installed on the Kubernetes cluster at {host}: it does not serve {request.plural} in "
        f"{request.group} (reading {request.what})",
        hint=f"install Kuscia on the cluster, or its CRDs alone: kubectl apply {files} "
        f"(Kuscia's crds/v1alpha1/, {KUSCIA_CRD_FILES})",
    )


def refused_access(status: ApiStatus, request: Request, host: str, identity: str) -> ClusterError:
    """401: the credentials were not accepted; 403: the user may not do this (RBAC)."""
    who = identity or "the kubeconfig's user"
    if status.code == 401:
        return ClusterError(
            f"the Kubernetes API server at {host} did not accept the credentials of {who} for {request.what} "
            f"(HTTP 401 {status.reason or 'Unauthorized'})",
            hint="the token or client certificate is wrong or has expired: get a fresh kubeconfig, or choose "
            "another with --kubeconfig / --context (backend.kubernetes.kubeconfig and .context in the "
            "config)",
        )
    match = re.search(r'User "([^"]+)" cannot (\w+) resource "([^"]+)"', status.message)
    user = match.group(1) if match else who
    verb = match.group(2) if match else request.verb
    resource = match.group(3) if match else request.resource
    group = f" in API group {request.group}" if request.group else ""
    return ClusterError(
        f"{user} may not {verb} {resource}{group}{request.where}, needed for {request.what} "
        f"(HTTP 403 Forbidden from {host})",
        hint=f"grant it with a Role (or, for cluster-wide appimages, a ClusterRole) bound to {user}: "
        f"{RBAC_FILE} lists everything kgitops needs (kubectl apply -f {RBAC_FILE})",
    )


def translate(exc: ApiException, request: Request, host: str = "", identity: str = "") -> BackendError:
    """Map an HTTP error answer to the backend error a caller can branch on. A 404 here is about the object
    (or a missing namespace, when the Status says so); the backend probes further when it is not
    (``KubernetesBackend``: namespace, discovery)."""
    status = ApiStatus.of(exc)
    if status.namespace_missing:
        return namespace_missing(status.namespace_missing, host)
    if status.code == 404:
        return NotFound(f"{request.what} not found")
    if status.code == 409 and status.reason == "AlreadyExists":
        return AlreadyExists(f"{request.what} already exists")
    if status.code == 409:
        return Conflict(f"{request.what} was changed by someone else meanwhile: {status.message}")
    if status.code in (401, 403):
        return refused_access(status, request, host, identity)
    if status.code == 422:
        return BackendError(f"the Kubernetes API server rejected {request.what}: {status.message}")
    return BackendError(f"Kubernetes API error on {request.what} (HTTP {status.code}): {status.message}")


# -- no answer ------------------------------------------------------------------------------------------
class Failure(StrEnum):
    """Why no HTTP answer came."""

    TLS_VERIFY = "certificate not trusted"
    TLS = "TLS handshake failed"
    DNS = "host name does not resolve"
    REFUSED = "connection refused"
    TIMEOUT = "timed out"
    RESET = "connection reset"
    OTHER = "connection failed"  # any other failure to connect: reported, not retried


@dataclass(frozen=True)
class TransportFailure:
    kind: Failure
    detail: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: urllib3's ``reason``, ``__cause__`` and ``__context__``."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop(0)
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        if isinstance(cur, MaxRetryError):
            todo.append(cur.reason)
        todo.extend([cur.__cause__, cur.__context__])
        todo.extend(a for a in cur.args if isinstance(a, BaseException))


def transport_failure(exc: BaseException) -> TransportFailure | None:
    """What kept the request from getting an answer, or None when ``exc`` is not a connection failure."""
    if isinstance(exc, ApiException):  # the client turns urllib3's SSLError into status 0
        text = str(exc.reason or "")
        if int(exc.status or 0) == 0 and "SSLError" in text:
            verify = "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text
            return TransportFailure(Failure.TLS_VERIFY if verify else Failure.TLS, _last_line(text))
        return None
    found: TransportFailure | None = None
    for cur in _chain(exc):
        kind = _kind(cur)
        if kind is None:
            continue
        detail = _detail(cur)
        if found is None or _rank(kind) < _rank(found.kind):
            found = TransportFailure(kind, detail)
    if found is None and isinstance(exc, HTTPError | OSError):
        found = TransportFailure(Failure.OTHER, _detail(exc))
    return found


def _kind(exc: BaseException) -> Failure | None:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure.TLS_VERIFY
    if isinstance(exc, ssl.SSLError | Urllib3SSLError):
        text = str(exc)
        return Failure.TLS_VERIFY if "CERTIFICATE_VERIFY_FAILED" in text else Failure.TLS
    if isinstance(exc, NameResolutionError | socket.gaierror):
        return Failure.DNS
    if isinstance(exc, ConnectionRefusedError):
        return Failure.REFUSED
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return Failure.TIMEOUT
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError | ProtocolError):
        return Failure.RESET
    if isinstance(exc, NewConnectionError):
        return Failure.REFUSED if "refused" in str(exc).lower() else None
    return None


def _rank(kind: Failure) -> int:
    """The most specific cause wins (a TLS error inside a reset connection is the TLS error)."""
    return list(Failure).index(kind)


def _detail(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    return _last_line(str(exc)).split(" (Caused by")[0]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else text


def unreachable(failure: TransportFailure, request: Request, host: str, context: str = "") -> ClusterError:
    """The error for a request that got no answer, naming the cause and where to fix it."""
    where = f"the kubeconfig's cluster (context {context})" if context else "the kubeconfig's cluster"
    server = urlsplit(host).hostname or host
    if failure.kind == Failure.TLS_VERIFY:
        return ClusterError(
            f"the Kubernetes API server at {host} presented a certificate kgitops does not trust "
            f"({failure.detail}), reading {request.what}",
            hint=f"{where} needs certificate-authority-data (or certificate-authority) naming the CA that "
            "signed the API server's certificate; check --kubeconfig and --context",
        )
    if failure.kind == Failure.TLS:
        return ClusterError(
            f"the TLS handshake with the Kubernetes API server at {host} failed ({failure.detail}), "
            f"reading {request.what}",
            hint=f"check that {where} points at an HTTPS API server (server: in the kubeconfig)",
        )
    if failure.kind == Failure.DNS:
        return ClusterError(
            f"cannot resolve {server}, the host name of the Kubernetes API server {host} ({failure.detail})",
            hint=f"check server: of {where}, and the DNS of this machine; choose another with --kubeconfig "
            "or --context",
        )
    if failure.kind == Failure.REFUSED:
        return ClusterError(
            f"cannot reach the Kubernetes API server at {host} for {request.what}: connection refused "
            f"(nothing accepts connections there; the server of {where})",
            hint="start the API server, or point kgitops at the right one: server: in the kubeconfig, "
            "--kubeconfig, --context",
        )
    if failure.kind == Failure.OTHER:
        return ClusterError(
            f"cannot reach the Kubernetes API server at {host} for {request.what} ({failure.detail})",
            hint=f"check server: of {where} and the network path to it (a proxy?); --kubeconfig, --context",
        )
    return ClusterError(
        f"cannot reach the Kubernetes API server at {host} for {request.what} ({failure.kind}: "
        f"{failure.detail}); it kept failing for the whole retry period",
        hint="check the network path to the API server, or raise backend.kubernetes.retry_seconds",
    )


def gave_up(detail: str, request: Request, host: str) -> ClusterError:
    """The retry budget ran out on answers worth retrying (429, 5xx, timeouts, resets)."""
    return ClusterError(
        f"cannot reach the Kubernetes API server at {host} for {request.what} ({detail}); it kept failing "
        "for the whole retry period",
        hint="the API server is overloaded or restarting: try again later, or raise "
        "backend.kubernetes.retry_seconds",
    )
