"""The status writers' memo: a fresh writer (a new process after a restart, each CLI ``sync``) starts from the
memo the last writer left (``<git dir>/kgitops/status-memo.json``, ``<status dir>/.kgitops-status-memo.json``)
and gives exactly what a writer without it gives; a corrupt, foreign or stale memo is never believed where the
branch or the files disagree with it; the memo holds digests, ids and stamps, never a record's text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pygit2

from reconciler.model import ObjectRef
from reconciler.status import StatusBranch, StatusFiles, StatusRecord, SyncState
from reconciler.status.memo import FORMAT, record_digest

from .test_gitops_status_incremental import BRANCH, age_objects, batch, diff_tree, loose_objects, rewritten

BRANCH_MEMO = "kgitops/status-memo.json"
FILES_MEMO = ".kgitops-status-memo.json"


def digest_hex(record: StatusRecord) -> str:
    digest = record_digest(record)
    assert digest is not None
    return digest.hex()


def fresh_branch(path: Path) -> StatusBranch:
    return StatusBranch(pygit2.Repository(str(path)))


def two_repos(tmp_path: Path, records: list[StatusRecord]) -> tuple[Path, Path]:
    """Two bare repositories whose status branches hold ``records``, committed by one writer each."""
    paths = tmp_path / "a.git", tmp_path / "b.git"
    for path in paths:
        pygit2.init_repository(str(path), bare=True)
        assert fresh_branch(path).commit(records) is not None
    return paths


def tree_and_message(path: Path) -> tuple[str, str]:
    commit = pygit2.Repository(str(path))[pygit2.Repository(str(path)).references[BRANCH].target]
    return str(commit.peel(pygit2.Commit).tree_id), commit.peel(pygit2.Commit).message


def test_a_fresh_writer_with_the_memo_commits_what_one_without_it_commits(tmp_path: Path) -> None:
    a, b = two_repos(tmp_path, batch(30))
    memo = json.loads((a / BRANCH_MEMO).read_bytes())
    assert memo["format"] == FORMAT and len(memo["records"]) == 30
    (b / BRANCH_MEMO).unlink()
    first = str(pygit2.Repository(str(a)).references[BRANCH].target)
    objects, aged = loose_objects(a), age_objects(a)
    assert fresh_branch(a).commit(batch(30)) is None  # nothing changed: no commit, no object written
    assert loose_objects(a) == objects and rewritten(aged) == []
    changed = batch(29, job_004="Failed")  # one changed, one gone
    assert fresh_branch(a).commit(changed) is not None
    assert fresh_branch(b).commit(changed) is not None  # the same from a writer without a memo
    assert tree_and_message(a) == tree_and_message(b)
    tip = str(pygit2.Repository(str(a)).references[BRANCH].target)
    assert diff_tree(a, first, tip) == ["M\tcross-domain/KusciaJob/job-004.yaml",
                                        "D\tcross-domain/KusciaJob/job-029.yaml"]
    assert len(loose_objects(a) - objects) == 5  # one blob, three trees, one commit
    assert rewritten(aged) == []
    entries = json.loads((a / BRANCH_MEMO).read_bytes())["records"]
    assert "cross-domain/KusciaJob/job-029.yaml" not in entries and len(entries) == 29  # the gone one dropped
    assert entries == json.loads((b / BRANCH_MEMO).read_bytes())["records"]  # the memo without one: the same


def test_a_memo_entry_is_believed_only_where_the_parent_tree_holds_its_blob(tmp_path: Path) -> None:
    """The memo is what lets a fresh writer skip a record: an entry naming the record's digest and the blob
    the parent holds is believed (here a forged one, which makes the writer skip a changed record). The same
    entry where the parent holds another blob — a memo of another branch or repository, or a branch someone
    else moved — is not: the record is dumped and committed."""
    a, b = two_repos(tmp_path, batch(10))
    rel = "cross-domain/KusciaJob/job-003.yaml"
    failed = batch(10, job_003="Failed")
    doc = json.loads((a / BRANCH_MEMO).read_bytes())
    doc["records"][rel][0] = digest_hex(failed[3])  # "the Failed record is the blob you hold"
    (a / BRANCH_MEMO).write_text(json.dumps(doc))
    assert fresh_branch(a).commit(failed) is None  # believed: the parent holds that blob
    # the same memo in another repository whose branch someone moved: job-003 holds another blob there
    b_repo = pygit2.Repository(str(b))
    parent = b_repo[b_repo.references[BRANCH].target].peel(pygit2.Commit)
    builder = b_repo.TreeBuilder(parent.tree)
    ns = b_repo.TreeBuilder(b_repo[parent.tree["cross-domain"].id].peel(pygit2.Tree))
    kind = b_repo.TreeBuilder(b_repo[parent.tree["cross-domain/KusciaJob"].id].peel(pygit2.Tree))
    kind.insert("job-003.yaml", b_repo.create_blob(b"edited by someone\n"), pygit2.enums.FileMode.BLOB)
    ns.insert("KusciaJob", kind.write(), pygit2.enums.FileMode.TREE)
    builder.insert("cross-domain", ns.write(), pygit2.enums.FileMode.TREE)
    sig = pygit2.Signature("someone", "someone@example.com")
    theirs = str(b_repo.create_commit(BRANCH, sig, sig, "edit", builder.write(), [parent.id]))
    shutil.copy(a / BRANCH_MEMO, b / BRANCH_MEMO)
    ours = fresh_branch(b).commit(failed)
    assert ours is not None
    assert diff_tree(b, theirs, ours) == [f"M\t{rel}"]
    assert b_repo[b_repo[ours].peel(pygit2.Commit).tree[rel].id].peel(pygit2.Blob).data == failed[3].to_yaml()


def test_a_corrupt_partial_or_foreign_memo_is_ignored(tmp_path: Path) -> None:
    records = batch(12)
    changed = batch(12, job_007="Succeeded")
    a, b = two_repos(tmp_path, records)
    (b / BRANCH_MEMO).unlink()
    assert fresh_branch(b).commit(changed) is not None
    good = (a / BRANCH_MEMO).read_bytes()
    doc = json.loads(good)
    forged = {k: [digest_hex(changed[int(k[-8:-5])]), v[1]] for k, v in doc["records"].items()}
    bad = [
        b"\x00\xff not json",
        good[: len(good) // 2],  # a partial write
        json.dumps({**doc, "format": "kgitops.io/status-memo/v0", "records": forged}).encode(),
        json.dumps({**doc, "yaml": "0.1", "records": forged}).encode(),
        json.dumps({**doc, "rendering": "0" * 32, "records": forged}).encode(),
        json.dumps({**doc, "records": {k: [1, None] for k in doc["records"]}}).encode(),
        json.dumps([doc]).encode(),
    ]
    base = str(pygit2.Repository(str(a)).references[BRANCH].target)
    for n, text in enumerate(bad):
        repo = pygit2.Repository(str(a))
        repo.references[BRANCH].set_target(base)
        (a / BRANCH_MEMO).write_bytes(text)
        assert fresh_branch(a).commit(changed) is not None, n
        assert tree_and_message(a) == tree_and_message(b), n
        assert json.loads((a / BRANCH_MEMO).read_bytes())["format"] == FORMAT  # written again, whole


def status_stamps(root: Path) -> dict[str, tuple[int, int]]:
    files = root.rglob("*.yaml")
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


def test_status_files_a_fresh_writer_with_the_memo_writes_only_the_diff_and_what_one_without_writes(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        StatusFiles(root).write(batch(25))
    (b / FILES_MEMO).unlink()
    before = status_stamps(a)
    assert StatusFiles(a).write(batch(25)) == []
    assert status_stamps(a) == before
    changed = batch(24, job_009="Failed")
    lines = ["job-009: Running → Failed", "job-024: Running → removed"]
    assert StatusFiles(a).write(changed) == lines
    assert StatusFiles(b).write(changed) == lines
    after = status_stamps(a)
    assert sorted(k for k in before if after.get(k) != before[k]) == [
        "cross-domain/KusciaJob/job-009.yaml",
        "cross-domain/KusciaJob/job-024.yaml",
    ]
    assert {k: (a / k).read_bytes() for k in after} == {k: (b / k).read_bytes() for k in status_stamps(b)}
    entries = json.loads((a / FILES_MEMO).read_bytes())["records"]
    assert len(entries) == 24 and "cross-domain/KusciaJob/job-024.yaml" not in entries
    assert StatusFiles(a).read_all() == StatusFiles(b).read_all()  # the memo is not read as a record


def test_status_files_a_memo_entry_is_believed_only_for_a_file_as_it_was_left(tmp_path: Path) -> None:
    """A forged entry (the Failed record's digest at job-002's stamp) makes a fresh writer skip job-002: the
    memo is used. Once someone edits the file its stamp differs, and the entry is not believed."""
    StatusFiles(tmp_path).write(batch(5))
    rel = "cross-domain/KusciaJob/job-002.yaml"
    failed = batch(5, job_002="Failed")
    doc = json.loads((tmp_path / FILES_MEMO).read_bytes())
    doc["records"][rel][0] = digest_hex(failed[2])
    (tmp_path / FILES_MEMO).write_text(json.dumps(doc))
    assert StatusFiles(tmp_path).write(failed) == []  # believed: the file is as the memo says
    (tmp_path / FILES_MEMO).write_text(json.dumps(doc))
    (tmp_path / rel).write_bytes((tmp_path / rel).read_bytes() + b"# edited\n")
    assert StatusFiles(tmp_path).write(failed) == ["job-002: Running → Failed"]
    assert (tmp_path / rel).read_bytes() == failed[2].to_yaml()
    for text in (b"{", b'{"format": "x"}', b"[]", (tmp_path / FILES_MEMO).read_bytes()[:40]):
        (tmp_path / FILES_MEMO).write_bytes(text)
        (tmp_path / rel).write_bytes(b"sync: {state: Synced}\n")
        assert StatusFiles(tmp_path).write(failed) == ["job-002: Synced → Failed"]


def test_the_memo_holds_no_record_text(tmp_path: Path) -> None:
    """Status records can name things users treat as private; the memos hold digests, ids and stamps."""
    secret = "token-5f3a9c1e-not-in-any-memo"
    record = StatusRecord(ObjectRef("KusciaJob", "cross-domain", "job-s"), SyncState.FAILED, "0" * 40,
                          "jobs/job-s.yaml", "Boom", secret, live={"phase": "Failed", "message": secret})
    path = tmp_path / "repo.git"
    pygit2.init_repository(str(path), bare=True)
    assert fresh_branch(path).commit([record]) is not None
    StatusFiles(tmp_path / "status").write([record])
    for memo in (path / BRANCH_MEMO, tmp_path / "status" / FILES_MEMO):
        text = memo.read_text()
        assert secret not in text and "Failed" not in text and "job-s" in text  # the path is its key


def test_a_memo_temp_file_left_by_a_killed_writer_is_removed(tmp_path: Path) -> None:
    StatusFiles(tmp_path).write(batch(3))
    left = tmp_path / f".{FILES_MEMO}.999999.tmp"  # a writer killed between writing the memo and renaming it
    left.write_bytes(b'{"format": "kgitops.io/status-memo/v1", "rec')
    assert StatusFiles(tmp_path).write(batch(3, job_001="Failed")) == ["job-001: Running → Failed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILES_MEMO, "cross-domain"]
