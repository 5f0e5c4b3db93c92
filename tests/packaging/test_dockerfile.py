"""The Dockerfile builds the image deploy/ runs; the two agree on image, user, port, volume and entrypoint.

This machine cannot build images (no container daemon), so the agreement is checked from the files: the
GitHub workflow builds the image for real."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _container() -> tuple[dict, dict]:
    deployment = yaml.safe_load((ROOT / "deploy" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def test_image_tag_is_the_package_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    _, container = _container()
    assert container["image"] == f"kgitops:{version}"
    assert f"kgitops:{version}" in (ROOT / "Dockerfile").read_text()  # the build command in its header


def test_user_is_the_same_non_root_uid() -> None:
    stage = _final_stage()
    (user,) = [rest for word, rest in stage if word == "USER"]
    uid, _, gid = user.partition(":")
    pod, container = _container()
    assert uid != "0" and pod["securityContext"]["runAsUser"] == int(uid)
    assert pod["securityContext"]["runAsGroup"] == int(gid)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert re.search(rf"useradd --uid {uid} --gid {gid}", (ROOT / "Dockerfile").read_text())


def test_ports_volumes_and_entrypoint_agree() -> None:
    stage = dict(_final_stage())
    pod, container = _container()
    exposed = {int(p) for p in stage["EXPOSE"].split()}
    assert exposed == {p["containerPort"] for p in container["ports"]}
    args = container["args"]
    assert args[0] == "watch"
    addr = args[args.index("--metrics-addr") + 1]
    assert int(addr.rsplit(":", 1)[1]) in exposed
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"

    (volume,) = yaml.safe_load(stage["VOLUME"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volume in mounts, "the image's data volume must be mounted"
    configmap = yaml.safe_load((ROOT / "deploy" / "config.yaml").read_text())
    config = yaml.safe_load(configmap["data"]["kgitops.yaml"])
    assert config["engine"]["state_dir"] == volume
    assert stage["ENTRYPOINT"] == '["kgitops"]'
    assert "ENV" in stage and f"HOME={volume}" in stage["ENV"]


def test_image_has_git_and_ssh_and_installs_only_the_wheel() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*\bgit\b[^\n]*openssh-client", text.replace("\\\n", " "))
    assert "python:3.11-slim" in text
    final = "\n".join(f"{w} {r}" for w, r in _final_stage())
    assert "COPY --from=build /dist/*.whl" in final and "COPY . ." not in final
