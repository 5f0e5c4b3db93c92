"""End to end with real pieces: `git push` to a bare repository, its post-receive hook sends a GitHub-shaped
push webhook to a running watcher, the job appears in the engine, and its commit status reaches the forge."""

from __future__ import annotations

import threading
from pathlib import Path

from forge.standin import StandInForge
from gitops.gitops_support import appimage_doc, config, job_doc, local_backend, wait_for

from reconciler.apply.session import open_session
from reconciler.forge import StatusReporter
from reconciler.forge.github import GitHub
from reconciler.model import ObjectRef
from reconciler.watch import Watcher, WatchSettings
from reconciler.webhooks import ReceiverSettings, Target

from .pushes import Remote

SECRET = "push-secret"


def test_a_git_push_reaches_the_engine_through_the_webhook_and_the_status_reaches_the_forge(
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    remote = Remote(tmp_path, secret_file)
    remote.commit({"apps/noop.yaml": appimage_doc()}, "the AppImage")
    remote.push()  # no watcher yet: the hook says the webhook was not delivered, and the push succeeds
    cfg = config(remote.bare, tmp_path / "state", git=True, ref="main")
    backend = local_backend(tmp_path / "state")
    # polling is off in effect (an hour): only the webhook can bring the push in quickly
    settings = WatchSettings(poll_interval=3600, resync_interval=3600, status_interval=0.2)
    settings.webhook = ReceiverSettings("127.0.0.1:0", SECRET, Target(str(remote.bare), "main"))
    with StandInForge() as forge:
        reporter = StatusReporter(GitHub("example-org/jobs", "t0ken", forge.url))
        watcher = Watcher(open_session(cfg, backend), settings, cfg.state_dir, on_result=reporter.observe)
        ready = threading.Event()
        thread = threading.Thread(target=watcher.run, kwargs={"ready": ready.set}, daemon=True)
        thread.start()
        try:
            assert ready.wait(60)
            assert watcher.receiver is not None
            remote.point_hook_at(f"http://{watcher.receiver.address}/")
            sha = remote.commit({"jobs/job-1.yaml": job_doc("job-1")}, "job-1")
            printed = remote.push()
            assert f"refs/heads/main {sha[:12]}: github push of {sha[:12]} to main" in printed
            wait_for(lambda: backend.get(ObjectRef.of("KusciaJob", "job-1")), what="job-1 in the engine")
            assert watcher.receiver.counts["accepted"] == 1

            def status() -> dict | None:
                s = forge.state.latest().get("kgitops/job-1")
                return s if s and s["sha"] == sha and s["state"] == "success" else None

            wait_for(status, what="the kgitops/job-1 success status on the pushed commit")
            posted = [
                (s["state"], s["description"])
                for s in forge.state.statuses
                if s["context"] == "kgitops/job-1"
            ]
            assert posted[0][0] == "pending" and posted[-1] == ("success", "Succeeded")
            assert len(posted) == len(set(posted)), posted  # a status is posted again only when it changed
            text = watcher.metrics.exposition()[0].decode()
            assert 'kgitops_webhook_deliveries_total{result="accepted"} 1' in text
        finally:
            watcher.stop()
            thread.join(30)
            reporter.close()
            backend.close()
