"""The documentation builds with MkDocs in strict mode, every page is in its navigation, every relative link
leads somewhere, and the README stays a front page whose two commands are the ones the project runs."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README = REPO / "README.md"

QUICKSTART = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && "
    ".venv/bin/kgitops sync examples --config examples/kgitops.yaml --wait"
)
TESTS = (
    "python3 -m venv .venv && .venv/bin/pip install -q -c requirements/test.txt -e '.[test]' && "
    ".venv/bin/python -m pytest -q"
)

# [text](target) outside code: inline links only (the docs use no reference-style links)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def pages() -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def nav_pages(entries: Any) -> Iterator[str]:
    """Every page of an mkdocs `nav`: plain strings, `{title: page}` and `{section: [...]}` entries."""
    if isinstance(entries, str):
        if "://" not in entries:
            yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from nav_pages(value)


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def test_mkdocs_builds_in_strict_mode(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for page in pages():
        assert (site / page.replace(".md", ".html")).is_file(), page


def test_every_page_is_in_the_nav_once() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = list(nav_pages(config["nav"]))
    assert len(listed) == len(set(listed)), f"listed twice in mkdocs.yml: {listed}"
    missing = sorted(set(pages()) - set(listed))
    assert not missing, f"add these pages to `nav` in mkdocs.yml, under the section they belong to: {missing}"
    assert not set(listed) - set(pages()), "mkdocs.yml lists pages that do not exist"


def test_every_relative_link_leads_to_a_file_of_the_repository() -> None:
    broken = []
    for doc in [README, *sorted(DOCS.rglob("*.md"))]:
        for target in LINK.findall(prose(doc.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists() or REPO not in path.parents:
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, broken


def test_the_readme_is_a_front_page_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)
    assert blocks == [QUICKSTART, TESTS]
    assert text.count("\n## ") <= 3, "the reference belongs in docs/, one page per topic"
    linked = {t for t in LINK.findall(prose(text)) if t.startswith("docs/") and t.endswith(".md")}
    must = {"docs/config.md", "docs/exit-codes.md", "docs/troubleshooting.md", "docs/kuscia.md"}
    assert must <= linked, sorted(must - linked)


def test_the_docs_cite_only_what_is_in_the_repository() -> None:
    """Kuscia's semantics are cited from docs/kuscia-semantics.md (our words, in the repository), never from
    the reference file beside the repository: a citation such as §9 is a link to that page."""
    for doc in [README, *sorted(DOCS.rglob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert "`kuscia-semantics.md`" not in text, doc
        if doc.name == "kuscia-semantics.md":
            continue
        for cited in re.findall(r"(?:\[)?§\d+[^\n]{0,3}", text):
            where = doc.relative_to(REPO)
            assert cited.startswith("["), f"{where}: {cited!r} is not a link to kuscia-semantics.md"


def test_every_config_file_shown_in_the_docs_loads(tmp_path: Path) -> None:
    """A `yaml` block headed `# kgitops.yaml` is a config a user may copy: it passes the config's checks."""
    from reconciler.config import load_config

    shown = 0
    for doc in sorted(DOCS.rglob("*.md")):
        for block in re.findall(r"```yaml\n(# kgitops\.yaml\n.*?)```", doc.read_text(encoding="utf-8"), re.S):
            path = tmp_path / "kgitops.yaml"
            path.write_text(block, encoding="utf-8")
            load_config(path)  # raises ConfigError naming the line and setting
            shown += 1
    assert shown >= 2
