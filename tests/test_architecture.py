"""Dependencies point one way (docs in README "Architecture"); checked from the source, like an import-linter
contract, so a layering mistake fails CI instead of slowly tangling the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "reconciler"

# package -> reconciler packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "model": {
        "load",
        "validate",
        "output",
        "source",
        "plan",
        "apply",
        "backends",
        "engine",
        "status",
        "approvals",
        "cli",
        "client",
        "watch",
        "kusciaapi",
    },
    "load": {"validate", "source", "plan", "apply", "backends", "engine", "status", "cli", "client", "watch"},
    "validate": {"source", "plan", "apply", "backends", "engine", "status", "cli", "client", "watch"},
    "plan": {"source", "apply", "engine", "status", "cli", "client", "watch"},
    "engine": {"source", "plan", "apply", "status", "approvals", "cli", "client", "watch"},
    "backends": {"cli", "client", "watch", "source", "plan", "apply"},
    "status": {"cli", "client", "engine"},
    "source": {"cli", "client", "engine", "plan", "apply", "backends"},
    "approvals": {"cli", "client", "watch", "engine", "source", "plan", "apply", "status"},
    # KusciaAPI's wire format serves both sides: it knows neither the server nor any backend
    "kusciaapi": {
        "backends",
        "serve",
        "engine",
        "cli",
        "client",
        "watch",
        "source",
        "plan",
        "apply",
        "status",
    },
    "serve": {"cli", "client", "watch", "source", "plan", "apply", "engine"},
    "kuscia": {"backends", "serve", "kusciaapi", "engine", "cli", "client", "source", "plan", "apply"},
    # issue 16: the receiver knows only the config; the forge writes back above apply and status
    "webhooks": {
        "cli",
        "client",
        "watch",
        "engine",
        "source",
        "plan",
        "apply",
        "status",
        "approvals",
        "forge",
    },
    "forge": {"cli", "client", "watch", "engine", "source", "backends", "webhooks"},
}
# modules that must stay pure: no disk, clock, process or network I/O
PURE_MODULES = ["engine/scheduler.py", "plan/diff.py"]
IO_MODULES = {"sqlite3", "subprocess", "socket", "time", "os", "shutil", "pathlib", "pygit2", "watchdog"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _reconciler_subpackage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "reconciler" or len(parts) < 2:
        return None
    return parts[1]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package: str) -> None:
    root = PKG / package
    files = sorted(root.rglob("*.py")) if root.is_dir() else []
    if not files:
        pytest.skip(f"reconciler/{package} does not exist yet")
    offences = []
    for f in files:
        for mod in _imports(f):
            sub = _reconciler_subpackage(mod)
            if sub in FORBIDDEN[package]:
                offences.append(f"{f.relative_to(PKG.parent)} imports {mod}")
    assert not offences, "upward imports:\n" + "\n".join(offences)


@pytest.mark.parametrize("relpath", PURE_MODULES)
def test_pure_cores_do_no_io(relpath: str) -> None:
    path = PKG / relpath
    if not path.exists():
        pytest.skip(f"reconciler/{relpath} does not exist yet")
    bad = {m for m in _imports(path) if m.split(".")[0] in IO_MODULES}
    assert not bad, f"{relpath} is a pure core but imports {sorted(bad)}"
