"""The flow model: an IVR call tree as a networkx graph whose edge keys are the caller's input.

Example:
    >>> flow = Flow("demo")
    >>> flow.menu("main", ["Press 1 for sales."], keys={"1": "sales"})
    'main'
    >>> flow.transfer("sales", phone="+918000000001")
    'sales'
    >>> flow.edges("main")
    {'1': 'sales'}
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import networkx as nx

from .runtime import KEYS, LOOKUP_EXITS

__all__ = ["FIELDS", "FORMAT", "KINDS", "TARGETS", "VERSION", "Flow", "edge_order"]

FORMAT = "jaxl-designer/flow"
VERSION = 1
#: Node kinds and their fields, in the order the flow file writes them.
FIELDS: dict[str, tuple[str, ...]] = {
    "menu": ("prompt", "max_invalid"),
    "collect": (
        "prompt",
        "var",
        "terminator",
        "length",
        "min_length",
        "max_length",
        "pattern",
        "max_invalid",
    ),
    "say": ("prompt",),
    "set": ("values",),
    "hangup": ("prompt",),
    "transfer": ("phone", "from_number", "devices", "appusers", "teams", "ivr"),
    "branch": ("rules",),
    "subflow": ("piece", "params"),
    "lookup": ("prompt", "method", "url", "headers", "body", "timeout", "save"),
}
KINDS = tuple(FIELDS)
#: The transfer fields of which exactly one names where the call goes.
TARGETS = ("phone", "devices", "appusers", "teams", "ivr")
_FIXED_EDGES: dict[str, tuple[str, ...]] = {
    "menu": (*KEYS, "invalid", "gave_up"),
    "collect": ("ok", "invalid", "gave_up"),
    "say": ("next",),
    "set": ("next",),
    "hangup": (),
    # Taken when the number a transfer fills from the call's variables is no phone number.
    "transfer": ("invalid",),
    "subflow": (),  # a piece's exits: see jaxl_designer.core.subflows.piece_exits
    "lookup": LOOKUP_EXITS,
}


def edge_order(kind: str | None, spec: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The edge keys a node of `kind` may have, in the order files and drawings list them."""
    if kind == "branch":
        outcomes = [str(rule.get("outcome")) for rule in (spec or {}).get("rules") or ()]
        return (*dict.fromkeys(outcomes), "default")
    return _FIXED_EDGES.get(kind or "", ())


def _lines(prompt: str | Iterable[str] | None) -> list[str]:
    if prompt is None:
        return []
    if isinstance(prompt, str):
        return [prompt]
    return [str(line) for line in prompt]


