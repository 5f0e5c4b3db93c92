"""The config file (``kgitops.yaml``): source, backend, engine, status, prune, approval and trust settings.

Every setting also has a command-line flag; flags win. Each section is a dataclass so that a typo in the
file is reported with its position instead of being ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG_NAMES = ("kgitops.yaml", "kgitops.yml")
DEFAULT_STATE_DIR = ".kgitops"


class ConfigError(Exception):
    """A config file problem, with the file and the fix in the message."""


@dataclass
class SourceConfig:
    path: str = ""  # a directory, a local Git repository, or a Git URL
    git: bool = False
    ref: str = ""  # default: the repository's default branch
    subpath: str = ""
    ssh_key: str = ""
    poll_interval: float = 30.0


@dataclass
class KubernetesConfig:
    kubeconfig: str = ""
    context: str = ""
    namespace: str = "cross-domain"


@dataclass
class KusciaAPIConfig:
    endpoint: str = ""
    cert: str = ""
    key: str = ""
    ca: str = ""
    token_file: str = ""
    domain: str = ""


@dataclass
class BackendConfig:
    kind: str = "local"  # local | kubernetes | kusciaapi
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    kusciaapi: KusciaAPIConfig = field(default_factory=KusciaAPIConfig)


@dataclass
class EngineConfig:
    """The embedded engine (the ``local`` backend)."""

    state_dir: str = ""  # default: $KGITOPS_STATE_DIR or .kgitops under the working directory
    # Trust: only these AppImages (by name) or AppImages whose manifest came from these directories run here.
    trusted_appimages: list[str] = field(default_factory=list)
    trusted_dirs: list[str] = field(default_factory=list)
    # Domains whose approval is given automatically (Kuscia's enableWorkloadApprove=false for that domain).
    auto_approve: list[str] = field(default_factory=list)


@dataclass
class StatusConfig:
    dir: str = ""  # status files; empty: none
    branch: str = ""  # status commits on this branch of a Git source; empty: none
    push: bool = True


@dataclass
class PruneConfig:
    enabled: bool = False
    max: int = 0  # 0: no limit


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    approvals: dict[str, Any] = field(default_factory=dict)
    # Directory of the config file: relative paths in it are relative to this.
    base_dir: str = "."

    def resolve(self, path: str) -> Path:
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def state_dir(self) -> Path:
        if self.engine.state_dir:
            return self.resolve(self.engine.state_dir)
        return Path(os.environ.get("KGITOPS_STATE_DIR") or DEFAULT_STATE_DIR)


def _build(cls: Any, data: Any, where: str, file: str) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: `{where}` must be a mapping, not {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known or name == "base_dir":
            choices = ", ".join(sorted(n for n in known if n != "base_dir"))
            raise ConfigError(f"{file}: unknown setting `{where}.{key}`; known settings here: {choices}")
        f = known[name]
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{key}", file)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path``, or ``kgitops.yaml`` in the working directory if present, or the defaults."""
    if path is None:
        for name in DEFAULT_CONFIG_NAMES:
            if Path(name).is_file():
                path = name
                break
        else:
            return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}{pos}: the config file is not valid YAML ({exc})") from None
    cfg: Config = _build(Config, data or {}, "config", str(p))
    cfg.base_dir = str(p.resolve().parent)
    return cfg
