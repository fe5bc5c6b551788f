"""Request logs read back into calls, and calls counted: where callers go, end and give up.

A log (docs/log-format.md, format 1) is read as a stream of lines, plain or gzip (told by its
first bytes, not its name), in bounded memory: calls in progress are kept in a bounded
least-recently-used table, and one pushed out is counted as unfinished. A line that is not a
JSON object at all is the server's own output (its start, a warning): it is counted as such.
A line that should be a log line and is not is counted as bad, and the first few are kept with
their line number; neither stops a read.

Example:
    >>> lines = [
    ...     '{"v":1,"rev":"abc","event":1,"call_id":7,"nodes":["main"],"wait":"main"}',
    ...     '{"v":1,"rev":"abc","event":2,"call_id":7,"edges":[["main","1","sales"]],'
    ...     '"nodes":["sales"],"end":"transfer","target":"phone"}',
    ...     'webhook: serving on port 9919',
    ...     '{"v":1,"rev":"abc","event":2,"call_id":}',
    ... ]
    >>> traffic = read([lines])
    >>> traffic.calls, traffic.endings["transfer"], traffic.reached["sales"]
    (1, 1, 1)
    >>> traffic.messages, traffic.bad, traffic.bad_lines[0]
    (1, 1, ('<lines>', 4, 'not JSON'))
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import JaxlDesignerError
from .runtime import ENDINGS, TEARDOWN

__all__ = [
    "MAX_OPEN_CALLS",
    "LogError",
    "LoggedCall",
    "LoggedTurn",
    "Source",
    "Traffic",
    "calls",
    "read",
]

#: Calls in progress kept at once while reading; the least recently heard one goes beyond it.
MAX_OPEN_CALLS = 100_000
#: A call keeps at most this many requests: a call stuck in a loop cannot grow a read.
MAX_TURNS = 500
#: Distinct paths counted one by one; calls on further paths count as "other paths".
MAX_PATHS = 10_000
#: A path is cut after this many nodes.
MAX_PATH_NODES = 64
#: A line longer than this is not read whole: it is a bad line.
MAX_LINE = 1 << 20
#: How many bad lines are kept to show, with their place.
KEPT_BAD_LINES = 20
_GZIP_MAGIC = b"\x1f\x8b"

Edge = tuple[str, str, str]
#: A log to read: a file's path, a binary file, or lines (text or bytes) already in memory.
Source = str | os.PathLike[str] | IO[bytes] | Iterable[str] | Iterable[bytes]


class LogError(JaxlDesignerError):
    """A log that cannot be read at all (missing, not a request log): one line saying where."""


@dataclass(frozen=True)
class LoggedTurn:
    """One request of a call as its log line tells it."""

    event: Any
    edges: tuple[Edge, ...] = ()
    nodes: tuple[str, ...] = ()
    wait: str | None = None
    end: str | None = None
    target: str | None = None
    at: str | None = None
    restart: bool = False
    digits: int | str | None = None
    lookups: tuple[tuple[str, str], ...] = ()


@dataclass
class LoggedCall:
    """One call's requests, in order; `finished` once a line ended it.

    Attributes:
        call_id: As the log gives it.
        rev: The flow revision its first line names.
        turns: Its requests (at most `MAX_TURNS`).
        finished: Whether a line ended it (an `end`, or a teardown).
        where: The source and line number of its first line.
    """

    call_id: Any
    rev: str
    turns: list[LoggedTurn] = field(default_factory=list)
    finished: bool = False
    where: tuple[str, int] = ("", 0)

    @property
    def ending(self) -> str | None:
        """How the call ended (one of `runtime.ENDINGS`), None when no line says."""
        return self.turns[-1].end if self.turns else None

    @property
    def started(self) -> bool:
        """Whether the log has the call's start: a setup without digits first."""
        first = self.turns[0] if self.turns else None
        return first is not None and first.event == 1 and first.digits is None

    @property
    def nodes(self) -> list[str]:
        """Every node the call went through, in order."""
        return [node for turn in self.turns for node in turn.nodes]

    @property
    def edges(self) -> list[Edge]:
        """Every edge the call took, in order."""
        return [edge for turn in self.turns for edge in turn.edges]

    @property
    def last_node(self) -> str | None:
        """Where the call was last: where it ended, was hung up on, or waits."""
        for turn in reversed(self.turns):
            if turn.at is not None:
                return turn.at
            if turn.nodes:
                return turn.nodes[-1]
        return None

    def path(self) -> tuple[str, ...]:
        """The nodes it went through, then how it ended ("unfinished" when no line says)."""
        nodes = self.nodes
        cut = nodes[:MAX_PATH_NODES] + (["…"] if len(nodes) > MAX_PATH_NODES else [])
        return (*cut, self.ending or "unfinished")


