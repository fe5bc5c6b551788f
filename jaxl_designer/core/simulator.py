"""The simulated phone: dial a flow, press keys, enter digits, hang up, and check what was heard.

Every step builds the exact request a real Jaxl call sends, runs it through the same runtime the
exported webhook runs, and keeps the transcript and the path, so a simulated call can be replayed
over HTTP or saved as a scenario.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> call = Simulator(acme()).dial()
    >>> call.press("2")["num_characters"]
    '*'
    >>> call.enter("123*")["prompt"][0]
    'You entered 123.'
    >>> call.press("1")["prompt"]
    ['Thank you.', 'Your order 123 is on its way.']
    >>> call.ended, call.path
    (True, ['main', 'order', 'confirm', 'thanks'])

A flow's lookups are answered by stubs (`Stub`), never by a network unless asked for
(`lookups="http"`); each lookup a call made is in `call.lookups` and in its transcript.
"""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import JaxlDesignerError
from .flow import Flow
from .prepare import prepare
from .runtime import (
    DEFAULT_FROM_NUMBER,
    DEFAULT_TO_NUMBER,
    KEYS,
    CallStore,
    Lookup,
    LookupResult,
    MemoryStore,
    Runtime,
    Turn,
    ends_call,
    event_for,
    request,
)
from .stubs import (
    LookupOutcome,
    Lookups,
    PlaceholderSecrets,
    Stub,
    StubError,
    answer_lookups,
    answers_from,
    stubs_in_turn,
)

__all__ = [
    "Call",
    "CallAssertionError",
    "LookupOutcome",
    "Lookups",
    "Simulator",
    "Step",
    "Stub",
    "StubError",
    "answer_lookups",
    "request",
]

_call_ids = itertools.count(random.randrange(1_000_000, 9_000_000) * 1000)


class CallAssertionError(JaxlDesignerError, AssertionError):
    """A simulated call did not do what a test expected; the message holds the transcript."""


@dataclass
class Step:
    """One thing the caller did, the request it sent, and what the flow answered."""

    action: str
    value: str | None
    request: dict[str, Any]
    response: dict[str, Any]
    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    #: The lookups the flow made before answering, in order.
    lookups: list[LookupOutcome] = field(default_factory=list)


