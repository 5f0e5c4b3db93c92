"""kgitops installs as the docs say: the built wheel works on its own, without the source tree beside it.

The wheel and sdist are built with the standard ``build`` frontend (no isolation, so it runs offline with the
setuptools and wheel the test extras pin), the wheel is installed into a fresh venv, and ``kgitops validate``
and ``kgitops simulate`` run there from an empty folder: the CRD schemas must ship inside the package.
The fresh venv borrows the test venv's third-party packages through a ``.pth`` line, so no index is needed;
kgitops itself comes only from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JOB = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaJob
metadata:
  name: wheel-check
spec:
  initiator: alice
  scheduleMode: Strict
  maxParallelism: 1
  tasks:
    - alias: psi
      taskID: wheel-check-psi
      appImage: secretflow-image
      taskInputConfig: "{}"
      parties: [{domainID: alice}, {domainID: bob}]
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), ROOT],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def test_wheel_and_sdist_carry_the_schemas(dist: Path) -> None:
    (wheel,) = dist.glob("kgitops-*.whl")
    (sdist,) = dist.glob("kgitops-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    for kind in ("kusciajob", "kusciatask", "appimage"):
        assert any(n.startswith("reconciler/schemas/") and kind in n.lower() for n in names), kind
    assert "reconciler/py.typed" in names
    assert "reconciler/kusciaapi/proto/kusciaapi.proto" in names  # compiled at first use
    assert any(n.endswith("entry_points.txt") for n in names)
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("/README.md") for m in members)
    assert any("/reconciler/schemas/" in m and m.endswith(".json") for m in members)


def test_the_wheel_alone_validates_and_simulates(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("kgitops-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # third-party dependencies from the test venv; its editable kgitops finder is not loaded from a .pth path
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "work"
    work.mkdir()
    (work / "job.yaml").write_text(JOB)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    kgitops = str(env_dir / "bin" / "kgitops")

    where = subprocess.run(
        [str(python), "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(env_dir)), where

    ok = subprocess.run([kgitops, "validate", "job.yaml"], cwd=work, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (work / "bad.yaml").write_text(JOB.replace("maxParallelism: 1", "maxParallelism: 1000"))
    bad = subprocess.run([kgitops, "validate", "bad.yaml"], cwd=work, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "bad.yaml:8" in bad.stdout, bad.stdout + bad.stderr

    sim = subprocess.run([kgitops, "simulate", "job.yaml"], cwd=work, env=env, capture_output=True, text=True)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    assert "Succeeded" in sim.stdout
