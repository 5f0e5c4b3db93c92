"""Fidelity: every real-world manifest in ../shared/corpus gets its verdict, and so does every validation
scenario of ../shared/reference/scenarios.yaml; the schemas regenerate to exactly the checked-in files."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.validate import validate as validate_cmd
from reconciler.validate import validate_file

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"


def _corpus_rows() -> list[dict[str, str]]:
    index = CORPUS / "INDEX.tsv"
    if not index.exists():
        return []
    with index.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _scenarios() -> list[dict]:
    path = SHARED / "reference" / "scenarios.yaml"
    if not path.exists():
        return []
    return [s for s in yaml.safe_load(path.read_text())["scenarios"] if s["kind"] == "validation"]


@pytest.mark.parametrize("row", _corpus_rows(), ids=lambda r: r["file"])
def test_corpus_verdict(row: dict[str, str], shared_dir: Path) -> None:
    result = CliRunner().invoke(validate_cmd, [str(CORPUS / row["file"]), "--no-color"])
    expected = 0 if row["expected"] == "valid" else 1
    assert result.exit_code == expected, f"{row['reasons']}\n---\n{result.output}"


def test_corpus_is_present(shared_dir: Path) -> None:
    assert len(_corpus_rows()) >= 80


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s["name"])
def test_validation_scenarios(scenario: dict, shared_dir: Path) -> None:
    data = yaml.safe_dump(scenario["manifest"], sort_keys=False).encode()
    result = validate_file(f"{scenario['name']}.yaml", data)
    assert (not result.has_errors) == scenario["expect"]["valid"], [f.message for f in result.findings]


def test_schemas_regenerate_exactly(shared_dir: Path, tmp_path: Path) -> None:
    """Runs the README's command (on a copy of the script, which writes beside itself)."""
    shutil.copy(REPO / "schemas" / "generate.py", tmp_path / "generate.py")
    crds = shared_dir / "reference" / "crds"
    done = subprocess.run(
        [sys.executable, str(tmp_path / "generate.py"), str(crds)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for name in ("appimage.json", "kusciajob.json", "kusciatask.json"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert (REPO / "schemas" / name).read_text(encoding="utf-8") == text, f"schemas/{name} is stale"
        assert '"description": "' not in text


def test_schemas_are_shipped_with_the_package() -> None:
    from reconciler.validate.schema import load_schema

    job = load_schema("KusciaJob")
    spec = job["properties"]["spec"]["properties"]
    assert spec["maxParallelism"] == {"default": 1, "maximum": 128, "minimum": 1, "type": "integer"}
    assert spec["scheduleMode"]["default"] == "Strict"
    assert job["properties"]["spec"]["additionalProperties"] is False
