"""``kgitops serve`` as a real process over the embedded engine, driven by the seed 003 curl commands."""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.kusciaapi import KusciaAPIBackend
from reconciler.model import ObjectRef

from .certs import PKI, make_pki
from .kusciaapi_fixtures import TOKEN

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

CREATE = {
    "job_id": "job-best-effort-linear",
    "initiator": "alice",
    "max_parallelism": 2,
    "tasks": [
        {
            "app_image": "secretflow-image",
            "parties": [{"domain_id": "alice"}, {"domain_id": "bob"}],
            "alias": "job-psi",
            "task_id": "job-psi",
            "task_input_config": "{}",
            "priority": 100,
        },
        {
            "app_image": "secretflow-image",
            "parties": [{"domain_id": "alice"}, {"domain_id": "bob"}],
            "alias": "job-split",
            "task_id": "job-split",
            "dependencies": ["job-psi"],
            "task_input_config": "{}",
            "priority": 100,
        },
    ],
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("certs"), TOKEN)


def start_serve(certs: PKI, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """`kgitops serve` with mutual TLS and a token, on a free port; its log goes to ``tmp_path/serve.log``."""
    d = certs.ca.parent
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "serve",
                "--state-dir",
                str(tmp_path / "state"),
                "--listen",
                "127.0.0.1:0",
                "--cert",
                str(d / "kusciaapi-server.crt"),
                "--key",
                str(d / "kusciaapi-server.key"),
                "--ca",
                str(d / "ca.crt"),
                "--token-file",
                str(d / "token"),
                *extra,
            ],
            stderr=out,
            text=True,
            cwd=tmp_path,
        )
    deadline = time.monotonic() + 30
    while not (match := re.search(r"https://127\.0\.0\.1:(\d+)", log.read_text())):
        assert proc.poll() is None and time.monotonic() < deadline, f"serve did not start: {log.read_text()}"
        time.sleep(0.05)
    return proc, int(match.group(1))


