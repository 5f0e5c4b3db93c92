"""The rules of operating a job, as pure functions: which phase allows which command, what a label or a time
given by a user must look like, whether GitOps owns an object; and the errors, worded for the user.

Kept apart from ``client.py`` so the rules read (and are tested) without a backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from reconciler.backends.base import PhaseError
from reconciler.errors import KgitopsError
from reconciler.kuscia.labels import ANNOTATION_SOURCE_ID, ANNOTATION_SOURCE_PATH, reserved_owner
from reconciler.model import JobPhase, Resource, Stage
from reconciler.views import PRIORITIES, job_phase_of

if TYPE_CHECKING:
    from reconciler.validate.admission import Verdict

# -- errors ----------------------------------------------------------------------------------------------


class ClientError(KgitopsError):
    """An operation was refused or failed; ``str(err)`` says why and what to do instead (exit code 1)."""

    exit_code = 1


class InvalidArgument(ClientError):
    """An argument that does not fit the job or the backend's state (a domain that is not a party, a task
    the job lacks): the operation failed, exit code 1."""


class InvalidValue(InvalidArgument):
    """A value that is wrong whatever the state (a phase, priority, label, time, page marker): a usage error,
    exit code 2 (``docs/exit-codes.md``)."""

    exit_code = 2


def _did_you_mean(name: str, known: Iterable[str], kind: str) -> str:
    """Up to 3 known names at least 60 % alike (normalised Indel similarity, rapidfuzz's ``fuzz.ratio``;
    difflib's cutoff, at a few ms for 10,000 names where difflib takes 0.2 s); ties in ``known``'s order."""
    from rapidfuzz import fuzz, process  # loaded by the errors that ask, not by every command

    known = list(known)
    if not known:
        return f"there are no {kind}s"
    found = process.extract(name, known, scorer=fuzz.ratio, limit=3, score_cutoff=60)
    close = [c for c, _score, _at in found]
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return f"{len(known)} {kind}(s) exist; see `kgitops {kind} list`"


class InvalidObject(InvalidArgument):
    """Admission (the checks of ``kgitops validate``) refused the object; ``verdict`` lists every error."""

    def __init__(self, verdict: Verdict, action: str = "created") -> None:
        super().__init__(
            f"{verdict.what} is not valid, nothing was {action}:\n  " + "\n  ".join(verdict.lines())
        )
        self.verdict = verdict


class JobNotFound(ClientError):
    def __init__(self, name: str, namespace: str, known: Iterable[str] = ()) -> None:
        super().__init__(
            f"job `{name}` not found in namespace {namespace}; {_did_you_mean(name, known, 'job')}"
        )
        self.name = name


class TaskNotFound(ClientError):
    def __init__(self, name: str, namespace: str, known: Iterable[str] = ()) -> None:
        super().__init__(
            f"task `{name}` not found in namespace {namespace}; {_did_you_mean(name, known, 'task')}"
        )
        self.name = name


class JobExists(ClientError):
    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(
            f"job `{name}` already exists in namespace {namespace}; jobs run once: delete it first "
            "or give the new one another name"
        )
        self.name = name


class PhaseNotAllowed(ClientError):
    """The job's phase does not allow the command; ``phase`` and ``allowed`` say which would."""

    def __init__(self, name: str, action: str, phase: str, allowed: Iterable[str], hint: str = "") -> None:
        self.name = name
        self.action = action
        self.phase = phase
        self.allowed = tuple(str(a) for a in allowed)
        text = f"cannot {action} job `{name}`: it is {phase or 'in no phase yet'}"
        if self.allowed:
            text += f"; {action} is allowed only when the job is " + " or ".join(self.allowed)
        if hint:
            text += f" ({hint})"
        super().__init__(text)

    @classmethod
    def from_backend(cls, name: str, action: str, exc: PhaseError) -> PhaseNotAllowed:
        if exc.phase:
            return cls(name, action, exc.phase, exc.allowed)
        err = cls(name, action, "", ())
        err.args = (f"cannot {action} job `{name}`: {exc}",)
        return err


class ManagedObject(ClientError):
    """GitOps sync owns the object: an imperative change would be undone by the next sync."""

    def __init__(self, name: str, verb: str, source: str, undo: str) -> None:
        self.name = name
        self.source = source
        super().__init__(
            f"job `{name}` is managed by kgitops sync (from {source}); if you {verb} it here, {undo}. "
            "Change it in Git instead, or pass --force to do it anyway"
        )


# -- phase rules (reconciler.kuscia.stages: kgitops's own, stricter than KusciaAPI's) --------------------

_HINTS: dict[tuple[Stage, JobPhase], str] = {
    (Stage.SUSPEND, JobPhase.SUSPENDED): "it is suspended already; `restart` resumes it",
    (Stage.SUSPEND, JobPhase.FAILED): "`restart` runs its unfinished tasks again",
    (Stage.RESTART, JobPhase.RUNNING): "it is running already; `suspend` it first to restart it",
    (Stage.RESTART, JobPhase.SUCCEEDED): "a succeeded job is done; create a new job to run it again",
    (Stage.RESTART, JobPhase.CANCELLED): "a cancelled job can not run again; create a new job",
    (Stage.STOP, JobPhase.FAILED): "it has stopped already",
    (Stage.CANCEL, JobPhase.CANCELLED): "it is cancelled already",
}


def check_stage(job: Resource, stage: Stage) -> None:
    """Raise PhaseNotAllowed unless kgitops issues ``stage`` to the job in its current phase
    (``kuscia.stages.kgitops_refusal``: stricter than KusciaAPI, which makes no phase check for stop and
    cancel)."""
    from reconciler.kuscia.stages import kgitops_refusal  # the actions only: `job list` never loads it

    refusal = kgitops_refusal(stage, job.status)
    if refusal is None:
        return
    phase_text = job_phase_of(job)
    action = stage.value.lower()
    if refusal.validation is not None:  # D6: Kuscia would accept it and do nothing
        raise PhaseNotAllowed(
            job.name,
            action,
            phase_text,
            (),
            hint="it failed validation; fix the manifest and create it again",
        )
    try:
        phase = JobPhase(phase_text)
    except ValueError:
        raise PhaseNotAllowed(job.name, action, phase_text, refusal.allowed) from None
    raise PhaseNotAllowed(job.name, action, phase_text, refusal.allowed, _HINTS.get((stage, phase), ""))


def check_approval(job: Resource, domain: str, accept: bool) -> None:
    """Approval needs a party domain other than the initiator, while the job waits for approval."""
    action = "approve" if accept else "reject"
    if not domain:
        raise InvalidArgument(f"{action} needs the domain that decides (--domain)")
    from reconciler.views import spec_of  # the typed spec: not loaded by the commands that only read

    spec = spec_of(job)
    if domain not in spec.domains:
        parties = ", ".join(spec.domains) or "none"
        raise InvalidArgument(f"domain `{domain}` is not a party of job `{job.name}`; its parties: {parties}")
    if domain == spec.initiator:
        raise InvalidArgument(
            f"domain `{domain}` is the initiator of job `{job.name}`; "
            "the initiator approves by creating the job"
        )
    phase = job_phase_of(job)
    from reconciler.kuscia.stages import APPROVAL_PHASES

    if phase not in APPROVAL_PHASES:
        raise PhaseNotAllowed(job.name, action, phase, APPROVAL_PHASES)


# -- user input -------------------------------------------------------------------------------------------

# patterns, compiled on first use (re's own cache), not at import: `kgitops job list` checks none of them
_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"


def check_key(key: str, what: str) -> None:
    """A Kubernetes qualified name: ``[prefix/]name``, name ≤63 characters, prefix a DNS subdomain."""
    prefix, _, name = key.rpartition("/")
    ok = bool(re.match(_NAME, name)) and (
        not prefix or (len(prefix) <= 253 and bool(re.match(_DNS_SUBDOMAIN, prefix)))
    )
    if not ok:
        raise InvalidValue(
            f"invalid {what} key `{key}`: use [prefix/]name, the name up to 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )


def normalise_metadata(
    items: Mapping[str, str | None], what: str, allow_remove: bool = True
) -> dict[str, str | None]:
    """Check label/annotation keys and values; with ``allow_remove`` an empty value means "remove" (None)."""
    result: dict[str, str | None] = {}
    for key, value in items.items():
        key = str(key)
        check_key(key, what)
        owner = reserved_owner(key) if allow_remove else ""  # one rule with validate's META006
        if owner:
            raise InvalidValue(
                f"{what} `{key}` belongs to {owner} "
                "and can not be set by hand; use the job commands (stop, suspend, ...) or --priority instead"
            )
        if value is None or value == "":
            result[key] = None if allow_remove else ""
            continue
        value = str(value)
        if what == "label" and not re.match(_LABEL_VALUE, value):
            raise InvalidValue(
                f"invalid value for label `{key}`: `{value}`; up to 63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit (annotations take any text)"
            )
        result[key] = value
    return result


def parse_pairs(pairs: Iterable[str], what: str) -> dict[str, str]:
    """``k=v`` strings (from the command line) → dict; ``k=`` gives an empty value; the last ``k`` wins."""
    result: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split(",") if what == "label" else [pair]:
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InvalidValue(f"`{item}` is not {what} KEY=VALUE (use KEY= to remove a {what})")
            result[key.strip()] = value
    return result


def normalise_priority(priority: str) -> str:
    value = str(priority).strip().upper()
    if value not in PRIORITIES:
        raise InvalidValue(f"priority `{priority}` is not one of {', '.join(PRIORITIES)} (any case)")
    return value


def parse_statuses(status: Iterable[str] | str | None) -> set[str]:
    """Job phases given by a user, in any case, comma-separated or repeated → our spelling."""
    if not status:
        return set()
    items = [status] if isinstance(status, str) else list(status)
    known = {p.value.lower(): p.value for p in JobPhase}
    result = set()
    for item in items:
        for word in str(item).split(","):
            word = word.strip()
            if not word:
                continue
            if word.lower() not in known:
                raise InvalidValue(
                    f"unknown job phase `{word}`; use one of: {', '.join(p.value for p in JobPhase)}"
                )
            result.add(known[word.lower()])
    return result


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_user_time(
    value: datetime | str | int | float | None, what: str, tz: tzinfo | None = None
) -> datetime | None:
    """A time from a user: a datetime, a Unix timestamp, ISO 8601, or ``YYYY-MM-DD HH:MM:SS`` in local time
    (or ``tz``)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo:
            return value
        return value.replace(tzinfo=tz) if tz is not None else value.astimezone()
    if isinstance(value, int | float) or re.fullmatch(r"\d+(\.\d+)?", str(value).strip()):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):  # beyond the years datetime and the C library hold
            raise InvalidValue(
                f"{what}: `{value}` is out of range for a Unix timestamp (seconds)"
            ) from None
    text = str(value).strip()
    for fmt in _TIME_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(
            f'{what}: `{text}` is not a time; use "YYYY-MM-DD HH:MM:SS" (local time), ISO 8601 or a Unix '
            "timestamp"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz) if tz is not None else parsed.astimezone()
    return parsed


# -- the GitOps guard ------------------------------------------------------------------------------------


def managed_source(obj: Resource) -> str | None:
    """``path in source`` when GitOps sync manages the object, else None."""
    from reconciler.plan.ownership import is_managed  # the planner's rule; loaded by the writes that ask

    if not is_managed(obj):
        return None
    path = obj.annotations.get(ANNOTATION_SOURCE_PATH, "")
    source = obj.annotations.get(ANNOTATION_SOURCE_ID, "")
    if path and source:
        return f"{path} in {source}"
    return path or source or "a GitOps source"
