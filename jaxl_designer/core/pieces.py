"""Reusable pieces: small flows with named exits, included in a flow as one `subflow` node.

Inside a piece, an edge whose target starts with `@` leaves the piece by that exit: `@confirmed`
continues at whatever the including `subflow` node's `confirmed` edge points to.

Example:
    >>> piece = build("collect_and_confirm", {"var": "account", "prompt": ["Account number?"]})
    >>> sorted(exits(piece))
    ['confirmed', 'gave_up']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import JaxlDesignerError
from .fileformat import FlowFileError, load
from .flow import Flow

__all__ = ["LIBRARY", "PieceError", "build", "describe", "exits"]

_DAYS = ["mon", "tue", "wed", "thu", "fri"]
SORRY = "Sorry, that is not a valid choice."


class PieceError(JaxlDesignerError, ValueError):
    """A piece that cannot be built: unknown name, unreadable file or wrong parameters."""


def collect_and_confirm(
    var: str,
    prompt: list[str] | str = "Please enter the number followed by hash.",
    terminator: str = "#",
    max_length: int | None = None,
    retries: int = 3,
) -> Flow:
    """Collect digits, read them back one by one, press 1 to confirm, 2 to re-enter.

    Exits: `confirmed` (the digits are in `var`), `gave_up` (after `retries` misses).
    """
    flow = Flow("collect_and_confirm")
    flow.collect(
        "ask", prompt, var, terminator=terminator, max_length=max_length, max_invalid=retries
    )
    flow.connect("ask", "ok", "confirm")
    flow.connect("ask", "gave_up", "@gave_up")
    flow.menu(
        "confirm",
        [f"You entered {{{var}:digits}}.", "Press 1 to confirm.", "Press 2 to re-enter."],
        keys={"1": "@confirmed", "2": "ask", "invalid": "sorry", "gave_up": "@gave_up"},
        max_invalid=retries,
    )
    flow.say("sorry", SORRY, then="confirm")
    return flow


def business_hours_gate(
    tz: str = "UTC",
    days: list[str] | None = None,
    start: str = "09:00",
    end: str = "17:00",
    holidays: list[str] | None = None,
) -> Flow:
    """Decide on the clock: exits `open` within the weekly hours, `closed` otherwise."""
    flow = Flow("business_hours_gate")
    rule = {
        "outcome": "open",
        "test": "hours",
        "tz": tz,
        "days": list(days or _DAYS),
        "start": start,
        "end": end,
        "holidays": list(holidays or []),
    }
    flow.branch("hours", [rule], outcomes={"open": "@open", "default": "@closed"})
    return flow


def language_selection(
    languages: list[Mapping[str, str]] | None = None,
    var: str = "language",
    retries: int = 3,
) -> Flow:
    """A menu of languages; each `{"key", "code", "prompt"}` leaves by the exit named `code`.

    The choice is also kept in `var` (as the key pressed) for later branches.
    """
    languages = list(languages or [
        {"key": "1", "code": "english", "prompt": "For English, press 1."},
        {"key": "2", "code": "hindi", "prompt": "For Hindi, press 2. हिंदी के लिए 2 दबाएं।"},
    ])  # fmt: skip
    flow = Flow("language_selection")
    flow.menu(
        "choose",
        [entry["prompt"] for entry in languages],
        keys={str(entry["key"]): f"@{entry['code']}" for entry in languages},
        max_invalid=retries,
    )
    flow.connect("choose", "invalid", "choose")
    flow.connect("choose", "gave_up", f"@{languages[0]['code']}")
    return flow


def order_status(
    url: str = "http://127.0.0.1:8765/orders/{order}",
    var: str = "order",
    prompt: list[str] | str = "Please enter your order number followed by hash.",
    status: str = "status",
    agent: str = "agent.phone",
    timeout: float | None = None,
    retries: int = 3,
) -> Flow:
    """Enter an order number, look it up, hear its status, press 1 to speak to its agent.

    `url` is where the order is looked up (a template reading `var`; its host must be on the
    including flow's `allowed_hosts`); `status` and `agent` are the paths of the order's status
    and its agent's phone number in the JSON answer. An order the backend does not know (or an
    answer without those fields) is asked for again.
    Exits: `unavailable` (the backend did not answer in time, or the agent's number is no
    phone number), `done` (the caller did not ask for the agent), `gave_up`.
    """
    flow = Flow("order_status")
    flow.collect("ask", prompt, var, max_invalid=retries)
    flow.connect("ask", "ok", "find")
    flow.connect("ask", "gave_up", "@gave_up")
    flow.lookup(
        "find",
        url,
        save={"order_status": status, "agent_phone": agent},
        timeout=timeout,
        ok="status",
        failed="unknown",
        timed_out="@unavailable",
    )
    flow.say("unknown", f"Sorry, we could not find order {{{var}:digits}}.", then="ask")
    flow.menu(
        "status",
        [
            f"Order {{{var}:digits}} is {{order_status}}.",
            "To speak to the agent for this order, press 1.",
            "To look up another order, press 2.",
        ],
        keys={"1": "agent", "2": "ask", "invalid": "status", "gave_up": "@done"},
        max_invalid=retries,
    )
    flow.transfer("agent", phone="{agent_phone}", invalid="@unavailable")
    return flow


#: The pieces that ship with jaxl-designer, by name.
LIBRARY: dict[str, Callable[..., Flow]] = {
    "collect_and_confirm": collect_and_confirm,
    "business_hours_gate": business_hours_gate,
    "language_selection": language_selection,
    "order_status": order_status,
}


def build(piece: str, params: Mapping[str, Any] | None = None, base: Path | None = None) -> Flow:
    """The flow of a piece: a library name with its parameters, or a flow file's path."""
    params = dict(params or {})
    if piece in LIBRARY:
        try:
            return LIBRARY[piece](**params)
        except (TypeError, KeyError, ValueError, IndexError) as error:
            raise PieceError(f"piece {piece!r}: bad parameters ({error!r})") from None
    if piece.endswith(".json"):
        if params:
            raise PieceError(f"piece {piece!r}: a flow file takes no parameters")
        path = Path(piece) if base is None else base / piece
        try:
            return load(path)
        except FlowFileError as error:
            raise PieceError(f"piece {piece!r}: {error}") from None
    known = ", ".join(LIBRARY)
    raise PieceError(f"unknown piece {piece!r} (the library has: {known}; or a .json flow file)")


def exits(flow: Flow) -> set[str]:
    """The named exits of a piece: every `@name` its edges lead to."""
    return {target[1:] for _, target in flow.graph.edges() if str(target).startswith("@")}


def describe() -> str:
    """One line per library piece: its name and what it does."""
    lines = []
    for name, function in LIBRARY.items():
        doc = (function.__doc__ or "").strip().splitlines()[0]
        lines.append(f"{name}: {doc}")
    return "\n".join(lines)
