"""Reading the manifest file of ``job create -f`` and ``graph FILE``: validated first, with the validator's
file:line messages, so a broken job is refused before it reaches a backend."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.model import Resource
from reconciler.plan.validation_seam import check_file, cross_file_errors_by_path

JOB_KIND = "KusciaJob"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the file ({exc.strerror})") from None


def load_job_file(path: Path, validate: bool = True) -> list[Resource]:
    """The KusciaJobs of a manifest file; any validation error stops here with every message listed."""
    checked = check_file(str(path), _read(path), None)
    crossed = cross_file_errors_by_path([checked], None).get(str(path), {})  # e.g. two jobs, one taskID
    errors = ([checked.file_error] if checked.file_error else []) + list(checked.held_refs.values())
    errors += [why for ref, why in crossed.items() if ref not in checked.held_refs]
    if errors and validate:
        raise click.ClickException(f"{path} is not valid, nothing was created:\n  " + "\n  ".join(errors))
    jobs = [o for o in checked.objects if o.kind == JOB_KIND]
    others = sorted({o.kind for o in checked.objects if o.kind != JOB_KIND})
    if others and validate:
        raise click.ClickException(
            f"{path} also holds {', '.join(others)}; `job create` creates KusciaJobs only "
            "(put the other objects in the GitOps source and run `kgitops sync`)"
        )
    if not jobs:
        detail = (":\n  " + "\n  ".join(errors)) if errors else ""
        raise click.ClickException(f"{path}: no usable KusciaJob in the file{detail}")
    return jobs
