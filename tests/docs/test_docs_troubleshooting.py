"""The troubleshooting page quotes what kgitops prints: every line of its output blocks is printed by a real
scenario (the page's names; the temporary directory reads as /home/you/kgitops, `...` stands for anything)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from reconciler.engine.driver import driver_pid

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
HOME = "/home/you/kgitops"

APPIMAGE = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: AppImage
metadata:
  name: demo-image
spec:
  image: {name: demo, tag: "1"}
  deployTemplates:
  - name: demo
    replicas: 1
    spec:
      containers:
      - {name: demo, command: [sh, -c, "exit 0"], workingDir: /work}
"""


def job(name: str, priority: int = 0) -> str:
    return f"""\
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaJob
metadata:
  name: {name}
spec:
  initiator: alice
  tasks:
  - alias: t
    taskID: {name}-t
    priority: {priority}
    appImage: demo-image
    taskInputConfig: '{{}}'
    parties: [{{domainID: alice}}]
"""


def shown_lines() -> list[str]:
    """Every line of the page's plain fenced blocks (output, not commands or files)."""
    blocks = re.findall(r"^```\n(.*?)^```", PAGE.read_text(encoding="utf-8"), flags=re.S | re.M)
    assert blocks
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def run_scenario(root: Path) -> str:
    """The mistakes the page is about, made for real; everything printed, with the directory as HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("KGITOPS_CONFIG", "KGITOPS_STATE_DIR")}
    env["NO_COLOR"] = "1"
    out: list[str] = []

    def kgitops(*args: str, cwd: Path = root) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert "Traceback" not in done.stderr, done.stderr
        out.append(done.stdout + done.stderr)

    manifests = root / "manifests"
    (manifests / "apps").mkdir(parents=True)
    (manifests / "jobs").mkdir()
    (manifests / "apps" / "demo-image.yaml").write_text(APPIMAGE)
    (manifests / "jobs" / "job-a.yaml").write_text(job("job-a"))
    (manifests / "jobs" / "job-b.yaml").write_text(job("job-b"))
    (root / "kgitops.yaml").write_text("engine:\n  state_dir: .kgitops\n  autostart: false\n")
    kgitops("sync", "manifests")
    kgitops("engine", "run", "--until-idle")  # demo-image is not trusted: job-a fails, nothing runs
    kgitops("job", "show", "job-a")
    kgitops("job", "suspend", "job-a")  # Failed: suspend is not allowed
    kgitops("job", "delete", "job-a")  # managed by sync: refused without --force
    (manifests / "jobs" / "job-b.yaml").write_text(job("job-b", priority=5))
    kgitops("diff", "manifests")  # a one-shot job changed in the source
    (manifests / "jobs" / "job-a.yaml").write_text("kind: KusciaJob\nmetadata:\n  name: [job-a\n")
    (manifests / "jobs" / "job-b.yaml").unlink()
    kgitops("sync", "manifests", "--prune")  # job-a held, so job-b is not pruned
    kgitops("job", "list", "--state-dir", "other")
    (root / "cfg").mkdir()
    (root / "cfg" / "kgitops.yaml").write_text("engine:\n  state_dir: .kgitops\n  autostrat: false\n")
    kgitops("job", "list", "--config", "kgitops.yaml", cwd=root / "cfg")
    # a watch drives with the trust it started with; kgitops.yaml no longer trusts demo-image
    (root / "kgitops.yaml").write_text("engine:\n  state_dir: .kgitops\n  trusted_appimages: [demo-image]\n")
    watch = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "watch", "manifests"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while driver_pid(root / ".kgitops") != watch.pid:  # poll until the watch drives the engine
            assert time.monotonic() < deadline and watch.poll() is None, "the watch did not start driving"
            time.sleep(0.05)
        (root / "kgitops.yaml").write_text("engine:\n  state_dir: .kgitops\n")
        kgitops("sync", "manifests")
    finally:
        watch.terminate()
        watch.wait(timeout=60)
    return "".join(out).replace(str(root), HOME)


def test_every_message_the_page_quotes_is_printed(tmp_path: Path) -> None:
    printed = run_scenario(tmp_path).splitlines()
    missing = []
    for line in shown_lines():
        pattern = re.compile(".*?".join(re.escape(part) for part in line.split("...")))
        if not any(pattern.search(p) for p in printed):
            missing.append(line)
    assert not missing, "the page quotes messages kgitops does not print:\n" + "\n".join(missing)
