"""What runs: a flow with one environment's values put in and its sub-flows expanded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .environments import parameters, resolve
from .flow import Flow
from .subflows import expand

__all__ = ["prepare"]


def prepare(
    flow: Flow, env: str | Mapping[str, Any] | None = None, base: Path | None = None
) -> Flow:
    """The flow the runtime runs: parameters resolved for `env`, pieces inlined.

    The simulator and export both call this, so what is tested is what is deployed.
    """
    if env is not None or parameters(flow):
        flow = resolve(flow, env)
    return expand(flow, base)
