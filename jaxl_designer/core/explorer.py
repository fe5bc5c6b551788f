"""Explore a flow: every call state a caller can reach, what is never reached, and how to get there.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> exploration = explore(acme())
    >>> exploration.node_coverage, exploration.edge_coverage, exploration.ok
    (1.0, 1.0, True)
    >>> str(exploration.paths["thanks"])
    'dial, press 2, enter 1*, press 1'
"""

from __future__ import annotations

import datetime
import itertools
import re
import zoneinfo
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from .exploration import Edge, Exploration, Finding, Route
from .flow import Flow
from .prepare import prepare
from .runtime import (
    CALLER_FIELDS,
    DEFAULT_FROM_NUMBER,
    DEFAULT_TO_NUMBER,
    KEYS,
    LOOKUP_FAILED_PROMPT,
    LOOP_PROMPT,
    MAX_DIGITS,
    Lookup,
    LookupResult,
    Runtime,
    Turn,
    event_for,
    expects,
    fill,
    is_context_field,
    is_phone_number,
    request,
    rule_holds,
    secret_names,
    template_fields,
)
from .simulator import LookupOutcome, Stub, answer_lookups

__all__ = [
    "Edge",
    "Exploration",
    "Explorer",
    "Finding",
    "Route",
    "answer_json",
    "candidate_entries",
    "explore",
]

#: The time calls are placed at when the flow has no business-hours rule (a Monday morning).
DEFAULT_NOW = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=datetime.timezone.utc)
_CALL_ID = 1  # every explored state is replayed under this one call id
_END = None  # the successor of a turn that ended the call
#: The most answers with `ok` tried per lookup (combinations of the values it saves).
_MAX_OK_ANSWERS = 16
_PATH_STEP = re.compile(r"[^.\[\]]+")  # as `runtime.pick` reads a path
#: Numbers a lookup's answer is tried with when a transfer reads what it saves: a whole E.164
#: number, and one without its country code (for a number written `+91{agent}`).
_PHONES = ("+918000000001", "8000000001")


def explore(
    flow: Flow | Mapping[str, Any],
    *,
    depth: int | None = None,
    max_states: int = 100_000,
    env: str | Mapping[str, Any] | None = None,
) -> Exploration:
    """Explore every call state of `flow` a caller can reach, breadth first.

    Calls are placed on the real runtime (a one-call store, a frozen clock): at each place a call
    waits, every key of a menu is pressed (keys without an edge act alike, so one stands for
    all), and a collect gets a few entries: valid ones, one with a non-digit key, one too long,
    and the bare terminator. The explorer never decides what a call does; it sends input and
    reads the answers.

    A call state is where the call waits plus what can change its future there: which branch
    rules on variables and caller numbers hold, whether a variable a prompt may read unset is
    set, and the retry counter (when a node has `max_invalid`). Values that agree on these
    behave alike, so one representative stands for all. Business-hours rules are explored at a
    few representative times (just inside and just outside each rule's hours on each day of one
    week, and on its holidays), one combination of open and closed rules per time; each call is
    placed at one of them.

    A lookup is answered each way it can go: `ok` with a JSON answer holding each path it saves
    (a placeholder `<name>`, or each value a branch rule looks for), `failed` (status 500) and
    `timeout` (when it has that exit). Its `${NAME}` secrets read `<NAME>`. A route records the
    lookups it made, and the answers, so it replays alike (`Route.lookups`, `Route.stubs`).

    Args:
        flow: a `Flow` (prepared for `env`, as the simulator prepares it) or a flow document.
        depth: the most caller actions (presses and entries) after dialling; None for no limit.
            The number of call states is finite, so the exploration ends either way.
        max_states: stop after this many call states; the report then says it stopped early.
        env: the environment whose values fill the flow's `{{parameters}}`.

    Returns:
        The coverage, the problems found, and a shortest route to every reached node and edge.
    """
    document = prepare(flow, env).to_document() if isinstance(flow, Flow) else dict(flow)
    return Explorer(document, depth, max_states).run()


def _minutes(text: Any) -> int | None:
    try:
        hours, minutes = str(text).split(":")
        return int(hours) * 60 + int(minutes)
    except ValueError:
        return None


