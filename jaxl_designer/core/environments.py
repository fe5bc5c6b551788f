"""Environments: transfer targets named as `{{parameters}}`, with values per environment.

A flow names its phone numbers and device, app-user and team ids as parameters, and keeps their
values per environment (`dev`, `prod`, …) in the flow file's `environments`. Before a flow runs,
`resolve` puts one environment's values in, so the runtime only ever sees plain targets.

Example:
    >>> from jaxl_designer.core.flow import Flow
    >>> flow = Flow("x")
    >>> flow.transfer("sales", phone="{{sales_phone}}")
    'sales'
    >>> flow.environments = {"dev": {"sales_phone": "+911000000000"}, "prod": {}}
    >>> resolve(flow, "dev").node("sales")["phone"]
    '+911000000000'
    >>> missing(flow)
    {'prod': ['sales_phone']}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import JaxlDesignerError
from .flow import TARGETS, Flow

__all__ = ["PARAMETER", "ResolveError", "missing", "parameter_name", "parameters", "resolve"]

#: A whole field that is a parameter: `{{name}}`.
PARAMETER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_FIELDS = (*TARGETS, "from_number")


class ResolveError(JaxlDesignerError, ValueError):
    """A flow cannot be resolved for an environment: one line saying which and what is missing."""


def parameter_name(value: Any) -> str | None:
    """The name of the `{{parameter}}` a field's whole value is, or None for a plain value."""
    if isinstance(value, str):
        match = PARAMETER.fullmatch(value.strip())
        if match:
            return match.group(1)
    return None


def parameters(flow: Flow) -> dict[str, list[tuple[str, str]]]:
    """Each parameter the flow uses, with the (node, field) places that use it."""
    found: dict[str, list[tuple[str, str]]] = {}
    for node in flow.nodes:
        data = flow.graph.nodes[node]
        if data["kind"] != "transfer":
            continue
        for field in _FIELDS:
            name = parameter_name(data.get(field))
            if name:
                found.setdefault(name, []).append((node, field))
    return found


def missing(flow: Flow) -> dict[str, list[str]]:
    """For each environment, the parameters it has no value for (complete ones are left out)."""
    used = parameters(flow)
    gaps = {
        env: sorted(name for name in used if name not in values)
        for env, values in (flow.environments or {}).items()
    }
    return {env: names for env, names in gaps.items() if names}


def _value(field: str, value: Any) -> Any:
    if field in ("devices", "appusers", "teams") and not isinstance(value, list):
        return [value]
    return value


def resolve(flow: Flow, environment: str | Mapping[str, Any] | None) -> Flow:
    """A copy of `flow` with an environment's values in place of its parameters.

    `environment` is the name of one of the flow's environments, or the values themselves.
    A flow without parameters comes back as a plain copy whatever the environment.
    """
    used = parameters(flow)
    if not used and environment is None:
        return flow.copy()
    if isinstance(environment, str) and not used and environment in (flow.environments or {}):
        resolved = flow.copy()
        _allow(resolved, flow.environments[environment])
        return resolved
    if isinstance(environment, str):
        envs = flow.environments or {}
        if environment not in envs:
            known = ", ".join(sorted(envs)) or "none"
            raise ResolveError(
                f"flow {flow.name!r} has no environment {environment!r} (it has: {known})"
            )
        values: Mapping[str, Any] = envs[environment]
        label = environment
    elif environment is None:
        names = ", ".join(sorted(used))
        raise ResolveError(f"flow {flow.name!r} uses parameters ({names}): choose an environment")
    else:
        values, label = environment, "the given values"
    absent = sorted(name for name in used if name not in values)
    if absent:
        raise ResolveError(f"environment {label!r} has no value for {', '.join(absent)}")
    resolved = flow.copy()
    for name, places in used.items():
        for node, field in places:
            resolved.graph.nodes[node][field] = _value(field, values[name])
    _allow(resolved, values)
    return resolved


def _allow(flow: Flow, values: Mapping[str, Any]) -> None:
    """An environment's `allowed_hosts` replace the flow's own: a dev backend, a prod one."""
    hosts = values.get("allowed_hosts")
    if isinstance(hosts, list):
        flow.allowed_hosts = [str(host) for host in hosts]
