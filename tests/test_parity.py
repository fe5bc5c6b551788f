"""Parity: every route the explorer finds, played on the simulator and over HTTP, answers alike.

What is tested is what is deployed: each example flow is exported, its webhook.py runs as a real
server, and every explored route (a shortest call to each node and edge) is replayed over HTTP,
request by request, against the responses the simulator gave.
"""

from __future__ import annotations

import http.client
import sys
from pathlib import Path

import pytest
from conftest import Processes, free_port, request

from jaxl_designer.core.examples import EXAMPLES
from jaxl_designer.core.explorer import explore
from jaxl_designer.exporter.export import export

# business_hours answers by the wall clock, which a running server cannot be told; its routes are
# replayed against the simulator at fixed times in tests/test_explorer.py instead.
FLOWS = ["acme", "support", "language"]


@pytest.mark.parametrize("name", FLOWS)
def test_every_explored_route_answers_the_same_over_http(
    name: str, tmp_path: Path, spawn: Processes
) -> None:
    flow = EXAMPLES[name]()
    webhook = export(flow, tmp_path / name).webhook
    port = free_port()
    spawn.start([sys.executable, str(webhook), "--port", str(port), "--no-log"], port=port)
    exploration = explore(flow)
    assert exploration.node_coverage == 1.0
    routes = {str(route): route for route in exploration.paths.values()}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    checked = 0
    for route in routes.values():
        call = route.play(flow)
        for step in call.steps:
            method = "DELETE" if step.request["event"] == 3 else "POST"
            status, _, answer = request(port, method, body=step.request, connection=connection)
            assert (status, answer) == (200, step.response), (name, str(route), step.request)
            checked += 1
    assert checked >= len(routes) >= 3
