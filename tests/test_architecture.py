"""The import contract (``[tool.importlinter]`` in pyproject.toml) holds, checked by import-linter in the test
run: layers from the CLI down to Kuscia's vocabulary, independent backends and sources, a pure core, and a
wire format that knows no server. The contracts are transitive, so an indirect chain breaks them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "0 broken" in done.stdout


def test_every_package_has_a_place_in_the_layers() -> None:
    """`exhaustive = true` makes import-linter refuse a module the layers leave out; this names the rule for
    whoever adds a package: give it a layer in pyproject.toml."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")
    assert layers["exhaustive"] is True
    placed = {name.strip() for layer in layers["layers"] for name in layer.replace(":", "|").split("|")}
    package = ROOT / "reconciler"
    here = {p.stem for p in package.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert here - {"__init__"} == placed


def test_modules_stay_small() -> None:
    """A module past ~400 lines wants splitting; this is the ceiling past which a split is overdue."""
    big = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "reconciler").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not big, big
