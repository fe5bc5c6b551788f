"""Scenarios: a simulated call as data (steps and expected responses), saved, replayed, reported.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> from jaxl_designer.core.simulator import Simulator
    >>> call = Simulator(acme()).dial()
    >>> _ = call.press("1")
    >>> scenario = record(call, "sales")
    >>> run(acme(), scenario).passed
    True

A scenario answers the flow's lookups from its `lookups`, a list of stubs in their JSON form
(`{"method": "GET", "url": "https://api.example.com/orders/*", "status": 200, "json": {...}}`,
`{"url": "...", "timeout": true}`: see `simulator.Stub`); a step may list the exits its lookups
took (`"lookups": [{"node": "find", "exit": "ok"}]`), checked on replay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import JaxlDesignerError
from .files import write_atomic
from .flow import Flow
from .runtime import (
    CONTEXT_FIELDS,
    DEFAULT_FROM_NUMBER,
    DEFAULT_TO_NUMBER,
    LOOKUP_EXITS,
    is_context_field,
)
from .simulator import Call, Simulator, Stub, StubError

__all__ = ["ScenarioError", "ScenarioResult", "load", "record", "run", "save"]

FORMAT = "jaxl-designer/scenario"
_ACTIONS = ("dial", "press", "enter", "hangup")


class ScenarioError(JaxlDesignerError, ValueError):
    """A scenario file that cannot be read: one line naming the file and the place."""


@dataclass
class ScenarioResult:
    """How a scenario went: `failures` names each step that answered otherwise."""

    name: str
    steps: int
    failures: list[str] = field(default_factory=list)
    call: Call | None = None

    @property
    def passed(self) -> bool:
        """True when every step answered as expected."""
        return not self.failures

    def __str__(self) -> str:
        if self.passed:
            return f"PASS {self.name} ({self.steps} steps)"
        return "\n".join([f"FAIL {self.name}", *(f"  {f}" for f in self.failures)])


def record(call: Call, name: str, *, now: str | None = None) -> dict[str, Any]:
    """A scenario that replays `call` and expects exactly the responses it got."""
    steps = []
    for step in call.steps:
        entry: dict[str, Any] = {"action": step.action}
        if step.value is not None:
            entry["input"] = step.value
        entry["expect"] = step.response
        if step.lookups:
            entry["lookups"] = [{"node": o.node, "exit": o.exit} for o in step.lookups]
        steps.append(entry)
    scenario: dict[str, Any] = {"format": FORMAT, "version": 1, "name": name}
    if now is None and call.sim.now is not None:
        now = call.sim.now.isoformat()
    if now:
        scenario["now"] = now
    scenario["from_number"] = call.from_number
    scenario["to_number"] = call.to_number
    if call.context:
        scenario["context"] = dict(call.context)
    stubs = call.stubs_used()
    if stubs:
        scenario["lookups"] = [stub.to_dict() for stub in stubs]
    scenario["steps"] = steps
    return scenario


def _check(scenario: Any, source: str) -> None:
    def bad(where: str, what: str) -> ScenarioError:
        return ScenarioError(f"{source}: {where}: {what}")

    if not isinstance(scenario, dict) or scenario.get("format") != FORMAT:
        raise bad("format", f'expected "{FORMAT}": this is not a scenario file')
    steps = scenario.get("steps")
    if not isinstance(steps, list) or not steps:
        raise bad("steps", "expected a non-empty list of steps")
    context = scenario.get("context", {})
    if not isinstance(context, dict):
        raise bad("context", 'expected an object like {"direction": "outbound"}')
    for name, value in context.items():
        if not is_context_field(name):
            raise bad(
                f"context.{name}",
                f"not a context field ({', '.join(CONTEXT_FIELDS)}, metadata.<key>)",
            )
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise bad(f"context.{name}", "expected text or a number")
    _stubs(scenario, source)
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict) or step.get("action") not in _ACTIONS:
            raise bad(f"{where}.action", f"expected one of {', '.join(_ACTIONS)}")
        if step["action"] in ("press", "enter") and not isinstance(step.get("input"), str):
            raise bad(f"{where}.input", "expected the keys as a string")
        if index == 0 and step["action"] != "dial":
            raise bad(where, "a scenario starts with a dial step")
        for text in step.get("heard", ()):
            if not isinstance(text, str):
                raise bad(f"{where}.heard", "expected a list of strings")
        taken = step.get("lookups", [])
        if not isinstance(taken, list) or not all(
            isinstance(t, dict) and isinstance(t.get("node"), str) and t.get("exit") in LOOKUP_EXITS
            for t in taken
        ):
            raise bad(f"{where}.lookups", 'expected a list like [{"node": "find", "exit": "ok"}]')


def _stubs(scenario: Mapping[str, Any], source: str) -> list[Stub]:
    """A scenario's lookup stubs; a bad one is a `ScenarioError` naming its place."""
    entries = scenario.get("lookups", [])
    if not isinstance(entries, list):
        raise ScenarioError(f'{source}: lookups: expected a list of stubs like {{"url": ...}}')
    try:
        return [Stub.from_dict(entry, f"lookups[{index}]") for index, entry in enumerate(entries)]
    except StubError as error:
        raise ScenarioError(f"{source}: {error}") from None


def run(flow: Flow | Mapping[str, Any], scenario: Mapping[str, Any]) -> ScenarioResult:
    """Play a scenario against a flow; each step's response must equal `expect` (when given)
    and contain each sentence of `heard` (when given)."""
    source = str(scenario.get("name", "<scenario>"))
    _check(scenario, source)
    sim = Simulator(flow, now=scenario.get("now"), lookups=_stubs(scenario, source))
    call = sim.dial(
        scenario.get("from_number", DEFAULT_FROM_NUMBER),
        scenario.get("to_number", DEFAULT_TO_NUMBER),
        context=scenario.get("context"),
    )
    result = ScenarioResult(
        str(scenario.get("name", "scenario")), len(scenario["steps"]), call=call
    )
    for index, step in enumerate(scenario["steps"]):
        action = step["action"]
        if action == "press":
            call.press(step["input"])
        elif action == "enter":
            call.enter(step["input"])
        elif action == "hangup":
            call.hangup()
        got = call.response
        label = f"step {index + 1} ({action} {step.get('input', '')}".rstrip() + ")"
        if "expect" in step and got != step["expect"]:
            result.failures.append(f"{label}: expected {step['expect']}, got {got}")
        if "lookups" in step:
            wanted = [f"{t['node']} {t['exit']}" for t in step["lookups"]]
            made = call.steps[-1].lookups
            if wanted != [f"{o.node} {o.exit}" for o in made]:
                said = "; ".join(str(o) for o in made) or "none"
                result.failures.append(f"{label}: expected lookups {wanted}, got {said}")
        heard = got.get("prompt") or []
        for sentence in step.get("heard", ()):
            if not any(sentence in line for line in heard):
                result.failures.append(f"{label}: did not hear {sentence!r} in {heard}")
        if call.ended and index + 1 < len(scenario["steps"]):
            later = scenario["steps"][index + 1]["action"]
            if later != "hangup":
                result.failures.append(f"{label}: the call ended, but the scenario goes on")
                break
    return result


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a scenario file, checking its shape; errors are one line naming the place."""
    path = Path(path)
    try:
        scenario = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ScenarioError(f"{path}: not valid JSON: {error}") from None
    _check(scenario, str(path))
    return dict(scenario)


def save(scenario: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a scenario file atomically."""
    _check(scenario, str(path))
    return write_atomic(path, json.dumps(scenario, indent=2, ensure_ascii=False) + "\n")
