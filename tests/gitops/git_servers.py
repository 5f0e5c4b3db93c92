"""Real Git servers on 127.0.0.1 for the transport tests: OpenSSH's sshd serving bare repositories with its
own host key and authorized keys, all inside a temp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    """A new key pair at ``path`` (and ``path.pub``), made by ssh-keygen."""
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-f", str(path), "-C", f"test-{kind}"]
    if kind == "rsa":
        args[4:4] = ["-b", "3072"]
    subprocess.run(args, check=True, capture_output=True)
    return path


@dataclass
class Sshd:
    """An sshd on ``port`` accepting the keys in ``authorized_keys``, as the current user."""

    port: int
    host_key: Path
    authorized_keys: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def user(self) -> str:
        import getpass

        return getpass.getuser()

    def url(self, repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo}"

    def authorize(self, pub: Path) -> None:
        with self.authorized_keys.open("a", encoding="utf-8") as f:
            f.write(pub.read_text(encoding="utf-8"))

    def known_hosts_line(self, host_key: Path | None = None) -> str:
        kind, blob = (host_key or self.host_key).with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_sshd(root: Path) -> Sshd:
    """Start sshd -D on a free port with a config, host key and AuthorizedKeysFile under ``root``; returns
    once it accepts connections (polled with a deadline)."""
    root.mkdir(parents=True, exist_ok=True)
    host_key = keygen(root / "ssh_host_ed25519_key")
    authorized = root / "authorized_keys"
    authorized.touch()
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nAuthorizedKeysFile {authorized}\n"
        "StrictModes no\nUsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        f"PidFile {root / 'sshd.pid'}\nSetEnv PATH={os.environ.get('PATH', '/usr/bin:/bin')}\n",
        encoding="utf-8",
    )
    log = root / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(4).startswith(b"SSH-"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"sshd did not listen on {port}: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    return Sshd(port, host_key, authorized, proc, log)


def sshd_missing() -> str:
    """Why the SSH tests cannot run here ("" when they can)."""
    if not SSHD.exists():
        return f"{SSHD} is missing: install OpenSSH's server (Debian: apt-get install -y openssh-server)"
    if shutil.which("ssh-keygen") is None or shutil.which("git-upload-pack") is None:
        return "ssh-keygen or git is missing"
    if os.geteuid() != 0 and not Path("/run/sshd").is_dir():
        return "sshd needs /run/sshd (its privilege separation directory), which only root can create here"
    return ""


class GitHttpServer:
    """``git http-backend`` (CGI) behind a small HTTP server on 127.0.0.1 that demands Basic credentials
    (RFC 7617); ``seen`` records every request line and Authorization header it got."""

    def __init__(self, root: Path, user: str, password: str) -> None:
        import base64
        import http.server
        import threading

        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.request_lines: list[str] = []
        self.authorizations: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _serve(self) -> None:
                server.request_lines.append(self.requestline)
                auth = self.headers.get("Authorization", "")
                server.authorizations.append(auth)
                body = self._body() if self.command == "POST" else b""
                if auth != server.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": "tester",
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "safe.directory",
                    "GIT_CONFIG_VALUE_0": "*",
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                status = 200
                headers: list[tuple[str, str]] = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
