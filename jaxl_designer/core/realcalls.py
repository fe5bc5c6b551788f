"""Real calls as regression tests: logged calls grouped by path, rebuilt as replayable scenarios.

A log says which edges a call took, not which keys were pressed: each request is rebuilt by
trying what could have been sent (a menu edge's key, a key without an edge for an `invalid`
one, digits of the logged count that the collect accepts, or the logged digits themselves)
and answering lookups with stubs that take the logged exits, until the flow takes the same
edges. The scenario then expects what the flow answered, so replaying it against a new
revision (`scenarios.run`, `jaxl-designer test`) says which real paths the change alters.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .exploration import Route
from .explorer import Explorer, answer_json, candidate_entries
from .flow import Flow
from .prepare import prepare
from .report import MAX_OPEN_CALLS, LoggedCall, LoggedTurn, Source, Traffic, calls
from .runtime import KEYS, TEARDOWN, expects, template_fields
from .scenarios import ScenarioResult, record, run
from .simulator import Call, Simulator, Stub

__all__ = ["RealPath", "altered", "altered_edges", "group", "rebuild", "scenarios"]

#: Distinct paths kept while grouping; calls on further paths are counted, not kept.
MAX_PATHS = 1_000
#: The most candidate inputs or answers tried for one request.
_MAX_TRIES = 64

Edge = tuple[str, str, str]


@dataclass
class RealPath:
    """One way real callers went through the flow: the edges, how it ended, and its calls."""

    edges: tuple[Edge, ...]
    ending: str | None
    calls: int = 0
    kept: list[LoggedCall] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.edges:
            return f"(no edge) ({self.ending or 'unfinished'})"
        nodes = [self.edges[0][0], *(f"-{key}-> {target}" for _, key, target in self.edges)]
        return f"{' '.join(nodes)} ({self.ending or 'unfinished'})"


def group(
    sources: Iterable[Source],
    *,
    per_path: int = 1,
    max_paths: int = MAX_PATHS,
    max_open: int = MAX_OPEN_CALLS,
) -> tuple[list[RealPath], Traffic]:
    """The paths in the logs, most taken first, each with up to `per_path` of its calls.

    Only calls whose start is logged are grouped (a call the log joined midway cannot be
    replayed); `Traffic` counts everything read.
    """
    traffic = Traffic()
    paths: dict[tuple[Any, ...], RealPath] = {}
    for call in calls(sources, traffic, max_open=max_open):
        traffic.add(call)
        if not call.started or any(turn.restart for turn in call.turns):
            continue
        key = (tuple(call.edges), call.ending, call.last_node)
        path = paths.get(key)
        if path is None:
            if len(paths) >= max_paths:
                continue
            path = paths[key] = RealPath(tuple(call.edges), call.ending)
        path.calls += 1
        if len(path.kept) < per_path:
            path.kept.append(call)
    return sorted(paths.values(), key=lambda p: -p.calls), traffic


def scenarios(
    flow: Flow | Mapping[str, Any], paths: Iterable[RealPath]
) -> tuple[list[dict[str, Any]], list[tuple[RealPath, LoggedCall]]]:
    """A scenario per kept call of each path, and the calls that could not be rebuilt."""
    rebuilder = _Rebuilder(flow)
    made, failed = [], []
    for rank, path in enumerate(paths, 1):
        for number, logged in enumerate(path.kept, 1):
            rebuilt = rebuilder.rebuild(logged)
            if rebuilt is None:
                failed.append((path, logged))
                continue
            call, now = rebuilt
            suffix = f" #{number}" if len(path.kept) > 1 else ""
            name = f"real path {rank}{suffix}: {path} ({path.calls} calls)"
            scenario = record(call, name, now=now)
            scenario["calls"] = path.calls
            scenario["logged"] = {"call_id": logged.call_id, "where": "{}:{}".format(*logged.where)}
            scenario["edges"] = [list(edge) for edge in path.edges]
            made.append(scenario)
    return made, failed


def rebuild(flow: Flow | Mapping[str, Any], logged: LoggedCall) -> Call | None:
    """A simulated call on `flow` that takes the logged call's edges, or None if none does."""
    rebuilt = _Rebuilder(flow).rebuild(logged)
    return None if rebuilt is None else rebuilt[0]


def altered(
    flow: Flow | Mapping[str, Any], made: Iterable[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], ScenarioResult]]:
    """Replay real-path scenarios on `flow`: each that now answers otherwise, with how."""
    changed = []
    for scenario in made:
        result = run(flow, scenario)
        if not result.passed:
            changed.append((scenario, result))
    return changed


def altered_edges(changed: Iterable[tuple[Mapping[str, Any], Any]]) -> Counter[Edge]:
    """Real calls per edge on the paths a change alters (what `altered` gave), to draw them.

    Example:
        >>> scenario = {"calls": 3, "edges": [["main", "2", "order"], ["order", "ok", "confirm"]]}
        >>> altered_edges([(scenario, None)])[("main", "2", "order")]
        3
    """
    counts: Counter[Edge] = Counter()
    for scenario, _ in changed:
        calls = int(scenario.get("calls", 0))
        for source, key, target in dict.fromkeys(tuple(e) for e in scenario.get("edges") or ()):
            counts[(str(source), str(key), str(target))] += calls
    return counts


