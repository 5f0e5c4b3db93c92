"""A self-hosted remote for the push tests: a bare repository whose ``post-receive`` hook is the shipped
``examples/webhooks/post-receive``, and a clone that commits and pushes with the real ``git``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "examples" / "webhooks" / "post-receive"
GIT_ID = ["-c", "user.name=Test Author", "-c", "user.email=author@example.com"]
# the hook's `python3` is this interpreter (not a version manager's slow shim)
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def git(*args: str, cwd: Path) -> str:
    command = ["git", *GIT_ID, *args]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, env=ENV)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


class Remote:
    """``bare`` is the remote (the watched source); ``work`` a clone to commit in."""

    def __init__(self, root: Path, secret_file: Path) -> None:
        self.bare, self.work = (root / "remote.git").resolve(), root / "work"
        git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        shutil.copy(HOOK, self.bare / "hooks" / "post-receive")
        (self.bare / "hooks" / "post-receive").chmod(0o755)
        git("config", "kgitops.webhookSecretFile", str(secret_file), cwd=self.bare)
        git("clone", "-q", str(self.bare), str(self.work), cwd=root)
        git("checkout", "-q", "-b", "main", cwd=self.work)

    def point_hook_at(self, url: str) -> None:
        git("config", "kgitops.webhookUrl", url, cwd=self.bare)

    def commit(self, files: dict[str, dict], message: str = "change") -> str:
        for rel, doc in files.items():
            path = self.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work).strip()

    def push(self) -> str:
        """``git push``; returns what the remote printed (the hook's lines among them)."""
        return git("push", "origin", "main", cwd=self.work)
