"""Jaxl interop, writing: a flow becomes a Jaxl IVR-simulator document, every loss reported."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..core.environments import PARAMETER
from ..core.flow import Flow
from ..core.runtime import KEYS, template_fields
from .schema import (
    CONFIRM_PROMPT,
    DIRECTORIES,
    EDGES,
    ExportResult,
    slug,
)


def _greeting(prompt: list[str]) -> str:
    return " ".join(line.strip() for line in prompt if line.strip())


class _Exporter:
    def __init__(self, flow: Flow, directory: Mapping[str, list[dict[str, Any]]] | None) -> None:
        self.flow = flow
        self.unmapped: list[str] = []
        given = directory or {}
        self.directory = {key: copy.deepcopy(list(given.get(key) or [])) for key in DIRECTORIES}
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
        if flow.allowed_hosts:
            hosts = ", ".join(flow.allowed_hosts)
            self.unmapped.append(
                f"allowed_hosts ({hosts}) not exported; Jaxl's schema has no lookups"
            )
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
            "set": "Jaxl's schema has no variables to give values",
            "branch": "Jaxl's schema has no decisions: rules, business hours",
            "subflow": "expand its piece first",
            "collect": "only input an option asks for maps, as needs_input",
            "transfer": "only a transfer chosen by an option maps",
            "lookup": "Jaxl's schema cannot ask a backend over HTTP",
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
        found = sorted({field for line in lines for field, _ in template_fields(line)})
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
                self.unmapped.append(f"{node}: the {key} edge ({EDGES.get(key, key)}) not exported")
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
        if data.get("var") != slug(node, "input"):
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
        if data.get("phone") and template_fields(str(data["phone"])):
            self.unmapped.append(
                f"{node}: phone {data['phone']} is filled per call; Jaxl's phones are fixed "
                "numbers; not exported"
            )
            return False
        if "invalid" in self.flow.edges(node):
            self.unmapped.append(f"{node}: the invalid edge has no equivalent; not exported")
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
