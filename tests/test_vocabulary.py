"""Kuscia's vocabulary has one home: no module spells a phase, approval or stage-status value, a stage
command, a schedule mode, a condition type or reason, or a label/annotation key as a string of its own.

The words come from the home modules themselves (``reconciler.model.phases``' enums,
``reconciler.kuscia.conditions``' constants), so a word added there is checked everywhere at once. Every
``reconciler/**/*.py`` is parsed (``ast``) and each string constant is looked at, docstrings excluded:

* a constant that *is* one of those words (``"Failed"``, ``"JobAccepted"``, ``"ResourceCreated"``), wherever
  it stands (a comparison, a dict key, a set, a default, a status written), is a copy of the fact: use the
  enum member or the constant. So is an SQL string literal of it (``... IN ('Pending', 'Running')``). A word
  inside a sentence (an error message, a comment) is not a copy and is not flagged;
* a constant that is a Kuscia or kgitops label/annotation key or key prefix (``kuscia.secretflow/job-stage``,
  ``kgitops.io/``, also the literal part of an f-string that builds one) belongs in
  ``reconciler/kuscia/labels.py``. Prose naming a key (with spaces around it) is not flagged;
* a kind name (``KusciaJob``, ``KusciaTask``, ``AppImage``: ``reconciler.model.objects.KINDS``, and kgitops's
  ``JobApproval``) is spelt in ``reconciler/model/objects.py`` only. Elsewhere a string that is a kind, or
  that names one as a word (an error message, a help text, SQL's ``kind='KusciaTask'``), uses the constant
  (``f"no {KUSCIA_JOB} named {name!r}"``), so the kinds a message names are the kinds the code handles.
  So is its plural (``KusciaJobs``); a longer word that starts with a kind (``KusciaJobStopped``) is not.

``ALLOWED`` lists the exceptions, each with its reason; an entry that no longer matches anything fails too, so
the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import pytest

from reconciler.kuscia import conditions
from reconciler.model import objects, phases

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reconciler"

# the home modules: the words are spelt there, and only there
HOMES = {
    "reconciler/model/phases.py",
    "reconciler/kuscia/conditions.py",
    "reconciler/kuscia/labels.py",
    "reconciler/kuscia/stages.py",
    "reconciler/kuscia/codes.py",
}
KIND_HOME = "reconciler/model/objects.py"  # the kind names are spelt there, and only there

# (path, word): a string equal to a vocabulary word that is not Kuscia's fact, or not this part's to change
ALLOWED: dict[tuple[str, str], str] = {
    # kgitops's own sync state of an object in Git ("the backend refused it"), not Kuscia's phase
    ("reconciler/status/record.py", "Failed"): "SyncState.FAILED is kgitops's word",
    # engine/store.py's import lines (on `kgitops job list`'s path) belong to another part of this change:
    # Store.watch_list's SQL ('Pending', 'Running': OPEN_TASK_PHASES) is swept at merge
    ("reconciler/engine/store.py", "Pending"): "engine/store.py: another part's import lines",
    ("reconciler/engine/store.py", "Running"): "engine/store.py: another part's import lines",
    # the CLI imports only the SDK, presentation, config and errors (tests/cli/test_cli_grammar.py), and
    # `kgitops --help`, `validate --help`, `engine --help` no reconciler.model (test_cli_startup_imports.py):
    # its help texts name the kinds themselves
    ("reconciler/cli/__init__.py", "KusciaJob"): "the --help path: no reconciler.model import",
    ("reconciler/cli/__init__.py", "KusciaTask"): "the --help path: no reconciler.model import",
    ("reconciler/cli/__init__.py", "AppImage"): "the --help path: no reconciler.model import",
    ("reconciler/cli/__init__.py", "JobApproval"): "the --help path: no reconciler.model import",
    ("reconciler/cli/validate.py", "KusciaJob"): "the validate --help path: no reconciler.model import",
    ("reconciler/cli/validate.py", "KusciaTask"): "the validate --help path: no reconciler.model import",
    ("reconciler/cli/validate.py", "AppImage"): "the validate --help path: no reconciler.model import",
    ("reconciler/cli/engine.py", "AppImage"): "the engine --help path: no reconciler.model import",
    ("reconciler/cli/job_actions.py", "KusciaJob"): "the CLI imports no reconciler.model",
    ("reconciler/cli/job_help.py", "KusciaJob"): "the CLI imports no reconciler.model",
    ("reconciler/cli/simulate.py", "KusciaJob"): "the CLI imports no reconciler.model",
    # files other parts of this change edit (H7: the engine's trust/approval code; H8: status/**, runtime/**)
}

# a label/annotation key or key prefix of Kuscia (kuscia.secretflow/…, kuscia.job.custom-fields/…) or of
# kgitops (kgitops.io/…, approvals.kgitops.io/…): one word, no spaces, ending at the key's name
SQL_LITERAL = re.compile(r"'(\w+)'")  # 'Failed' in SQL text; prose's 'failed' is not a word of the vocabulary
# a kind name (or its plural) as a word of a string: not inside a longer name (KusciaJobStopped, appImageRef)
KIND_WORD = re.compile(r"(?<![\w.])(" + "|".join((*objects.KINDS, objects.JOB_APPROVAL)) + r")s?(?!\w)")
KEY = re.compile(r"^(?:[a-z0-9-]+\.)*(?:kuscia\.secretflow|kuscia\.job\.custom-fields|kgitops\.io)/[\w.-]*$")


def vocabulary() -> dict[str, str]:
    """word -> where it is defined, from the home modules."""
    words: dict[str, str] = {}
    for obj in vars(phases).values():
        if isinstance(obj, type) and issubclass(obj, StrEnum) and obj.__module__ == phases.__name__:
            for member in obj:  # the first home named wins: JobPhase for "Failed", not PodPhase
                words.setdefault(member.value, f"{obj.__name__}.{member.name}")
    words[phases.KUSCIA_INITIALIZED] = "phases.KUSCIA_INITIALIZED"
    words[phases.KUSCIAAPI_UNKNOWN_STATE] = "phases.KUSCIAAPI_UNKNOWN_STATE"
    for name, value in vars(conditions).items():
        if name.startswith(("CONDITION_", "REASON_", "MESSAGE_")) and name not in (
            "CONDITION_TRUE",  # "True"/"False": Kubernetes' condition statuses, too plain a word to own
            "CONDITION_FALSE",
        ):
            words.setdefault(value, f"conditions.{name}")
    return words


def kinds() -> dict[str, str]:
    """kind name -> its constant in ``reconciler.model.objects``."""
    return {
        value: f"objects.{name}"
        for name, value in vars(objects).items()
        if name.isupper() and isinstance(value, str) and value in (*objects.KINDS, objects.JOB_APPROVAL)
    }


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the constants that are docstrings: a module's, class's or function's first statement, and an
    attribute docstring (a bare string statement after an assignment)."""
    ids = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                ids.add(id(stmt.value))
    return ids


