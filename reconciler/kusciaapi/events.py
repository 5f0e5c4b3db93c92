"""WatchJob's event stream over HTTP, as it arrives: JSON objects one after another, with or without
whitespace or newlines between them (a Kuscia node writes them back to back; ``kgitops serve`` one a line),
the event type as a number (Kuscia: Go's ``encoding/json`` of ``EventType``, omitted when 0 = ADDED) or a
name (protojson)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

# EventType in kusciaapi.proto
EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED", "ERROR", "HEARTBEAT")
_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


class Readable(Protocol):
    def read1(self, n: int = ..., /) -> bytes: ...


def event_type_name(value: Any) -> str:
    """The type's name for a number, a name, or nothing (ADDED, as Go omits a zero enum)."""
    if value is None or value == "":
        return EVENT_TYPES[0]
    if isinstance(value, int) and 0 <= value < len(EVENT_TYPES):
        return EVENT_TYPES[value]
    return str(value)


def json_stream(source: Readable, chunk: int = 65536) -> Iterator[dict[str, Any]]:
    """The JSON objects of a stream, each as soon as it is complete. Raises ValueError on bytes that cannot
    start a JSON object."""
    buffer = ""
    pending = b""
    while True:
        data = source.read1(chunk)
        if not data:
            break
        try:
            buffer += (pending + data).decode()
            pending = b""
        except UnicodeDecodeError:  # a character split between two reads
            pending += data
            continue
        pos = 0
        while True:
            while pos < len(buffer) and buffer[pos] in _WHITESPACE:
                pos += 1
            if pos >= len(buffer):
                break
            try:
                obj, end = _DECODER.raw_decode(buffer, pos)
            except json.JSONDecodeError:
                break  # incomplete: wait for more
            if isinstance(obj, dict):
                yield obj
            pos = end
        buffer = buffer[pos:]
    if buffer.strip():
        raise ValueError(f"the stream ended inside a JSON object: {buffer[:200]!r}")
