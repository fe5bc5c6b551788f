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
import functools
import itertools
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import JaxlDesignerError
from .flow import Flow
from .lookups import perform_lookup
from .prepare import prepare
from .runtime import (
    DEFAULT_FROM_NUMBER,
    DEFAULT_TO_NUMBER,
    KEYS,
    LOOKUP_METHODS,
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


class StubError(JaxlDesignerError, ValueError):
    """A stub that cannot answer a lookup: one line naming its place and field."""


_STUB_FIELDS = ("method", "url", "status", "json", "body", "timeout", "error")


@dataclass(frozen=True)
class Stub:
    """A canned answer to a lookup, chosen by the lookup's method and URL.

    `url` is the exact URL the lookup asks (its values filled in and quoted), or a pattern in
    which `*` stands for any run of characters (`https://api.example.com/orders/*`); `method`
    None answers any method. The answer is `status` with `body` (JSON text: see `Stub.json`),
    or no answer at all: `timeout`, or `error` (why nothing came, as a refused connection).

    The first stub that matches a lookup answers it. Stubs with the same URL (that match the
    lookup's method) answer a call's repeated lookups in turn, the last one repeating: one stub
    answers every time.
    """

    url: str
    method: str | None = None
    status: int = 200
    body: bytes = b""
    timeout: bool = False
    error: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.body, str):  # text given for the body: sent as UTF-8
            object.__setattr__(self, "body", self.body.encode("utf-8"))

    @classmethod
    def json(cls, url: str, data: Any, *, method: str | None = None, status: int = 200) -> Stub:
        """A stub answering `status` with `data` as JSON."""
        return cls(url, method, status, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    @classmethod
    def from_dict(cls, entry: Any, where: str = "lookups[0]") -> Stub:
        """A stub from its JSON form: `{"method": "GET", "url": "...", "status": 200, "json":
        {...}}`, `"body": "text"` for a body that is not JSON, `"timeout": true` or `"error":
        "why"` for no answer. A bad one is a `StubError` naming `where` and the field."""

        def bad(name: str, what: str) -> StubError:
            return StubError(f"{where}{'.' + name if name else ''}: {what}")

        if not isinstance(entry, Mapping):
            raise bad("", 'expected a stub like {"url": "https://...", "json": {...}}')
        for name in entry:
            if name not in _STUB_FIELDS:
                raise bad(str(name), f"unknown field (a stub has {', '.join(_STUB_FIELDS)})")
        url = entry.get("url")
        if not isinstance(url, str) or not url.strip():
            raise bad("url", "expected the URL the lookup asks, or a pattern with *")
        method = entry.get("method")
        if method is not None and (not isinstance(method, str) or method not in LOOKUP_METHODS):
            raise bad("method", f"expected one of {', '.join(LOOKUP_METHODS)}")
        status = entry.get("status", 200)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise bad("status", "expected an HTTP status, 100 to 599")
        timeout, error = entry.get("timeout", False), entry.get("error", "")
        if not isinstance(timeout, bool):
            raise bad("timeout", "expected true or false")
        if not isinstance(error, str):
            raise bad("error", "expected why no answer came, as text")
        if "json" in entry and "body" in entry:
            raise bad("body", "give json or body, not both")
        if (timeout or error) and ({"json", "body", "status"} & set(entry)):
            said = "timeout" if timeout else "error"
            raise bad(said, "a stub that gives no answer has no status, json or body")
        if timeout and error:
            raise bad("error", "give timeout or error, not both")
        body = entry.get("body", "")
        if not isinstance(body, str):
            raise bad("body", "expected text (use json for a JSON answer)")
        if "json" in entry:
            try:
                body = json.dumps(entry["json"], ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError):
                raise bad("json", "expected a JSON value") from None
        return cls(url, method, status, body.encode("utf-8"), timeout, error)

    def to_dict(self) -> dict[str, Any]:
        """The stub's JSON form, as `from_dict` reads it (the body as `json` when it is JSON)."""
        entry: dict[str, Any] = {} if self.method is None else {"method": self.method}
        entry["url"] = self.url
        if self.timeout:
            entry["timeout"] = True
        elif self.error:
            entry["error"] = self.error
        else:
            entry["status"] = self.status
            if self.body:
                text = self.body.decode("utf-8", "replace")
                try:
                    entry["json"] = json.loads(text, parse_constant=_no_constant)
                except ValueError:
                    entry["body"] = text
        return entry

    @classmethod
    def of(cls, lookup: Lookup, result: LookupResult) -> Stub:
        """The stub that answers `lookup` (exactly its method and URL) as `result` did."""
        if result.timed_out:
            return cls(lookup.url, lookup.method, timeout=True)
        if result.error or not result.status:
            return cls(lookup.url, lookup.method, error=result.error or "no answer")
        return cls(lookup.url, lookup.method, result.status, result.body)

    def matches(self, method: str, url: str) -> bool:
        """Whether this stub answers a lookup asking `method` `url`."""
        if self.method is not None and self.method != method:
            return False
        return url == self.url or (
            "*" in self.url and _pattern(self.url).fullmatch(url) is not None
        )

    def result(self) -> LookupResult:
        """What the runtime is given for this answer."""
        if self.timeout:
            return LookupResult(timed_out=True)
        if self.error:
            return LookupResult(error=self.error)
        return LookupResult(self.status, self.body)

    def __str__(self) -> str:
        asked = f"{self.method or 'any method'} {self.url}"
        if self.timeout:
            return f"{asked}: no answer (timeout)"
        if self.error:
            return f"{asked}: no answer ({self.error})"
        return f"{asked}: {self.status} {self.body.decode('utf-8', 'replace')[:60]}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no JSON value")