def _zone(rule: Mapping[str, Any]) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(str(rule.get("tz") or "UTC"))
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return datetime.timezone.utc


def _hours_key(rule: Mapping[str, Any]) -> str:
    return repr([rule.get(name) for name in ("tz", "days", "start", "end", "holidays")])


def _rule_values(rules: Iterable[Mapping[str, Any]]) -> list[str]:
    """Values that make a rule hold: worth trying as entries or caller numbers."""
    values: list[str] = []
    for rule in rules:
        test = rule.get("test")
        if test in ("equals", "prefix") and rule.get("value") is not None:
            values.append(str(rule["value"]))
        elif test == "one_of" and isinstance(rule.get("values"), list):
            values.extend(str(value) for value in rule["values"])
    return [value for value in values if value]


def candidate_entries(spec: Mapping[str, Any], expects: int | str, wanted: list[str]) -> list[str]:
    """Digit strings worth trying at a collect: values rules look for, then plain ones.

    Plain ones are, for each allowed length, 1234567890… cut to it and each digit repeated, so a
    pattern such as `[12]`, `0[0-9]{9}` or `[2-9][0-9]{3}` finds a match without a regex solver.
    """
    if isinstance(expects, int):
        lengths = [expects]
    else:
        low = max(int(spec.get("min_length") or 1), 1)
        high = min(int(spec.get("max_length") or MAX_DIGITS), MAX_DIGITS)
        lengths = sorted({n for n in (low, 1, 2, 3, 4, 6, 8, 10, 12, 16, high) if low <= n <= high})
    found = [value for value in wanted if value.isdigit() and value.isascii()]
    found += [
        value + "0" * (n - len(value)) for value in list(found) for n in lengths if n > len(value)
    ]
    for n in lengths:
        found.append(("1234567890" * 7)[:n])
        found.extend(digit * n for digit in "1234567890")
    return list(dict.fromkeys(found))


def _maybe_unset(document: Mapping[str, Any], templates: Mapping[str, list[str]]) -> set[str]:
    """Variables some prompt may read before any collect sets them, by the flow's edges alone.

    Edges over-approximate what calls do, so a variable left out is set on every real call.
    """
    nodes: Mapping[str, Mapping[str, Any]] = document["nodes"]
    entry = str(document.get("entry"))
    if entry not in nodes:
        return set()
    every = frozenset(str(spec.get("var")) for spec in nodes.values() if spec.get("var"))
    every |= {str(name) for spec in nodes.values() for name in _saves(spec)}
    defined: dict[str, frozenset[str]] = {entry: frozenset()}
    pending = [entry]
    while pending:
        node = pending.pop()
        spec = nodes[node]
        for key, target in (spec.get("edges") or {}).items():
            if target not in nodes or target == entry:
                continue
            out = defined[node]
            if spec.get("kind") == "collect" and key == "ok" and spec.get("var"):
                out = out | {str(spec["var"])}
            if spec.get("kind") == "lookup" and key == "ok":
                out = out | {str(name) for name in _saves(spec)}
            narrowed = defined.get(target, every) & out
            if narrowed != defined.get(target):
                defined[target] = narrowed
                pending.append(target)
    return {
        name
        for node, names in templates.items()
        if node in defined
        for name in names
        if name not in defined[node]
    }


def _saves(spec: Mapping[str, Any]) -> dict[str, str]:
    """What a lookup node saves: variable names to paths in its answer (none for other kinds)."""
    save = spec.get("save") if spec.get("kind") == "lookup" else None
    return {str(k): str(v) for k, v in save.items()} if isinstance(save, Mapping) else {}


def answer_json(save: Mapping[str, str], values: Mapping[str, str]) -> dict[str, Any]:
    """A JSON answer holding each saved path: `order.status` gives {"order": {"status": ...}}."""
    data: dict[str, Any] = {}
    for name, path in save.items():
        steps = _PATH_STEP.findall(path)
        if not steps:
            continue  # an empty path: nothing holds it (validation says so)
        here = data
        for step in steps[:-1]:
            inner = here.get(step)
            if not isinstance(inner, dict):
                inner = here[step] = {}
            here = inner
        here[steps[-1]] = values[name]
    return data


