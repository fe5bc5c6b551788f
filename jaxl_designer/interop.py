"""Jaxl interop: import and export the IVR schema of Jaxl's IVR simulator, reporting what won't map.

The schema, as read from Jaxl's public `jaxl-ivr-simulator` (its `ivr.json` JSON Schema and the
`IVRConfig` TypedDicts of `jaxl/ivr/frontend/base.py`):

- the document: `ivrs` (a list; the first is where calls start), and the directories `phones`
  (`{name, e164}`), `devices` (`{name, device_id}`) and `groups` (`{name, members: [email]}`);
- an IVR: `name`, `greeting_message` (the schema forbids a final `.`), then either `options`,
  `hangup: true` (speak the greeting and hang up) or `webhook: true` (Python code answers); also
  `pk` and `tags`;
- an option, keyed `0`-`9`, `*`, `#`: `name`, and where it goes: `next` (another IVR's name, or
  `{url, name}` in another file), `phone` (a phone's name), `devices` or `groups` (lists of
  names), or `webhook: true`; `needs_input: {prompt, end_character}` asks for digits first and
  `confirm_input: true` reads them back for confirmation.

Mapping: an IVR with options is a `menu`, one with `hangup` a `hangup`; an option goes to the
next IVR's node, to a `transfer`, or through a `collect` (with a confirm `menu` when
`confirm_input`) to either. Groups have member e-mails but no team id, so a group transfer
becomes `teams: "{{group}}"`, a parameter to fill in per environment. Also read (not in the
published schema): `ivrs` as an object keyed by id, and an option with `hangup: true`. What
Jaxl would say to confirm input is not published; the confirm menu's wording is this module's.
Node positions are not part of the schema and are left out without a report.

Example:
    >>> from jaxl_designer.examples import acme
    >>> result = to_jaxl(acme())
    >>> sorted(result.document["ivrs"][0]["options"])
    ['1', '2', '9']
    >>> result.document["ivrs"][0]["options"]["1"]
    {'name': 'sales', 'phone': 'sales'}
    >>> print("\\n".join(result.unmapped[2:4]))
    main: the invalid edge (what a wrong key does) not exported
    thanks: prompt uses {order}, which Jaxl would speak as written
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .environments import PARAMETER
from .flow import Flow
from .runtime import KEYS

__all__ = [
    "CONFIRM_PROMPT",
    "ExportResult",
    "ImportResult",
    "InteropError",
    "from_jaxl",
    "to_jaxl",
]

#: The confirm menu an imported `confirm_input` becomes; `{var}` is the collected digits.
CONFIRM_PROMPT = ["You entered {var}.", "Press 1 to confirm.", "Press 2 to re-enter."]
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_TEMPLATE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}")
_IVR_FIELDS = {"name", "pk", "greeting_message", "webhook", "hangup", "options", "tags"}
_OPTION_FIELDS = {
    "name",
    "next",
    "webhook",
    "needs_input",
    "confirm_input",
    "groups",
    "devices",
    "phone",
    "hangup",
}
_DIRECTORIES = ("groups", "devices", "phones")
_EDGES = {"invalid": "what a wrong key does", "gave_up": "where too many wrong keys lead"}


class InteropError(ValueError):
    """A document that is not Jaxl's IVR schema: one line naming the place."""


@dataclass
class ImportResult:
    """A flow read from a Jaxl schema, and one line for each thing that did not map."""

    flow: Flow
    unmapped: list[str] = field(default_factory=list)
    #: The document's `phones`, `devices` and `groups`, for `to_jaxl(..., directory=)`.
    directory: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class ExportResult:
    """A Jaxl schema document written from a flow, and one line for each thing left out."""

    document: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)


# -- import ---------------------------------------------------------------------------------------
def _slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", text.strip()).strip("_").lower()
    if not slug or slug[0].isdigit():
        slug = f"{fallback}_{slug}" if slug else fallback
    return slug


