"""An HTTP server on a daemon thread, for the small endpoints kgitops serves beside its work (the
``/metrics`` and ``/healthz`` endpoint, the push-webhook receiver).

``BackgroundHTTPServer(address, handler, name)`` binds at once (an ``OSError`` reaches the caller, which
names the flag to change); ``start()`` serves on a thread named ``name``; ``stop()`` shuts it down and
closes the socket; ``address`` is ``"HOST:PORT"`` as bound (port 0 becomes the port the kernel chose).
Handlers run on their own threads (``ThreadingHTTPServer``, daemon threads), so a slow client never holds
up another.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BackgroundHTTPServer:
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.server = ThreadingHTTPServer(address, handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
