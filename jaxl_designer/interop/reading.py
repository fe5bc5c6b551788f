"""Jaxl interop, reading: a Jaxl IVR-simulator document becomes a flow, every loss reported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.flow import Flow
from ..core.runtime import KEYS, is_phone_number
from .schema import (
    CONFIRM_PROMPT,
    DIRECTORIES,
    IVR_FIELDS,
    OPTION_FIELDS,
    ImportResult,
    InteropError,
    slug,
)


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
        self.directory = {key: self._directory(key) for key in DIRECTORIES}
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
            if key not in {"ivrs", *DIRECTORIES}:
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
            if key not in IVR_FIELDS:
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
                if field_name not in OPTION_FIELDS:
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
            number = self.phones.get(value, value if is_phone_number(str(value)) else None)
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
                f"parameter {{{{{slug(group, 'group')}}}}}: give it a team id per environment"
            )
            fields["teams"] = "{{" + slug(group, "group") + "}}"
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
        var = slug(label, "input")
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
