"""validate over many files: findings handed on file by file as soon as they are final, the same findings in
the same order whatever the number of worker processes, and the same report as before streaming."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from helpers_validate import APPIMAGE, JOB

from reconciler.cli import main
from reconciler.output import render
from reconciler.validate import Options, discover, stream_paths, validate_paths
from reconciler.validate.outcomes import MIN_PARALLEL_FILES


def _cross_file_input(root: Path) -> list[str]:
    """Jobs before the AppImages they name (`validate jobs/ images/`), a duplicate job, a shared taskID."""
    jobs, images = root / "jobs", root / "images"
    jobs.mkdir()
    images.mkdir()
    (jobs / "a.yaml").write_text(JOB)
    (jobs / "b.yaml").write_text(JOB)  # XF001 and XF002 against a.yaml
    broken = JOB.replace("psi-split", "other").replace("maxParallelism: 2", "maxParallelism: 0")
    (jobs / "c.yaml").write_text(broken)
    (images / "image.yaml").write_text(APPIMAGE)
    return [str(jobs), str(images)]


def _rows(paths: list[str], jobs: int) -> list[tuple[object, ...]]:
    report = validate_paths(paths, jobs=jobs)
    return [(f.path, f.line, f.column, f.rule, f.severity, f.message, f.involves) for f in report.findings]


def test_one_or_two_workers_give_the_same_findings_on_the_corpus(shared_dir: Path, tmp_path: Path) -> None:
    corpus = shared_dir / "corpus"
    paths = [str(corpus), *_cross_file_input(tmp_path)]
    assert sum(1 for _ in corpus.glob("*.yaml")) >= MIN_PARALLEL_FILES  # so two workers really run
    serial, parallel = _rows(paths, 1), _rows(paths, 2)
    assert serial == parallel
    assert {"XF001", "XF002", "SCHEMA004"} <= {r[3] for r in serial}
    serial_report, parallel_report = validate_paths(paths, jobs=1), validate_paths(paths, jobs=2)
    assert serial_report.files == parallel_report.files
    assert serial_report.objects == parallel_report.objects


def test_streamed_findings_are_the_reports(tmp_path: Path) -> None:
    paths = _cross_file_input(tmp_path)
    report = validate_paths(paths)
    run = stream_paths(paths)
    streamed = [f for batch in run for f in batch.findings]
    assert streamed == report.findings
    assert run.totals == report.totals()
    # the AppImage after the jobs settles their references: no XF003 for it
    assert not any(f.rule == "XF003" for f in streamed)
    for fmt in ("text", "github"):
        out = CliRunner().invoke(main, ["validate", "--no-color", "-o", fmt, *paths])
        assert out.exit_code == 1
        assert out.output == render(report, fmt)


def test_a_file_named_twice_is_checked_once(tmp_path: Path) -> None:
    """`validate jobs/ jobs/a.yaml`: a.yaml is checked where it first comes, so it is never reported as
    defining its own objects twice; its real duplicate (b.yaml) still is."""
    paths = _cross_file_input(tmp_path)
    twice = [paths[0], str(tmp_path / "jobs" / "a.yaml"), paths[1]]
    report = validate_paths(twice)
    assert [f for batch in stream_paths(twice) for f in batch.findings] == report.findings
    assert report.findings == validate_paths(paths).findings
    dup = [f for f in report.findings if f.rule == "XF001"]
    assert dup and all(f.path.endswith("b.yaml") and "a.yaml" in f.message for f in dup), dup


def test_a_files_findings_come_before_the_next_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(APPIMAGE.replace("kind: AppImage", "kind: AppImge"))
    (tmp_path / "b.yaml").write_text(APPIMAGE)
    (tmp_path / "c.yaml").write_text(APPIMAGE.replace("secretflow-image", "other-image"))
    run = iter(stream_paths([str(tmp_path)], Options()))
    first = next(run)
    assert first.path.endswith("a.yaml") and [f.rule for f in first.findings] == ["KIND003"]
    # b.yaml has not been read yet: what it holds now is what gets checked
    (tmp_path / "b.yaml").write_text("kind: [\n")
    second = next(run)
    assert second.path.endswith("b.yaml") and [f.rule for f in second.findings] == ["YAML001"]


def test_findings_wait_only_for_an_appimage_defined_later(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(JOB)  # names secretflow-image, defined in c.yaml
    (tmp_path / "b.yaml").write_text(APPIMAGE.replace("secretflow-image", "other-image"))
    (tmp_path / "c.yaml").write_text(APPIMAGE)
    run = iter(stream_paths([str(tmp_path)]))
    first = next(run)
    # a.yaml's findings were final only once c.yaml was read; b.yaml waited behind it, in input order
    assert first.path.endswith("a.yaml") and not any(f.rule == "XF003" for f in first.findings)
    assert [b.path[-6:] for b in run] == ["b.yaml", "c.yaml"]


def test_a_large_input_on_two_workers_keeps_the_input_order(tmp_path: Path) -> None:
    for i in range(MIN_PARALLEL_FILES + 5):
        (tmp_path / f"job-{i:03d}.yaml").write_text(JOB.replace("psi-split", f"job-{i:03d}"))
    shutil.copy(tmp_path / "job-000.yaml", tmp_path / "job-040.yaml")  # XF001, XF002 at job-040
    paths = [str(tmp_path)]
    batches = list(stream_paths(paths, jobs=2))
    assert [b.path for b in batches] == sorted(str(p) for p in tmp_path.glob("*.yaml"))
    assert _rows(paths, 2) == _rows(paths, 1)


def test_duplicates_are_found_after_the_index_moved_to_disk(tmp_path: Path) -> None:
    """Past ``spill.BUFFER`` entries the cross-file index lives in a temporary SQLite database: a job defined
    again, and a taskID claimed again, long after the first ones are still found, with the first place."""
    from reconciler.validate.spill import BUFFER

    jobs = BUFFER + 10  # objects and KusciaTask names (two a job) both spill
    (tmp_path / "image.yaml").write_text(APPIMAGE)
    for i in range(jobs):
        text = JOB.replace("psi-split", f"job{i:05d}")
        (tmp_path / f"job{i:05d}.yaml").write_text(text)
    again = JOB.replace("psi-split", "job00003")  # the same job again (its own taskIDs: no XF002)
    claim = JOB.replace("psi-split\n", "late\n").replace("psi-split-psi", "job00004-psi")
    (tmp_path / "zz-again.yaml").write_text(again)
    (tmp_path / "zz-late.yaml").write_text(claim.replace("psi-split-split", "late-split"))
    report = validate_paths([str(tmp_path)])
    first = tmp_path / "job00003.yaml"
    rows = [(Path(f.path).name, f.line, f.rule, f.message) for f in report.findings]
    assert rows == [
        (
            "zz-again.yaml",
            4,
            "XF001",
            f"KusciaJob/cross-domain/job00003 is defined twice: also at {first}:4:9",
        ),
        (
            "zz-late.yaml",
            12,
            "XF002",
            "KusciaTask name 'job00004-psi' in namespace 'cross-domain' is also claimed by "
            f"KusciaJob/cross-domain/job00004 at {tmp_path / 'job00004.yaml'}:12:15; one of them would fail",
        ),
    ]


def test_files_found_while_streaming_come_in_the_order_of_their_paths(tmp_path: Path) -> None:
    """A streamed run lists each directory when it gets there, yet the files come as their sorted paths do:
    `a-b.yaml` before `a.yaml` before everything in `a/` before `a0.yaml` (`-` < `.` < `/` < `0`)."""
    names = ["a0.yaml", "a/x.yaml", "a.yaml", "a-b.yaml", "a/b/y.yml", "a-b/q.yaml", "b.yaml"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(APPIMAGE.replace("secretflow-image", name.replace("/", "-")[:-5]))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.yaml").write_text("kind: [\n")
    (tmp_path / "a" / "notes.txt").write_text("not yaml")
    streamed = [batch.path for batch in stream_paths([str(tmp_path)])]
    assert streamed == sorted(str(tmp_path / n) for n in names)
    assert streamed == [f.path for f in discover([str(tmp_path)])]


def test_files_given_twice_or_inside_a_given_directory_are_checked_once(tmp_path: Path) -> None:
    """Whether arguments can overlap decides the path that removes repeats: an argument that is, or lies
    under, another (at any distance in the list) must be caught, and the files are then checked once each. The
    check is by string prefix, so "jobs" and "jobs2" count as a possible overlap (the careful path, same
    result); unrelated arguments take the streaming path."""
    from reconciler.load.discover import Discovery

    (tmp_path / "jobs").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "jobs2").mkdir()
    for rel in ("jobs/a.yaml", "other/b.yaml", "c.yaml"):
        (tmp_path / rel).write_text(JOB.replace("name: job-a", f"name: job-{rel[-6]}"), encoding="utf-8")
    many = [str(tmp_path / f"f{i:04d}.yaml") for i in range(500)]
    for p in many:
        Path(p).write_text(APPIMAGE, encoding="utf-8")
    assert not Discovery([*many, str(tmp_path / "jobs"), str(tmp_path / "other")]).may_repeat
    assert Discovery([str(tmp_path / "jobs2"), *many, str(tmp_path / "jobs")]).may_repeat
    assert Discovery([many[0], *many[1:], many[0]]).may_repeat  # the same file at both ends
    assert Discovery([str(tmp_path / "jobs/a.yaml"), *many, str(tmp_path / "jobs")]).may_repeat
    overlapping = [str(tmp_path / "jobs/a.yaml"), str(tmp_path / "c.yaml"), str(tmp_path / "jobs")]
    result = CliRunner().invoke(main, ["validate", "--output", "json", *overlapping])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["summary"]["files"] == 2  # jobs/a.yaml once, though given twice
