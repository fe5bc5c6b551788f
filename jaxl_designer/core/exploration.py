"""What an exploration found: coverage, findings, and a replayable route to each node and edge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .flow import Flow
from .runtime import DEFAULT_FROM_NUMBER, DEFAULT_TO_NUMBER
from .scenarios import record
from .simulator import Call, LookupOutcome, Simulator, Stub

__all__ = ["Edge", "Exploration", "Finding", "Route"]

#: An edge as (source, key, target).
Edge = tuple[str, str, str]
#: The caller's numbers the simulator dials with unless told otherwise.


@dataclass(frozen=True)
class Route:
    """What a caller does to reach a place in a flow: dial (at a time, from a number), then keys.

    `steps` are `("press", key)` and `("enter", digits)` pairs, in order; `now` is the ISO time the
    call is placed at, when the flow has business hours; `context` the call's context a branch
    tests, as (name, value) pairs (`("direction", "outbound")`).

    `lookups` are the lookups the call made and how each went, per action: the first entry is
    the dial's, then one per step (none after the last action that made one). Each names the
    node, the exit taken and the stub that answered, so the route replays alike (see `stubs`).
    """

    steps: tuple[tuple[str, str], ...] = ()
    now: str | None = None
    from_number: str = DEFAULT_FROM_NUMBER
    to_number: str = DEFAULT_TO_NUMBER
    context: tuple[tuple[str, str], ...] = ()
    lookups: tuple[tuple[LookupOutcome, ...], ...] = ()

    def then(self, action: str, value: str) -> Route:
        """This route, one more step long."""
        return replace(self, steps=(*self.steps, (action, value)))

    def took(self, outcomes: Sequence[LookupOutcome]) -> Route:
        """This route, its last action (the dial, or its last step) having made these lookups."""
        if not outcomes:
            return self
        gap = ((),) * (len(self.steps) - len(self.lookups))
        return replace(self, lookups=(*self.lookups, *gap, tuple(outcomes)))

    @property
    def outcomes(self) -> list[LookupOutcome]:
        """Every lookup the route's call makes, in order."""
        return [outcome for made in self.lookups for outcome in made]

    def stubs(self) -> list[Stub]:
        """The answers that make this route's lookups go as they went, in order."""
        return [o.answer for o in self.outcomes if o.answer is not None]

    def play(self, flow: Flow | Mapping[str, Any] | Simulator) -> Call:
        """Place this call on `flow` (or on a simulator, at this route's time).

        Returns:
            The call after its last step.
        """
        sim = flow if isinstance(flow, Simulator) else Simulator(flow)
        sim.set_time(self.now)
        call = sim.dial(
            self.from_number,
            self.to_number,
            context=dict(self.context),
            lookups=self.stubs() if self.lookups else None,
        )
        for action, value in self.steps:
            if action == "press":
                call.press(value)
            else:
                call.enter(value)
        return call

    def __str__(self) -> str:
        extras = [f"at {self.now}"] if self.now else []
        if self.from_number != DEFAULT_FROM_NUMBER:
            extras.append(f"from {self.from_number}")
        if self.to_number != DEFAULT_TO_NUMBER:
            extras.append(f"to {self.to_number}")
        extras.extend(f"{name} {value}" for name, value in self.context)
        actions = [f"dial ({', '.join(extras)})" if extras else "dial"]
        actions += [f"{action} {value}" for action, value in self.steps]
        for index, made in enumerate(self.lookups):
            if made:
                taken = ", ".join(f"{outcome.node} {outcome.exit}" for outcome in made)
                actions[index] += f" [{taken}]"
        return ", ".join(actions)


@dataclass(frozen=True)
class Finding:
    """One problem the exploration met: the node, what happens there, and a route that shows it."""

    node: str
    message: str
    route: Route

    def __str__(self) -> str:
        return f"{self.node}: {self.message}\n    reached by: {self.route}"


