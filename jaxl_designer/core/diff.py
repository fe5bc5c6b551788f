"""Flow diff: what changed between two versions of a flow, one `Change` per difference.

The core says what changed; `jaxl_designer.drawing.diff`, a layer above, draws it.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> old, new = acme(), acme()
    >>> new.update("confirm", prompt=["You entered {order}.", "Press 1 to accept."])
    >>> new.connect("main", "3", "sales")
    >>> print(diff(old, new))
    main: key 3 added → sales
    node confirm: prompt line 2 changed from 'Press 1 to confirm.' to 'Press 1 to accept.'
    node confirm: prompt line 3 removed (was 'Press 2 to re-enter.')
    >>> print(diff(old, old))
    no changes
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .flow import FIELDS, Flow
from .runtime import KEYS

__all__ = ["Change", "FlowDiff", "diff"]

_FLOW_FIELDS = ("name", "description", "recovery", "environments", "allowed_hosts")


@dataclass(frozen=True)
class Change:
    """One difference: `status` is added, removed or changed; `node`/`key` say where."""

    status: str
    text: str
    node: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        return self.text


@dataclass
class FlowDiff:
    """Every difference between an old and a new flow; layout (positions) is not compared."""

    old: Flow
    new: Flow
    changes: list[Change] = field(default_factory=list)
    #: True when node positions differ; such changes alone are not differences.
    layout_moved: bool = False

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __str__(self) -> str:
        if not self.changes:
            return "no changes (only the layout differs)" if self.layout_moved else "no changes"
        return "\n".join(change.text for change in self.changes)

    def node_status(self, node: str) -> str:
        """`added`, `removed`, `changed` or `same` for a node of either flow."""
        if node not in self.old:
            return "added"
        if node not in self.new:
            return "removed"
        changed = any(c.node == node and c.key is None for c in self.changes)
        return "changed" if changed else "same"


def _words(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(repr(item) for item in value) + "]"
    return str(value)


def _edge_name(key: str) -> str:
    return f"key {key}" if key in KEYS else f"{key} edge"


def _prompt_changes(node: str, old: list[str], new: list[str]) -> Iterator[Change]:
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            continue
        paired = min(a2 - a1, b2 - b1) if op == "replace" else 0
        for i in range(paired):
            yield Change(
                "changed",
                f"node {node}: prompt line {b1 + i + 1} changed from "
                f"{old[a1 + i]!r} to {new[b1 + i]!r}",
                node,
            )
        for i in range(a1 + paired, a2):
            yield Change(
                "changed", f"node {node}: prompt line {i + 1} removed (was {old[i]!r})", node
            )
        for i in range(b1 + paired, b2):
            yield Change("changed", f"node {node}: prompt line {i + 1} added: {new[i]!r}", node)


def _value_changes(where: str, old: Any, new: Any, node: str | None) -> Iterator[Change]:
    """Changes between two values, going into dicts key by key so the words name the place."""
    if old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            inner = f"{where}.{key}"
            if key not in new:
                yield Change("changed", f"{inner} removed (was {_words(old[key])})", node)
            elif key not in old:
                yield Change("changed", f"{inner} set to {_words(new[key])}", node)
            else:
                yield from _value_changes(inner, old[key], new[key], node)
        return
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and all(isinstance(item, Mapping) for item in [*old, *new])
    ):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            yield from _value_changes(f"{where}[{index + 1}]", before, after, node)
        return
    yield Change("changed", f"{where} changed from {_words(old)} to {_words(new)}", node)


def _node_changes(node: str, old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    if old["kind"] != new["kind"]:
        yield Change(
            "changed", f"node {node}: kind changed from {old['kind']} to {new['kind']}", node
        )
    fields = dict.fromkeys([*FIELDS[old["kind"]], *FIELDS[new["kind"]]])
    for name in fields:
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name == "prompt" and isinstance(before, list) and isinstance(after, list):
            yield from _prompt_changes(node, before, after)
        elif before is None:
            yield Change("changed", f"node {node}: {name} set to {_words(after)}", node)
        elif after is None:
            yield Change("changed", f"node {node}: {name} removed (was {_words(before)})", node)
        else:
            yield from _value_changes(f"node {node}: {name}", before, after, node)


def _edge_changes(node: str, old: dict[str, str], new: dict[str, str]) -> Iterator[Change]:
    for key in [*new, *(k for k in old if k not in new)]:
        name = _edge_name(key)
        if key not in old:
            yield Change("added", f"{node}: {name} added → {new[key]}", node, key)
        elif key not in new:
            yield Change("removed", f"{node}: {name} removed (went to {old[key]})", node, key)
        elif old[key] != new[key]:
            yield Change(
                "changed", f"{node}: {name} now goes to {new[key]} (was {old[key]})", node, key
            )


def diff(a: Flow, b: Flow) -> FlowDiff:
    """The differences from flow `a` (old) to flow `b` (new), one `Change` per difference.

    Args:
        a: The old flow.
        b: The new flow.

    Returns:
        A `FlowDiff`: true when anything but node positions differs.
    """
    result = FlowDiff(a.copy(), b.copy(), layout_moved=a.layout != b.layout)
    changes = result.changes
    for name in _FLOW_FIELDS:
        before, after = getattr(a, name) or None, getattr(b, name) or None
        if before != after:
            if before is None:
                changes.append(Change("changed", f"{name} set to {_words(after)}"))
            elif after is None:
                changes.append(Change("changed", f"{name} removed (was {_words(before)})"))
            elif not isinstance(before, Mapping):
                changes.append(Change("changed", f"{name} changed from {before!r} to {after!r}"))
            else:
                changes.extend(_value_changes(name, before, after, None))
    if a.entry != b.entry:
        changes.append(Change("changed", f"entry changed from {a.entry} to {b.entry}"))
    for node in [*a.nodes, *(n for n in b.nodes if n not in a)]:
        if node not in b:
            changes.append(Change("removed", f"node {node} removed ({a.kind(node)})", node))
            changes.extend(_edge_changes(node, a.edges(node), {}))
        elif node not in a:
            changes.append(Change("added", f"node {node} added ({b.kind(node)})", node))
            changes.extend(_edge_changes(node, {}, b.edges(node)))
        else:
            changes.extend(_node_changes(node, a.node(node), b.node(node)))
            changes.extend(_edge_changes(node, a.edges(node), b.edges(node)))
    return result
