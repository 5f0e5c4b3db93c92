"""Push-to-job benchmark (run by hand; prints its figures): from `git push` to the job existing in the engine.

Real pieces only: a bare repository as the remote with the shipped `examples/webhooks/post-receive` hook, a
clone that commits one new job and runs the real `git push`, the hook sending a GitHub-shaped, HMAC-signed
push webhook to `kgitops watch`'s receiver, and the watcher fetching, planning and creating the job in the
embedded engine. Polling is set to an hour, so only the webhook can bring a push in. Target: p95 ≤ 1 s.

    python bench/webhook_bench.py [--pushes 30] [--jobs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from reconciler.apply.session import open_session
from reconciler.backends.local import LocalBackend
from reconciler.config import Config, EngineConfig, SourceConfig
from reconciler.model import ObjectRef
from reconciler.watch import Watcher, WatchSettings
from reconciler.webhooks import ReceiverSettings, Target

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "examples" / "webhooks" / "post-receive"
SECRET = "bench-secret"
APP = "noop-image"
GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]


# The hook runs `python3` from PATH: this interpreter's, not a version manager's shim (pyenv's costs ~0.1 s).
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True, env=ENV).stdout


def job(name: str) -> dict:
    parties = [{"domainID": "alice"}, {"domainID": "bob"}]
    task = {"alias": "psi", "appImage": APP, "taskInputConfig": "{}", "parties": parties}
    return {"apiVersion": "kuscia.secretflow/v1alpha1", "kind": "KusciaJob", "metadata": {"name": name},
            "spec": {"initiator": "alice", "tasks": [task]}}  # fmt: skip


def appimage() -> dict:
    container = {"name": "noop", "command": ["sh", "-c", "exit 0"], "workingDir": "/work"}
    template = {"name": "noop", "replicas": 1, "spec": {"containers": [container]}}
    return {"apiVersion": "kuscia.secretflow/v1alpha1", "kind": "AppImage", "metadata": {"name": APP},
            "spec": {"image": {"name": "noop", "tag": "1"}, "deployTemplates": [template]}}  # fmt: skip


def commit(work: Path, files: dict[str, dict], message: str) -> None:
    for rel, doc in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def run(pushes: int, jobs: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="kgitops-webhook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bare, work, state = (tmp / "remote.git").resolve(), tmp / "work", tmp / "state"
        (tmp / "secret").write_text(SECRET)
        git(tmp, "init", "-q", "--bare", "-b", "main", str(bare))
        shutil.copy(HOOK, bare / "hooks" / "post-receive")
        (bare / "hooks" / "post-receive").chmod(0o755)
        git(bare, "config", "kgitops.webhookSecretFile", str(tmp / "secret"))
        git(tmp, "clone", "-q", str(bare), str(work))
        git(work, "checkout", "-q", "-b", "main")
        files = {f"jobs/base-{i}.yaml": job(f"base-{i}") for i in range(jobs)}
        commit(work, {"apps/noop.yaml": appimage(), **files}, "the AppImage and the jobs already there")
        git(work, "push", "-q", "origin", "main")
        cfg = Config(
            source=SourceConfig(path=str(bare), git=True, ref="main"),
            engine=EngineConfig(
                state_dir=str(state), trusted_appimages=[APP], auto_approve=["alice", "bob"], autostart=False
            ),
        )
        backend = LocalBackend(state, trusted_appimages=[APP], auto_approve=["alice", "bob"], autostart=False)
        settings = WatchSettings(poll_interval=3600, resync_interval=3600, status_interval=5)
        settings.webhook = ReceiverSettings("127.0.0.1:0", SECRET, Target(str(bare), "main"))
        watcher = Watcher(open_session(cfg, backend), settings, cfg.state_dir)
        ready = threading.Event()
        thread = threading.Thread(target=watcher.run, kwargs={"ready": ready.set}, daemon=True)
        thread.start()
        if not ready.wait(120) or watcher.receiver is None:
            raise SystemExit("the watcher did not start")
        git(bare, "config", "kgitops.webhookUrl", f"http://{watcher.receiver.address}/")
        times: list[float] = []
        pushed: list[float] = []
        try:
            for i in range(pushes):
                name = f"pushed-{i}"
                commit(work, {f"jobs/{name}.yaml": job(name)}, f"add {name}")
                ref = ObjectRef.of("KusciaJob", name)
                t0 = time.perf_counter()
                git(work, "push", "-q", "origin", "main")
                pushed.append(time.perf_counter() - t0)
                deadline = t0 + 30
                while backend.get(ref) is None:
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"{name} did not reach the engine within 30 s")
                    time.sleep(0.002)
                times.append(time.perf_counter() - t0)
        finally:
            watcher.stop()
            thread.join(30)
            backend.close()
        return {
            "pushes": pushes,
            "jobs_in_repository": jobs + pushes,
            "p50_s": round(statistics.median(times), 3),
            "p95_s": round(percentile(times, 95), 3),
            "max_s": round(max(times), 3),
            "git_push_p50_s": round(statistics.median(pushed), 3),  # of which: the push itself, hook included
            "webhooks_accepted": watcher.receiver.counts["accepted"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=20, help="jobs already in the repository")
    args = parser.parse_args()
    result = run(args.pushes, args.jobs)
    print(json.dumps(result))
    print(f"git push → job in the engine: p50 {result['p50_s']:.3f} s, p95 {result['p95_s']:.3f} s "
          f"(target p95 ≤ 1 s) over {result['pushes']} pushes", file=sys.stderr)  # fmt: skip
    sys.exit(0 if result["p95_s"] <= 1.0 else 1)


if __name__ == "__main__":
    main()
