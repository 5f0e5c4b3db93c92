"""Each job's output folder at each party: ``<state>/storage/<domain>/data/<job>/``, fresh for every job.

A job writes its outputs under a folder named after it (``KGITOPS_OUTPUT_DIR``; the example apps' output URIs
``<job>/psi-output.csv`` name the same folder). Job names are reused: a job deleted and created again
(``sync --recreate``) is a new job, and its folder must not still hold the earlier job's outputs — a re-run
that fails would otherwise show them as its own. So the folder records the uid of the job that owns it
(``.kgitops-job``); when a task of a job with another uid starts, the earlier job's folder moves to
``data/.previous/<job>-<uid prefix>-<time>/`` (hidden names are out of reach of the apps' storage paths) and
the new job starts with an empty one. A Restart keeps the job's uid, so its succeeded tasks' outputs stay. A
folder without the marker was not made by the engine (a user's own data) and is left as it is. A folder that
cannot be moved aside is an error (``OSError``), never a new job silently keeping the earlier one's outputs.

Names too long for a file name are shortened (``reconciler.filenames.fitting_name``), the ``.previous/``
entry's too, with room for its ``-<uid prefix>-<time>``. The folders are private (mode 0700,
``reconciler.engine.private_files``): they hold a party's data.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from reconciler.engine.private_files import private_dir, write_private
from reconciler.filenames import fitting_name
from reconciler.kuscia.labels import ANNOTATION_JOB_ID, LABEL_JOB_UID
from reconciler.model import Resource

MARKER = ".kgitops-job"
PREVIOUS = ".previous"
# what a ``.previous/`` entry adds to the name: ``-`` + at most 8 characters of the uid + ``-`` + time_ns (19
# digits until the year 2286)
PREVIOUS_ROOM = len("-12345678-") + 19


def owner_of(task: Resource) -> tuple[str, str]:
    """(name, uid) of the job that owns the task's outputs: its job, or the task itself if no job owns it."""
    job = task.annotations.get(ANNOTATION_JOB_ID, "")
    uid = task.labels.get(LABEL_JOB_UID, "")
    return (job, uid) if job and uid else (task.name, task.uid)


def output_dir(storage: Path, name: str) -> Path:
    """The output folder of job (or standalone task) ``name`` in a party's storage directory (the name
    shortened when it does not fit in a file name)."""
    return storage / fitting_name(name)


def claim_output_dir(storage: Path, name: str, uid: str) -> Path:
    """Make ``storage/name`` the output folder of the job with ``uid``: create it, or move an earlier job's
    folder aside first. Returns the folder. Raises ``OSError`` when the folder cannot be made, or an
    earlier job's folder cannot be moved aside."""
    folder = output_dir(storage, name)
    marker = folder / MARKER
    try:
        owner = marker.read_text(encoding="utf-8").strip()
    except OSError:
        owner = None
    if owner == uid:
        return folder
    if owner is not None:  # an earlier job of the same name: keep its outputs, out of the new job's way
        entry = f"{fitting_name(name, room=PREVIOUS_ROOM)}-{owner[:8] or 'unknown'}-{time.time_ns()}"
        os.replace(folder, private_dir(storage / PREVIOUS) / entry)
    elif folder.exists():
        return folder  # not the engine's: a user's own folder is never moved
    private_dir(folder)
    tmp = folder / f"{MARKER}.tmp"
    write_private(tmp, uid + "\n")
    os.replace(tmp, marker)
    return folder