def strings(source: str) -> Iterator[tuple[int, str]]:
    """(line, value) of every string constant of ``source`` that is not a docstring, f-strings' literal parts
    included."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def spelt(source: str, words: dict[str, str]) -> Iterator[tuple[int, str, str]]:
    """(line, word, how) of each vocabulary word ``source`` spells: a string that is the word, or an SQL
    string literal (``'Failed'``) in a string."""
    for line, value in strings(source):
        if value in words:
            yield line, value, "a string"
        for word in SQL_LITERAL.findall(value):
            if word in words:
                yield line, word, "an SQL literal"


def spelt_kinds(source: str) -> Iterator[tuple[int, str]]:
    """(line, kind) of each kind name ``source`` spells: a string that is the kind or names it as a word."""
    for line, value in strings(source):
        for kind in KIND_WORD.findall(value):
            yield line, kind


def findings(path: str, source: str, words: dict[str, str]) -> list[str]:
    """What ``source`` (the module at ``path``) spells that belongs to a home module."""
    out = []
    if path != KIND_HOME:
        names = kinds()
        for line, kind in spelt_kinds(source):
            if (path, kind) not in ALLOWED:
                out.append(f"{path}:{line}: {kind!r} (a kind name) is {names[kind]}: use it")
    if path not in HOMES:
        for line, word, how in spelt(source, words):
            if (path, word) not in ALLOWED:
                out.append(f"{path}:{line}: {word!r} ({how}) is {words[word]}: use it")
    if path != "reconciler/kuscia/labels.py":
        for line, value in strings(source):
            if KEY.match(value):
                out.append(f"{path}:{line}: {value!r} is a label/annotation key: see kuscia/labels.py")
    return out


def _modules() -> Iterator[tuple[str, str]]:
    for file in sorted(PACKAGE.rglob("*.py")):
        yield file.relative_to(ROOT).as_posix(), file.read_text(encoding="utf-8")


def test_the_package_spells_no_kuscia_word_outside_its_home() -> None:
    words = vocabulary()
    found = [f for path, source in _modules() for f in findings(path, source, words)]
    assert not found, "\n".join(found)


def test_every_allowed_exception_is_still_needed() -> None:
    words = vocabulary()
    seen = {(path, word) for path, source in _modules() for _, word, _how in spelt(source, words)}
    seen |= {(path, kind) for path, source in _modules() for _, kind in spelt_kinds(source)}
    stale = [f"{path}: {word!r}" for path, word in ALLOWED if (path, word) not in seen]
    assert not stale, "no longer spelt there; remove from ALLOWED:\n" + "\n".join(stale)


def test_the_vocabulary_is_read_from_the_home_modules() -> None:
    words = vocabulary()
    assert words["Failed"] == "JobPhase.FAILED"
    assert words["AwaitingApproval"] == "JobPhase.AWAITING_APPROVAL"
    assert words["JobAccepted"] == "ApprovePhase.ACCEPTED"
    assert words["JobSuspendStageSucceeded"] == "JobStagePhase.SUSPEND_SUCCEEDED"
    assert words["ResourceCreated"] == "conditions.CONDITION_RESOURCE_CREATED"
    assert words["KusciaJobStopped"] == "conditions.REASON_KUSCIA_JOB_STOPPED"
    assert words["BestEffort"] == "ScheduleMode.BEST_EFFORT" and words["Suspend"] == "Stage.SUSPEND"
    assert "True" not in words and "Synced" not in words
    assert kinds() == {
        "KusciaJob": "objects.KUSCIA_JOB",
        "KusciaTask": "objects.KUSCIA_TASK",
        "AppImage": "objects.APP_IMAGE",
        "JobApproval": "objects.JOB_APPROVAL",
    }


REGRESSIONS = {
    "comparison": 'def f(phase):\n    return phase == "Failed"\n',
    "membership": 'def f(v):\n    return v in ("Pending", "Running", "")\n',
    "dict key": 'COLOURS = {"Succeeded": "32"}\n',
    "set": 'FINAL = frozenset({"Succeeded", "Failed", "Cancelled"})\n',
    "redefinition": 'PENDING, RUNNING = "Pending", "Running"\n',
    "status write": 'def f(st):\n    st["phase"] = "Failed"\n',
    "keyword": 'def f(st):\n    st.update(reason="ValidateFailed")\n',
    "default": 'def f(st):\n    return st.get("phase") or "Pending"\n',
    "approval": 'def f(s):\n    return s == "JobAccepted"\n',
    "stage status": 'OK = ("JobCreateStageSucceeded", "JobStartStageSucceeded")\n',
    "condition": 'def f(c):\n    return c.get("type") == "ResourceCreated"\n',
    "Kuscia's lower case": 'def f(p):\n    return p.lower() == "initialized"\n',
    "label key": 'KEY = "kuscia.secretflow/job-stage"\n',
    "key prefix": 'PREFIX = "kuscia.job.custom-fields/"\n',
    "kgitops key": 'def f(a):\n    return a.get("kgitops.io/priority")\n',
    "built key": 'def f(d):\n    return f"approvals.kgitops.io/{d}"\n',
    "kind": 'def f(obj):\n    return obj.kind == "KusciaJob"\n',
    "kind tuple": 'KINDS = ("AppImage", "KusciaTask")\n',
    "kgitops kind": 'KIND = "JobApproval"\n',
    "kind in a message": 'def f(n):\n    raise ValueError(f"no KusciaJob named {n!r}")\n',
    "kind in a sentence": 'HELP = "Validate AppImage manifests."\n',
    "plural kind": 'def f(n):\n    return f"{n} KusciaJobs in this file"\n',
    "kind in SQL": 'SQL = "SELECT uid FROM objects WHERE kind=\'KusciaTask\'"\n',
    "SQL": 'WHERE = "json_extract(status, \'$.phase\') IN (\'Pending\', \'Running\')"\n',
}


@pytest.mark.parametrize("source", REGRESSIONS.values(), ids=list(REGRESSIONS))
def test_a_copied_word_or_key_is_found(source: str) -> None:
    assert findings("reconciler/some/module.py", source, vocabulary())


PROSE = '''"""A docstring says a job is "Failed" or Pending, and names kuscia.secretflow/job-stage."""

STATE = "Synced"


class C:
    """Running, Succeeded; a KusciaJob's AppImage."""

    X = 1
    """An attribute docstring: JobAccepted, ``kgitops.io/priority``."""