def _group(stubs: list[Stub], key: tuple[str, str]) -> list[Stub]:
    """The stubs that answer a request by `key` (its method, a stub's URL) in turn."""
    method, url = key
    return [stub for stub in stubs if stub.url == url and stub.method in (None, method)]


@functools.lru_cache(maxsize=256)
def _pattern(url: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in url.split("*")), re.DOTALL)


@dataclass(frozen=True)
class LookupOutcome:
    """One lookup a call made: the node, the exit it took and why, what it asked and the answer.

    `method` and `url` are empty, and `answer` None, for a lookup the runtime refused to make
    (a host not on `allowed_hosts`, a secret not set): it fails without asking. `answer` is the
    stub that answered (for real HTTP, a stub giving what came back), None when none matched.
    """

    node: str
    exit: str
    why: str
    method: str = ""
    url: str = ""
    answer: Stub | None = None

    def __str__(self) -> str:
        asked = f"{self.method} {self.url}" if self.url else "not asked"
        return f"{self.node}: {asked} → {self.exit} ({self.why})"


#: What answers a simulated call's lookups: stubs (`Stub`, or their JSON form), "http" to ask
#: the backends for real (`core.lookups.perform_lookup`), or a function of the lookup.
Lookups = Iterable[Stub | Mapping[str, Any]] | Callable[[Lookup], LookupResult] | str | None
_Answer = Callable[[Lookup], tuple[LookupResult, Stub | None] | None]


def answer_lookups(
    runtime: Runtime, turn: Turn, answer: _Answer
) -> tuple[Turn, list[LookupOutcome]]:
    """Answer each lookup `turn` waits on with `answer(lookup)` (a result and the stub it came
    from), resuming the runtime, until the turn is answered or `answer` gives None (the turn
    then still waits). Returns the turn and each lookup made on the way, in order."""
    outcomes: list[LookupOutcome] = []
    done = 0
    while True:
        # Lookups the runtime refused to make: they failed without waiting on anything.
        outcomes += [LookupOutcome(n, k, w) for n, k, w in turn.lookups[done:]]
        done = len(turn.lookups)
        lookup = turn.lookup
        if lookup is None:
            return turn, outcomes
        got = answer(lookup)
        if got is None:
            return turn, outcomes
        result, stub = got
        turn = runtime.resume(turn, result)
        node, key, why = turn.lookups[done]
        outcomes.append(LookupOutcome(node, key, why, lookup.method, lookup.url, stub))
        done += 1


def _answerer(
    lookups: Lookups, where: str = "lookups"
) -> list[Stub] | Callable[[Lookup], LookupResult]:
    """Stubs, or the function that asks, from what a simulator or a call is given."""
    if lookups is None:
        return []
    if isinstance(lookups, str):
        if lookups != "http":
            raise StubError(f'{where}: expected stubs, "http" or a function, not {lookups!r}')
        return perform_lookup
    if isinstance(lookups, Mapping):
        raise StubError(f"{where}: expected a list of stubs, not one")
    if callable(lookups):
        return lookups
    return [
        entry if isinstance(entry, Stub) else Stub.from_dict(entry, f"{where}[{index}]")
        for index, entry in enumerate(lookups)
    ]


class _Placeholders(Mapping[str, str]):
    """Secrets for stubbed lookups: `${NAME}` reads `<NAME>`, so no real secret is needed."""

    def __getitem__(self, name: str) -> str:
        return f"<{name}>"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


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
        self.answers = _answerer(lookups)
        if secrets is None and isinstance(self.answers, list):
            secrets = _Placeholders()
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
            lookups=None if lookups is None else _answerer(lookups),
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
        group = _group(answers, key)
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
