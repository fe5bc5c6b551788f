"""Hypothesis strategies for sound flows: random call trees that validate() finds no error in."""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import KEYS
from jaxl_designer.core.validation import errors, validate

__all__ = ["VARIABLES", "valid_flows"]

#: The variables random collects store; branches and prompts read the same names.
VARIABLES = ("order", "pin", "lang")
_WORDS = st.sampled_from(["Welcome.", "Thank you.", "नमस्ते।", "Acme {{ok}}.", "Hours: 9-6."])
_PATTERNS = st.sampled_from([None, None, "[0-9]+", "1[0-9]*", "[12]", "[0-9]{3}", "0?[1-9]+"])
_RULE_VALUES = st.sampled_from(["1", "2", "12", "123", "+91", "+1", "99"])


@st.composite
def _rule(draw: st.DrawFn, outcome: str) -> dict[str, Any]:
    test = draw(st.sampled_from(["equals", "one_of", "prefix", "matches", "is_set", "hours"]))
    if test == "hours":
        start, end = draw(
            st.sampled_from([("09:00", "18:00"), ("22:00", "06:00"), ("00:00", "24:00")])
        )
        rule: dict[str, Any] = {"outcome": outcome, "test": "hours", "start": start, "end": end}
        rule["tz"] = draw(st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]))
        if draw(st.booleans()):
            rule["days"] = draw(st.lists(st.sampled_from(["mon", "tue", "sat"]), unique=True))
        if draw(st.booleans()):
            rule["holidays"] = ["2026-01-06"]
        return rule
    subject = draw(st.sampled_from([*VARIABLES, "from_number", "to_number"]))
    rule = {"outcome": outcome, "test": test, "subject": subject}
    if test == "one_of":
        rule["values"] = draw(st.lists(_RULE_VALUES, min_size=1, max_size=3))
    elif test == "matches":
        rule["value"] = draw(st.sampled_from(["[12]", "1.*", r"\+91[0-9]+", "[0-9]{3}"]))
    elif test != "is_set":
        rule["value"] = draw(_RULE_VALUES)
    return rule


def _prompt(draw: st.DrawFn, extra: list[str], reads: str | None = None) -> list[str]:
    lines = draw(st.lists(_WORDS, min_size=1, max_size=2))
    if reads:
        lines.append(f"You entered {{{reads}:digits}}, that is {{{reads}}}.")
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["From {from_number}.", "{{{{literal}}}}"])))
    if draw(st.booleans()):
        name = draw(st.sampled_from(VARIABLES))
        lines.append(draw(st.sampled_from([f"You entered {{{name}}}.", f"{{{name}:digits}}"])))
    return lines + extra


@st.composite
def valid_flows(draw: st.DrawFn, max_nodes: int = 8) -> Flow:
    """A random flow that validates without errors (warnings allowed).

    Says and branches only lead to later nodes, so no silent loop; menus and collects may lead
    anywhere, back to the start included. The last node hangs up or transfers. Prompts that read
    a variable some path leaves unset are replaced by plain text, as a designer would fix them.
    """
    size = draw(st.integers(1, max_nodes))
    kinds = [
        draw(st.sampled_from(["menu", "collect", "say", "branch", "hangup", "transfer"]))
        for _ in range(size - 1)
    ]
    kinds.append(draw(st.sampled_from(["hangup", "transfer"])))
    ids = [f"n{index}" for index in range(size)]
    recovery = draw(
        st.none()
        | st.just({"action": "hangup", "prompt": ["Sorry, please call again."]})
        | st.just({"action": "restart", "prompt": ["Let us start again."]})
    )
    flow = Flow("random", recovery=recovery)

    def anywhere() -> str:
        return draw(st.sampled_from(ids))

    def later(index: int) -> str:
        return draw(st.sampled_from(ids[index + 1 :]))

    reads: dict[str, str] = {}  # a node right after a collect often reads its value back
    for index, (node, kind) in enumerate(zip(ids, kinds, strict=True)):
        read = reads.get(node)
        if kind == "menu":
            keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
            edges = {key: anywhere() for key in keys}
            announce = [f"Press {key} for option {key}." for key in keys]
            limit = draw(st.none() | st.integers(1, 3))
            if limit:
                edges["gave_up"] = anywhere()
            if draw(st.booleans()):
                edges["invalid"] = anywhere()
            flow.menu(node, _prompt(draw, announce, read), keys=edges, max_invalid=limit)
        elif kind == "collect":
            fields: dict[str, Any] = {"pattern": draw(_PATTERNS)}
            if draw(st.booleans()):
                fields["length"] = draw(st.integers(2, 6))
            else:
                fields["terminator"] = draw(st.sampled_from(["*", "#"]))
                low = draw(st.none() | st.integers(1, 4))
                high = draw(st.none() | st.integers(low or 1, 12))
                fields.update(min_length=low, max_length=high)
            limit = draw(st.none() | st.integers(1, 3))
            var = draw(st.sampled_from(VARIABLES))
            then = anywhere()
            if index + 1 < size and draw(st.booleans()):
                then = ids[index + 1]
                reads[then] = var
            flow.collect(
                node,
                _prompt(draw, [], read),
                var,
                then=then,
                invalid=anywhere() if draw(st.booleans()) else None,
                max_invalid=limit,
                **fields,
            )
            if limit:
                flow.connect(node, "gave_up", anywhere())
        elif kind == "say":
            flow.say(node, _prompt(draw, [], read), then=later(index))
        elif kind == "branch":
            outcomes = draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True))
            rules = [draw(_rule(outcome)) for outcome in outcomes]
            edges = {outcome: later(index) for outcome in outcomes}
            flow.branch(node, rules, outcomes={**edges, "default": later(index)})
        elif kind == "hangup":
            flow.hangup(node, _prompt(draw, [], read) if read or draw(st.booleans()) else [])
        else:
            target = draw(st.sampled_from(["phone", "teams", "ivr", "devices"]))
            value: Any = {"phone": "+918000000001", "ivr": 42}.get(target, [7, 8])
            flow.transfer(node, **{target: value})
    _drop_unset_reads(flow)
    assume(not errors(validate(flow)))
    return flow


def _drop_unset_reads(flow: Flow) -> None:
    """Replace prompt lines reading a variable that may be unset at their node."""
    for problem in validate(flow):
        if problem.code == "maybe-unset" and problem.node is not None:
            name = problem.message.split("}")[0].lstrip("{")
            prompt = flow.node(problem.node)["prompt"]
            kept = [line for line in prompt if "{" + name not in line]
            flow.update(problem.node, prompt=kept or ["Hello."])