class _Rebuilder:
    """Finds inputs and lookup answers that make the flow take a logged call's edges."""

    def __init__(self, flow: Flow | Mapping[str, Any]) -> None:
        self.document = prepare(flow).to_document() if isinstance(flow, Flow) else dict(flow)
        self.specs: dict[str, Mapping[str, Any]] = self.document["nodes"]
        self.explorer = Explorer(self.document, None, 20_000)
        self.explorer.run()
        self.starts = [route for _, route in self.explorer.starts()]

    def rebuild(self, logged: LoggedCall) -> tuple[Call, str | None] | None:
        for start in self.starts:
            found = self._follow(start, logged.turns)
            if found is not None:
                return found, start.now
        return None

    def _follow(self, start: Route, turns: list[LoggedTurn]) -> Call | None:
        actions: list[tuple[str, str | None]] = []
        stubs: list[Stub] = []
        call: Call | None = None
        waiting: str | None = None
        for index, turn in enumerate(turns):
            if index == 0:
                tries: list[tuple[str, str | None]] = [("dial", None)]
            elif turn.restart or (turn.event == 1 and turn.digits is None):
                return None  # started again: no single simulated call does that
            else:
                tries = self._actions(waiting, turn)
            answers = self._answers(turn)
            for action, extra in itertools.islice(itertools.product(tries, answers), _MAX_TRIES):
                played = self._play(start, [*actions, action][1:], [*stubs, *extra])
                if played is not None and _same(played.steps[-1], turn):
                    call = played
                    actions.append(action)
                    stubs.extend(extra)
                    break
            else:
                return None
            waiting = turn.wait if turn.wait is not None else waiting
        return call

    def _play(
        self, start: Route, actions: list[tuple[str, str | None]], stubs: list[Stub]
    ) -> Call | None:
        sim = Simulator(self.document, now=start.now, lookups=stubs)
        call = sim.dial(start.from_number, start.to_number, context=dict(start.context))
        for action, value in actions:
            if call.ended and action != "hangup":
                return None
            if action == "hangup":
                call.hangup()
            elif action == "press":
                call.press(str(value))
            else:
                call.enter(str(value))
        return call

    def _actions(self, waiting: str | None, turn: LoggedTurn) -> list[tuple[str, str | None]]:
        """What the caller may have sent for a logged request, likeliest first."""
        if turn.event == TEARDOWN:
            return [("hangup", None)]
        spec = self.specs.get(waiting or "", {})
        edges = spec.get("edges") or {}
        first = turn.edges[0] if turn.edges and turn.edges[0][0] == waiting else None
        if turn.digits is None:  # a key
            if first is not None and first[1] in KEYS:
                return [("press", first[1])]
            unused: list[tuple[str, str | None]] = [("press", k) for k in KEYS if k not in edges]
            return unused[:1] or [("press", "12")]
        if isinstance(turn.digits, str):
            return [("enter", turn.digits)]
        entries = self._entries(waiting, spec, turn.digits)
        return [("enter", data) for data in entries]

    def _entries(self, node: str | None, spec: Mapping[str, Any], count: int) -> list[str]:
        """Entries of `count` characters worth trying at a collect (or a menu): the ones the
        explorer found, then plain digits with the node's terminator."""
        found = list(self.explorer.entries.get(node or "", []))
        ends = expects(spec) if spec else 1
        if isinstance(ends, str):
            found += [digits + ends for digits in candidate_entries(spec, ends, [])]
            found += ["1" * (count - 1) + ("*" if ends == "#" else "#"), "1" * count]
        else:
            found += [*candidate_entries(spec, ends, []), "*" + "1" * (count - 1)]
        exact = [entry for entry in dict.fromkeys(found) if len(entry) == count]
        return exact or ["1" * count]

    def _answers(self, turn: LoggedTurn) -> list[list[Stub]]:
        """Stubs answering a request's logged lookups the ways they went, each combination."""
        choices = []
        for node, exit in turn.lookups:
            spec = self.specs.get(node, {})
            url = str(spec.get("url") or "")
            for text, _ in template_fields(url):
                url = url.replace(text, "*")
            url = url.replace("{{", "{").replace("}}", "}")
            method = str(spec.get("method") or "GET").upper()
            if exit == "ok":
                answers = self.explorer.ok_answers(node, spec) or [answer_json({}, {})]
                choices.append([Stub.json(url, data, method=method) for data in answers])
            elif exit == "timeout":
                choices.append([Stub(url, method, timeout=True)])
            else:
                choices.append([Stub(url, method, 500)])
        return [list(combination) for combination in itertools.product(*choices)]


def _same(step: Any, turn: LoggedTurn) -> bool:
    """Whether a simulated step went where the logged request did."""
    return (
        tuple(step.edges) == turn.edges
        and tuple(step.nodes) == turn.nodes
        and tuple((o.node, o.exit) for o in step.lookups) == turn.lookups
    )