@dataclass
class Traffic:
    """Calls counted from logs: how many, where they went, how they ended.

    Node and edge counts are calls (a call that goes round a loop counts once) unless named
    `visits` or `taken`. A call `dropped` at a node when the caller hung up there or the log
    ends with the call waiting there.
    """

    lines: int = 0
    bad: int = 0
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)
    #: Requests that belong to no call's flow: health checks, refused requests, marks,
    #: teardowns of calls that had already ended, and retries answered as before (`replay`).
    other: int = 0
    #: Lines that are no JSON object: the server's own output, written to the same stream.
    messages: int = 0
    calls: int = 0
    finished: int = 0
    #: Calls whose log has no end: still waiting when the log stops, or pushed out of the
    #: table of calls in progress (`evicted`).
    unfinished: int = 0
    evicted: int = 0
    #: Calls whose first line is not their start (the log began mid-call, or it was evicted).
    partial: int = 0
    restarts: int = 0
    endings: Counter[str] = field(default_factory=Counter)
    targets: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    visits: Counter[str] = field(default_factory=Counter)
    edge_calls: Counter[Edge] = field(default_factory=Counter)
    taken: Counter[Edge] = field(default_factory=Counter)
    #: Calls the flow ended at each node, by how: (node, ending).
    ended: Counter[tuple[str, str]] = field(default_factory=Counter)
    hung_up: Counter[str] = field(default_factory=Counter)
    gave_up: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    left: Counter[str] = field(default_factory=Counter)
    lookups: Counter[tuple[str, str]] = field(default_factory=Counter)
    paths: Counter[tuple[str, ...]] = field(default_factory=Counter)
    other_paths: int = 0
    revisions: Counter[str] = field(default_factory=Counter)

    def add(self, call: LoggedCall) -> None:
        """Count one call."""
        self.calls += 1
        self.revisions[call.rev] += 1
        if not call.started:
            self.partial += 1
        if call.finished:
            self.finished += 1
        else:
            self.unfinished += 1
            if call.last_node is not None:
                self.left[call.last_node] += 1
        seen_nodes: set[str] = set()
        seen_edges: set[Edge] = set()
        for turn in call.turns:
            self.restarts += turn.restart
            for node in turn.nodes:
                self.visits[node] += 1
                seen_nodes.add(node)
            for edge in turn.edges:
                self.taken[edge] += 1
                seen_edges.add(edge)
                if edge[1] == "gave_up":
                    self.gave_up[edge[0]] += 1
                elif edge[1] == "invalid":
                    self.invalid[edge[0]] += 1
            for made in turn.lookups:
                self.lookups[made] += 1
            if turn.end is not None:
                self.endings[turn.end] += 1
                if turn.end == "transfer":
                    self.targets[turn.target or "none"] += 1
                if turn.end == "caller_hangup" and turn.at is not None:
                    self.hung_up[turn.at] += 1
                elif turn.nodes:
                    self.ended[turn.nodes[-1], turn.end] += 1
        self.reached.update(seen_nodes)
        self.edge_calls.update(seen_edges)
        path = call.path()
        if path in self.paths or len(self.paths) < MAX_PATHS:
            self.paths[path] += 1
        else:
            self.other_paths += 1

    def dropped(self, node: str) -> int:
        """Calls that went no further than `node`: hung up there, or left waiting there."""
        return self.hung_up[node] + self.left[node]

    def funnel(self, path: Iterable[str] | None = None) -> list[tuple[str, int]]:
        """Calls that got through each step of `path` (the top path by default), in order.

        A step counts the calls whose path starts with the steps up to it.
        """
        steps = list(path) if path is not None else self._top_nodes()
        rows = []
        for size in range(1, len(steps) + 1):
            prefix = tuple(steps[:size])
            count = sum(n for p, n in self.paths.items() if p[:size] == prefix)
            rows.append((steps[size - 1], count))
        return rows

    def _top_nodes(self) -> list[str]:
        if not self.paths:
            return []
        top = self.paths.most_common(1)[0][0]
        return [node for node in top[:-1] if node != "…"]

    def note_bad(self, source: str, number: int, why: str) -> None:
        """Count a line that is not a log line, keeping the first few with their place."""
        self.bad += 1
        if len(self.bad_lines) < KEPT_BAD_LINES:
            self.bad_lines.append((source, number, why))

    def __str__(self) -> str:
        ends = ", ".join(f"{name} {self.endings[name]}" for name in ENDINGS if self.endings[name])
        return (
            f"{self.lines} lines, {self.calls} calls ({self.finished} finished, "
            f"{self.unfinished} unfinished): {ends or 'none ended'}"
            + (f"; {self.bad} bad lines" if self.bad else "")
        )


