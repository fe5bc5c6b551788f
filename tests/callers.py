"""Random callers for report tests: calls of known shape sent to the real webhook, and a tally.

Each script is what a caller does (events, keys, digits) and what that call must show in a
report: the nodes it reaches, the edges it takes, how it ends and where. The tally is kept
from the scripts chosen, never from the log, so a report's counts are checked against what
was sent.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jaxl_designer.core.runtime import request

Edge = tuple[str, str, str]
Action = tuple[int, str | None, str | None]  # event, option, data


@dataclass(frozen=True)
class Script:
    """A call's actions, and what a report must count for it."""

    name: str
    actions: tuple[Action, ...]
    edges: tuple[Edge, ...]
    nodes: frozenset[str]
    ending: str | None  # None: the call never ends in the log
    at: str  # the node it ends or stops at


def _script(name: str, actions: list[Action], edges: list[Edge], entry: str, **end: Any) -> Script:
    nodes = frozenset([entry, *(b for _, _, b in edges), *end.get("extra", ())])
    return Script(name, tuple(actions), tuple(edges), nodes, end.get("ending"), end["at"])


DIAL: Action = (1, None, None)
BYE: Action = (3, None, None)

SCRIPTS: dict[str, list[Script]] = {
    "acme": [
        _script("sales", [DIAL, (2, "1", None), BYE], [("main", "1", "sales")], "main",
                ending="transfer", at="sales"),
        _script("order", [DIAL, (2, "2", None), (2, None, "4711*"), (2, "1", None)],
                [("main", "2", "order"), ("order", "ok", "confirm"), ("confirm", "1", "thanks")],
                "main", ending="hangup", at="thanks"),
        _script("left at main", [DIAL, BYE], [], "main", ending="caller_hangup", at="main"),
        _script("left at order", [DIAL, (2, "2", None), BYE], [("main", "2", "order")], "main",
                ending="caller_hangup", at="order"),
        _script("wrong key, then sales", [DIAL, (2, "7", None), (2, "1", None)],
                [("main", "invalid", "main_invalid"), ("main_invalid", "next", "main"),
                 ("main", "1", "sales")], "main", ending="transfer", at="sales"),
        _script("re-entered", [DIAL, (2, "2", None), (2, None, "1*"), (2, "2", None),
                               (2, None, "22*"), (2, "1", None)],
                [("main", "2", "order"), ("order", "ok", "confirm"), ("confirm", "2", "order"),
                 ("order", "ok", "confirm"), ("confirm", "1", "thanks")],
                "main", ending="hangup", at="thanks"),
        _script("still waiting", [DIAL, (2, "2", None)], [("main", "2", "order")], "main",
                ending=None, at="order"),
    ],
    "support": [
        _script("billing invoice", [DIAL, (2, "1", None), (2, "1", None)],
                [("main", "1", "billing"), ("billing", "1", "invoice")], "main",
                ending="hangup", at="invoice"),
        _script("gave up", [DIAL, (2, "7", None), (2, "7", None), (2, "7", None)],
                [("main", "invalid", "main_retry"), ("main_retry", "next", "main"),
                 ("main", "invalid", "main_retry"), ("main_retry", "next", "main"),
                 ("main", "gave_up", "operator")], "main", ending="transfer", at="operator"),
        _script("internet", [DIAL, (2, "2", None), (2, "1", None)],
                [("main", "2", "tech"), ("tech", "1", "internet")], "main",
                ending="transfer", at="internet"),
        _script("left at tech", [DIAL, (2, "2", None), BYE], [("main", "2", "tech")], "main",
                ending="caller_hangup", at="tech"),
    ],
}  # fmt: skip


@dataclass
class Tally:
    """What was sent: calls per script, and the counts a report must show for them."""

    calls: int = 0
    requests: int = 0
    scripts: Counter[str] = field(default_factory=Counter)
    endings: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    edge_calls: Counter[Edge] = field(default_factory=Counter)
    taken: Counter[Edge] = field(default_factory=Counter)
    hung_up: Counter[str] = field(default_factory=Counter)
    gave_up: Counter[str] = field(default_factory=Counter)
    unfinished: int = 0

    def add(self, script: Script) -> None:
        """Count one call of `script`."""
        self.calls += 1
        self.requests += len(script.actions)
        self.scripts[script.name] += 1
        self.reached.update(script.nodes)
        self.edge_calls.update(set(script.edges))
        self.taken.update(script.edges)
        self.gave_up.update(a for a, key, _ in script.edges if key == "gave_up")
        if script.ending is None:
            self.unfinished += 1
        else:
            self.endings[script.ending] += 1
        if script.ending == "caller_hangup":
            self.hung_up[script.at] += 1


def plan(flow: str, calls: int, seed: int, first_id: int = 1) -> tuple[list[list[dict]], Tally]:
    """`calls` random calls on one example flow, as each call's requests, and their tally."""
    rng = random.Random(seed)
    tally = Tally()
    ids = itertools.count(first_id)
    sent = []
    for _ in range(calls):
        script = rng.choice(SCRIPTS[flow])
        tally.add(script)
        call_id = next(ids)
        sent.append([request(e, call_id, option=o, data=d) for e, o, d in script.actions])
    return sent, tally


def interleave(calls: list[list[dict]], seed: int) -> list[dict]:
    """The calls' requests in one stream, calls overlapping as on a live line, each in order."""
    rng = random.Random(seed)
    pending = [list(reversed(call)) for call in calls]
    live: list[list[dict]] = []
    out: list[dict] = []
    while pending or live:
        while pending and len(live) < 50:
            live.append(pending.pop())
        call = live[rng.randrange(len(live))]
        out.append(call.pop())
        if not call:
            live.remove(call)
    return out


def send_all(handle: Callable[[bytes], Any], requests: list[dict]) -> None:
    """Send each request's JSON body, in order."""
    for one in requests:
        handle(json.dumps(one).encode())