def f(job, phase):
    """Stop a job that is ``Running``."""
    # a comment: "Failed", "KusciaJob"
    if phase.is_final:
        raise ValueError(f"job {job} is {phase}; it can not be Running again (kuscia.secretflow/job-stage)")
    return "the job failed validation (`kuscia.secretflow/…`): a typo", "Pending approval", "Failed: %s", (
        "Restart this job and delete the 'failed' phase task failed, error: %s"
    ), "KusciaJobStopped: an appImageRef", "kusciajob.json"
'''


def test_prose_docstrings_and_other_words_are_not_flagged() -> None:
    assert findings("reconciler/some/module.py", PROSE, vocabulary()) == []


def test_the_home_modules_may_spell_their_words() -> None:
    source = 'class JobPhase:\n    FAILED = "Failed"\n\nLABEL = "kuscia.secretflow/job-stage"\n'
    assert findings("reconciler/model/phases.py", source, vocabulary()) == [
        "reconciler/model/phases.py:4: 'kuscia.secretflow/job-stage' is a label/annotation key: "
        "see kuscia/labels.py"
    ]
    labels = 'LABEL = "kuscia.secretflow/job-stage"\n'
    assert findings("reconciler/kuscia/labels.py", labels, vocabulary()) == []
    kinds_home = 'KUSCIA_JOB = "KusciaJob"\nJOB_APPROVAL = "JobApproval"\n'
    assert findings("reconciler/model/objects.py", kinds_home, vocabulary()) == []
    assert findings("reconciler/model/phases.py", 'K = "KusciaJob"\n', vocabulary()) == [
        "reconciler/model/phases.py:1: 'KusciaJob' (a kind name) is objects.KUSCIA_JOB: use it"
    ]