def read(sources: Iterable[Source], *, max_open: int = MAX_OPEN_CALLS) -> Traffic:
    """Read logs and count their calls.

    Args:
        sources: Logs, each a path (plain or gzip), a binary file, or a list of lines.
        max_open: Calls in progress kept at once; beyond it the least recently heard is
            counted unfinished (`Traffic.evicted`).

    Raises:
        LogError: A file is missing, or has lines but none of them a request log line.
    """
    traffic = Traffic()
    for call in calls(sources, traffic, max_open=max_open):
        traffic.add(call)
    return traffic


def calls(
    sources: Iterable[Source], traffic: Traffic | None = None, *, max_open: int = MAX_OPEN_CALLS
) -> Iterator[LoggedCall]:
    """Each call in the logs, once it ends, is pushed out, or the logs end.

    Lines, bad lines and other requests are counted into `traffic` when given.
    """
    tally = traffic if traffic is not None else Traffic()
    open_calls: OrderedDict[Any, LoggedCall] = OrderedDict()
    for source in sources:
        name = _name(source)
        good = before = tally.lines
        kept_before = len(tally.bad_lines)
        first_message = 0
        for number, raw in _lines(source, name, tally):
            tally.lines += 1
            line = _parse(raw)
            if line is _MESSAGE:
                tally.messages += 1
                first_message = first_message or number
                continue
            if isinstance(line, str):
                tally.note_bad(name, number, line)
                continue
            good += 1
            call_id = line.get("call_id")
            event, flow_fields = line.get("event"), "nodes" in line or "end" in line
            if call_id is None or line.get("status", 200) != 200 or event == 5:
                tally.other += 1
                continue
            if line.get("replay") is True:  # a retry answered as before: the call did not move
                tally.other += 1
                continue
            if isinstance(call_id, (list, dict)):
                tally.note_bad(name, number, "call_id is not a number or text")
                continue
            turn = _turn(line)
            if isinstance(turn, str):
                tally.note_bad(name, number, turn)
                continue
            call = open_calls.get(call_id)
            if call is None:
                if event == TEARDOWN and not flow_fields:
                    tally.other += 1  # the teardown Jaxl sends after a call has ended
                    continue
                call = LoggedCall(call_id, str(line.get("rev", "")), where=(name, number))
                open_calls[call_id] = call
                if len(open_calls) > max_open:
                    _, oldest = open_calls.popitem(last=False)
                    tally.evicted += 1
                    yield oldest
            else:
                open_calls.move_to_end(call_id)
            if len(call.turns) < MAX_TURNS:
                call.turns.append(turn)
            if turn.end is not None or event == TEARDOWN:
                call.finished = True
                del open_calls[call_id]
                yield call
        if tally.lines > before and good == before:
            kept = tally.bad_lines[kept_before:]
            where = kept[0] if kept else (name, first_message or 1, "not JSON")
            raise LogError(f"{name}: not a request log (line {where[1]}: {where[2]})")
    yield from open_calls.values()