class Flow:
    """An IVR call tree. Nodes carry a `kind` and its fields; edge keys are the caller's input.

    `graph` is the underlying `networkx.MultiDiGraph`: node attributes are the node's fields,
    and an edge `(source, target, key)` means "input `key` at `source` leads to `target`".
    """

    #: Draws a flow as SVG when a notebook shows one; set by the package to the drawing layer.
    svg_renderer: ClassVar[Callable[[Flow], str] | None] = None

    def __init__(
        self,
        name: str = "untitled",
        *,
        entry: str | None = None,
        description: str = "",
        recovery: Mapping[str, Any] | None = None,
    ) -> None:
        self.graph: nx.MultiDiGraph = nx.MultiDiGraph()
        self.name = name
        self.description = description
        self.entry = entry
        self.recovery: dict[str, Any] | None = dict(recovery) if recovery else None
        #: Values of `{{parameters}}` per environment name (see `jaxl_designer.core.environments`).
        #: An environment's `allowed_hosts` replaces the flow's own when it is chosen.
        self.environments: dict[str, dict[str, Any]] = {}
        #: The hosts (`host` or `host:port`) the flow's lookups may ask.
        self.allowed_hosts: list[str] = []
        self.layout: dict[str, list[float]] = {}
        #: The folder piece files are read from: the flow file's own folder when the flow was
        #: loaded from one, else None (the current directory, for a flow built in code).
        self.folder: Path | None = None

    # -- reading ----------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """Node ids in the order they were added."""
        return [node for node, data in self.graph.nodes(data=True) if "kind" in data]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.graph and "kind" in self.graph.nodes[node_id]

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> dict[str, Any]:
        """A copy of a node's fields, `kind` included."""
        if node_id not in self:
            raise KeyError(f"no node {node_id!r} in flow {self.name!r}")
        return copy.deepcopy(dict(self.graph.nodes[node_id]))

    def kind(self, node_id: str) -> str:
        """The kind of a node."""
        if node_id not in self:
            raise KeyError(f"no node {node_id!r} in flow {self.name!r}")
        return str(self.graph.nodes[node_id]["kind"])

    def edges(self, node_id: str) -> dict[str, str]:
        """A node's outgoing edges as `{input: target}`, in the order the file writes them."""
        found = {key: target for _, target, key in self.graph.out_edges(node_id, keys=True)}
        data = self.graph.nodes[node_id] if node_id in self.graph else {}
        order = edge_order(data.get("kind"), data)
        ranked = sorted(found, key=lambda k: (order.index(k) if k in order else len(order), k))
        return {key: found[key] for key in ranked}

    def variables(self) -> list[str]:
        """The names of the variables collect, set and lookup nodes store, in node order."""
        names: list[Any] = []
        for node in self.nodes:
            data = self.graph.nodes[node]
            if data["kind"] == "collect":
                names.append(data.get("var"))
            elif data["kind"] == "set" and isinstance(data.get("values"), Mapping):
                names.extend(data["values"])
            elif data["kind"] == "lookup" and isinstance(data.get("save"), Mapping):
                names.extend(data["save"])
        return list(dict.fromkeys(str(name) for name in names if name))

    # -- building ---------------------------------------------------------------------------
    def add(self, node_id: str, kind: str, **fields: Any) -> str:
        """Add (or replace the fields of) a node of any kind; returns its id."""
        if kind not in FIELDS:
            raise ValueError(f"node {node_id!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
        if not isinstance(node_id, str) or not node_id:
            raise ValueError("a node id is a non-empty string")
        unknown = set(fields) - set(FIELDS[kind])
        if unknown:
            raise ValueError(f"node {node_id!r}: a {kind} has no field {sorted(unknown)[0]!r}")
        if "prompt" in FIELDS[kind]:
            fields["prompt"] = _lines(fields.get("prompt"))
        data = {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}
        if node_id in self.graph:
            self.graph.nodes[node_id].clear()
        self.graph.add_node(node_id, **data)
        if self.entry is None:
            self.entry = node_id
        return node_id

    def update(self, node_id: str, **fields: Any) -> None:
        """Change some fields of a node; a field set to None is removed."""
        data = self.node(node_id)
        data.update(fields)
        kind = data.pop("kind")
        self.add(node_id, kind, **{k: v for k, v in data.items() if v is not None})

    def menu(
        self,
        node_id: str,
        prompt: str | Sequence[str],
        *,
        keys: Mapping[str, str] | None = None,
        max_invalid: int | None = None,
    ) -> str:
        """Speak `prompt` and wait for one key; `keys` maps keys (and `invalid`) to targets."""
        self.add(node_id, "menu", prompt=prompt, max_invalid=max_invalid)
        self._connect_all(node_id, keys)
        return node_id

    def collect(
        self,
        node_id: str,
        prompt: str | Sequence[str],
        var: str,
        *,
        terminator: str | None = "#",
        length: int | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        max_invalid: int | None = None,
        then: str | None = None,
        invalid: str | None = None,
    ) -> str:
        """Speak `prompt`, collect digits into `var` (ended by `terminator`, or `length` long)."""
        self.add(
            node_id,
            "collect",
            prompt=prompt,
            var=var,
            terminator=None if length else terminator,
            length=length,
            min_length=min_length,
            max_length=max_length,
            pattern=pattern,
            max_invalid=max_invalid,
        )
        self._connect_all(node_id, {"ok": then, "invalid": invalid})
        return node_id

    def say(self, node_id: str, prompt: str | Sequence[str], *, then: str | None = None) -> str:
        """Speak `prompt` and go on to `then` without waiting for the caller."""
        self.add(node_id, "say", prompt=prompt)
        self._connect_all(node_id, {"next": then})
        return node_id

    def set(self, node_id: str, values: Mapping[str, str], *, then: str | None = None) -> str:
        """Give variables values without the caller, then go on to `then`.

        Each value is a template (`"+91{digits}"`, `"{metadata.agent}"`) filled from the call in
        order, so a later one may read an earlier one.
        """
        self.add(node_id, "set", values={str(k): str(v) for k, v in values.items()})
        self._connect_all(node_id, {"next": then})
        return node_id

    def lookup(
        self,
        node_id: str,
        url: str,
        *,
        method: str = "GET",
        save: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        prompt: str | Sequence[str] = (),
        ok: str | None = None,
        failed: str | None = None,
        timed_out: str | None = None,
    ) -> str:
        """Ask a backend over HTTP, save fields of its JSON answer, and go on by how it went.

        `url` is a template (`"https://api.example.com/orders/{order}"`; each value filled in is
        URL-quoted) at a host on the flow's `allowed_hosts`. `save` maps variables to paths in
        the answer (`{"status": "order.status"}`). Header values may read secrets from the
        serving process's environment (`{"Authorization": "Bearer ${ORDERS_TOKEN}"}`); `body`
        is JSON whose strings are templates. The call goes to `ok`, `failed` (no answer, a
        status other than 2xx, no JSON or a saved field missing) or `timed_out` (no answer
        within `timeout` seconds: 2 unless given, 10 at most).
        """
        self.add(
            node_id,
            "lookup",
            prompt=prompt,
            method=method.upper() if method.upper() != "GET" else None,
            url=url,
            headers=dict(headers) if headers else None,
            body=copy.deepcopy(dict(body)) if body is not None else None,
            timeout=timeout,
            save={str(k): str(v) for k, v in save.items()} if save else None,
        )
        self._connect_all(node_id, {"ok": ok, "failed": failed, "timeout": timed_out})
        return node_id

    def hangup(self, node_id: str, prompt: str | Sequence[str] = ()) -> str:
        """Speak `prompt`, then hang up."""
        return self.add(node_id, "hangup", prompt=prompt)

    def transfer(
        self,
        node_id: str,
        *,
        phone: str | None = None,
        from_number: str | None = None,
        devices: Sequence[int] | None = None,
        appusers: Sequence[int] | None = None,
        teams: Sequence[int] | None = None,
        ivr: int | None = None,
        invalid: str | None = None,
    ) -> str:
        """Send the call on: to a phone number, devices, app users, teams, or another IVR.

        `phone` may be a template (`"{agent_phone}"`) filled from the call; when what it gives is
        no E.164 number the call goes to `invalid` (else it hears an apology and ends).
        """
        self.add(
            node_id,
            "transfer",
            phone=phone,
            from_number=from_number,
            devices=list(devices) if devices is not None else None,
            appusers=list(appusers) if appusers is not None else None,
            teams=list(teams) if teams is not None else None,
            ivr=ivr,
        )
        self._connect_all(node_id, {"invalid": invalid})
        return node_id

    def branch(
        self,
        node_id: str,
        rules: Sequence[Mapping[str, Any]],
        *,
        outcomes: Mapping[str, str] | None = None,
    ) -> str:
        """Decide without the caller: the first rule that holds names the outcome edge taken.

        A rule is `{"outcome": name, "test": t, ...}` with `t` one of `equals`, `one_of`,
        `prefix`, `matches`, `is_set` (on a `subject`: a variable, `from_number` or `to_number`)
        or `hours` (`tz`, `days`, `start`, `end`, `holidays`). No rule holding means `default`.
        """
        self.add(node_id, "branch", rules=[dict(rule) for rule in rules])
        self._connect_all(node_id, outcomes)
        return node_id

    def subflow(
        self,
        node_id: str,
        piece: str,
        params: Mapping[str, Any] | None = None,
        *,
        exits: Mapping[str, str] | None = None,
    ) -> str:
        """Include a reusable piece (see `core.pieces`); `exits` maps its exits to targets."""
        self.add(node_id, "subflow", piece=piece, params=dict(params or {}))
        self._connect_all(node_id, exits)
        return node_id

    def connect(self, source: str, key: str, target: str) -> None:
        """Send input `key` at `source` to `target`, replacing where that key went before."""
        self.disconnect(source, key)
        self.graph.add_edge(source, target, key=key)

    def disconnect(self, source: str, key: str) -> None:
        """Remove the edge for input `key` at `source`, if there is one."""
        if source not in self.graph:
            return
        for _, target, edge_key in list(self.graph.out_edges(source, keys=True)):
            if edge_key == key:
                self.graph.remove_edge(source, target, key=edge_key)

    def remove(self, node_id: str) -> None:
        """Delete a node with every edge into and out of it."""
        self.node(node_id)
        self.graph.remove_node(node_id)
        self.layout.pop(node_id, None)
        if self.entry == node_id:
            self.entry = None

    def rename(self, old: str, new: str) -> None:
        """Give a node a new id; edges, the entry and the layout follow it."""
        if old == new:
            return
        self.node(old)
        if new in self.graph:
            raise ValueError(f"a node {new!r} already exists")
        if not isinstance(new, str) or not new:
            raise ValueError("a node id is a non-empty string")
        # Relabelling in place would move the node to the end of the file: rebuild in order.
        relabeled = nx.relabel_nodes(self.graph, {old: new}, copy=True)
        self.graph.clear_edges()
        self.graph.remove_nodes_from(list(self.graph))
        self.graph.add_nodes_from(relabeled.nodes(data=True))
        self.graph.add_edges_from(relabeled.edges(keys=True, data=True))
        if old in self.layout:
            self.layout[new] = self.layout.pop(old)
        if self.entry == old:
            self.entry = new

    def copy(self) -> Flow:
        """An independent copy of the flow."""
        return copy.deepcopy(self)

    def _connect_all(self, source: str, edges: Mapping[str, str | None] | None) -> None:
        for key, target in (edges or {}).items():
            if target is not None:
                self.connect(source, key, target)

    # -- documents --------------------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        """The flow as its JSON document (format v1): logic first, drawing positions apart."""
        nodes: dict[str, Any] = {}
        for node_id in self.nodes:
            data = self.graph.nodes[node_id]
            kind = data["kind"]
            spec: dict[str, Any] = {"kind": kind}
            for field in FIELDS[kind]:
                if data.get(field) is not None:
                    spec[field] = copy.deepcopy(data[field])
            edges = self.edges(node_id)
            # A node that normally has exits says so even with none; a transfer's one exit
            # (`invalid`) is rare, so a transfer without it is written as before.
            if edges or (kind != "transfer" and edge_order(kind, data)):
                spec["edges"] = edges
            nodes[node_id] = spec
        document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name}
        if self.description:
            document["description"] = self.description
        document["entry"] = self.entry
        if self.recovery:
            document["recovery"] = copy.deepcopy(self.recovery)
        if self.environments:
            document["environments"] = copy.deepcopy(self.environments)
        if self.allowed_hosts:
            document["allowed_hosts"] = list(self.allowed_hosts)
        document["nodes"] = nodes
        if self.layout:
            document["layout"] = {n: list(self.layout[n]) for n in sorted(self.layout)}
        return document

    def restore(self, document: dict[str, Any]) -> None:
        """Make this flow equal a `to_document()` snapshot, in place (for undo and reload).

        Unlike loading a file, this trusts the snapshot: it came from a flow, finished or not.
        """
        self.graph.clear()
        nodes = document["nodes"]
        for node_id, spec in nodes.items():
            fields = {k: v for k, v in spec.items() if k != "edges"}
            self.graph.add_node(node_id, **copy.deepcopy(fields))
        for node_id, spec in nodes.items():
            for key, target in spec.get("edges", {}).items():
                self.graph.add_edge(node_id, target, key=key)
        self.name = document["name"]
        self.description = document.get("description", "")
        self.entry = document["entry"]
        self.recovery = copy.deepcopy(document.get("recovery"))
        self.environments = copy.deepcopy(document.get("environments", {}))
        self.allowed_hosts = list(document.get("allowed_hosts", ()))
        self.layout = {n: list(point) for n, point in document.get("layout", {}).items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Flow):
            return NotImplemented
        return self.to_document() == other.to_document()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Flow {self.name!r}: {len(self)} nodes, entry {self.entry!r}>"

    def _repr_svg_(self) -> str | None:
        # Drawing is a layer above the model, which never imports it: the package root hands
        # the model its renderer (see `jaxl_designer.__init__`).
        return None if Flow.svg_renderer is None else Flow.svg_renderer(self)
