"""Generated flows of any size, shaped like real IVRs, for tests and benchmarks.

Example:
    >>> flow = big_flow(50)
    >>> len(flow), flow.entry, flow.edges("main")["1"]
    (50, 'main', 'menu_1')
"""

from __future__ import annotations

from .flow import Flow

__all__ = ["FANOUT", "big_flow"]

#: How many forward keys (1 to 8) a generated menu has; 9 always leads back to main.
FANOUT = 8
_LEAVES = ("transfer", "say", "collect", "hangup", "branch")


def _kind(flow_size: int, index: int) -> str:
    has_children = index * FANOUT + 1 < flow_size
    return "menu" if has_children else _LEAVES[index % len(_LEAVES)]


def _node_id(flow_size: int, index: int) -> str:
    return "main" if index == 0 else f"{_kind(flow_size, index)}_{index}"


def _menu(flow: Flow, size: int, index: int) -> None:
    children = range(index * FANOUT + 1, min(index * FANOUT + FANOUT, size - 1) + 1)
    keys = {str(n + 1): _node_id(size, child) for n, child in enumerate(children)}
    prompt = [f"Menu {index}."]
    prompt += [f"Press {key} for {target.replace('_', ' ')}." for key, target in keys.items()]
    prompt.append("Press 9 for the main menu.")
    flow.menu(
        _node_id(size, index),
        prompt,
        keys={**keys, "9": "main", "invalid": "main", "gave_up": "main"},
        max_invalid=3,
    )


def _leaf(flow: Flow, size: int, index: int) -> None:
    node = _node_id(size, index)
    parent = _node_id(size, (index - 1) // FANOUT)
    kind = _kind(size, index)
    if kind == "transfer":
        flow.transfer(node, phone=f"+91800{index:07d}")
    elif kind == "say":
        flow.say(node, f"Option {index}: our office is open nine to six.", then="main")
    elif kind == "collect":
        prompt = f"Enter your account number for option {index}, then hash."
        flow.collect(node, prompt, f"account_{index}", then="main", invalid=parent)
    elif kind == "hangup":
        flow.hangup(node, f"Option {index}: thank you for calling. Goodbye.")
    else:
        rule = {"outcome": "open", "test": "hours", "tz": "Asia/Kolkata", "start": "09:00"}
        flow.branch(node, [{**rule, "end": "18:00"}], outcomes={"open": parent, "default": "main"})


def big_flow(n: int) -> Flow:
    """A flow of `n` nodes: a tree of menus of up to 9 keys, leaves of every other kind.

    Menus lead on by keys 1 to 8 and back to `main` by 9, `invalid` and `gave_up`; leaves are
    transfers, says, collects, hang-ups and branches, several of which lead back to `main` or
    to their menu, as real IVRs do. The same `n` gives the same flow.

    Args:
        n: How many nodes (at least 1).

    Returns:
        The flow, named `big-{n}`, entry `main`.
    """
    if n < 1:
        raise ValueError(f"a flow has at least one node, not {n}")
    flow = Flow(f"big-{n}", description=f"A generated flow of {n} nodes.")
    for index in range(n):
        if _kind(n, index) == "menu" or index == 0:
            _menu(flow, n, index)
        else:
            _leaf(flow, n, index)
    return flow