def _name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return str(getattr(source, "name", "<lines>"))


def _lines(source: Source, name: str, tally: Traffic) -> Iterator[tuple[int, bytes | str]]:
    """Each line of a source with its number; a line over `MAX_LINE` is cut and flagged."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise LogError(f"{name}: no such file") from None
        except OSError as error:
            raise LogError(f"{name}: cannot read: {error.strerror or error}") from None
        with handle:
            yield from _binary(handle, name, tally)
    elif hasattr(source, "read"):
        yield from _binary(source, name, tally)  # type: ignore[arg-type]
    else:
        yield from enumerate(source, 1)


def _binary(handle: IO[bytes], name: str, tally: Traffic) -> Iterator[tuple[int, bytes]]:
    stream: IO[bytes] = handle
    peek = getattr(handle, "peek", None)
    head = peek(2)[:2] if peek is not None else b""
    if peek is None and handle.seekable():
        head = handle.read(2)
        handle.seek(0)
    if head == _GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[assignment]
    number = 0
    try:
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if len(line) >= MAX_LINE and not line.endswith(b"\n"):
                while True:  # skip the rest of the overlong line
                    rest = stream.readline(MAX_LINE)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield number, b"\x00too long"
                continue
            yield number, line
    except (OSError, EOFError, zlib.error) as error:
        tally.note_bad(name, number + 1, f"cannot read on: {error}")


#: What `_parse` says of a line that is no JSON object: the server's own output.
_MESSAGE = "the server's own output"


def _parse(raw: bytes | str) -> dict[str, Any] | str:
    """A line as a dict, or why it is not a log line (`_MESSAGE`: it never meant to be one)."""
    if raw[:1] == b"\x00" and raw == b"\x00too long":
        return f"longer than {MAX_LINE} bytes"
    start = raw.lstrip()[:1]
    if start not in (b"{", "{"):
        return _MESSAGE
    try:
        line = json.loads(raw)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(line, dict):
        return "not a JSON object"
    if line.get("v") != 1:
        version = line.get("v")
        return "no format version (v)" if version is None else f"log format {version!r} unknown"
    return line


def _turn(line: dict[str, Any]) -> LoggedTurn | str:
    """A log line's request, or why it does not read as one."""
    try:
        edges = tuple((str(a), str(k), str(b)) for a, k, b in line.get("edges") or ())
        nodes = tuple(str(node) for node in line.get("nodes") or ())
        lookups = tuple((str(m["node"]), str(m["exit"])) for m in line.get("lookups") or ())
    except (TypeError, ValueError, KeyError):
        return "edges, nodes or lookups are not as format 1 writes them"
    end = line.get("end")
    if end is not None and end not in ENDINGS:
        return f"end {end!r} unknown"
    digits = line.get("digits")
    return LoggedTurn(
        event=line.get("event"),
        edges=edges,
        nodes=nodes,
        wait=_text(line.get("wait")),
        end=end,
        target=_text(line.get("target")),
        at=_text(line.get("at")),
        restart=line.get("restart") is True,
        digits=digits if isinstance(digits, (int, str)) and digits != "" else None,
        lookups=lookups,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
