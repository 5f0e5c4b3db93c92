"""Every command of the GitOps page (docs/gitops.md) runs as shown; the complete config file of docs/config.md
is complete and valid."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import Config, DomainTrust, load_config

from .gitops_support import Repo, appimage_doc, job_doc, wait_for, write, write_config

DOCS = Path(__file__).resolve().parents[2] / "docs"


def section(page: str, title: str) -> str:
    """The part of docs/PAGE from the heading TITLE (any level) to the next heading of that level or above."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = re.search(rf"^(#+) {re.escape(title)}\n", text, flags=re.M)
    assert found, f"docs/{page} has no heading {title!r}"
    nxt = re.search(rf"^#{{1,{len(found.group(1))}}} ", text[found.end() :], flags=re.M)
    return text[found.start() : found.end() + nxt.start() if nxt else len(text)]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def commands() -> list[str]:
    out = []
    for block in blocks(section("gitops.md", "GitOps: diff, sync, watch, status"), "sh"):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line.startswith("kgitops "):
                out.append(line)
    return out


def test_docs_show_every_gitops_command() -> None:
    names = {c.split()[1] for c in commands()}
    assert names == {"diff", "sync", "status", "watch"}


def test_docs_gitops_commands_run_as_shown(tmp_path: Path) -> None:
    write(tmp_path, "manifests/apps/noop.yaml", appimage_doc())
    write(tmp_path, "manifests/jobs/job-psi.yaml", job_doc("job-psi", ("psi", "split")))
    repo = Repo(tmp_path / "repo")
    repo.commit({"jobs/job-git.yaml": job_doc("job-git")})
    write_config(tmp_path / "kgitops.yaml", tmp_path / "state")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "PYTHONUNBUFFERED": "1"}
    env.pop("KGITOPS_CONFIG", None)
    for line in commands():
        argv = [sys.executable, "-m", "reconciler", *shlex.split(line.split(">>")[0])[1:]]
        if argv[3] == "watch":
            _run_watch([a.replace(":9102", ":0") for a in argv], tmp_path, env)
            continue
        if ">>" in line:
            with open(tmp_path / "summary.md", "a", encoding="utf-8") as out:
                proc = subprocess.run(
                    argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE, text=True
                )
        else:
            proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        allowed = {0, 1} if argv[3] == "diff" else {0}
        assert proc.returncode in allowed, f"{line}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, line
    assert "```mermaid" in (tmp_path / "summary.md").read_text()


def _run_watch(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        seen = ""
        while '"msg": "watching' not in seen:
            line = proc.stderr.readline()
            assert line and time.monotonic() < deadline, f"watch did not start: {seen}"
            seen += line
        wait_for(
            (cwd / "status/cross-domain/KusciaJob/job-psi.yaml").exists, what="the watcher's status file"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _settings(cls: Any, prefix: str) -> set[str]:
    out = set()
    for f in dataclasses.fields(cls):
        if f.name in ("base_dir", "file"):
            continue
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        out.add(prefix + f.name)
        if dataclasses.is_dataclass(default):
            out |= _settings(type(default), f"{prefix}{f.name}.")
    return out


def _keys(data: Any, prefix: str) -> set[str]:
    out = set()
    if isinstance(data, dict):
        for k, v in data.items():
            out.add(prefix + str(k))
            out |= _keys(v, f"{prefix}{k}.")
    return out


def test_docs_config_example_is_valid_and_complete(tmp_path: Path) -> None:
    (example,) = blocks(section("config.md", "A complete file"), "yaml")
    path = tmp_path / "kgitops.yaml"
    path.write_text(example, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.source.path == "." and cfg.backend.kind == "local"
    data = yaml.safe_load(example)
    shown = _keys(data, "")
    missing = sorted(_settings(Config, "") - shown)
    assert not missing, f"docs/config.md's complete file lacks: {missing}"
    domain_keys = {f"approvals.domains.bob.{f.name}" for f in dataclasses.fields(DomainTrust)}
    assert domain_keys <= shown, sorted(domain_keys - shown)


@pytest.mark.parametrize("bad", ["sync: {recreate_drifted: true, typo: 1}", "status: [1]"])
def test_config_mistakes_are_clear(tmp_path: Path, bad: str) -> None:
    from reconciler.config import ConfigError

    path = tmp_path / "kgitops.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)
