"""The result cache of ``kgitops validate``: a second run over unchanged files reads every file's result
back instead of parsing it, and prints exactly what a run without the cache prints, in every format; an
edited file, other options, a damaged or unusable cache file, two runs at once and worker processes change
nothing that is printed. Real files, a real SQLite file, the real command (click's runner, or a
subprocess)."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers_validate import APPIMAGE, JOB

from reconciler import sdk
from reconciler.cli import main
from reconciler.validate import result_cache
from reconciler.validate.outcomes import MIN_CACHED_FILES, MIN_PARALLEL_FILES

FORMATS = ("text", "json", "junit", "github")
CACHE_FILE = ("kgitops", result_cache.FILE_NAME)


def _job(i: int) -> str:
    return JOB.replace("psi-split", f"job-{i:03d}")


def _tree(root: Path, n: int = MIN_CACHED_FILES + 8) -> list[str]:
    """``n`` jobs and a few files with something to report: errors, warnings and notes, within one file and
    across files (a duplicate of job-000: XF001; a taskID of job-001's: XF002), a syntax error, an unknown
    field, an AppImage no job names and a job naming an AppImage that is not there (XF003), a binary file."""
    jobs = root / "jobs"
    jobs.mkdir(parents=True)
    for i in range(n):
        (jobs / f"job-{i:03d}.yaml").write_text(_job(i))
    (jobs / "dup.yaml").write_text(_job(0))
    clash = JOB.replace("name: psi-split", "name: clash").replace("psi-split", "job-001")
    (jobs / "clash.yaml").write_text(clash)
    (jobs / "bad-range.yaml").write_text(_job(900).replace("maxParallelism: 2", "maxParallelism: 0"))
    (jobs / "typo.yaml").write_text(_job(901).replace("dependencies:", "dependency:"))
    (jobs / "syntax.yaml").write_text("kind: [\n")
    (jobs / "missing-image.yaml").write_text(_job(902).replace("secretflow-image", "no-such-image"))
    (jobs / "other-kind.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    (jobs / "binary.yaml").write_bytes(b"kind: Job\n\0\0\0")
    (root / "image.yaml").write_text(APPIMAGE)
    return [str(jobs), str(root / "image.yaml")]


def _cli(args: list[str], cache_home: Path, no_cache: bool = False) -> tuple[int, str]:
    env = {"XDG_CACHE_HOME": str(cache_home), "NO_COLOR": "1", "KGITOPS_NO_CACHE": "1" if no_cache else ""}
    out = CliRunner().invoke(main, ["validate", *args], env=env)
    assert out.exception is None or isinstance(out.exception, SystemExit), out.output
    return out.exit_code, out.output


def _outputs(args: list[str], cache_home: Path, no_cache: bool = False) -> dict[str, tuple[int, str]]:
    return {fmt: _cli(["-o", fmt, *args], cache_home, no_cache) for fmt in FORMATS}


def _counts(paths: list[str], cache: Path, **options: object) -> tuple[int, int]:
    """(hits, misses) of one SDK run over ``paths`` with the cache file ``cache``."""
    run = sdk.validate_stream(paths, cache=cache, **options)  # type: ignore[arg-type]
    for _ in run:
        pass
    return run.cache_hits, run.cache_misses


def test_a_second_run_reads_every_file_back_and_prints_the_same_in_every_format(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    home = tmp_path / "cache"
    uncached = _outputs(paths, home, no_cache=True)
    assert not (home / "kgitops").exists()  # --no-cache (here KGITOPS_NO_CACHE=1) writes nothing
    cold = _outputs(paths, home)
    assert (home.joinpath(*CACHE_FILE)).is_file()
    warm = _outputs(paths, home)
    assert cold == uncached and warm == uncached
    code, text = uncached["text"]
    assert code == 1
    for rule in ("XF001", "XF002", "XF003", "SCHEMA004", "SCHEMA008", "YAML001", "YAML002", "KIND001"):
        assert f" {rule} " in text, rule
    # the run reads each readable file's result back: none is parsed (the binary file is never cached)
    files = MIN_CACHED_FILES + 8 + 7 + 1
    assert _counts(paths, home.joinpath(*CACHE_FILE)) == (files, 0)


def test_the_flag_turns_the_cache_off_and_the_sdk_leaves_it_off_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _tree(tmp_path / "in")
    home = tmp_path / "cache"
    assert _cli(["--no-cache", *paths], home)[0] == 1
    assert not (home / "kgitops").exists()
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    assert sdk.validate(paths).exit_code == 1
    assert not (home / "kgitops").exists()
    assert sdk.validate(paths, cache=True).exit_code == 1  # True: the user's cache, as the command's
    assert home.joinpath(*CACHE_FILE).is_file()


def test_an_edited_file_is_checked_again_and_its_edit_counts(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    hits, misses = _counts(paths, cache)
    assert hits == 0 and misses > MIN_CACHED_FILES
    job = tmp_path / "in" / "jobs" / "job-005.yaml"
    job.write_bytes(job.read_bytes().replace(b"maxParallelism: 2", b"maxParallelism: 0"))  # one byte
    assert _counts(paths, cache) == (misses - 1, 1)
    report = sdk.validate(paths, cache=cache)
    assert report.findings == sdk.validate(paths).findings
    assert any(f.rule == "SCHEMA004" and f.path == str(job) for f in report.findings)


def test_a_clash_between_a_cached_file_and_a_new_one_is_found(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    home = tmp_path / "cache"
    _cli(paths, home)
    new = tmp_path / "in" / "jobs" / "zz-new.yaml"
    new.write_text(_job(7))  # job-007 again: XF001 and XF002 against the cached job-007.yaml
    assert _outputs(paths, home) == _outputs(paths, home, no_cache=True)
    code, text = _cli(paths, home)
    assert f"{new}:4:9: error XF001" in text and "job-007.yaml" in text
    hits, misses = _counts(paths, home.joinpath(*CACHE_FILE))
    assert misses == 0 and hits > MIN_CACHED_FILES


def test_other_options_do_not_read_the_results_of_these(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    _counts(paths, cache)
    hits, misses = _counts(paths, cache, lenient=True)
    assert hits == 0 and misses > MIN_CACHED_FILES
    home = tmp_path / "cache"
    for args in (["--lenient"], ["--reject-unknown-kinds"], ["--max-file-size", "1KiB"]):
        first = _outputs([*args, *paths], home)
        assert first == _outputs([*args, *paths], home) == _outputs([*args, *paths], home, no_cache=True)
    # and each option set keeps its own results beside the others
    assert _counts(paths, cache, lenient=True) == (misses, 0)
    assert _counts(paths, cache)[1] == 0


def test_a_damaged_cache_file_is_replaced_and_the_output_is_the_same(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    home = tmp_path / "cache"
    expected = _outputs(paths, home, no_cache=True)
    file = home.joinpath(*CACHE_FILE)
    _cli(paths, home)
    file.write_bytes(b"this is not an SQLite database, " * 512)
    assert _outputs(paths, home) == expected
    with sqlite3.connect(file) as db:  # a new cache file, and this run's results in it
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] > MIN_CACHED_FILES
    assert _counts(paths, file)[1] == 0


def test_a_damaged_entry_is_checked_again(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    _, misses = _counts(paths, cache)
    with sqlite3.connect(cache) as db:
        db.execute("UPDATE results SET data='[1, 2' WHERE key IN (SELECT key FROM results LIMIT 3)")
    assert _counts(paths, cache) == (misses - 3, 3)
    assert sdk.validate(paths, cache=cache).findings == sdk.validate(paths).findings
    assert _counts(paths, cache) == (misses, 0)  # rewritten


def test_an_unusable_cache_directory_changes_nothing_printed(tmp_path: Path) -> None:
    """A cache directory that cannot be made (a file in its place), and one that is read-only."""
    paths = _tree(tmp_path / "in")
    expected = _outputs(paths, tmp_path / "none", no_cache=True)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "kgitops").write_text("a file where the cache directory should be")
    assert _outputs(paths, blocked) == expected
    if os.geteuid() == 0:
        return  # root writes where it likes: a read-only directory is only read-only to others
    readonly = tmp_path / "readonly"
    _cli(paths, readonly)  # a cache with entries, then made read-only
    (readonly / "kgitops").chmod(stat.S_IRUSR | stat.S_IXUSR)
    home_file = readonly.joinpath(*CACHE_FILE)
    home_file.chmod(stat.S_IRUSR)
    try:
        assert _outputs(paths, readonly) == expected
    finally:
        (readonly / "kgitops").chmod(stat.S_IRWXU)


def test_the_cache_file_is_private(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    home = tmp_path / "cache"
    _cli(paths, home)
    assert stat.S_IMODE((home / "kgitops").stat().st_mode) == 0o700
    assert stat.S_IMODE(home.joinpath(*CACHE_FILE).stat().st_mode) == 0o600


def test_two_runs_at_once_on_one_cache_both_print_the_right_findings(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in", n=400)
    home = tmp_path / "cache"
    expected = _cli(paths, home, no_cache=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(home), "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "reconciler", "validate", *paths]
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in runs:
        out, _ = proc.communicate(timeout=120)
        assert (proc.returncode, out) == expected
    hits, misses = _counts(paths, home.joinpath(*CACHE_FILE))
    assert misses == 0 and hits > 400


def test_workers_store_and_read_back_the_same_results(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in", n=MIN_PARALLEL_FILES + 20)
    home = tmp_path / "cache"
    expected = _outputs(paths, home, no_cache=True)
    assert _outputs(["--workers", "2", *paths], home) == expected  # cold: the workers' results stored
    cache = home.joinpath(*CACHE_FILE)
    hits, misses = _counts(paths, cache, workers=2)
    assert misses == 0 and hits > MIN_PARALLEL_FILES
    job = tmp_path / "in" / "jobs" / "job-003.yaml"
    job.write_text(_job(3).replace("maxParallelism: 2", "maxParallelism: 0"))
    expected = _outputs(paths, home, no_cache=True)
    assert _outputs(["--workers", "2", *paths], home) == expected
    assert _counts(paths, cache, workers=2) == (hits, 0)


def test_a_small_input_and_standard_input_go_without_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _tree(tmp_path / "in")
    small = paths[0] + "/job-001.yaml"
    home = tmp_path / "cache"
    assert _cli([small], home) == (0, _cli([small], home, no_cache=True)[1])
    assert not (home / "kgitops").exists()
    cache = tmp_path / "c.sqlite"
    counts = []
    for _ in range(2):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(_job(1).encode())))
        run = sdk.validate_stream(["-", *paths], cache=cache)
        batches = list(run)
        assert batches[0].path == "<stdin>"
        counts.append((run.cache_hits, run.cache_misses))
    # every file but standard input and the binary one was looked up, and found the second time
    assert counts == [(0, run.totals.files - 2), (run.totals.files - 2, 0)]


def test_the_file_keeps_the_last_runs_entries_and_a_bounded_number_of_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(result_cache, "KEEP_OTHERS", 10)
    cache = tmp_path / "c.sqlite"
    first = _tree(tmp_path / "a")
    second = _tree(tmp_path / "b")
    _, misses_a = _counts(first, cache)
    _, misses_b = _counts(second, cache)
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == misses_b + 10
    assert _counts(second, cache) == (misses_b, 0)  # the last run's entries are all kept
    hits_a, _ = _counts(first, cache)
    assert hits_a <= 10


def test_a_cache_file_of_another_layout_is_emptied_not_read(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    _, misses = _counts(paths, cache)
    with sqlite3.connect(cache) as db:  # as a kgitops with another CACHE_SCHEMA would have left it
        db.execute(f"PRAGMA user_version={result_cache.CACHE_SCHEMA + 1}")
    assert _counts(paths, cache) == (0, misses)
    assert _counts(paths, cache) == (misses, 0)
