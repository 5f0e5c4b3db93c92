"""Connecting to the API server: an ApiClient from a kubeconfig (a named context or its current one) or from
the Pod's service account, and who that connection authenticates as, for messages."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from reconciler.backends.k8s.errors import ClusterError

IN_CLUSTER = "the Pod's service account"


@dataclass(frozen=True)
class Identity:
    """Where the credentials came from, as a message names them: ``user`` (the kubeconfig's user entry, or
    the service account) and ``context`` (the kubeconfig context, "" in a Pod)."""

    user: str = ""
    context: str = ""

    def __str__(self) -> str:
        if not self.user:
            return ""
        if self.user == IN_CLUSTER:
            return IN_CLUSTER
        return f"kubeconfig user {self.user}" + (f" (context {self.context})" if self.context else "")


def load_api_client(
    kubeconfig: str = "", context: str = "", in_cluster: bool = False
) -> k8s_client.ApiClient:
    """An ApiClient from a kubeconfig (optionally a named context) or the Pod's service account.

    Raises ClusterError (exit 2) naming the file and context, and the flags and keys that choose them."""
    cfg = k8s_client.Configuration()
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=cfg)
        else:
            k8s_config.load_kube_config(
                config_file=kubeconfig or None, context=context or None, client_configuration=cfg
            )
    except (ConfigException, OSError) as exc:
        where = IN_CLUSTER if in_cluster else (kubeconfig or "$KUBECONFIG or ~/.kube/config")
        extra = f" (context `{context}`)" if context else ""
        raise ClusterError(
            f"cannot load Kubernetes credentials from {where}{extra}: {exc}",
            hint="choose the kubeconfig and context with --kubeconfig and --context (backend.kubernetes."
            "kubeconfig and .context in the config; `kubectl config get-contexts` lists the contexts), or "
            "run inside a Pod with backend.kubernetes.in_cluster: true",
        ) from None
    cfg.retries = 0  # our RetryPolicy does the retrying, with back-off
    return k8s_client.ApiClient(cfg)


def identity_of(kubeconfig: str = "", context: str = "", in_cluster: bool = False) -> Identity:
    """The user entry and context that ``load_api_client`` used (empty if the kubeconfig cannot say)."""
    if in_cluster:
        return Identity(IN_CLUSTER)
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig or None)
    except (ConfigException, OSError):
        return Identity()
    chosen = next((c for c in contexts or () if c.get("name") == context), None) if context else current
    if not chosen:
        return Identity()
    return Identity(str((chosen.get("context") or {}).get("user") or ""), str(chosen.get("name") or ""))