def stop_serve(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def serve(certs: PKI, tmp_path: Path) -> Iterator[int]:
    """`kgitops serve` with mutual TLS and a token, on a free port; yields the port."""
    proc, port = start_serve(certs, tmp_path)
    yield port
    stop_serve(proc)


def curl(port: int, certs: PKI, path: str, body: Any, *, cert: bool = True, token: str | None = TOKEN) -> Any:
    d = certs.ca.parent
    args = [
        "curl",
        "-sS",
        "-k",
        "-X",
        "POST",
        f"https://localhost:{port}{path}",
        "--header",
        "Content-Type: application/json",
        "-d",
        json.dumps(body),
        "-w",
        "\n%{http_code}",
    ]
    if token is not None:
        args += ["--header", f"Token: {token}"]
    if cert:
        args += [
            "--cert",
            str(d / "kusciaapi-server.crt"),
            "--key",
            str(d / "kusciaapi-server.key"),
            "--cacert",
            str(d / "ca.crt"),
        ]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    text, _, code = out.stdout.rpartition("\n")
    return int(code), (json.loads(text) if text.startswith("{") else text)


def seed_commands(shared: Path, port: int, certs_dir: Path) -> list[str]:
    """The curl commands of seed 003, exactly as written, pointed at our port and certificate directory."""
    seed = next((shared / "reference" / "seeds").glob("003_*.txt"))
    blocks = re.findall(r"```shell\n(.*?)```", seed.read_text(encoding="utf-8"), re.S)
    cmds = [b for b in blocks if b.lstrip().startswith("curl")]
    return [
        c.replace("https://localhost:8082", f"https://localhost:{port}").replace(
            "/home/kuscia/var/certs/", f"{certs_dir}/"
        )
        for c in cmds
    ]


def test_seed_003_curl_commands_work_as_written(serve: int, certs: PKI, shared_dir: Path) -> None:
    code, created = curl(serve, certs, "/api/v1/job/create", CREATE)
    assert code == 200 and created == {
        "status": {"code": 0, "message": "success", "details": []},
        "data": {"job_id": "job-best-effort-linear"},
    }

    batch, delete = seed_commands(shared_dir, serve, certs.ca.parent)
    out = subprocess.run(["bash", "-c", batch], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"] == {"code": 0, "message": "success", "details": []}
    (job,) = doc["data"]["jobs"]
    assert job["job_id"] == "job-best-effort-linear"
    status = job["status"]
    assert status["state"] in {"Unknown", "AwaitingApproval", "Pending", "Running", "Failed", "Succeeded"}
    assert [t["task_id"] for t in status["tasks"]] == ["job-psi", "job-split"]
    assert [p["domain_id"] for p in status["tasks"][0]["parties"]] == ["alice", "bob"]
    assert {"create_time", "start_time", "end_time", "err_msg"} <= set(status)

    out = subprocess.run(["bash", "-c", delete], capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout) == {
        "status": {"code": 0, "message": "success", "details": []},
        "data": {"job_id": "job-best-effort-linear"},
    }
    code, gone = curl(serve, certs, "/api/v1/job/query", {"job_id": "job-best-effort-linear"})
    assert gone["status"]["code"] == 11202


def test_validation_errors_have_kusciaapi_codes_and_texts(serve: int, certs: PKI) -> None:
    cases = [
        ({}, "job id can not be empty"),
        (
            {"job_id": "Bad_ID"},
            'Field "job_id" is invalid, invalid value: "Bad_ID": regex used for validation is '
            '"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$" ',
        ),
        ({"job_id": "j1"}, "tasks can not be empty"),
        ({"job_id": "j1", "tasks": [{}]}, "initiator can not be empty"),
        (
            {"job_id": "j1", "initiator": "alice", "tasks": [{"parties": [{"domain_id": "a"}]}]},
            "task alias can not be empty on tasks[0]",
        ),
        (
            {"job_id": "j1", "initiator": "alice", "tasks": [{"alias": "a"}]},
            "parties can not be empty on tasks[0]",
        ),
        (
            {"job_id": "j1", "initiator": "alice", "tasks": [{"alias": "a", "parties": [{}]}]},
            "party domain id can not be empty",
        ),
    ]
    for body, message in cases:
        code, doc = curl(serve, certs, "/api/v1/job/create", body)
        assert code == 200 and doc["status"] == {"code": 11100, "message": message, "details": []}, body
    code, doc = curl(serve, certs, "/api/v1/job/status/batchQuery", {"job_ids": []})
    assert doc["status"]["message"] == "job ids can not be empty"
    code, doc = curl(serve, certs, "/api/v1/job/approve", {"job_id": "j1", "result": 7})
    assert doc["status"] == {"code": 11100, "message": "request result must be legal", "details": []}
    # Every caller of the external port is the master: stop needs no Kuscia-Source header, and a missing job
    # is reported as such (11205), with ``data: null`` like every error reply.
    code, doc = curl(serve, certs, "/api/v1/job/stop", {"job_id": "j1"})
    assert code == 200 and doc["status"]["code"] == 11205 and "not found" in doc["status"]["message"]
    assert doc["data"] is None
    code, doc = curl(serve, certs, "/api/v1/job/watch", {"timeout_seconds": -1})
    assert doc["status"]["message"] == "timeout seconds must be in [0,2^31-1]"


def test_refusals_without_certificate_or_token(serve: int, certs: PKI) -> None:
    code, doc = curl(serve, certs, "/api/v1/job/query", {"job_id": "x"}, cert=False)
    assert code == 401 and doc["status"]["code"] == 11102
    code, doc = curl(serve, certs, "/api/v1/job/query", {"job_id": "x"}, token=None)
    assert code == 401 and doc["status"]["code"] == 11102
    code, doc = curl(serve, certs, "/api/v1/job/query", {"job_id": "x"}, token="guess")
    assert code == 401
    code, text = curl(serve, certs, "/api/v1/job/nothing", {})
    assert code == 404 and text.strip() == "404 page not found"


def test_the_kusciaapi_backend_drives_serve_over_the_engine(serve: int, certs: PKI, tmp_path: Path) -> None:
    api = KusciaAPIBackend(
        f"https://127.0.0.1:{serve}",
        TOKEN,
        str(certs.client_cert),
        str(certs.client_key),
        str(certs.ca),
        domain="alice",
        state_dir=tmp_path,
    )
    code, _ = curl(serve, certs, "/api/v1/job/create", CREATE)
    ref = ObjectRef.of("KusciaJob", "job-best-effort-linear")
    deadline = time.monotonic() + 20
    while True:  # the engine inside serve moves the job on by itself
        job = api.get(ref)
        assert job is not None
        if job.status.get("phase") not in ("Initialized", "Pending", ""):
            break
        assert time.monotonic() < deadline, f"the served engine never moved the job: {job.status}"
        time.sleep(0.1)
    assert job.spec["scheduleMode"] == "BestEffort"
    assert job.status["phase"] == "AwaitingApproval"  # bob has not approved yet
    api.approve(ref, "alice", accept=True)  # serve runs as the master: it approves for every party
    while api.get(ref).status.get("phase") == "AwaitingApproval":  # type: ignore[union-attr]
        assert time.monotonic() < deadline + 20, "approval did not move the job on"
        time.sleep(0.1)
    assert api.get(ref).status["approveStatus"] == {"alice": "JobAccepted", "bob": "JobAccepted"}  # type: ignore[union-attr]
    assert [j.name for j in api.list("KusciaJob")] == ["job-best-effort-linear"]
    api.delete(ref)
    api.close()


def test_refusals_of_large_bodies_reach_curl_intact(serve: int, certs: PKI, tmp_path: Path) -> None:
    """413 (over 8 MiB), 401 (no client certificate) and 501 (a method KusciaAPI has not) with big bodies:
    curl gets the reply, never "connection reset" (curl sends `Expect: 100-continue` for large bodies; the
    refusal comes instead of the 100)."""
    d = certs.ca.parent
    big = tmp_path / "big.json"
    big.write_bytes(b'{"job_id": "' + b"x" * (9 * 1024 * 1024) + b'"}')
    mid = tmp_path / "mid.json"
    mid.write_bytes(b'{"job_id": "' + b"x" * (4 * 1024 * 1024) + b'"}')
    auth = ["--cert", str(d / "kusciaapi-server.crt"), "--key", str(d / "kusciaapi-server.key")]
    cases = [
        (["-X", "POST", "--data-binary", f"@{big}", *auth, "--header", f"Token: {TOKEN}"], 413, 11100),
        (["-X", "POST", "--data-binary", f"@{mid}", "--header", f"Token: {TOKEN}"], 401, 11102),
        (["-X", "PUT", "--data-binary", f"@{mid}", *auth, "--header", f"Token: {TOKEN}"], 501, 11100),
        # no Expect: the body is sent at once, and read away after the reply
        (["-X", "POST", "--data-binary", f"@{big}", *auth, "--header", "Expect:"], 413, 11100),
    ]
    for extra, want, code in cases:
        out = subprocess.run(
            ["curl", "-sSk", f"https://localhost:{serve}/api/v1/job/query", *extra, "-w", "\n%{http_code}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, (extra, out.stderr)
        text, _, status = out.stdout.rpartition("\n")
        assert int(status) == want and json.loads(text)["status"]["code"] == code, (extra, out.stdout[:300])


def test_a_flood_of_idle_and_slow_connections_is_closed(certs: PKI, tmp_path: Path) -> None:
    """600 connections that never finish a request — plain TCP that never starts TLS, TLS without a client
    certificate, and TLS with one that sends half a request — are all closed by the header deadline (over the
    cap at once), and the server serves a real client right after."""
    proc, port = start_serve(certs, tmp_path, "--header-timeout", "1", "--max-connections", "400")
    d = certs.ca.parent
    anonymous = ssl.create_default_context(cafile=str(d / "ca.crt"))
    anonymous.check_hostname = False
    with_cert = ssl.create_default_context(cafile=str(d / "ca.crt"))
    with_cert.check_hostname = False
    with_cert.load_cert_chain(str(d / "kusciaapi-server.crt"), str(d / "kusciaapi-server.key"))
    conns: list[socket.socket] = []
    try:
        start = time.monotonic()
        refused = 0
        for i in range(600):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                if i % 3 == 1:
                    sock = anonymous.wrap_socket(sock)
                elif i % 3 == 2:
                    sock = with_cert.wrap_socket(sock)
                    sock.sendall(b"POST /api/v1/job/query HTTP/1.1\r\nHost: x\r\n")
            except (ssl.SSLError, OSError):  # over the cap: closed before the handshake
                refused += 1
                sock.close()
                continue
            conns.append(sock)
        opened = time.monotonic() - start

        def closed(sock: socket.socket) -> bool:
            sock.setblocking(False)
            try:
                return sock.recv(1) == b""
            except (ssl.SSLWantReadError, BlockingIOError):
                return False
            except OSError:
                return True
            finally:
                sock.setblocking(True)

        deadline = time.monotonic() + 20
        while not all(closed(s) for s in conns):
            assert time.monotonic() < deadline, f"{sum(not closed(s) for s in conns)} connections still open"
            time.sleep(0.1)
        took = time.monotonic() - start
        assert took < opened + 10, took
        print(f"600 connections ({refused} refused at once) opened in {opened:.1f}s, all closed {took:.1f}s")
        code, doc = curl(port, certs, "/api/v1/job/query", {"job_id": "none"})
        assert code == 200 and doc["status"]["code"] == 11202
    finally:
        for sock in conns:
            sock.close()
        stop_serve(proc)
