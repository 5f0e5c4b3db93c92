"""A stand-in forge on 127.0.0.1 following GitHub's and GitLab's REST conventions, for the forge tests.

GitHub (at ``/``): ``Authorization: Bearer <token>``; ``POST /repos/{o}/{r}/statuses/{sha}`` → 201;
issue comments ``GET``/``POST /repos/{o}/{r}/issues/{n}/comments`` → 200/201, ``PATCH
/repos/{o}/{r}/issues/comments/{id}`` → 200. GitLab (at ``/api/v4``): ``PRIVATE-TOKEN``; ``POST
/projects/{id}/statuses/{sha}`` → 201; notes ``GET``/``POST /projects/{id}/merge_requests/{iid}/notes``,
``PUT .../notes/{id}`` → 200. A wrong token gets 401, an unknown repository or comment 404, a bad state 422.
``script`` holds answers to give first (status code and headers), e.g. a 403 with rate-limit headers.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

GITHUB_STATES = {"pending", "success", "failure", "error"}
GITLAB_STATES = {"pending", "running", "success", "failed", "canceled"}
GITLAB_PATH = r"/api/v4/projects/(.+?)/(statuses/(\w+)|merge_requests/(\d+)/notes(?:/(\d+))?)"
GITHUB_PATH = r"/repos/([^/]+/[^/]+)/(statuses/(\w+)|issues/(\d+)/comments|issues/comments/(\d+))"


@dataclass
class ForgeState:
    token: str
    repository: str  # owner/name (GitHub) or group/project (GitLab)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    next_id: int = 100

    def latest(self) -> dict[str, dict[str, Any]]:
        """The newest status of each context (what a forge shows)."""
        out: dict[str, dict[str, Any]] = {}
        for s in self.statuses:
            out[s.get("context") or s.get("name", "")] = s
        return out


class StandInForge:
    def __init__(self, token: str = "t0ken", repository: str = "example-org/jobs") -> None:
        self.state = ForgeState(token, repository)
        self.lock = threading.Lock()
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, doc: Any, headers: dict[str, str] | None = None) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                with forge.lock:
                    forge.state.requests.append((self.command, self.path))
                    if forge.state.script:
                        code, headers = forge.state.script.pop(0)
                        self._answer(code, {"message": f"scripted {code}"}, headers)
                        return
                    code, doc = forge.route(self.command, self.path, dict(self.headers.items()), payload)
                self._answer(code, doc)

            do_GET = do_POST = do_PATCH = do_PUT = _handle  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandInForge:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _comment(self, pull: int, body: str) -> dict[str, Any]:
        self.state.next_id += 1
        c = {"id": self.state.next_id, "body": body}
        self.state.comments.setdefault(pull, []).append(c)
        return c

    def _find(self, cid: int) -> dict[str, Any] | None:
        return next((c for cs in self.state.comments.values() for c in cs if c["id"] == cid), None)

    def route(self, method: str, raw: str, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
        s = self.state
        url = urlsplit(raw)
        path = unquote(url.path)
        h = {k.lower(): v for k, v in headers.items()}
        if path.startswith("/api/v4/"):  # GitLab
            if h.get("private-token") != s.token:
                return 401, {"message": "401 Unauthorized"}
            m = re.fullmatch(GITLAB_PATH, path)
            if not m or m.group(1) != s.repository:
                return 404, {"message": "404 Project Not Found"}
            if m.group(3) and method == "POST":
                if payload.get("state") not in GITLAB_STATES:
                    return 400, {"message": "state does not have a valid value"}
                s.statuses.append({**payload, "sha": m.group(3)})
                return 201, {"id": len(s.statuses), **payload}
            pull = int(m.group(4) or 0)
            if m.group(5):
                c = self._find(int(m.group(5)))
                if c is None:
                    return 404, {"message": "404 Not found"}
                c["body"] = payload["body"]
                return 200, c
            if method == "POST":
                return 201, self._comment(pull, payload["body"])
            return 200, list(s.comments.get(pull, []))
        if h.get("authorization") != f"Bearer {s.token}":
            return 401, {"message": "Bad credentials"}
        m = re.fullmatch(GITHUB_PATH, path)
        if not m or m.group(1) != s.repository:
            return 404, {"message": "Not Found"}
        if m.group(3):
            if payload.get("state") not in GITHUB_STATES:
                return 422, {"message": "Validation Failed"}
            s.statuses.append({**payload, "sha": m.group(3)})
            return 201, {"id": len(s.statuses), **payload}
        if m.group(5):
            c = self._find(int(m.group(5)))
            if c is None:
                return 404, {"message": "Not Found"}
            c["body"] = payload["body"]
            return 200, c
        pull = int(m.group(4))
        if method == "POST":
            return 201, self._comment(pull, payload["body"])
        return 200, list(s.comments.get(pull, []))
