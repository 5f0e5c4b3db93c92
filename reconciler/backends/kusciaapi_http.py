"""KusciaAPI over HTTPS: one kept-alive connection per thread, the ``Token`` header, the client certificate,
and Kuscia's reply envelope read into ``(HTTP status, document)``. The token is held privately and scrubbed
from every message (``redact``)."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.backends.base import BackendError, NotSupported

SOURCE_HEADER = "Kuscia-Source"


class HttpTransport:
    """``endpoint`` is ``https://host:port`` (or ``http://`` for a test server); ``cert``/``key``/``ca`` are
    PEM file paths (empty: none); ``timeout`` in seconds. Raises BackendError when the certificate files
    cannot be loaded."""

    def __init__(
        self, endpoint: str, token: str, cert: str, key: str, ca: str, domain: str, timeout: float
    ) -> None:
        url = urlsplit(endpoint)
        self.endpoint = endpoint
        self.https = url.scheme == "https"
        self.host = url.hostname or ""
        self.port = url.port or (443 if self.https else 80)
        self.domain = domain
        self.timeout = timeout
        self.__token = token
        self._local = threading.local()
        self._ssl: ssl.SSLContext | None = None
        if self.https:
            try:
                ctx = ssl.create_default_context(cafile=ca or None)
                if cert:
                    ctx.load_cert_chain(cert, key or None)
            except (OSError, ssl.SSLError) as exc:
                raise BackendError(
                    f"cannot load the KusciaAPI client certificate/key/CA ({exc}); check "
                    "backend.kusciaapi.cert, .key and .ca in the config"
                ) from None
            self._ssl = ctx

    def redact(self, text: str) -> str:
        return text.replace(self.__token, "<redacted>") if self.__token else text

    def connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        """A new connection (the caller closes it), e.g. for a long watch."""
        wait = self.timeout if timeout is None else timeout
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=wait, context=self._ssl)
        return http.client.HTTPConnection(self.host, self.port, timeout=wait)

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = self._local.__dict__.get("conn")
        if conn is None:
            conn = self.connection()
            self._local.conn = conn
        return conn

    def headers(self, source: str = "") -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.__token:
            headers["Token"] = self.__token
        if source or self.domain:
            headers[SOURCE_HEADER] = source or self.domain
        return headers

    def _post(self, op: str, payload: Mapping[str, Any], source: str = "") -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile gets one fresh retry
            conn = self._conn()
            try:
                conn.request("POST", f"/api/v1/job/{op}", body=body, headers=self.headers(source))
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2 or isinstance(exc, ssl.SSLError | TimeoutError):
                    why = f"cannot reach KusciaAPI at {self.endpoint} ({type(exc).__name__}: {exc})"
                    raise BackendError(self.redact(why)) from None
        raise AssertionError("unreachable")

    def call(self, op: str, payload: Mapping[str, Any], source: str = "") -> tuple[int, dict[str, Any]]:
        """POST ``/api/v1/job/<op>``; returns the HTTP status and the reply document. Raises BackendError when
        the endpoint cannot be reached, refuses the credentials (401) or answers with something not JSON, and
        NotSupported for an operation it does not have (404)."""
        status, raw = self._post(op, payload, source)
        if status == 401:
            raise BackendError(
                f"KusciaAPI at {self.endpoint} refused the credentials (401): check the token file "
                "and the client certificate"
            )
        if status == 404:
            raise NotSupported(f"KusciaAPI at {self.endpoint} has no operation `{op}` (404)")
        try:
            doc = json.loads(raw)
        except ValueError:
            raise BackendError(
                self.redact(
                    f"KusciaAPI at {self.endpoint} answered HTTP {status} with a body that is "
                    f"not JSON: {raw[:200]!r}"
                )
            ) from None
        if not isinstance(doc, dict):
            kind = type(doc).__name__
            raise BackendError(f"KusciaAPI at {self.endpoint} answered HTTP {status} with a JSON {kind}")
        return status, doc

    def close(self) -> None:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            conn.close()
            self._local.conn = None