@dataclass
class Exploration:
    """What exploring a flow found: coverage, problems, and a shortest route to each place.

    `paths` maps each reached node id, and each taken edge `(source, key, target)`, to one
    shortest route that reaches it. `endless` holds calls that can never end (no hangup or
    transfer can be reached), `dead_ends` places where the caller is stuck or the call is cut off
    by a missing edge, `unset` prompts that read a variable the call has not set, and
    `no_valid_input` collects that refused every entry the explorer tried.
    """

    name: str
    document: dict[str, Any]
    nodes: list[str]
    edges: list[Edge]
    paths: dict[str | Edge, Route] = field(default_factory=dict)
    endless: list[Finding] = field(default_factory=list)
    dead_ends: list[Finding] = field(default_factory=list)
    unset: list[Finding] = field(default_factory=list)
    no_valid_input: list[Finding] = field(default_factory=list)
    states: int = 0
    requests: int = 0
    limit: str | None = None

    @property
    def reached_nodes(self) -> list[str]:
        """Nodes some call reaches, in flow order."""
        return [node for node in self.nodes if node in self.paths]

    @property
    def unreached_nodes(self) -> list[str]:
        """Nodes no explored call reaches, in flow order."""
        return [node for node in self.nodes if node not in self.paths]

    @property
    def reached_edges(self) -> list[Edge]:
        """Edges some call takes, in flow order."""
        return [edge for edge in self.edges if edge in self.paths]

    @property
    def unreached_edges(self) -> list[Edge]:
        """Edges no explored call takes, in flow order."""
        return [edge for edge in self.edges if edge not in self.paths]

    @property
    def node_coverage(self) -> float:
        """The share of nodes reached, from 0.0 to 1.0."""
        return len(self.reached_nodes) / len(self.nodes) if self.nodes else 1.0

    @property
    def edge_coverage(self) -> float:
        """The share of edges taken, from 0.0 to 1.0."""
        return len(self.reached_edges) / len(self.edges) if self.edges else 1.0

    @property
    def ok(self) -> bool:
        """True when no call is endless and there are no dead ends."""
        return not self.endless and not self.dead_ends

    def scenarios(self) -> list[dict[str, Any]]:
        """One scenario per distinct route in `paths`, recorded on the simulator.

        Each replays with `jaxl_designer.core.scenarios.run`, in process or over HTTP.
        """
        sim = Simulator(self.document)
        found: list[dict[str, Any]] = []
        seen: set[Route] = set()
        for place, route in self.paths.items():
            if route in seen:
                continue
            seen.add(route)
            name = place if isinstance(place, str) else _edge_text(place)
            found.append(record(route.play(sim), f"reach {name}", now=route.now))
        return found

    def report(self) -> str:
        """The exploration as text: coverage, then each kind of problem with a route to it."""
        lines = [f"{self.name}: {self.states} call states explored, {self.requests} requests sent"]
        if self.limit:
            lines.append(f"stopped early ({self.limit}): the results cover what was explored")
        reached, edges = len(self.reached_nodes), len(self.reached_edges)
        lines.append(
            f"nodes reached: {reached} of {len(self.nodes)} ({_percent(self.node_coverage)})"
        )
        lines.append(f"edges taken: {edges} of {len(self.edges)} ({_percent(self.edge_coverage)})")
        if self.unreached_nodes:
            lines.append(f"nodes never reached: {', '.join(self.unreached_nodes)}")
        if self.unreached_edges:
            taken = ", ".join(_edge_text(edge) for edge in self.unreached_edges)
            lines.append(f"edges never taken: {taken}")
        for title, findings in (
            ("endless calls", self.endless),
            ("dead ends", self.dead_ends),
            ("unset variables", self.unset),
            ("collects without valid input", self.no_valid_input),
        ):
            lines.append(f"{title}: {len(findings) if findings else 'none'}")
            lines.extend(f"  {finding}" for finding in findings)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return (
            f"<Exploration {self.name!r}: nodes {_percent(self.node_coverage)}, "
            f"edges {_percent(self.edge_coverage)}, {len(self.endless)} endless, "
            f"{len(self.dead_ends)} dead ends, {len(self.unset)} unset>"
        )


def _edge_text(edge: Edge) -> str:
    return f"{edge[0]} --{edge[1]}--> {edge[2] or '(nothing)'}"


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share in (0.0, 1.0) else f"{share * 100:.1f}%"
