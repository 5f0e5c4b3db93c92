"""The config file (``kgitops.yaml``): source, backend, engine, status, prune, approval and trust settings.

Every setting also has a command-line flag; flags win. The file is checked against the JSON Schema
``schemas/config.json`` (types, ranges, known keys; see ``reconciler.config_schema`` and docs/config.md)
before these dataclasses are built, so a typo or a bad value is reported with its position and fix instead
of being ignored.
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import KgitopsError

DEFAULT_CONFIG_NAMES = ("kgitops.yaml", "kgitops.yml")
DEFAULT_STATE_DIR = ".kgitops"
CONFIG_MAX_SIZE = 1024 * 1024  # bytes; a config file is a few hundred


class _Section:
    """How the config's dataclasses compare and print, as ``@dataclass`` would make it: ``==`` field by field
    between objects of one class, and ``SourceConfig(path='', git=False, ...)``. They are declared
    ``@dataclass(eq=False, repr=False)`` and share these two because a dataclass compiles every method it
    makes when its module is imported (about 0.1 ms a method on Python 3.11): ``kgitops job list`` builds
    the 14 classes on every run, and this saves it about 2 ms of their 5."""

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in _fields_of(self) if f.compare)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in _fields_of(self) if f.repr)
        return f"{self.__class__.__qualname__}({shown})"


def _fields_of(section: _Section) -> tuple[Field[Any], ...]:
    return fields(section)  # type: ignore[arg-type]  # every _Section is a dataclass


class ConfigError(KgitopsError):
    """A config file problem, with the file, position and fix in the message (one line per problem); exit 2.

    ``problems`` holds the structured findings (``reconciler.config_schema.ConfigProblem``) when the file
    parsed but broke the schema."""

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(eq=False, repr=False)
class SourceConfig(_Section):
    """The ``source`` section (``schemas/config.json``): where the manifests are read from."""

    path: str = ""  # a directory, a local Git repository, or a Git URL
    git: bool = False
    ref: str = ""  # default: the repository's default branch
    subpath: str = ""
    ssh_key: str = ""  # private key for SSH URLs (its .pub beside it is used when present); never logged
    ssh_key_passphrase_env: str = ""  # environment variable holding the key's passphrase
    ssh_key_passphrase_file: str = ""  # file holding the key's passphrase
    known_hosts: str = ""  # OpenSSH known_hosts file with the server's host key; "" = ~/.ssh/known_hosts
    https_username: str = ""  # user for HTTPS Basic authentication; "" = the URL's user, else `git`
    https_password: str = ""  # HTTPS token or password inline (prefer _env or _file); never logged
    https_password_env: str = ""  # environment variable holding the HTTPS token or password
    https_password_file: str = ""  # file holding the HTTPS token or password
    poll_interval: float = 30.0  # seconds between fetches of a Git source in `kgitops watch`
    id: str = ""  # names the source in labels and the inventory; default: derived from path, ref and subpath
    debounce: float = 0.15  # seconds of quiet before a burst of file events in a directory source reconciles


@dataclass(eq=False, repr=False)
class KubernetesConfig(_Section):
    """``backend.kubernetes``: which cluster, context and namespace the kubernetes backend talks to."""

    kubeconfig: str = ""  # default: $KUBECONFIG or ~/.kube/config
    context: str = ""  # default: the kubeconfig's current context
    namespace: str = "cross-domain"
    in_cluster: bool = False  # use the Pod's service account (also chosen when no kubeconfig exists in a Pod)
    domain: str = ""  # written as the job-stage-trigger of stage commands; default: the job's initiator
    request_timeout: float = 30.0  # seconds for one API request
    retry_seconds: float = 30.0  # how long a call keeps retrying on 429/5xx, timeouts and reset connections


@dataclass(eq=False, repr=False)
class KusciaAPIConfig(_Section):
    """A KusciaAPI endpoint to drive (the ``kusciaapi`` backend) and how ``kgitops serve`` listens."""

    endpoint: str = ""  # e.g. https://localhost:8082
    cert: str = ""  # client certificate (PEM)
    key: str = ""  # client private key (PEM)
    ca: str = ""  # CA that signed the server's certificate
    token_file: str = ""  # file holding the token sent in the `Token` header (never logged)
    domain: str = ""  # our domain: stage trigger, approvals
    timeout: float = 30.0  # seconds per request
    transport: str = "http"  # http (Kuscia's port 8082) | grpc (port 8083)
    # kgitops serve
    listen: str = "127.0.0.1:8082"
    server_cert: str = ""
    server_key: str = ""


@dataclass(eq=False, repr=False)
class BackendConfig(_Section):
    """The ``backend`` section: ``kind`` and the settings of the kubernetes and kusciaapi backends."""

    kind: str = "local"  # local | kubernetes | kusciaapi
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    kusciaapi: KusciaAPIConfig = field(default_factory=KusciaAPIConfig)


@dataclass(eq=False, repr=False)
class EngineConfig(_Section):
    """The embedded engine (the ``local`` backend)."""

    state_dir: str = ""  # default: $KGITOPS_STATE_DIR or .kgitops under the working directory
    # Trust: only AppImages whose name matches one of these glob patterns run as local processes.
    trusted_appimages: list[str] = field(default_factory=list)
    # Domains whose approval is given automatically (Kuscia's enableWorkloadApprove=false for that domain).
    auto_approve: list[str] = field(default_factory=list)
    # Seconds between SIGTERM and SIGKILL when a task's processes are stopped.
    kill_grace_seconds: float = 5.0
    # Start a background `kgitops engine run --until-idle` when a command writes and nobody drives the engine.
    autostart: bool = True


@dataclass(eq=False, repr=False)
class StatusConfig(_Section):
    """The ``status`` section: status files, the status branch and its refresh interval (seconds)."""

    dir: str = ""  # status files; empty: none
    branch: str = "kgitops/status"  # status commits on this branch of a Git source
    commit: bool = True  # false: no status commits
    push: bool = True  # push the status branch of a URL source to its remote
    interval: float = 5.0  # seconds between live-status refreshes in `kgitops watch`


@dataclass(eq=False, repr=False)
class PruneConfig(_Section):
    """The ``prune`` section: whether sync deletes managed objects gone from the source, and how many."""

    enabled: bool = False
    max: int | None = None  # None: no limit; 0: prune nothing
    # seconds a pruned running job has, after its Stop, to reach a final phase before it is deleted anyway;
    # 0: delete at once
    grace_period: float = 60.0


@dataclass(eq=False, repr=False)
class SyncConfig(_Section):
    """How `kgitops sync` and `kgitops watch` treat drift, and what the watcher serves."""

    recreate_drifted: bool = False  # re-create managed objects deleted or changed behind kgitops's back
    resync_interval: float = 300.0  # seconds between full resyncs against the backend in `kgitops watch`
    metrics_addr: str = ""  # host:port for Prometheus /metrics and /healthz; empty: off
    log_format: str = "text"  # text | json


@dataclass(eq=False, repr=False)
class LeaderElectionConfig(_Section):
    """Leader election of `kgitops watch` replicas on a Lease (reconciler.backends.k8s.lease); seconds."""

    enabled: bool | None = None  # None: on when the backend is kubernetes and watch runs in a Pod
    lease: str = ""  # "" = kgitops-leader-<source id>
    namespace: str = ""  # "" = backend.kubernetes.namespace
    lease_duration: float = 15.0  # client-go's LeaseDuration
    renew_deadline: float = 10.0  # client-go's RenewDeadline
    retry_period: float = 2.0  # client-go's RetryPeriod


@dataclass(eq=False, repr=False)
class WebhookConfig(_Section):
    """Push webhooks received by `kgitops watch` (``reconciler.webhooks``); see docs/webhooks.md."""

    listen: str = ""  # HOST:PORT; empty: no webhook receiver (polling only)
    secret: str = ""  # the shared secret inline (prefer secret_env or secret_file); never logged
    secret_env: str = ""  # environment variable holding the secret
    secret_file: str = ""  # file holding the secret
    repository: str = ""  # the repository pushes must name; default: the source's path or URL
    branch: str = ""  # the branch pushes must name; default: source.ref, else the repository's default
    max_body: int = 1048576  # bytes; larger deliveries are refused with 413
    generic_header: str = "X-Kgitops-Signature"  # the generic HMAC sender's signature header


@dataclass(eq=False, repr=False)
class ForgeConfig(_Section):
    """Commit statuses and the plan comment on GitHub or GitLab (``reconciler.forge``)."""

    kind: str = ""  # github | gitlab; empty: no commit statuses
    url: str = ""  # API base URL; default https://api.github.com or https://gitlab.com/api/v4
    repository: str = ""  # owner/name (GitHub) or group/project or project id (GitLab)
    token: str = ""  # the API token inline (prefer token_env or token_file); never logged
    token_env: str = ""  # environment variable holding the token
    token_file: str = ""  # file holding the token
    statuses: bool = True  # set `kgitops/<job>` commit statuses from `kgitops watch`
    target_url: str = ""  # link of each commit status, e.g. a dashboard; empty: none


@dataclass(eq=False, repr=False)
class DomainTrust(_Section):
    """Who may approve jobs for one domain: commit e-mails and/or signing keys, and its GitHub reviewers."""

    emails: list[str] = field(default_factory=list)  # committer e-mails whose commits count
    ssh_keys: list[str] = field(default_factory=list)  # public key lines, or paths to .pub files
    gpg_keys: list[str] = field(default_factory=list)  # paths to armored OpenPGP public keys (or the text)
    require_signature: bool | None = None  # None: approvals.require_signatures decides
    github_logins: list[str] = field(default_factory=list)  # reviewers whose PR reviews speak for the domain


@dataclass(eq=False, repr=False)
class ApprovalsConfig(_Section):
    """Approvals through Git (JobApproval records); see ``reconciler.approvals``."""

    dir: str = "approvals"  # records live in <dir>/<domain>/ of the source repository
    require_signatures: bool = False  # default for every domain
    branch_prefix: str = "approve/"  # `kgitops approve` commits on <prefix><domain>/<job>
    domains: dict[str, DomainTrust] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.domains, dict):
            raise ValueError("`approvals.domains` must map each domain to its trust settings")
        built: dict[str, DomainTrust] = {}
        known = {f.name for f in fields(DomainTrust)}
        for domain, value in self.domains.items():
            if isinstance(value, DomainTrust):
                built[str(domain)] = value
                continue
            if value is None:
                value = {}
            if not isinstance(value, dict):
                kind = type(value).__name__
                raise ValueError(f"`approvals.domains.{domain}` must be a mapping, not {kind}")
            kwargs: dict[str, Any] = {}
            for key, item in value.items():
                name = str(key).replace("-", "_")
                if name not in known:
                    raise ValueError(
                        f"unknown setting `approvals.domains.{domain}.{key}`; "
                        f"known settings here: {', '.join(sorted(known))}"
                    )
                if name == "require_signature":
                    if not isinstance(item, bool):
                        raise ValueError(f"`approvals.domains.{domain}.{key}` must be true or false")
                else:
                    if isinstance(item, str):
                        item = [item]
                    if not isinstance(item, list) or not all(isinstance(i, str) for i in item):
                        raise ValueError(f"`approvals.domains.{domain}.{key}` must be a list of strings")
                kwargs[name] = item
            built[str(domain)] = DomainTrust(**kwargs)
        self.domains = built


@dataclass(eq=False, repr=False)
class Config(_Section):
    """The whole config file (``kgitops.yaml``, ``schemas/config.json``), one field per section."""

    source: SourceConfig = field(default_factory=SourceConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    approvals: ApprovalsConfig = field(default_factory=ApprovalsConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    forge: ForgeConfig = field(default_factory=ForgeConfig)
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    # Directory of the config file: relative paths in it are relative to this.
    base_dir: str = "."
    # The config file read ("" when none was): commands name it when they say what they read.
    file: str = ""

    def resolve(self, path: str) -> Path:
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def state_dir(self) -> Path:
        if self.engine.state_dir:
            return self.resolve(self.engine.state_dir)
        return Path(os.environ.get("KGITOPS_STATE_DIR") or DEFAULT_STATE_DIR)


def _build(cls: Any, data: dict[str, Any]) -> Any:
    """The dataclass ``cls`` from data the schema has accepted (so every key is known and well typed)."""
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():  # never base_dir or file: the schema has no such keys
        f = known[name]
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value)
        elif f.type == "float":
            kwargs[name] = float(value)
        elif f.type == "int":
            kwargs[name] = int(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def parse_config(data: bytes, file: str = "kgitops.yaml") -> Config:
    """A ``Config`` from the bytes of a config file, checked against ``schemas/config.json``.

    YAML is read as Kubernetes reads manifests (``reconciler.load.documents``: a null value means "the
    default"). Raises ConfigError listing every problem as ``file:line:column: message`` with its fix.
    """
    return _config_of(checked_data(data, file), file)


def checked_data(data: bytes, file: str = "kgitops.yaml") -> dict[str, Any]:
    """The mapping of a config file's bytes once it conforms to ``schemas/config.json`` ({} for an empty
    file); raises ConfigError as ``parse_config`` does."""
    from reconciler.config_schema import ConfigProblem, check
    from reconciler.load.documents import LoadError, iter_documents

    try:
        documents = list(iter_documents(data))
    except LoadError as exc:
        where = f"{file}:{exc.line}:{exc.column}" if exc.line else file
        raise ConfigError(f"{where}: the config file is not valid YAML: {exc.message}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: the config file is not UTF-8 text ({exc.reason})") from None
    if not documents:
        return {}
    if len(documents) > 1:
        extra = documents[1]
        raise ConfigError(
            f"{file}:{extra.line}:{extra.column}: the config file holds more than one YAML document; "
            "keep one (remove this `---` and what follows, or merge it into the first)"
        )
    problems: list[ConfigProblem] = check(documents[0])
    if problems:
        raise ConfigError("\n".join(p.render(file) for p in problems), problems)
    checked: dict[str, Any] = documents[0].data
    return checked


def _config_of(data: dict[str, Any], file: str) -> Config:
    try:
        built: Config = _build(Config, data)
    except ValueError as exc:  # pragma: no cover - a section's own check; the schema catches these first
        raise ConfigError(f"{file}: {exc}") from None
    return built


def find_config(path: str | Path | None = None) -> Path | None:
    """The config file ``load_config(path)`` reads: ``path``, else ./kgitops.yaml (or .yml) if present."""
    if path is not None:
        return Path(path)
    return next((Path(n) for n in DEFAULT_CONFIG_NAMES if Path(n).is_file()), None)


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path``, or ``kgitops.yaml`` in the working directory if present, or the defaults.

    Raises ConfigError (file, line, column, the key and the fix) for an unreadable or invalid file, and for
    one that is not a regular file or is larger than ``CONFIG_MAX_SIZE`` (1 MiB). A file read before with
    the same bytes is not parsed again (``reconciler.config_cache``: no YAML parser, no schema check)."""
    p = find_config(path)
    if p is None:
        return Config()
    from reconciler.load.files import FileReadError, read_bounded  # with its package's YAML reader

    try:
        data = read_bounded(p, CONFIG_MAX_SIZE)
    except FileReadError as exc:
        raise ConfigError(f"{p}: the config file was not read: {exc.message}") from None
    cfg = _cached_or_parsed(p, data)
    cfg.base_dir = str(p.resolve().parent)
    cfg.file = str(p)
    return cfg


def _cached_or_parsed(path: Path, data: bytes) -> Config:
    """``parse_config`` of the file's bytes, through the cache of checked config files."""
    from reconciler import config_cache

    where = path.absolute()
    cached = config_cache.lookup(where, data)
    if cached is not None:
        try:
            built: Config = _build(Config, cached)
            return built
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an entry changed by hand: the file decides
    checked = checked_data(data, str(path))
    config_cache.remember(where, data, checked)
    return _config_of(checked, str(path))
