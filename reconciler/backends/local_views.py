"""What the local backend shows people besides the objects: the output of a job's processes (``job_logs``,
from ``<state>/pods/<task>/<pod>/logs``, read once or followed until the job and its processes are done)
and the engine's status (``engine_status``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from reconciler.backends.base import NotFound
from reconciler.engine.podplan import task_dir
from reconciler.engine.store import Store
from reconciler.kuscia.labels import ANNOTATION_TASK_ALIAS
from reconciler.model import JobPhase, ObjectRef, Resource, TaskPhase
from reconciler.model.objects import KUSCIA_JOB, KUSCIA_TASK


def log_files(
    store: Store, state_dir: Path, job: Resource, task: str | None, party: str | None
) -> list[tuple[str, Path]]:
    """(``alias/domain-replica/container``, log file) of the job's tasks in creation order, only task
    ``task`` (name or alias) and party ``party`` if given; NotFound for a task the job does not have."""
    tasks = store.list(KUSCIA_TASK, namespace=job.namespace, owner=job.uid, order="created")
    if task is not None:
        tasks = [t for t in tasks if task in (t.name, t.annotations.get(ANNOTATION_TASK_ALIAS))]
        if not tasks:
            raise NotFound(f"job {job.name} has no task {task!r} (yet)")
    out = []
    for t in tasks:
        alias = t.annotations.get(ANNOTATION_TASK_ALIAS, t.name)
        root = task_dir(state_dir, t.name)
        if not root.is_dir():
            continue
        for pod in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if party is not None and not pod.name.startswith(f"{party}-"):
                continue
            for log in sorted((pod / "logs").glob("*.log")):
                out.append((f"{alias}/{pod.name}/{log.stem}", log))
    return out


def job_logs(
    store: Store,
    state_dir: Path,
    job: str,
    task: str | None,
    party: str | None,
    follow: bool,
    step: Callable[[], bool],
) -> Iterator[str]:
    """Lines of the job's process logs, each prefixed ``[alias/domain-replica/container]``. ``follow``: keep
    reading (whole lines only) until the job is final and no task of it is open or has a live process;
    meanwhile ``step()`` drives the engine (True if it did something). NotFound for a job that does not
    exist."""
    ref = ObjectRef.of(KUSCIA_JOB, job)
    job_obj = store.get(ref)
    if job_obj is None:
        raise NotFound(f"job {job} does not exist")
    offsets: dict[Path, int] = {}
    while True:
        for label, path in log_files(store, state_dir, job_obj, task, party):
            try:
                with open(path, "rb") as f:
                    f.seek(offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            complete = data.rfind(b"\n") + 1 if follow else len(data)
            offsets[path] = offsets.get(path, 0) + complete
            for line in data[:complete].decode("utf-8", "replace").splitlines():
                yield f"[{label}] {line}"
        if not follow:
            return
        current = store.get(ref)
        from reconciler.engine.engine import OPEN

        open_tasks = store.list(KUSCIA_TASK, owner=current.uid, where=OPEN) if current else []
        names = {t.name for t in store.list(KUSCIA_TASK, owner=current.uid)} if current else set()
        if current is None or (
            JobPhase.parse(current.status.get("phase")).is_final
            and not open_tasks
            and not any(p.task in names for p in store.pods(live_only=True))
        ):
            follow = False  # one last read of whatever was written, then stop
            continue
        if not step():  # following drives the engine when nobody else does
            time.sleep(0.1)


def engine_status(store: Store, state_dir: Path, driver_pid: int | None, notice: str) -> dict[str, object]:
    """``kgitops engine status``: the state directory, the driving process's pid (None: nobody drives), the
    number of jobs and of tasks per phase, the live processes, and ``notice`` (what to tell the user)."""
    jobs: dict[str, int] = {}
    for j in store.list(KUSCIA_JOB):
        p = str(JobPhase.parse(j.status.get("phase")))
        jobs[p] = jobs.get(p, 0) + 1
    tasks: dict[str, int] = {}
    for t in store.list(KUSCIA_TASK):
        p = str(TaskPhase.parse(t.status.get("phase")))
        tasks[p] = tasks.get(p, 0) + 1
    pods = store.pods(live_only=True)
    return {
        "state_dir": str(state_dir),
        "driver_pid": driver_pid,
        "jobs": jobs,
        "tasks": tasks,
        "live_processes": [{"task": p.task, "pod": p.pod, "pid": p.pid, "state": p.state} for p in pods],
        "notice": notice,
    }