def _planned(plan: Iterable[Stub]) -> Callable[[Lookup], tuple[LookupResult, Stub] | None]:
    """Answers a turn's lookups with `plan`, in order, then leaves the turn waiting."""
    answers = iter(plan)

    def answer(lookup: Lookup) -> tuple[LookupResult, Stub] | None:
        stub = next(answers, None)
        return None if stub is None else (stub.result(), stub)

    return answer


class _OneCall:
    """The explorer's call store: one call, kept as the very dict the runtime changes in place,
    so the explorer sees a call's state after a turn even when the call ended in it."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None

    def load(self, call_id: int) -> dict[str, Any] | None:
        return self.state

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        self.state = state

    def drop(self, call_id: int) -> None:
        self.state = None


class _State:
    """One explored call state: its key, the call's stored state, and the route there."""

    __slots__ = ("call", "context", "key", "node", "route")

    def __init__(
        self,
        key: Hashable,
        node: str,
        call: dict[str, Any],
        route: Route,
        context: tuple[int, float],
    ) -> None:
        self.key = key
        self.node = node
        self.call = call
        self.route = route
        self.context = context


class Explorer:
    """One breadth-first exploration over the runtime (`explore` runs one and reports it).

    Besides running, it tells what calls are tried with: where they `starts`, the entries it
    found at each node (`entries`), and a lookup's `ok_answers`; rebuilding logged calls
    (`core.realcalls`) searches with the same.
    """

    def __init__(self, document: dict[str, Any], depth: int | None, max_states: int) -> None:
        self.specs: dict[str, Mapping[str, Any]] = dict(document["nodes"])
        self.depth = depth
        self.max_states = max_states
        self.store = _OneCall()
        self.now = DEFAULT_NOW.timestamp()
        # The runtime reads the frozen clock through this method, so each state sets its own.
        # A lookup's secrets need not be set to explore it: `${NAME}` reads `<NAME>`.
        secrets = {
            name: f"<{name}>"
            for spec in self.specs.values()
            if spec.get("kind") == "lookup" and isinstance(spec.get("headers"), Mapping)
            for value in spec["headers"].values()
            for name in secret_names(str(value))
        }
        self.runtime = Runtime(document, self.store, clock=self._clock, secrets=secrets)
        # The numbers transfers fill from variables, which a lookup's answer may give.
        self.phones = [
            str(spec["phone"])
            for spec in self.specs.values()
            if spec.get("kind") == "transfer" and template_fields(str(spec.get("phone") or ""))
        ]
        self._ok_cache: dict[str, list[dict[str, Any]]] = {}
        edges = [
            (node, str(key), str(target))
            for node, spec in self.specs.items()
            for key, target in (spec.get("edges") or {}).items()
        ]
        self.edge_set = set(edges)
        rules = [
            rule
            for spec in self.specs.values()
            if spec.get("kind") == "branch"
            for rule in spec.get("rules") or ()
            if isinstance(rule, Mapping)
        ]
        # Rules that differ only in their outcome hold at the same times: keep one of each.
        hours = {_hours_key(rule): rule for rule in rules if rule.get("test") == "hours"}
        self.hours = list(hours.values())
        self.rules_on: dict[str, list[Mapping[str, Any]]] = {}
        for rule in rules:
            if rule.get("test") != "hours":
                self.rules_on.setdefault(str(rule.get("subject", "")), []).append(rule)
        self.templates: dict[str, list[str]] = {}
        for node, spec in self.specs.items():
            names = [
                name
                for line in spec.get("prompt") or ()
                for _, name in template_fields(str(line))
                if name not in CALLER_FIELDS and not is_context_field(name)
            ]
            if names:
                self.templates[node] = list(dict.fromkeys(names))
        # Whether a variable is set changes no decision: it is part of a call state only where a
        # prompt may read it unset, so a sound flow explores no more states for its templates.
        self.subjects = sorted(set(self.rules_on) | _maybe_unset(document, self.templates))
        # Past the largest max_invalid, more misses change nothing: cap the counter there.
        self.miss_cap = max(
            (int(s.get("max_invalid") or 0) for s in self.specs.values()), default=0
        )
        self.signatures: dict[tuple[str, bool, Any], tuple[bool, tuple[bool, ...]]] = {}
        self.entries: dict[str, list[str]] = {}
        self.states: dict[Hashable, _State] = {}
        self.successors: dict[Hashable, set[Hashable]] = {}
        self.queue: deque[_State] = deque()
        self.noted: set[tuple[int, str, str]] = set()
        self.result = Exploration(
            str(document.get("name") or "flow"), document, list(self.specs), edges
        )

    def _clock(self) -> float:
        return self.now

    # -- the search -------------------------------------------------------------------------
    def run(self) -> Exploration:
        for context, route in self.starts():
            self.now = context[1]
            for turn, after, outcomes in self._turns(route, None, "dial", ""):
                self._record(None, context, route.took(outcomes), turn, after)
        while self.queue:
            state = self.queue.popleft()
            if self.depth is not None and len(state.route.steps) >= self.depth:
                self.result.limit = f"depth {self.depth}"
                continue
            self.successors[state.key] = set()
            self.now = state.context[1]
            if self.specs[state.node].get("kind") == "menu":
                for key in self._keys(state.node):
                    self._step(state, "press", key)
            else:
                for data in self._entries(state):
                    self._step(state, "enter", data)
        self._analyse()
        self.result.states = len(self.states)
        return self.result

    def starts(self) -> list[tuple[tuple[int, float], Route]]:
        """Where calls start: each representative clock, with each representative caller."""
        callers: dict[str, list[str]] = {}
        defaults = (DEFAULT_FROM_NUMBER, DEFAULT_TO_NUMBER)
        for subject, default in zip(CALLER_FIELDS, defaults, strict=True):
            rules = self.rules_on.get(subject, [])
            kept: dict[tuple[bool, ...], str] = {}
            for value in [default, *_rule_values(rules)]:
                probe = {"vars": {}, subject: value}
                kept.setdefault(tuple(rule_holds(r, probe, self._clock) for r in rules), value)
            callers[subject] = list(kept.values())
        # The call's context (direction, metadata…) a rule tests: unset, and each value that
        # makes a different set of its rules hold.
        contexts: list[list[tuple[str, str] | None]] = []
        for subject in sorted(s for s in self.rules_on if is_context_field(s)):
            rules = self.rules_on[subject]
            seen: dict[tuple[bool, ...], tuple[str, str] | None] = {
                tuple(rule_holds(r, {"vars": {}}, self._clock) for r in rules): None
            }
            for value in _rule_values(rules):
                probe = {"vars": {}, "ctx": {subject: value}}
                seen.setdefault(
                    tuple(rule_holds(r, probe, self._clock) for r in rules), (subject, value)
                )
            contexts.append(list(seen.values()))
        given: list[tuple[tuple[str, str], ...]] = [
            tuple(pair for pair in combination if pair is not None)
            for combination in itertools.product(*contexts)
        ]
        starts = itertools.product(
            self._clocks(), callers["from_number"], callers["to_number"], given
        )
        return [
            ((index, now), Route((), iso, caller, called, context))
            for index, ((now, iso), caller, called, context) in enumerate(starts)
        ]

    def _clocks(self) -> list[tuple[float, str | None]]:
        """Representative times: one per combination of business-hours rules that hold."""
        if not self.hours:
            return [(DEFAULT_NOW.timestamp(), None)]
        moments = []
        for rule in self.hours:
            zone = _zone(rule)
            bounds = [_minutes(rule.get("start") or "00:00"), _minutes(rule.get("end") or "24:00")]
            times = sorted(
                {m + d for m in bounds if m is not None for d in (-1, 0) if 0 <= m + d < 1440}
            )
            days = [DEFAULT_NOW.date() + datetime.timedelta(days=n) for n in range(7)]
            for holiday in rule.get("holidays") or ():
                try:
                    days.append(datetime.date.fromisoformat(str(holiday)))
                except ValueError:
                    continue
            for day, minute in itertools.product(days, times or [600]):
                clock = datetime.time(minute // 60, minute % 60)
                moments.append(datetime.datetime.combine(day, clock, tzinfo=zone))
        kept: dict[tuple[bool, ...], tuple[float, str | None]] = {}
        for moment in moments:
            self.now = moment.timestamp()
            vector = tuple(rule_holds(rule, {}, self._clock) for rule in self.hours)
            kept.setdefault(vector, (self.now, moment.isoformat()))
        return list(kept.values())

    def _keys(self, node: str) -> list[str]:
        """Every key with an edge, and one key without (all such keys act the same)."""
        edges = self.specs[node].get("edges") or {}
        return [key for key in KEYS if key in edges] + [key for key in KEYS if key not in edges][:1]

    def _entries(self, state: _State) -> list[str]:
        """Representative entries for a collect: valid ones, invalid, too long, empty."""
        node = state.node
        if node in self.entries:
            return self.entries[node]
        spec = self.specs[node]
        ends = expects(spec)
        entries: list[str] = []
        if "ok" in (spec.get("edges") or {}):
            entries = self._valid_entries(state, spec, ends)
            if not entries:
                message = "no valid input found: every entry tried was refused"
                self._note(self.result.no_valid_input, node, message, state.route)
        if isinstance(ends, int):
            entries.append("*" + "1" * (ends - 1))  # a key that is not a digit
        else:
            limit = min(int(spec.get("max_length") or MAX_DIGITS), MAX_DIGITS)
            entries.append("1" + ("*" if ends == "#" else "#") + ends)
            entries.append("1" * (limit + 1) + ends)
            entries.append(ends)
        self.entries[node] = entries
        return entries

    def _valid_entries(
        self, state: _State, spec: Mapping[str, Any], expects: int | str
    ) -> list[str]:
        """One accepted entry for each way the branches can read the collected value."""
        var = str(spec.get("var"))
        rules = self.rules_on.get(var, [])
        kept: dict[Hashable, str] = {}
        for digits in candidate_entries(spec, expects, _rule_values(rules)):
            data = digits if isinstance(expects, int) else digits + expects
            turn, after = self._send(state.route, state.call, "enter", data)
            if not turn.edges or turn.edges[0][:2] != (state.node, "ok") or after is None:
                continue
            if not rules:
                return [data]
            kept.setdefault(self._signature(var, after), data)
        return list(kept.values())

    # -- talking to the runtime -------------------------------------------------------------
    def _send(
        self, route: Route, call: dict[str, Any] | None, action: str, value: str
    ) -> tuple[Turn, dict[str, Any] | None]:
        """Send one caller action for a call in state `call` (None: dial); returns the turn and
        the call's state after it (the runtime updates the copy it is given in place)."""
        self.result.requests += 1
        if call is None:
            event, option, data = event_for("dial"), None, None
        elif action == "press":
            event, option, data = event_for("press"), value, None
        else:  # the call's state keeps the key pressed last, if any
            option, data = call.get("option"), value
            event = event_for("enter", pressed=option is not None)
        sent = request(
            event,
            _CALL_ID,
            from_number=route.from_number,
            to_number=route.to_number,
            option=option,
            data=data,
            context=dict(route.context),
        )
        if call is None:
            return self.runtime.respond(sent), None
        call = {**call, "vars": dict(call["vars"])}
        self.store.save(_CALL_ID, call)
        return self.runtime.respond(sent), call

    def _turns(
        self, route: Route, call: dict[str, Any] | None, action: str, value: str
    ) -> list[tuple[Turn, dict[str, Any] | None, list[LookupOutcome]]]:
        """Every way one caller action can go: a turn for each way its lookups can answer.

        The action is sent again for each combination of answers (the runtime changes a call's
        state as it goes, so a turn cannot be resumed twice); each lookup met is answered every
        way it can be (see `_answers`). Returns each finished turn, the call's state after it,
        and the lookups it made.
        """
        finished = []
        plans: deque[tuple[Stub, ...]] = deque([()])
        while plans:
            plan = plans.popleft()
            turn, after = self._send(route, call, action, value)
            turn, outcomes = answer_lookups(self.runtime, turn, _planned(plan))
            if turn.lookup is not None:  # a lookup no answer was planned for: plan each
                plans.extend((*plan, stub) for stub in self._answers(turn.lookup))
                continue
            if call is None:  # a dial: the call's state is the one the store kept
                after = self.store.load(_CALL_ID) if turn.waiting_on else None
            finished.append((turn, after, outcomes))
        return finished

    def _answers(self, lookup: Lookup) -> list[Stub]:
        """The answers a lookup is given: `ok` ones, `failed`, and a timeout when it has that
        exit (without it a timeout goes the failed way)."""
        spec = self.specs[lookup.node]
        url, method = lookup.url, lookup.method
        found = [Stub.json(url, data, method=method) for data in self.ok_answers(lookup.node, spec)]
        found.append(Stub(url, method, 500))
        if "timeout" in (spec.get("edges") or {}):
            found.append(Stub(url, method, timeout=True))
        return found

    def ok_answers(self, node: str, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        """JSON answers for a lookup's `ok`: one per way the values it saves can matter.

        A saved variable gets a placeholder (`<name>`), each value a branch rule on it looks
        for, and, when a transfer's number reads it, phone numbers; values that make the same
        rules hold and the same numbers valid stand for each other.
        """
        if node in self._ok_cache:
            return self._ok_cache[node]
        save = _saves(spec)
        choices = []
        for name in save:
            rules = self.rules_on.get(name, [])
            phones = [text for text in self.phones if name in dict(template_fields(text)).values()]
            values = [f"<{name}>", "1", *_rule_values(rules)]
            if phones:
                values += _PHONES
            kept: dict[Hashable, str] = {}
            for value in values:
                probe = {"vars": {name: value}}
                holds = tuple(rule_holds(rule, probe, self._clock) for rule in rules)
                valid = tuple(is_phone_number(fill(t, {name: value}).strip()) for t in phones)
                kept.setdefault((holds, valid), value)
            choices.append(list(kept.values()))
        combinations = itertools.islice(itertools.product(*choices), _MAX_OK_ANSWERS)
        answers = [
            answer_json(save, dict(zip(save, values, strict=True))) for values in combinations
        ]
        self._ok_cache[node] = answers
        return answers

    def _step(self, state: _State, action: str, value: str) -> None:
        for turn, after, outcomes in self._turns(state.route, state.call, action, value):
            route = state.route.then(action, value).took(outcomes)
            self._record(state, state.context, route, turn, after)

    def _phones_valid(self, call: dict[str, Any]) -> tuple[bool, ...]:
        """Which numbers transfers fill from the call would be phone numbers now: a lookup's
        answer can make an agent's number valid or not, and the transfer then goes either way."""
        if not self.phones:
            return ()
        values = {name: call.get(name) for name in CALLER_FIELDS}
        values.update(call.get("ctx") or {})
        values.update(call["vars"])
        return tuple(is_phone_number(fill(text, values).strip()) for text in self.phones)

    def _signature(self, subject: str, call: dict[str, Any]) -> tuple[bool, tuple[bool, ...]]:
        """Whether `subject` is set, and which rules on it hold: all a value can change."""
        variables = call["vars"]
        present = subject in variables
        context = call.get("ctx") or {}
        if present:
            value = variables[subject]
        else:
            value = context.get(subject) if subject in context else call.get(subject)
        if not isinstance(value, (str, int, float, type(None))):
            value = repr(value)
        cached = self.signatures.get((subject, present, value))
        if cached is None:
            holds = tuple(
                rule_holds(rule, call, self._clock) for rule in self.rules_on.get(subject, ())
            )
            cached = self.signatures[(subject, present, value)] = (present, holds)
        return cached

    def _record(
        self,
        parent: _State | None,
        context: tuple[int, float],
        route: Route,
        turn: Turn,
        after: dict[str, Any] | None,
    ) -> None:
        """Note what a turn reached and found, and queue the state it left the call in."""
        paths = self.result.paths
        for node in turn.nodes:
            if node in self.specs and node not in paths:
                paths[node] = route
        for edge in turn.edges:
            if edge in self.edge_set and edge not in paths:
                paths[edge] = route
        variables = after["vars"] if after is not None else self._set_by(turn)
        for node in dict.fromkeys(turn.nodes):
            for name in self.templates.get(node, ()):
                if name not in variables:
                    message = f"{{{name}}} is not set on this call: the caller hears nothing there"
                    self._note(self.result.unset, node, message, route)
        self._check_ending(turn, route)
        successor: Hashable = _END
        if turn.waiting_on is not None and after is not None:
            successor = (
                context[0],
                turn.waiting_on,
                min(int(after.get("misses") or 0), self.miss_cap),
                tuple(self._signature(subject, after) for subject in self.subjects),
                self._phones_valid(after),
            )
            if successor not in self.states:
                if len(self.states) >= self.max_states:
                    self.result.limit = f"max_states {self.max_states}"
                else:
                    state = _State(successor, turn.waiting_on, after, route, context)
                    self.states[successor] = state
                    self.queue.append(state)
        if parent is not None:
            self.successors[parent.key].add(successor)

    def _set_by(self, turn: Turn) -> set[str]:
        """The variables a dial's turn set, when the call ended in it (no state is kept then):
        what its set nodes give, and what its lookups saved when they took `ok`."""
        names = {
            str(name)
            for node in turn.nodes
            if self.specs[node].get("kind") == "set"
            for name in self.specs[node].get("values") or ()
        }
        for node, key, _ in turn.lookups:
            if key == "ok":
                names.update(_saves(self.specs[node]))
        return names

    def _check_ending(self, turn: Turn, route: Route) -> None:
        """A hang-up that no hangup node asked for: a missing edge, or a loop the runtime cut."""
        response = turn.response
        if "prompt" not in response or response.get("num_characters") != 0:
            return
        last = turn.nodes[-1] if turn.nodes else None
        kind = self.specs[last].get("kind") if last in self.specs else None
        if kind == "hangup":
            return
        if last is not None and response["prompt"] == LOOP_PROMPT:
            message = "the call goes round nodes that never wait for the caller, and is cut off"
            self._note(self.result.dead_ends, last, message, route)
            return
        failed = LOOKUP_FAILED_PROMPT
        if turn.lookups and response["prompt"][-len(failed) :] == failed:
            node, key, why = turn.lookups[-1]
            if key not in (self.specs.get(node, {}).get("edges") or {}):
                message = f"the call hangs up: the lookup took {key!r} ({why}), which has no edge"
                self._note(self.result.dead_ends, node, message, route)
                return
        if not turn.edges:
            return
        source, key, target = turn.edges[-1]
        where = f"leads to {target!r}, which is not a node" if target else "is missing"
        quiet = "" if response["prompt"] else " without a word"
        message = f"the call hangs up{quiet}: edge {key!r} {where}"
        self._note(self.result.dead_ends, source, message, route)

    def _note(self, findings: list[Finding], node: str, message: str, route: Route) -> None:
        """Add a finding unless the same one was noted already (by a shorter route)."""
        key = (id(findings), node, message)
        if key not in self.noted:
            self.noted.add(key)
            findings.append(Finding(node, message, route))

    # -- what the state graph says ----------------------------------------------------------
    def _analyse(self) -> None:
        """Endless calls: states that cannot reach an ending. Stuck callers: self-loops only."""
        before: dict[Hashable, list[Hashable]] = {}
        for key, successors in self.successors.items():
            for successor in successors:
                before.setdefault(successor, []).append(key)
        # A state never expanded (past the depth or max_states) might end: assume so.
        can_end = {key for key in before if key is _END or key not in self.successors}
        can_end |= {key for key in self.states if key not in self.successors}
        pending = list(can_end)
        while pending:
            for earlier in before.get(pending.pop(), ()):
                if earlier not in can_end:
                    can_end.add(earlier)
                    pending.append(earlier)
        for key, state in self.states.items():
            if key not in self.successors:
                continue
            if self.successors[key] == {key}:
                message = "every input leads back here: the caller is stuck"
                self._note(self.result.dead_ends, state.node, message, state.route)
            if key not in can_end:
                message = "a call here can never end: no hangup or transfer can be reached"
                self._note(self.result.endless, state.node, message, state.route)
