"""Real free TCP ports on 127.0.0.1 for the ports a task's pods declare."""

from __future__ import annotations

import socket
from collections import deque


class PortAllocator:
    """Asks the kernel for free ports and avoids handing the same port out twice in a row."""

    def __init__(self, memory: int = 4096) -> None:
        self._recent: deque[int] = deque(maxlen=memory)

    def allocate(self, count: int) -> list[int]:
        held: list[socket.socket] = []
        ports: list[int] = []
        try:
            attempts = 0
            while len(ports) < count and attempts < count * 20 + 20:
                attempts += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                held.append(s)
                port = s.getsockname()[1]
                if port in self._recent:
                    continue
                ports.append(port)
        finally:
            for s in held:
                s.close()
        if len(ports) < count:
            raise OSError("could not find enough free TCP ports on 127.0.0.1")
        self._recent.extend(ports)
        return ports
