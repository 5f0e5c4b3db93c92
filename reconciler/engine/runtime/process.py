"""Process mode ("RunP"): every pod container is a local process group, tracked in the store.

A small ``sh`` wrapper execs nothing itself: it runs the container's argv as given and writes the exit
code to ``<pod>/.kgitops/<container>.exit``, so an engine that restarts after a crash learns how a process
it did not start (or lost track of) ended. pid + start ticks are recorded in the store right after the
start; a restarted engine adopts processes that are still alive and kills those whose task is gone.

What a task leaves on disk is private to the engine's user (directories 0700, files 0600,
``reconciler.engine.private_files``): the spawn records hold the processes' environments (secrets
included), the logs their output, the working and data folders the parties' data. A file or folder that
cannot be made fails the task's launch with the reason (``KusciaTaskCreateFailed``), never the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from glob import escape as glob_escape
from pathlib import Path

from reconciler.engine.outputs import claim_output_dir, owner_of
from reconciler.engine.pod_record import PodRecord
from reconciler.engine.podplan import (
    ContainerPlan,
    plan_containers,
    plan_parties,
    previous_task_prefix,
    task_dir,
)
from reconciler.engine.ports import PortAllocator
from reconciler.engine.private_files import open_private, private_dir, write_private
from reconciler.engine.runtime import procfs
from reconciler.engine.runtime.base import AppImageLookup, Launched, LaunchError, PodView, Runtime
from reconciler.engine.runtime.exits import ExitWatch
from reconciler.engine.store import Store, utc_now
from reconciler.engine.trust_settings import SettingsSource
from reconciler.kuscia.conditions import REASON_KUSCIA_TASK_CREATE_FAILED
from reconciler.kuscia.labels import ANNOTATION_JOB_ID, ANNOTATION_TASK_ALIAS
from reconciler.model import Resource, TaskSpec
from reconciler.model.objects import APP_IMAGE
from reconciler.model.phases import PodPhase

# The exit file is read only once the wrapper has exited (or was found gone), so it is written in place: no
# rename, which would cost one more process (``mv``) per container.
WRAPPER = '"$@"; rc=$?; printf %s "$rc" > "$0"; exit "$rc"'
LIVE = ("created", "running", "terminating")
# what the shell's own exit codes mean (said without reading the process's output)
_SHELL_CODES = {126: ": the command is not executable", 127: ": the command was not found"}


def where_logs_are(task: Resource, rec: PodRecord) -> str:
    """How to read a pod's output. Never the output itself: a status travels into status files and Git
    commits, and a process may print a secret."""
    job = task.annotations.get(ANNOTATION_JOB_ID, "")
    container = rec.pod.split("/", 1)[1]
    if job:
        alias = task.annotations.get(ANNOTATION_TASK_ALIAS) or task.name
        return f"its output: kgitops job logs {job} --task {alias} --party {rec.domain}"
    folder = task_dir(Path("<state dir>"), task.name)
    return f"its output: {folder}/{rec.pod.split('/', 1)[0]}/logs/{container}.log"


class ProcessRuntime(Runtime):
    def __init__(
        self,
        store: Store,
        state_dir: Path,
        settings: SettingsSource,
        workspace: Path,
        grace_seconds: float = 5.0,
    ) -> None:
        """``settings``: the settings in force (``engine/trust_settings.py``), read at each launch: only
        AppImages they trust run."""
        self.store = store
        self.state_dir = Path(state_dir).resolve()
        self.settings = settings
        self.workspace = Path(workspace).resolve()
        self.grace = grace_seconds
        self.ports = PortAllocator()
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._exits = ExitWatch()  # exits are announced, not polled

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _meta_dir(pod_dir: str | Path) -> Path:
        return Path(pod_dir) / ".kgitops"

    def _exit_file(self, rec: PodRecord) -> Path:
        return self._meta_dir(rec.dir) / f"{rec.pod.split('/', 1)[1]}.exit"

    def _log_file(self, rec: PodRecord) -> Path:
        return Path(rec.dir) / "logs" / f"{rec.pod.split('/', 1)[1]}.log"

    def _read_exit(self, rec: PodRecord) -> int | None:
        try:
            return int(self._exit_file(rec).read_text().strip())
        except (OSError, ValueError):
            return None

    def _leader_done(self, rec: PodRecord) -> bool:
        child = self._children.get(rec.pid)
        if child is not None:
            return child.poll() is not None
        return not procfs.alive(rec.pid, rec.start_ticks)

    # -- exits (``runtime/exits.py``) -----------------------------------------------------
    def _watch(self, rec: PodRecord) -> None:
        """Have the exit of the pod's leader announced (``news()``), from now on."""
        self._exits.watch(rec.pid, rec.start_ticks, rec.task_uid, rec.pid in self._children)

    def fileno(self) -> int | None:
        return self._exits.fileno()

    def news(self) -> set[str]:
        uids, exited = self._exits.take()
        for pid in exited:
            child = self._children.get(pid)
            if child is not None:
                child.poll()  # reap it now: no zombie waits for the task's next look
        return uids

    def next_check(self) -> float | None:
        return self._exits.next_check()

    # -- launching ------------------------------------------------------------------------
    def launch(self, task: Resource, lookup: AppImageLookup) -> Launched:
        folder = task_dir(self.state_dir, task.name)
        launch_file = folder / ".launch.json"
        mine = [r for r in self.store.pods(task.name) if r.task_uid == task.uid]
        if mine and launch_file.is_file():  # launched before a crash: adopt, never start twice
            saved = json.loads(launch_file.read_text())
            self._recover(mine)
            return Launched(self.observe(task), saved["ports"], saved["meta"])
        self._discard_other_attempts(task)
        parties = plan_parties(task, lookup, list(self.settings.current().trusted_appimages))
        count = sum(len(p.ports) for p in parties)
        free = iter(self.ports.allocate(count)) if count else iter(())
        ports = {p.domain: {m["name"]: next(free) for m in p.ports} for p in parties}
        meta = {p.domain: {m["name"]: m for m in p.ports} for p in parties}
        plans = plan_containers(task, parties, ports, lookup, self.state_dir, self.workspace)
        name, uid = owner_of(task)
        try:
            for domain in sorted({plan.domain for plan in plans}):  # a recreated job: empty folders
                claim_output_dir(self.state_dir / "storage" / domain / "data", name, uid)
            for plan in plans:
                self._prepare(plan)
            private_dir(folder)
            tmp = launch_file.with_suffix(".tmp")
            write_private(tmp, json.dumps({"uid": task.uid, "ports": ports, "meta": meta}))
            os.replace(tmp, launch_file)
        except OSError as exc:
            why = f"cannot prepare the task's folders: {exc}"
            raise LaunchError(REASON_KUSCIA_TASK_CREATE_FAILED, why) from None
        records = [
            PodRecord(task.name, task.uid, plan.key, plan.domain, plan.replica, str(plan.pod_dir), "created")
            for plan in plans
        ]
        with self.store.transaction():
            for rec in records:
                self.store.put_pod(rec)
        for plan, rec in zip(plans, records, strict=True):
            self._spawn(plan, rec)
        return Launched(self.observe(task), ports, meta)

    def withdrawn(self, task: Resource) -> str:
        """Trust in an AppImage of the task withdrawn since it was launched (``engine.trusted_appimages`` no
        longer names it): the task must stop. Kuscia has no such notion; stopping it is kgitops' choice, since
        trust is what lets a command run with the user's rights (``docs/embedded-engine.md``)."""
        settings = self.settings.current()
        names = sorted({p.app_image_ref for p in TaskSpec.from_dict(task.spec).parties})
        gone = [n for n in names if n and not settings.trusts(n)]
        if not gone:
            return ""
        return (
            f"trust in {APP_IMAGE} {', '.join(gone)} was withdrawn while the task ran "
            "(engine.trusted_appimages no longer names it), so its processes were stopped; to run it again, "
            "trust it and restart the job"
        )

    def _prepare(self, plan: ContainerPlan) -> None:
        for d in (
            plan.pod_dir / "logs",
            self._meta_dir(plan.pod_dir),
            plan.cwd,
            Path(plan.env["KGITOPS_STORAGE_DIR"]),
        ):
            private_dir(d)
        for path, content in plan.files.items():
            private_dir(path.parent)
            write_private(path, content)
        spawn = {"argv": plan.argv, "cwd": str(plan.cwd), "env": plan.env}
        write_private(self._meta_dir(plan.pod_dir) / f"{plan.container}.spawn.json", json.dumps(spawn))

    def _spawn(self, plan: ContainerPlan | None, rec: PodRecord) -> None:
        if plan is None:
            saved = json.loads(
                (self._meta_dir(rec.dir) / f"{rec.pod.split('/', 1)[1]}.spawn.json").read_text()
            )
            argv, cwd, env = saved["argv"], saved["cwd"], saved["env"]
        else:
            argv, cwd, env = plan.argv, str(plan.cwd), plan.env
        log = self._log_file(rec)
        private_dir(log.parent)
        with open(open_private(log, os.O_WRONLY | os.O_APPEND), "ab") as out:
            try:
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", WRAPPER, str(self._exit_file(rec)), *argv],
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                rec.state, rec.exit_code, rec.message = "exited", 127, f"cannot start the process: {exc}"
                rec.finished = utc_now()
                self.store.put_pod(rec)
                return
        self._children[proc.pid] = proc
        rec.pid, rec.start_ticks, rec.state, rec.started = (
            proc.pid,
            procfs.start_ticks(proc.pid),
            "running",
            utc_now(),
        )
        self.store.put_pod(rec)
        self._watch(rec)

    def _recover(self, records: list[PodRecord]) -> None:
        """Pods recorded but never marked started: adopt the process if it exists, else start it now."""
        for rec in records:
            if rec.state != "created":
                continue
            leaders = procfs.find_group_leaders(f"KGITOPS_POD_KEY={rec.task_uid}/{rec.pod}")
            if leaders:
                rec.pid, rec.start_ticks, rec.state = leaders[0], procfs.start_ticks(leaders[0]), "running"
                self.store.put_pod(rec)
                self._watch(rec)
            elif self._read_exit(rec) is not None:
                rec.state, rec.exit_code, rec.finished = "exited", self._read_exit(rec), utc_now()
                self.store.put_pod(rec)
            else:
                self._spawn(None, rec)

    # -- observing ------------------------------------------------------------------------
    def observe(self, task: Resource) -> list[PodView]:
        recs = [r for r in self.store.pods(task.name) if r.task_uid == task.uid]
        self._recover(recs)
        by_pod: dict[str, list[PodRecord]] = {}
        for rec in recs:
            if rec.state == "running" and self._leader_done(rec):
                code = self._read_exit(rec)
                child = self._children.pop(rec.pid, None)
                if code is None and child is not None and child.returncode is not None:
                    code = child.returncode
                procfs.kill_group(rec.pid, signal.SIGKILL)  # stragglers of a finished pod
                rec.state, rec.exit_code, rec.finished = "exited", code, utc_now()
                if code != 0:
                    if code is None:
                        rec.message = "the process ended while no engine was watching and left no exit status"
                    else:
                        known = _SHELL_CODES.get(code, "")
                        rec.message = f"exit code {code}{known} ({where_logs_are(task, rec)})"
                self.store.put_pod(rec)
            elif rec.state in ("running", "terminating"):
                self._watch(rec)  # e.g. adopted from the driver before
            by_pod.setdefault(rec.pod.split("/", 1)[0], []).append(rec)
        if not any(rec.state in LIVE for rec in recs):
            self._exits.settled(task.uid)
        views = []
        for pod, containers in by_pod.items():
            states = [c.state for c in containers]
            failed = [c for c in containers if c.state in ("exited", "gone") and c.exit_code != 0]
            if failed:
                phase, msg = PodPhase.FAILED, failed[0].message or "killed"
            elif all(c.state == "exited" for c in containers):
                phase, msg = PodPhase.SUCCEEDED, ""
            elif "running" in states or "exited" in states:
                phase, msg = PodPhase.RUNNING, ""
            else:
                phase, msg = PodPhase.PENDING, ""
            views.append(
                PodView(
                    domain=containers[0].domain,
                    name=f"{task.name}-{pod}",
                    phase=str(phase),
                    message=msg,
                    start_time=containers[0].started,
                    reason={PodPhase.SUCCEEDED: "Completed", PodPhase.FAILED: "Error"}.get(phase, ""),
                )
            )
        return views

    # -- stopping -------------------------------------------------------------------------
    def _stop(self, recs: list[PodRecord], now: float) -> bool:
        alive = False
        for rec in recs:
            if rec.state not in LIVE:
                continue
            if rec.state == "created" and not rec.pid:
                rec.state, rec.message = "gone", "stopped before it started"
                self.store.put_pod(rec)
                continue
            child = self._children.get(rec.pid)
            if child is not None:
                child.poll()
            if rec.state == "running" and self._leader_done(rec) and not procfs.group_alive(rec.pid):
                self._children.pop(rec.pid, None)
                rec.state, rec.exit_code, rec.finished = "exited", self._read_exit(rec), utc_now()
                self.store.put_pod(rec)
                continue
            if not procfs.group_alive(rec.pid):
                self._children.pop(rec.pid, None)
                rec.state, rec.finished = "gone", utc_now()
                rec.message = rec.message or "terminated"
                self.store.put_pod(rec)
                continue
            alive = True
            if now == float("inf"):
                procfs.kill_group(rec.pid, signal.SIGKILL)
                if rec.state != "terminating":
                    rec.state, rec.term_at, rec.message = "terminating", time.time(), "killed (SIGKILL)"
                    self.store.put_pod(rec)
            elif rec.state == "running":
                procfs.kill_group(rec.pid, signal.SIGTERM)
                rec.state, rec.term_at, rec.message = "terminating", now, "terminated (SIGTERM)"
                self.store.put_pod(rec)
            elif now - rec.term_at >= self.grace:
                procfs.kill_group(rec.pid, signal.SIGKILL)
                if rec.message != "killed (SIGKILL after the grace period)":
                    rec.message = "killed (SIGKILL after the grace period)"
                    self.store.put_pod(rec)
        return alive

    def terminate(self, task: Resource) -> bool:
        live = [r for r in self.store.pods(task.name, live_only=True) if r.task_uid == task.uid]
        alive = self._stop(live, time.time()) if live else False
        if not alive:
            self._exits.settled(task.uid)
        return alive

    def collect_garbage(self, live_tasks: Mapping[str, str]) -> bool:
        stale = [r for r in self.store.pods() if live_tasks.get(r.task) != r.task_uid]
        if not stale:
            return False
        if self._stop(stale, time.time()):
            return False
        for name in {r.task for r in stale}:
            self._forget(name, {r.task_uid for r in stale if r.task == name}, live_tasks.get(name))
        return True

    def _forget(self, task: str, uids: set[str], current_uid: str | None) -> None:
        """Drop the records of finished attempts; their directory moves to pods/.previous so the logs of a
        restarted task stay readable (``purge`` removes them when the job is deleted)."""
        if uids:  # (a first launch has none: no empty write transaction)
            with self.store.transaction():
                for uid in uids:
                    self.store.delete_pods(task, uid)
        folder = task_dir(self.state_dir, task)
        if not folder.is_dir():
            return
        try:
            owner = json.loads((folder / ".launch.json").read_text()).get("uid")
        except (OSError, ValueError):
            owner = None
        if current_uid is not None and owner == current_uid:
            return
        prev = private_dir(self.state_dir / "pods" / ".previous")
        entry = f"{previous_task_prefix(task)}-{(owner or 'unknown')[:8]}-{time.time_ns()}"
        with contextlib.suppress(OSError):
            shutil.move(str(folder), str(prev / entry))

    def purge(self, task_names: set[str]) -> None:
        """Remove every directory of these tasks (current and previous attempts): their job was deleted."""
        for name in task_names:
            shutil.rmtree(task_dir(self.state_dir, name), ignore_errors=True)
            prev = self.state_dir / "pods" / ".previous"
            if prev.is_dir():
                prefix = previous_task_prefix(name)
                for d in prev.glob(f"{glob_escape(prefix)}-*"):
                    if d.name[len(prefix) + 1 :].count("-") == 1:
                        shutil.rmtree(d, ignore_errors=True)

    def _discard_other_attempts(self, task: Resource) -> None:
        """Before a task starts again under the same name (Restart), its old attempt must be gone."""
        stale = [r for r in self.store.pods(task.name) if r.task_uid != task.uid]
        deadline = time.time() + 5
        while self._stop(stale, float("inf")) and time.time() < deadline:
            time.sleep(0.01)
            stale = [r for r in self.store.pods(task.name) if r.task_uid != task.uid]
        self._forget(task.name, {r.task_uid for r in stale}, task.uid)

    # -- housekeeping ---------------------------------------------------------------------
    def tick(self) -> None:
        """Reap finished children (no zombies); observe() reads their exit codes."""
        for child in list(self._children.values()):
            child.poll()

    def has_live_pods(self) -> bool:
        return self.store.has_live_pods()

    def close(self) -> None:
        for child in self._children.values():
            child.poll()
        self._exits.close()