def _fresh(flow: Flow, base: str) -> str:
    node, number = base, 2
    while node in flow.graph:
        node, number = f"{base}_{number}", number + 1
    return node


class _Importer:
    def __init__(self, document: Any, name: str) -> None:
        if not isinstance(document, Mapping):
            raise InteropError("expected a JSON object with 'ivrs'")
        if "ivrs" not in document:
            raise InteropError("missing field 'ivrs': this is not a Jaxl IVR schema")
        self.doc = document
        self.flow = Flow(name)
        self.unmapped: list[str] = []
        self.directory = {key: self._directory(key) for key in _DIRECTORIES}
        self.phones = {p["name"]: p.get("e164") for p in self.directory["phones"]}
        self.devices = {d["name"]: d.get("device_id") for d in self.directory["devices"]}
        self.groups = {g["name"]: g.get("members") or [] for g in self.directory["groups"]}
        self.shared: dict[str, str] = {}

    def _directory(self, key: str) -> list[dict[str, Any]]:
        entries = self.doc.get(key) or []
        if not isinstance(entries, list):
            raise InteropError(f"{key}: expected a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise InteropError(f"{key}[{index}]: expected an object with a name")
        return [dict(entry) for entry in entries]

    def ivrs(self) -> list[tuple[str, dict[str, Any]]]:
        raw = self.doc["ivrs"]
        if isinstance(raw, Mapping):
            items = [(f"ivrs.{key}", {"name": str(key), **ivr}) for key, ivr in raw.items()]
        elif isinstance(raw, list):
            items = [(f"ivrs[{index}]", ivr) for index, ivr in enumerate(raw)]
        else:
            raise InteropError("ivrs: expected a list of IVRs")
        seen: set[str] = set()
        for where, ivr in items:
            if not isinstance(ivr, Mapping) or not isinstance(ivr.get("name"), str):
                raise InteropError(f"{where}: expected an object with a name")
            if ivr["name"] in seen:
                raise InteropError(f"{where}.name: a second IVR named {ivr['name']!r}")
            seen.add(ivr["name"])
        return [(where, dict(ivr)) for where, ivr in items]

    def run(self) -> ImportResult:
        for key in self.doc:
            if key not in {"ivrs", *_DIRECTORIES}:
                self.unmapped.append(f"{key}: not imported (the designer has no such setting)")
        ivrs = self.ivrs()
        for _, ivr in ivrs:
            self.ivr_node(ivr)
        for where, ivr in ivrs:
            self.options(where, ivr)
        self.flow.entry = ivrs[0][1]["name"] if ivrs else None
        return ImportResult(self.flow, self.unmapped, self.directory)

    def ivr_node(self, ivr: dict[str, Any]) -> None:
        name = ivr["name"]
        greeting = ivr.get("greeting_message")
        prompt = [greeting] if isinstance(greeting, str) and greeting else []
        for key in ivr:
            if key not in _IVR_FIELDS:
                self.unmapped.append(f"ivr {name}: field {key!r} not imported (unknown)")
        if "pk" in ivr:
            self.unmapped.append(f"ivr {name}: pk {ivr['pk']} not kept (the designer names IVRs)")
        if ivr.get("tags"):
            self.unmapped.append(f"ivr {name}: tags {ivr['tags']} not kept")
        if ivr.get("webhook"):
            self.unmapped.append(
                f"ivr {name}: webhook IVR (Python code answers it); imported as a hang-up"
            )
            self.flow.hangup(name, prompt)
        elif ivr.get("hangup"):
            self.flow.hangup(name, prompt)
            if ivr.get("options"):
                self.unmapped.append(f"ivr {name}: hangup is set, so its options are ignored")
        else:
            self.flow.menu(name, prompt)

    def options(self, where: str, ivr: dict[str, Any]) -> None:
        name = ivr["name"]
        if self.flow.kind(name) != "menu":
            return
        options = ivr.get("options") or {}
        if not isinstance(options, Mapping):
            raise InteropError(f"{where}.options: expected an object keyed 0-9, *, #")
        for key, option in options.items():
            if key not in KEYS:
                raise InteropError(f"{where}.options.{key}: not a key (0-9, *, #)")
            if not isinstance(option, Mapping):
                raise InteropError(f"{where}.options.{key}: expected an object")
            place = f"ivr {name}, option {key}"
            for field_name in option:
                if field_name not in _OPTION_FIELDS:
                    self.unmapped.append(f"{place}: field {field_name!r} not imported (unknown)")
            target = self.option(place, name, key, dict(option))
            if target is not None:
                self.flow.connect(name, key, target)

    def option(self, place: str, ivr: str, key: str, option: dict[str, Any]) -> str | None:
        label = str(option.get("name") or f"{ivr} {key}")
        needs = option.get("needs_input")
        goes = [k for k in ("next", "phone", "devices", "groups", "hangup") if option.get(k)]
        for extra in goes[1:]:
            self.unmapped.append(
                f"{place}: {extra} ignored (an option goes one place; uses {goes[0]})"
            )
        if option.get("webhook"):
            self.unmapped.append(
                f"{place}: webhook option (Python code answers it); imported as a hang-up"
            )
            target: str | None = self.flow.hangup(_fresh(self.flow, label), [])
        elif not goes:
            self.unmapped.append(f"{place}: goes nowhere (no next, phone, devices or groups)")
            target = None
        else:
            target = self.target(place, goes[0], option, label, needs is not None)
        if goes and goes[0] == "next" and label != option["next"] and needs is None:
            self.unmapped.append(f"{place}: name {label!r} not kept (named after its next IVR)")
        if needs is None:
            if option.get("confirm_input"):
                self.unmapped.append(f"{place}: confirm_input without needs_input ignored")
            return target
        return self.collect(place, option, label, needs, target)

    def target(
        self, place: str, how: str, option: dict[str, Any], label: str, after: bool
    ) -> str | None:
        value = option[how]
        node_name = f"{label} transfer" if after else label
        if how == "next":
            if isinstance(value, Mapping):
                self.unmapped.append(
                    f"{place}: next is IVR {value.get('name')!r} in another file "
                    f"({value.get('url')}); not imported, the option goes nowhere"
                )
                return None
            if str(value) not in self.flow:
                self.unmapped.append(f"{place}: next names no IVR of this file ({value!r})")
                return None
            return str(value)
        if how == "hangup":
            return self.flow.hangup(_fresh(self.flow, label), [])
        fields: dict[str, Any] = {}
        if how == "phone":
            number = self.phones.get(value, value if _E164.fullmatch(str(value)) else None)
            if number is None:
                self.unmapped.append(f"{place}: phone {value!r} is not in phones; goes nowhere")
                return None
            fields["phone"] = number
        elif how == "devices":
            ids: list[int] = []
            for device in value:
                found = self.devices.get(device)
                if found is None:
                    self.unmapped.append(f"{place}: device {device!r} is not in devices; left out")
                else:
                    ids.extend(found if isinstance(found, list) else [found])
            if not ids:
                return None
            fields["devices"] = ids
        else:
            if len(value) > 1:
                self.unmapped.append(
                    f"{place}: groups {value[1:]} left out (a parameter names one group)"
                )
            group = str(value[0])
            members = ", ".join(self.groups.get(group, [])) or "no members listed"
            self.unmapped.append(
                f"{place}: group {group!r} ({members}) has no team id; the transfer uses the "
                f"parameter {{{{{_slug(group, 'group')}}}}}: give it a team id per environment"
            )
            fields["teams"] = "{{" + _slug(group, "group") + "}}"
        signature = repr((node_name, sorted(fields.items())))
        if signature not in self.shared:
            self.shared[signature] = self.flow.add(
                _fresh(self.flow, node_name), "transfer", **fields
            )
        return self.shared[signature]

    def collect(
        self, place: str, option: dict[str, Any], label: str, needs: Any, target: str | None
    ) -> str:
        if not isinstance(needs, Mapping):
            raise InteropError(f"{place}: needs_input: expected {{prompt, end_character}}")
        end = needs.get("end_character")
        if end not in ("*", "#"):
            self.unmapped.append(f"{place}: end_character {end!r} is not * or #; # is used")
            end = "#"
        node = _fresh(self.flow, label)
        var = _slug(label, "input")
        prompt = needs.get("prompt")
        then = target
        if option.get("confirm_input"):
            confirm = _fresh(self.flow, f"{node}_confirm")
            keys = {"2": node} if target is None else {"1": target, "2": node}
            self.flow.menu(
                confirm,
                [line.replace("{var}", "{" + var + "}") for line in CONFIRM_PROMPT],
                keys=keys,
            )
            then = confirm
        self.flow.collect(node, [prompt] if prompt else [], var, terminator=end, then=then)
        return node


def from_jaxl(document: Any, *, name: str = "jaxl") -> ImportResult:
    """Read a Jaxl IVR-simulator schema document into a flow.

    Args:
        document: The parsed JSON document (`ivrs`, `phones`, `devices`, `groups`).
        name: The flow's name.

    Returns:
        The flow, one line for each feature that did not map, and the document's directories.

    Raises:
        InteropError: The document is not shaped like Jaxl's schema.
    """
    return _Importer(document, name).run()


# -- export ---------------------------------------------------------------------------------------
def _greeting(prompt: list[str]) -> str:
    return " ".join(line.strip() for line in prompt if line.strip())


class _Exporter:
    def __init__(self, flow: Flow, directory: Mapping[str, list[dict[str, Any]]] | None) -> None:
        self.flow = flow
        self.unmapped: list[str] = []
        given = directory or {}
        self.directory = {key: copy.deepcopy(list(given.get(key) or [])) for key in _DIRECTORIES}
        self.used: set[str] = set()
        self.periods: list[str] = []

    def run(self) -> ExportResult:
        flow = self.flow
        if flow.description:
            self.unmapped.append("the flow's description has no place in the schema")
        if flow.recovery:
            self.unmapped.append("recovery (what a lost call hears) has no equivalent")
        if flow.environments:
            names = ", ".join(sorted(flow.environments))
            self.unmapped.append(f"environments ({names}) not exported; parameters stay names")
        entry = flow.entry
        if entry is None or entry not in flow:
            self.unmapped.append("the flow has no entry node; nothing to start the IVRs")
        elif flow.kind(entry) not in ("menu", "hangup"):
            self.unmapped.append(
                f"entry {entry} is a {flow.kind(entry)}: Jaxl's calls start at the first IVR"
            )
        menus = [n for n in flow.nodes if flow.kind(n) in ("menu", "hangup")]
        # A menu that only reads a collect's input back is the option's confirm_input, not an IVR.
        confirms = {
            ok
            for node in flow.nodes
            if flow.kind(node) == "collect"
            and (ok := flow.edges(node).get("ok")) is not None
            and self.confirmed(node, ok) is not None
        }
        targeted = {
            target
            for node in menus
            if node not in confirms
            for key, target in flow.edges(node).items()
            if key in KEYS
        }
        ivrs = []
        for node in sorted(menus, key=lambda n: n != entry):
            if node in confirms and node != entry and node not in targeted:
                continue
            options = self.options(node) if flow.kind(node) == "menu" else None
            ivrs.append(self.ivr(node, options))
            self.used.add(node)
        for node in flow.nodes:
            if node not in self.used:
                self.unmapped.append(self.left_out(node))
        if self.periods:
            self.unmapped.append(
                "greeting_message may not end with '.' in Jaxl's schema; dropped from: "
                + ", ".join(self.periods)
            )
        document = {**self.directory, "ivrs": ivrs}
        return ExportResult(document, list(dict.fromkeys(self.unmapped)))

    def left_out(self, node: str) -> str:
        kind = self.flow.kind(node)
        why = {
            "say": "Jaxl's IVRs cannot speak and go on without a key",
            "branch": "Jaxl's schema has no decisions: rules, business hours",
            "subflow": "expand its piece first",
            "collect": "only input an option asks for maps, as needs_input",
            "transfer": "only a transfer chosen by an option maps",
        }.get(kind, "no option reaches it")
        return f"{node}: {kind} node not exported ({why})"

    def ivr(self, node: str, options: dict[str, Any] | None) -> dict[str, Any]:
        data = self.flow.node(node)
        prompt = list(data.get("prompt") or [])
        self.templates(node, prompt)
        greeting = _greeting(prompt)
        if greeting.endswith("."):
            greeting = greeting.rstrip(".").rstrip()
            self.periods.append(node)
        ivr: dict[str, Any] = {"name": node, "greeting_message": greeting}
        if options is None:
            ivr["hangup"] = True
        else:
            ivr["options"] = options
        return ivr

    def templates(self, node: str, lines: list[str]) -> None:
        found = sorted({m.group(0) for line in lines for m in _TEMPLATE.finditer(line)})
        if found:
            self.unmapped.append(
                f"{node}: prompt uses {', '.join(found)}, which Jaxl would speak as written"
            )

    def options(self, node: str) -> dict[str, Any]:
        data = self.flow.node(node)
        if data.get("max_invalid"):
            self.unmapped.append(
                f"{node}: max_invalid {data['max_invalid']} (retries) not exported"
            )
        options: dict[str, Any] = {}
        for key, target in self.flow.edges(node).items():
            if key not in KEYS:
                self.unmapped.append(
                    f"{node}: the {key} edge ({_EDGES.get(key, key)}) not exported"
                )
                continue
            option = self.option(f"{node}, key {key}", target)
            if option is not None:
                options[key] = option
        return options

    def option(self, place: str, target: str) -> dict[str, Any] | None:
        if target not in self.flow:
            self.unmapped.append(f"{place}: leads to {target!r}, which is not a node")
            return None
        kind = self.flow.kind(target)
        if kind == "collect":
            return self.collect(place, target)
        option: dict[str, Any] = {"name": target}
        if not self.goes(place, target, option):
            return None
        return option

    def goes(self, place: str, target: str, option: dict[str, Any]) -> bool:
        """Fill where the option goes (next or a transfer); False when that does not map."""
        kind = self.flow.kind(target)
        if kind in ("menu", "hangup"):
            option["next"] = target
            return True
        if kind == "transfer":
            return self.transfer(place, target, option)
        self.unmapped.append(f"{place}: leads to a {kind} node ({target}); not exported")
        return False

    def collect(self, place: str, node: str) -> dict[str, Any] | None:
        data = self.flow.node(node)
        self.used.add(node)
        for name in ("length", "min_length", "max_length", "pattern", "max_invalid"):
            if data.get(name) is not None:
                self.unmapped.append(f"{node}: {name} {data[name]!r} not exported (no such check)")
        edges = self.flow.edges(node)
        for key in ("invalid", "gave_up"):
            if key in edges:
                self.unmapped.append(f"{node}: the {key} edge has no equivalent; not exported")
        end = data.get("terminator") or "#"
        if not data.get("terminator"):
            self.unmapped.append(f"{node}: fixed-length input exported as ended by '#'")
        prompt = list(data.get("prompt") or [])
        self.templates(node, prompt)
        option: dict[str, Any] = {
            "name": node,
            "needs_input": {"prompt": _greeting(prompt), "end_character": end},
        }
        if data.get("var") != _slug(node, "input"):
            self.unmapped.append(f"{node}: variable name {data.get('var')!r} not kept")
        then = edges.get("ok")
        if then is None:
            self.unmapped.append(f"{place}: the input leads nowhere (no ok edge); not exported")
            return None
        confirm = self.confirm_menu(node, then)
        if confirm is not None:
            option["confirm_input"] = True
            self.used.add(then)
            then = confirm
        if not self.goes(f"{node}, after input", then, option):
            return None
        return option

    def confirmed(self, collect: str, menu: str) -> str | None:
        """Where the call goes once confirmed, when `menu` reads `collect`'s input back."""
        if menu not in self.flow or self.flow.kind(menu) != "menu":
            return None
        keys = {k: t for k, t in self.flow.edges(menu).items() if k in KEYS}
        if set(keys) != {"1", "2"} or keys["2"] != collect:
            return None
        return keys["1"]

    def confirm_menu(self, collect: str, menu: str) -> str | None:
        """`confirmed`, reporting what of the confirm menu is lost."""
        target = self.confirmed(collect, menu)
        if target is None:
            return None
        var = self.flow.node(collect).get("var")
        wording = [line.replace("{var}", "{" + str(var) + "}") for line in CONFIRM_PROMPT]
        if self.flow.node(menu).get("prompt") != wording:
            self.unmapped.append(f"{menu}: the confirmation's wording is not kept (Jaxl's own)")
        for key in self.flow.edges(menu):
            if key not in KEYS:
                self.unmapped.append(f"{menu}: the {key} edge has no equivalent; not exported")
        return target

    def transfer(self, place: str, node: str, option: dict[str, Any]) -> bool:
        data = self.flow.node(node)
        self.used.add(node)
        if data.get("from_number"):
            self.unmapped.append(f"{node}: from_number {data['from_number']} not exported")
        if data.get("phone"):
            option["phone"] = self.phone(node, str(data["phone"]))
        elif data.get("devices") is not None:
            option["devices"] = self.device_names(node, data["devices"])
        elif data.get("teams") is not None:
            option["groups"] = self.group_names(node, data["teams"])
        else:
            what = "app users" if data.get("appusers") is not None else "another IVR by id"
            self.unmapped.append(f"{node}: a transfer to {what} has no equivalent; not exported")
            return False
        return True

    def phone(self, node: str, number: str) -> str:
        phones = self.directory["phones"]
        parameter = PARAMETER.fullmatch(number)
        if parameter:
            name = parameter.group(1)
            if not any(p["name"] == name for p in phones):
                self.unmapped.append(f"{node}: phone {number} has no number; add {name} to phones")
            return name
        for entry in phones:
            if entry.get("e164") == number:
                return str(entry["name"])
        phones.append({"name": node, "e164": number})
        return node

    def device_names(self, node: str, devices: Any) -> list[str]:
        if isinstance(devices, str):
            self.unmapped.append(f"{node}: devices {devices} is a parameter; name the devices")
            return [str(devices)]
        entries = self.directory["devices"]
        names: list[str] = []
        for device in devices:
            entry = next((e for e in entries if e.get("device_id") == device), None)
            if entry is None:
                entry = {"name": f"device_{device}", "device_id": device}
                entries.append(entry)
            names.append(str(entry["name"]))
        return names

    def group_names(self, node: str, teams: Any) -> list[str]:
        groups = self.directory["groups"]
        parameter = PARAMETER.fullmatch(teams) if isinstance(teams, str) else None
        wanted = [parameter.group(1)] if parameter else [f"team_{team}" for team in teams]
        for name in wanted:
            entry = next((g for g in groups if g["name"] == name), None)
            if entry is None:
                groups.append({"name": name, "members": []})
                self.unmapped.append(
                    f"{node}: Jaxl's groups list member e-mails, not team ids: "
                    f"group {name} has no members; add them"
                )
        return wanted


def to_jaxl(
    flow: Flow, *, directory: Mapping[str, list[dict[str, Any]]] | None = None
) -> ExportResult:
    """Write a flow as a Jaxl IVR-simulator schema document.

    Args:
        flow: The flow to export.
        directory: `phones`, `devices` and `groups` to name things by (an import's directory).

    Returns:
        The document, and one line for each node, edge or field that has no place in it.
    """
    return _Exporter(flow, directory).run()
