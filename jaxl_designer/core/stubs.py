"""Canned answers to a flow's lookups (stubs), and the loop that answers a turn's lookups.

A simulated call, a scenario and the explorer answer lookups the same way: each lookup a turn
waits on is answered (by a stub, or by asking the backend for real) and the runtime resumed,
and what each lookup did is kept as a `LookupOutcome`.

Example:
    >>> stub = Stub.json("https://api.example.com/orders/*", {"status": "shipped"})
    >>> stub.matches("GET", "https://api.example.com/orders/17")
    True
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import JaxlDesignerError
from .lookups import perform_lookup
from .runtime import LOOKUP_METHODS, Lookup, LookupResult, Runtime, Turn

__all__ = [
    "LookupOutcome",
    "Lookups",
    "PlaceholderSecrets",
    "Stub",
    "StubError",
    "answer_lookups",
    "answers_from",
    "stubs_in_turn",
]


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


def stubs_in_turn(stubs: list[Stub], key: tuple[str, str]) -> list[Stub]:
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


def answers_from(
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


class PlaceholderSecrets(Mapping[str, str]):
    """Secrets for stubbed lookups: `${NAME}` reads `<NAME>`, so no real secret is needed."""

    def __getitem__(self, name: str) -> str:
        return f"<{name}>"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
