"""Limits against hostile manifests, the same whatever release of PyYAML and libyaml is installed.

A manifest comes from a pull request, so nothing in it may exhaust memory, the C stack or the reader's
patience: nesting deeper than MAX_DEPTH (YAML006), one document of more than MAX_NODES values (YAML007), and
aliases that expand past the file's size (YAML005, counted while building, in ``reconciler.load.documents``).
The checks here run on libyaml's event stream, iterative and in constant memory, and on the bytes themselves
where libyaml cannot yield events (a deep flow collection). They refuse at our limits, below any limit a
libyaml release has, so the rule and the position never depend on which release pip installed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import DocumentStartEvent as _DocumentStart
from yaml.events import MappingEndEvent as _MappingEnd
from yaml.events import MappingStartEvent as _MappingStart
from yaml.events import SequenceEndEvent as _SequenceEnd
from yaml.events import SequenceStartEvent as _SequenceStart
from yaml.nodes import Node, ScalarNode, SequenceNode

from reconciler.load.parser import Composer, LoadError

# A value nested deeper than this is refused; real manifests stay under 20. It also keeps recursion in the
# constructor (and libyaml's composer, which crashes the process past ~50k levels) far from any limit.
MAX_DEPTH = 100
# libyaml recurses while composing; this many nesting-capable bytes cannot reach a dangerous depth.
_SAFE_OPENERS = 20_000
# Each node costs at least one byte of input unless an alias repeats it; a budget of input size plus this
# slack catches a billion-laughs document after a few thousand copies instead of after a few gigabytes.
ALIAS_SLACK = 10_000
# A file larger than this is first walked as libyaml's event stream (constant memory) to count its values; one
# document of more than MAX_NODES values is refused before a node tree is built for it.
_LARGE_FILE = 256 * 1024
MAX_NODES = 200_000


@dataclass
class _Scan:
    """What an event walk found: a refusal, or how deep it was, and where, when the events ran out."""

    refused: LoadError | None = None
    depth: int = 0
    line: int = 1  # 1-based position just past the last event read
    column: int = 1


def scan_events(data: bytes) -> _Scan:
    """Walk libyaml's event stream (iterative, constant memory) and stop at the first limit it passes: nesting
    deeper than MAX_DEPTH (YAML006) or a document of more than MAX_NODES values (YAML007).

    The limits are ours, and checked before libyaml's own (a release of libyaml may refuse nesting past 1,000
    levels as a syntax error, an older one not at all), so the finding is the same whichever release is
    installed. A syntax error ends the walk quietly: the composer reports it, with its position."""
    parser = Composer(data)
    depth = 0
    nodes = 0
    mark: Any = None
    last: Any = None
    try:
        while True:
            try:
                event = parser.get_event()
            except yaml.YAMLError:
                event = None
            if event is None:
                if last is None:
                    return _Scan(depth=depth)
                end = last.end_mark  # past the last event's text: its bracket, if any, is counted
                return _Scan(depth=depth, line=int(end.line) + 1, column=int(end.column) + 1)
            last = event
            mark = event.start_mark
            cls = event.__class__
            if cls is _MappingStart or cls is _SequenceStart:
                depth += 1
                nodes += 1
                if depth > MAX_DEPTH:
                    return _Scan(too_deep(int(mark.line) + 1, int(mark.column) + 1))
            elif cls is _MappingEnd or cls is _SequenceEnd:
                depth -= 1
            elif cls is _DocumentStart:
                nodes = 0
            else:
                nodes += 1
            if nodes > MAX_NODES:
                return _Scan(
                    LoadError(
                        "YAML007",
                        f"a document holds more than {MAX_NODES:,} values; a manifest is far smaller "
                        "(split it)",
                        int(mark.line) + 1,
                        int(mark.column) + 1,
                    )
                )
    finally:
        parser.dispose()


# libyaml's line breaks (YAML 1.1): CR LF, CR, LF, NEL, LS, PS; positions count lines as libyaml does.
_BREAK = "\r\n|[\r\n\x85\u2028\u2029]"
# Flow brackets and line breaks, and the quoted scalars and comments whose brackets do not count (compiled
# on first use, by ``re``'s cache: a rare path should not cost every start-up).
_FLOW_TOKEN = (
    rf"[\[\]{{}}]|{_BREAK}"
    r'|(?<=[\s\[{,:])"(?:[^"\\\r\n]|\\.)*"'  # a double-quoted scalar
    r"|(?<=[\s\[{,:])'(?:[^'\r\n]|'')*'"  # a single-quoted scalar
    r"|(?<!\S)#[^\r\n]*"  # a comment
)


def flow_too_deep(data: bytes, scan: _Scan) -> LoadError | None:
    """YAML006 at the first flow bracket (``[`` or ``{``) nested deeper than MAX_DEPTH, read from the text.

    libyaml must read a whole flow collection before it yields its first event (any ``[`` may start a key),
    so a release that limits nesting itself reports a deep flow collection as a syntax error before
    ``scan_events`` sees a level of it. This linear scan goes on from just past the last event the walk read,
    at its depth, and finds the level ours refuses at, at the position an unlimited libyaml gives."""
    text = data.decode("utf-8", "replace")
    depth = scan.depth
    line = 1
    line_start = 0
    for found in re.finditer(_BREAK, text):  # to the line of the last event
        if line == scan.line:
            break
        line += 1
        line_start = found.end()
    if line != scan.line:
        return None
    for match in re.compile(_FLOW_TOKEN).finditer(text, min(line_start + scan.column - 1, len(text))):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return too_deep(line, match.start() - line_start + 1)
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)
        elif token[0] in "\r\n\x85\u2028\u2029":
            line += 1
            line_start = match.end()
    return None


def deepest(root: Node) -> LoadError | None:
    """YAML006 at the first collection of ``root``'s tree (in document order) nested deeper than MAX_DEPTH.

    Iterative, and stops there: the tree is one libyaml built without a limit of its own."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if node.__class__ is ScalarNode:
            continue
        if depth > MAX_DEPTH:
            return too_deep(int(node.start_mark.line) + 1, int(node.start_mark.column) + 1)
        children = node.value if node.__class__ is SequenceNode else [v for pair in node.value for v in pair]
        stack.extend((child, depth + 1) for child in reversed(children))
    return None


def too_deep(line: int = 0, column: int = 0) -> LoadError:
    return LoadError("YAML006", f"nesting deeper than {MAX_DEPTH} levels; flatten the document", line, column)


def needs_scan(data: bytes) -> bool:
    """Whether ``scan_events`` must walk ``data`` before libyaml composes it: a large file (its node tree
    could outgrow memory), or so many nesting-capable bytes that libyaml's recursive composer could reach a
    dangerous depth."""
    if len(data) > _LARGE_FILE:
        return True
    if len(data) <= _SAFE_OPENERS:  # each opener below is at least one byte
        return False
    openers = data.count(b"[") + data.count(b"{") + data.count(b"- ") + data.count(b":") + data.count(b"?")
    return openers > _SAFE_OPENERS
