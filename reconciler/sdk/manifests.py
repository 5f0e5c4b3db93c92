"""Reading the manifest file of ``job create -f`` and ``graph FILE``: validated first, with the validator's
file:line messages, so a broken job is refused before it reaches a backend."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import KgitopsError
from reconciler.model import Resource

__all__ = ["ManifestError", "read_job_file"]

JOB_KIND = "KusciaJob"


class ManifestError(KgitopsError):
    """A manifest file that cannot be read or holds no usable KusciaJob (exit code 1)."""

    exit_code = 1


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the file ({exc.strerror})") from None


def read_job_file(path: str | Path, validate: bool = True) -> list[Resource]:
    """The KusciaJobs of a manifest file. With ``validate`` (``kgitops validate``'s checks, also across the
    jobs of the file), any error raises ``ManifestError`` listing every message as ``file:line:col``, as do
    other kinds in the file; without, the jobs that parse are returned. No usable job: ``ManifestError``."""
    from reconciler.plan.validation_seam import check_file, cross_file_errors_by_path

    path = Path(path)
    checked = check_file(str(path), _read(path), None)
    crossed = cross_file_errors_by_path([checked], None).get(str(path), {})  # e.g. two jobs, one taskID
    errors = ([checked.file_error] if checked.file_error else []) + list(checked.held_refs.values())
    errors += [why for ref, why in crossed.items() if ref not in checked.held_refs]
    if errors and validate:
        raise ManifestError(f"{path} is not valid, nothing was created:\n  " + "\n  ".join(errors))
    jobs = [o for o in checked.objects if o.kind == JOB_KIND]
    others = sorted({o.kind for o in checked.objects if o.kind != JOB_KIND})
    if others and validate:
        raise ManifestError(
            f"{path} also holds {', '.join(others)}; `job create` creates KusciaJobs only "
            "(put the other objects in the GitOps source and run `kgitops sync`)"
        )
    if not jobs:
        detail = (":\n  " + "\n  ".join(errors)) if errors else ""
        raise ManifestError(f"{path}: no usable KusciaJob in the file{detail}")
    return jobs
