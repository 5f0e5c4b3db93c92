"""A fresh status files writer (a new process, a CLI ``sync``) starting from the memo: with the memo's batch
and every file as the memo says it does nothing; any edit by someone else (in place, same size) is still
found and repaired; a changed record's transition line takes the old label from the memo (a number, not the
old file), and numbers of another vocabulary are not believed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from reconciler.status import StatusFiles

from .test_gitops_status_incremental import batch

FILES_MEMO = ".kgitops-status-memo.json"
REL = "cross-domain/KusciaJob/job-003.yaml"


def stamps(root: Path) -> dict[str, tuple[int, int]]:
    files = root.rglob("*.yaml")
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


def past_the_mtime_of(path: Path) -> None:
    """Wait (polling, with a deadline) until a file written now gets a later mtime than ``path``: the kernel
    stamps files with a coarse clock, and an edit within the same tick as our write keeps the mtime."""
    probe = path.with_name(".probe")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        probe.write_bytes(b"")
        if probe.stat().st_mtime_ns > path.stat().st_mtime_ns:
            probe.unlink()
            return
    raise AssertionError("the file system's clock did not move")


def forge_label(root: Path, rel: str, like: str) -> int:
    """Give ``rel``'s memo entry the label number of ``like``'s; returns that number."""
    doc = json.loads((root / FILES_MEMO).read_bytes())
    code: int = doc["records"][like][5]
    assert code != doc["records"][rel][5]
    doc["records"][rel][5] = code
    (root / FILES_MEMO).write_text(json.dumps(doc))
    return code


def test_nothing_changed_writes_nothing_and_an_in_place_edit_of_the_same_size_is_still_repaired(
    tmp_path: Path,
) -> None:
    StatusFiles(tmp_path).write(batch(8))
    before = stamps(tmp_path)
    memo_before = (tmp_path / FILES_MEMO).stat().st_mtime_ns
    assert StatusFiles(tmp_path).write(batch(8)) == []
    assert stamps(tmp_path) == before and (tmp_path / FILES_MEMO).stat().st_mtime_ns == memo_before
    path = tmp_path / REL
    good = path.read_bytes()
    past_the_mtime_of(path)
    with path.open("r+b") as f:  # in place: the directory's mtime does not change, the file's size neither
        f.write(good.replace(b"phase: Running", b"phase: Runnin2"))
    assert len(path.read_bytes()) == len(good)
    assert StatusFiles(tmp_path).write(batch(8)) == ["job-003: Runnin2 → Running"]
    assert path.read_bytes() == good
    (tmp_path / "cross-domain/KusciaJob/job-005.yaml").unlink()
    assert StatusFiles(tmp_path).write(batch(8)) == ["job-005: new, Running"]
    assert StatusFiles(tmp_path).write(batch(8)) == []


def test_a_changed_records_line_takes_the_old_label_from_the_memo(tmp_path: Path) -> None:
    """The memo's label number for job-003 is forged to say Failed: a fresh writer believes it (the file is
    as the memo says), so the line says Failed, which the file never did. With a memo of another label
    vocabulary, the number is not believed and the old file is read."""
    StatusFiles(tmp_path).write(batch(6, job_001="Failed"))
    failed_code = forge_label(tmp_path, REL, "cross-domain/KusciaJob/job-001.yaml")
    changed = batch(6, job_001="Failed", job_003="Succeeded")
    assert StatusFiles(tmp_path).write(changed) == ["job-003: Failed → Succeeded"]
    StatusFiles(tmp_path).write(batch(6, job_001="Failed"))
    doc = json.loads((tmp_path / FILES_MEMO).read_bytes())
    doc["records"][REL][5] = failed_code
    doc["labels"] = "0" * 16
    (tmp_path / FILES_MEMO).write_text(json.dumps(doc))
    assert StatusFiles(tmp_path).write(changed) == ["job-003: Running → Succeeded"]


def test_a_gone_records_line_takes_the_old_label_from_the_memo(tmp_path: Path) -> None:
    StatusFiles(tmp_path).write(batch(5, job_001="Failed"))
    forge_label(tmp_path, "cross-domain/KusciaJob/job-004.yaml", "cross-domain/KusciaJob/job-001.yaml")
    assert StatusFiles(tmp_path).write(batch(4, job_001="Failed")) == ["job-004: Failed → removed"]
    assert not (tmp_path / "cross-domain/KusciaJob/job-004.yaml").exists()
