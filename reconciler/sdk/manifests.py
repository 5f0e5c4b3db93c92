"""Reading the manifest file of ``job create -f`` and ``graph FILE``: validated first, with the validator's
file:line messages, so a broken job is refused before it reaches a backend."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import KgitopsError
from reconciler.model import Resource
from reconciler.model.objects import KUSCIA_JOB

__all__ = ["ManifestError", "read_job_file"]

JOB_KIND = KUSCIA_JOB


class ManifestError(KgitopsError):
    """A manifest file that cannot be read or holds no usable KusciaJob (exit code 1)."""

    exit_code = 1


def _read(path: Path, max_file_size: int | None) -> bytes:
    from reconciler.load.files import TOO_LARGE, FileReadError, read_bounded
    from reconciler.validate import DEFAULT_MAX_FILE_SIZE

    try:
        return read_bounded(path, DEFAULT_MAX_FILE_SIZE if max_file_size is None else max_file_size)
    except FileReadError as exc:
        hint = " (raise it with --max-file-size)" if exc.rule == TOO_LARGE else ""
        raise ManifestError(f"{path}: {exc.message}{hint}") from None


def read_job_file(
    path: str | Path, validate: bool = True, max_file_size: int | None = None
) -> list[Resource]:
    """The KusciaJobs of a manifest file. With ``validate`` (``kgitops validate``'s checks, also across the
    jobs of the file), any error raises ``ManifestError`` listing every message as ``file:line:col``, as do
    other kinds in the file; without, the jobs that parse are returned. No usable job: ``ManifestError``.
    A file that is not a regular file or is larger than ``max_file_size`` (bytes, default 5 MiB) is not
    read: ``ManifestError``."""
    from reconciler.plan.validation_seam import check_file, cross_file_errors_by_path

    path = Path(path)
    checked = check_file(str(path), _read(path, max_file_size), None)
    crossed = cross_file_errors_by_path([checked], None).get(str(path), {})  # e.g. two jobs, one taskID
    errors = ([checked.file_error] if checked.file_error else []) + list(checked.held_refs.values())
    errors += [why for ref, why in crossed.items() if ref not in checked.held_refs]
    if errors and validate:
        raise ManifestError(f"{path} is not valid, nothing was created:\n  " + "\n  ".join(errors))
    jobs = [o for o in checked.objects if o.kind == JOB_KIND]
    others = sorted({o.kind for o in checked.objects if o.kind != JOB_KIND})
    if others and validate:
        raise ManifestError(
            f"{path} also holds {', '.join(others)}; `job create` creates {JOB_KIND}s only "
            "(put the other objects in the GitOps source and run `kgitops sync`)"
        )
    if not jobs:
        detail = (":\n  " + "\n  ".join(errors)) if errors else ""
        raise ManifestError(f"{path}: no usable {JOB_KIND} in the file{detail}")
    return jobs