class Simulator:
    """Calls a flow in process, with a settable clock and any number of calls at once.

    `env` names the environment whose values fill the flow's `{{parameters}}`. `lookups` says
    what answers the flow's lookups (see `Lookups`): without stubs, a lookup fails, saying
    "no stub for GET https://...". `secrets` are the values of `${NAME}` in lookup headers:
    by default `<NAME>` for stubs (no real secret is needed), the environment for real HTTP.
    """

    def __init__(
        self,
        flow: Flow | Mapping[str, Any],
        *,
        now: datetime.datetime | str | None = None,
        store: CallStore | None = None,
        pk: int = 1,
        env: str | Mapping[str, Any] | None = None,
        lookups: Lookups = None,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(flow, Flow):
            flow = prepare(flow, env)
        document = flow.to_document() if isinstance(flow, Flow) else dict(flow)
        self.pk = pk
        self.now: datetime.datetime | None = None
        if now is not None:
            self.set_time(now)
        #: The stubs answering lookups, or the function that asks (`perform_lookup` for "http").
        self.answers = answers_from(lookups)
        if secrets is None and isinstance(self.answers, list):
            secrets = PlaceholderSecrets()
        self.runtime = Runtime(document, store or MemoryStore(), clock=self._clock, secrets=secrets)

    def set_time(self, now: datetime.datetime | str | None) -> None:
        """Freeze the clock business-hours branches see (ISO text or an aware datetime)."""
        if isinstance(now, str):
            now = datetime.datetime.fromisoformat(now)
        if now is not None and now.tzinfo is None:
            raise ValueError("give the time with its zone, like 2026-11-24T10:00:00+05:30")
        self.now = now

    def _clock(self) -> float:
        if self.now is None:
            return datetime.datetime.now(datetime.timezone.utc).timestamp()
        return self.now.timestamp()

    def dial(
        self,
        from_number: str = DEFAULT_FROM_NUMBER,
        to_number: str = DEFAULT_TO_NUMBER,
        *,
        call_id: int | None = None,
        context: Mapping[str, str] | None = None,
        lookups: Lookups = None,
    ) -> Call:
        """Place a call: sends the setup event and returns the call, already answered.

        `context` is the call's context by the names a flow reads it: `direction` ("inbound" or
        "outbound"), `metadata.<key>`, `campaign_id`, `campaign_type`, `org.name`, `org.id`,
        `voice.lang`. Every request of the call carries it, as Jaxl's do; a name that is none
        of these is a ValueError (from `request`, which writes the context into each request).
        `lookups`, when given, answer this call's lookups instead of the simulator's.
        """
        call = Call(
            self,
            next(_call_ids) if call_id is None else call_id,
            from_number,
            to_number,
            {str(k): str(v) for k, v in (context or {}).items()},
            lookups=None if lookups is None else answers_from(lookups),
        )
        call._send("dial", None, event=event_for("dial"))
        return call

    def ping(self) -> dict[str, Any]:
        """Send the configure ping Jaxl sends when a number is assigned to the IVR."""
        return self.runtime.respond(
            {"pk": self.pk, "event": event_for("dial"), "state": None}
        ).response


class Call:
    """One simulated call: `press`, `enter` and `hangup` return the flow's response."""

    def __init__(
        self,
        sim: Simulator,
        call_id: int,
        from_number: str,
        to_number: str,
        context: dict[str, str] | None = None,
        *,
        lookups: list[Stub] | Callable[[Lookup], LookupResult] | None = None,
    ) -> None:
        self.sim = sim
        self.call_id = call_id
        self.from_number = from_number
        self.to_number = to_number
        #: The call's context (direction, metadata…), by the names a flow reads it.
        self.context: dict[str, str] = context or {}
        self.steps: list[Step] = []
        self.ended = False
        self._option: str | None = None
        #: What answers this call's lookups: its own, or the simulator's.
        self.answers = sim.answers if lookups is None else lookups
        self._uses: dict[tuple[str, str], int] = {}  # answers given per (method, stub URL)

    def _answer(self, lookup: Lookup) -> tuple[LookupResult, Stub | None]:
        answers = self.answers
        if not isinstance(answers, list):
            result = answers(lookup)
            return result, Stub.of(lookup, result)
        first = next((s for s in answers if s.matches(lookup.method, lookup.url)), None)
        if first is None:
            return LookupResult(error=f"no stub for {lookup.method} {lookup.url}"), None
        key = (lookup.method, first.url)
        group = stubs_in_turn(answers, key)
        used = self._uses.get(key, 0)
        self._uses[key] = used + 1
        stub = group[min(used, len(group) - 1)]
        return stub.result(), stub

    # -- the caller's actions ---------------------------------------------------------------
    def press(self, key: str) -> dict[str, Any]:
        """Press one key (`0`-`9`, `*`, `#`) at a menu."""
        key = str(key)
        if key not in KEYS:
            raise ValueError(f"{key!r} is not a key of a phone keypad (0-9, *, #)")
        self._option = key
        return self._send("press", key, event=event_for("press"), option=key)

    def enter(self, digits: str) -> dict[str, Any]:
        """Type digits for a collect, with its terminator when it has one (`"123*"`)."""
        digits = str(digits)
        if not digits:
            raise ValueError("enter() needs at least one key")
        event = event_for("enter", pressed=self._option is not None)
        return self._send("enter", digits, event=event, option=self._option, data=digits)

    def hangup(self) -> dict[str, Any]:
        """Hang up: sends the teardown event."""
        response = self._send("hangup", None, event=event_for("hangup"))
        self.ended = True
        return response

    def _send(self, action: str, value: str | None, *, event: int, **fields: Any) -> dict[str, Any]:
        if self.ended and action != "hangup":
            raise CallAssertionError(f"call {self.call_id} has ended; it cannot {action}")
        payload = request(
            event,
            self.call_id,
            from_number=self.from_number,
            to_number=self.to_number,
            pk=self.sim.pk,
            context=self.context,
            **fields,
        )
        turn: Turn = self.sim.runtime.respond(payload)
        turn, lookups = answer_lookups(self.sim.runtime, turn, self._answer)
        step = Step(action, value, payload, turn.response, turn.nodes, turn.edges, lookups)
        self.steps.append(step)
        if action != "hangup" and ends_call(turn.response):
            self.ended = True
        return turn.response

    # -- what happened ----------------------------------------------------------------------
    @property
    def response(self) -> dict[str, Any]:
        """The flow's last response."""
        return self.steps[-1].response

    @property
    def path(self) -> list[str]:
        """Every node the call went through, in order."""
        return [node for step in self.steps for node in step.nodes]

    @property
    def edges(self) -> list[tuple[str, str, str]]:
        """Every edge the call took, as (source, key, target)."""
        return [edge for step in self.steps for edge in step.edges]

    @property
    def lookups(self) -> list[LookupOutcome]:
        """Every lookup the call made, in order: node, exit, why, what was asked and answered."""
        return [outcome for step in self.steps for outcome in step.lookups]

    def stubs_used(self) -> list[Stub]:
        """The stubs that answered this call, enough to answer a replay of it exactly alike.

        With stubs, those that answered, in their order (of several for one request, those
        used); with real HTTP, a stub per answer that came, in order.
        """
        answers = self.answers
        if isinstance(answers, list):
            used: set[int] = set()
            for (method, url), count in self._uses.items():
                group = [
                    i for i, s in enumerate(answers) if s.url == url and s.method in (None, method)
                ]
                used.update(group[:count])
            return [answers[index] for index in sorted(used)]
        found: dict[tuple[str | None, str], list[Stub]] = {}
        order: list[tuple[tuple[str | None, str], int]] = []
        for outcome in self.lookups:
            if outcome.answer is None:
                continue
            asked = (outcome.answer.method, outcome.answer.url)
            order.append((asked, len(found.setdefault(asked, []))))
            found[asked].append(outcome.answer)
        for answers_of in found.values():  # the last answer repeats: drop its repeats
            while len(answers_of) > 1 and answers_of[-1] == answers_of[-2]:
                answers_of.pop()
        return [found[asked][rank] for asked, rank in order if rank < len(found[asked])]

    @property
    def heard(self) -> list[str]:
        """Every sentence the caller heard, in order."""
        return [line for step in self.steps for line in step.response.get("prompt") or ()]

    @property
    def transfer(self) -> dict[str, Any] | None:
        """The transfer the call ended in (the CTA), or None."""
        last = self.steps[-1].response if self.steps else {}
        return None if "prompt" in last else last

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """The call as (who, what) lines: `("ivr", sentence)` and `("caller", keys)`."""
        lines: list[tuple[str, str]] = []
        for step in self.steps:
            if step.action in ("press", "enter"):
                lines.append(("caller", str(step.value)))
            elif step.action == "hangup":
                lines.append(("caller", "(hangs up)"))
            lines.extend(("ivr", f"(lookup at {outcome})") for outcome in step.lookups)
            response = step.response
            lines.extend(("ivr", line) for line in response.get("prompt") or ())
            if "prompt" not in response:
                lines.append(("ivr", f"(transfers the call: {_describe(response)})"))
            elif ends_call(response) and step.action != "hangup":
                lines.append(("ivr", "(hangs up)"))
        return lines

    def script(self) -> str:
        """The transcript as text, one line each: `IVR: …` and `You: …`."""
        who = {"ivr": "IVR", "caller": "You"}
        return "\n".join(f"{who[speaker]}: {text}" for speaker, text in self.transcript)

    def __repr__(self) -> str:
        state = "ended" if self.ended else f"waiting at {self.path[-1] if self.path else '?'}"
        return f"<Call {self.call_id}: {len(self.steps)} steps, {state}>"

    # -- assertions for tests ---------------------------------------------------------------
    def _fail(self, message: str) -> None:
        raise CallAssertionError(f"{message}\n--- transcript ---\n{self.script()}")

    def assert_heard(self, sentence: str) -> None:
        """Fail unless the caller heard a sentence containing `sentence`."""
        if not any(sentence in line for line in self.heard):
            self._fail(f"the caller never heard {sentence!r}")

    def assert_not_heard(self, sentence: str) -> None:
        """Fail if the caller heard a sentence containing `sentence`."""
        if any(sentence in line for line in self.heard):
            self._fail(f"the caller heard {sentence!r}")

    def assert_transferred(self, **target: Any) -> None:
        """Fail unless the call ended in a transfer, e.g. `phone="+918000000001"` or `teams=[1]`."""
        cta = self.transfer
        if cta is None:
            self._fail("the call did not end in a transfer")
            return
        for kind, wanted in target.items():
            got = (cta.get("phone") or {}).get("to_number") if kind == "phone" else cta.get(kind)
            if kind == "ivr":
                got = cta.get("next")
            if got != wanted:
                self._fail(f"the call was transferred to {_describe(cta)}, not {kind} {wanted!r}")

    def assert_hung_up(self) -> None:
        """Fail unless the flow ended the call by hanging up."""
        if not self.steps or self.response.get("num_characters") != 0:
            self._fail("the flow did not hang up")

    def assert_path(self, *nodes: str) -> None:
        """Fail unless the call went through `nodes` in this order (others may come between)."""
        remaining = iter(self.path)
        for node in nodes:
            if node not in remaining:
                self._fail(f"the path {self.path} does not pass through {list(nodes)} in order")

    def assert_lookup(self, node: str, exit: str) -> None:
        """Fail unless a lookup at `node` took `exit` (`ok`, `failed` or `timeout`)."""
        taken = [outcome.exit for outcome in self.lookups if outcome.node == node]
        if exit not in taken:
            said = f"took {', '.join(taken)}" if taken else "never ran"
            self._fail(f"the lookup at {node!r} {said}, not {exit!r}")

    def assert_waiting_at(self, node: str) -> None:
        """Fail unless the call is waiting for the caller at `node`."""
        if self.ended or not self.path or self.path[-1] != node:
            self._fail(f"the call is not waiting at {node!r}")


def _describe(cta: Mapping[str, Any]) -> str:
    if cta.get("phone"):
        return f"phone {cta['phone'].get('to_number')}"
    for kind in ("devices", "appusers", "teams"):
        if cta.get(kind):
            return f"{kind} {', '.join(str(i) for i in cta[kind])}"
    return f"IVR {cta.get('next')}"
