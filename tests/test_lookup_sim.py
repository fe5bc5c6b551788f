"""Lookups offline: the simulator answers them from stubs, scenarios carry the stubs, and the
explorer answers each lookup every way it can go, with routes that replay alike."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flow_strategies import VARIABLES, valid_flows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxl_designer.core import scenarios
from jaxl_designer.core.explorer import explore
from jaxl_designer.core.fileformat import save as save_flow
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import Lookup, LookupResult
from jaxl_designer.core.simulator import (
    CallAssertionError,
    LookupOutcome,
    Simulator,
    Stub,
    StubError,
)
from jaxl_designer.core.validation import errors, validate

HOST = "api.example.com"
ORDERS = f"https://{HOST}/orders/"


def orders(*, timeout_edge: bool = True, failed_edge: bool = True, host: str = HOST) -> Flow:
    """Enter an order number; the backend says its status; shipped orders hear so."""
    flow = Flow("orders")
    flow.allowed_hosts = [host]
    flow.collect("ask", "Enter your order number, then hash.", "order", then="find")
    flow.lookup(
        "find",
        f"https://{HOST}/orders/{{order}}",
        save={"status": "order.status"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        prompt="One moment.",
        ok="check",
        failed="sorry" if failed_edge else None,
        timed_out="slow" if timeout_edge else None,
    )
    flow.branch(
        "check",
        [{"outcome": "shipped", "test": "equals", "subject": "status", "value": "shipped"}],
        outcomes={"shipped": "on_its_way", "default": "status"},
    )
    flow.hangup("on_its_way", "Your order is on its way.")
    flow.hangup("status", "Your order is {status}.")
    flow.hangup("sorry", "Sorry, we cannot find that order.")
    if timeout_edge:
        flow.hangup("slow", "Our system is slow right now.")
    return flow


def shipped(order: str = "17") -> Stub:
    return Stub.json(ORDERS + order, {"order": {"status": "shipped"}}, method="GET")


# -- the simulator ---------------------------------------------------------------------------
def test_a_stub_answers_and_the_transcript_shows_the_lookup() -> None:
    call = Simulator(orders(), lookups=[shipped()]).dial()
    call.enter("17#")
    call.assert_heard("Your order is on its way.")
    call.assert_lookup("find", "ok")
    assert call.path == ["ask", "find", "check", "on_its_way"]
    [made] = call.lookups
    assert (made.node, made.exit, made.why) == ("find", "ok", "status 200")
    assert (made.method, made.url, made.answer) == ("GET", ORDERS + "17", shipped())
    assert ("ivr", f"(lookup at find: GET {ORDERS}17 → ok (status 200))") in call.transcript
    assert "IVR: (lookup at find: GET" in call.script()


def test_a_pattern_stub_matches_any_run_of_characters_and_its_method_only() -> None:
    stub = {"method": "GET", "url": ORDERS + "*", "json": {"order": {"status": "packed"}}}
    call = Simulator(orders(), lookups=[stub]).dial()
    call.enter("4711#")
    call.assert_heard("Your order is packed.")
    assert Stub(ORDERS + "*").matches("DELETE", ORDERS + "1/items?x=2")
    assert not Stub(ORDERS + "*", "POST").matches("GET", ORDERS + "1")
    assert not Stub(ORDERS + "1").matches("GET", ORDERS + "12"), "no *: the exact URL only"
    assert not Stub(ORDERS + "1*").matches("GET", f"https://{HOST}/other/1")


def test_a_timeout_stub_takes_the_timeout_exit_or_failed_without_one() -> None:
    late = {"url": ORDERS + "17", "timeout": True}
    call = Simulator(orders(), lookups=[late]).dial()
    call.enter("17#")
    call.assert_heard("Our system is slow right now.")
    assert call.lookups[0].exit == "timeout" and "no answer within 2 s" in call.lookups[0].why
    call = Simulator(orders(timeout_edge=False), lookups=[late]).dial()
    call.enter("17#")
    call.assert_heard("Sorry, we cannot find that order.")
    call.assert_lookup("find", "failed")


def test_an_unmatched_lookup_fails_at_once_saying_which_request_had_no_stub() -> None:
    started = time.monotonic()
    call = Simulator(orders(), lookups=[shipped("99")]).dial()
    call.enter("17#")
    assert time.monotonic() - started < 1, "nothing is asked of any network"
    call.assert_heard("Sorry, we cannot find that order.")
    assert call.lookups[0].exit == "failed"
    assert call.lookups[0].why == f"no stub for GET {ORDERS}17"
    assert call.lookups[0].answer is None
    assert f"failed (no stub for GET {ORDERS}17)" in call.script()
    # No stubs at all is the same: the simulator never reaches out unless told to.
    call = Simulator(orders()).dial()
    call.enter("17#")
    assert call.lookups[0].why == f"no stub for GET {ORDERS}17"


def test_error_and_status_stubs_take_the_failed_exit_with_the_reason() -> None:
    for stub, why in [
        ({"url": ORDERS + "17", "error": "connection refused"}, "connection refused"),
        ({"url": ORDERS + "17", "status": 404, "json": {"error": "no such order"}}, "status 404"),
        ({"url": ORDERS + "17", "body": "<html>"}, "the answer is not JSON"),
        ({"url": ORDERS + "17", "json": {"order": {}}}, "the answer has no order.status"),
    ]:
        call = Simulator(orders(), lookups=[stub]).dial()
        call.enter("17#")
        assert (call.lookups[0].exit, call.lookups[0].why) == ("failed", why), stub
    assert Stub(ORDERS + "17", body="<html>").body == b"<html>", "text is sent as UTF-8"


def test_stubs_for_one_request_answer_in_turn_the_last_repeating() -> None:
    flow = orders()
    flow.menu("sorry", "Press 1 to try again.", keys={"1": "find"})
    sim = Simulator(flow, lookups=[Stub(ORDERS + "17", status=503), shipped()])
    call = sim.dial()
    call.enter("17#")
    call.assert_waiting_at("sorry")
    call.press("1")
    call.assert_heard("Your order is on its way.")
    assert [made.exit for made in call.lookups] == ["failed", "ok"]
    scenario = scenarios.record(call, "retry")
    assert len(scenario["lookups"]) == 2 and scenarios.run(flow, scenario).passed
    again = sim.dial()  # each call counts its own answers
    again.enter("17#")
    assert again.lookups[0].exit == "failed"


def test_a_refused_lookup_is_shown_as_not_asked() -> None:
    call = Simulator(orders(host="other.example.com"), lookups=[shipped()]).dial()
    call.enter("17#")
    [made] = call.lookups
    assert made == LookupOutcome("find", "failed", f"'{HOST}' is not an allowed host")
    assert "find: not asked → failed" in call.script()


def test_secrets_read_placeholders_with_stubs_and_the_environment_for_real() -> None:
    asked: list[Lookup] = []

    def backend(lookup: Lookup) -> LookupResult:
        asked.append(lookup)
        return LookupResult(200, b'{"order": {"status": "lost"}}')

    call = Simulator(orders(), lookups=backend, secrets={"ORDERS_TOKEN": "s3cret"}).dial()
    call.enter("17#")
    call.assert_heard("Your order is lost.")
    assert ("Authorization", "Bearer s3cret") in asked[0].headers
    call = Simulator(orders(), lookups=backend, secrets={}).dial()
    call.enter("17#")
    assert call.lookups[0].why == "the secret ORDERS_TOKEN is not set"
    with pytest.raises(StubError, match='expected stubs, "http" or a function'):
        Simulator(orders(), lookups="https")


def test_assert_lookup_fails_with_the_transcript() -> None:
    call = Simulator(orders(), lookups=[shipped()]).dial()
    with pytest.raises(CallAssertionError, match="the lookup at 'find' never ran"):
        call.assert_lookup("find", "ok")
    call.enter("17#")
    with pytest.raises(CallAssertionError, match=r"(?s)took ok, not 'timeout'.*transcript"):
        call.assert_lookup("find", "timeout")


@pytest.fixture
def backend() -> Iterator[tuple[int, list[str]]]:
    """A real local backend: /orders/<n> answers the order's status as JSON."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            body = json.dumps({"order": {"status": f"packed {self.path[-2:]}"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()


def test_real_http_and_the_recorded_scenario_replays_without_the_backend(
    backend: tuple[int, list[str]],
) -> None:
    port, paths = backend
    flow = orders(host=f"127.0.0.1:{port}")
    flow.update("find", url=f"http://127.0.0.1:{port}/orders/{{order}}")
    call = Simulator(flow, lookups="http", secrets={"ORDERS_TOKEN": "t"}).dial()
    call.enter("42#")
    call.assert_heard("Your order is packed 42.")
    assert paths == ["/orders/42"]
    scenario = scenarios.record(call, "real")
    assert scenario["lookups"] == [
        {
            "method": "GET",
            "url": f"http://127.0.0.1:{port}/orders/42",
            "status": 200,
            "json": {"order": {"status": "packed 42"}},
        }
    ]
    assert scenarios.run(flow, json.loads(json.dumps(scenario))).passed
    assert paths == ["/orders/42"], "the replay asked nothing of the backend"


# -- scenarios ----------------------------------------------------------------------------
def test_a_scenario_records_its_stubs_and_the_exits_and_replays(tmp_path: Path) -> None:
    unused = Stub.json(f"https://{HOST}/unused", {})
    call = Simulator(orders(), lookups=[unused, shipped()]).dial()
    call.enter("17#")
    scenario = scenarios.record(call, "shipped")
    assert scenario["lookups"] == [shipped().to_dict()], "only the stubs the call used"
    assert scenario["steps"][1]["lookups"] == [{"node": "find", "exit": "ok"}]
    path = tmp_path / "shipped.json"
    scenarios.save(scenario, path)
    assert scenarios.run(orders(), scenarios.load(path)).passed


def test_a_scenario_whose_backend_changed_names_the_step_and_the_lookup() -> None:
    call = Simulator(orders(), lookups=[shipped()]).dial()
    call.enter("17#")
    scenario = scenarios.record(call, "shipped")
    scenario["lookups"] = [{"url": ORDERS + "*", "timeout": True}]
    result = scenarios.run(orders(), scenario)
    assert not result.passed
    assert any(
        failure.startswith("step 2 (enter 17#): expected lookups ['find ok'], got find: GET")
        and "→ timeout" in failure
        for failure in result.failures
    ), result.failures


@pytest.mark.parametrize(
    ("stub", "error"),
    [
        ("GET /x", "lookups[0]: expected a stub like"),
        ({"json": {}}, "lookups[0].url: expected the URL"),
        ({"url": "https://a/", "method": "FETCH"}, "lookups[0].method: expected one of GET"),
        ({"url": "https://a/", "status": "200"}, "lookups[0].status: expected an HTTP status"),
        ({"url": "https://a/", "status": 99}, "lookups[0].status: expected an HTTP status"),
        ({"url": "https://a/", "timeout": "yes"}, "lookups[0].timeout: expected true or false"),
        ({"url": "https://a/", "timeout": True, "json": {}}, "lookups[0].timeout: a stub that"),
        ({"url": "https://a/", "json": {}, "body": "x"}, "lookups[0].body: give json or body"),
        ({"url": "https://a/", "body": {"a": 1}}, "lookups[0].body: expected text"),
        ({"url": "https://a/", "json": float("nan")}, "lookups[0].json: expected a JSON value"),
        ({"url": "https://a/", "answer": 200}, "lookups[0].answer: unknown field"),
    ],
)
def test_a_bad_stub_is_one_line_naming_the_file_and_place(
    stub: object, error: str, tmp_path: Path
) -> None:
    call = Simulator(orders()).dial()
    scenario = scenarios.record(call, "bad")
    scenario["lookups"] = [stub]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(scenario))
    with pytest.raises(scenarios.ScenarioError) as raised:
        scenarios.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {error}") and "\n" not in message
    with pytest.raises(StubError, match=error.replace("[", r"\[")):
        Simulator(orders(), lookups=[stub])  # type: ignore[list-item]


def test_a_scenario_step_with_bad_lookup_exits_is_refused() -> None:
    call = Simulator(orders(), lookups=[shipped()]).dial()
    call.enter("17#")
    scenario = scenarios.record(call, "x")
    scenario["steps"][1]["lookups"] = [{"node": "find", "exit": "maybe"}]
    with pytest.raises(scenarios.ScenarioError, match=r"x: steps\[1\]\.lookups: expected a list"):
        scenarios.run(orders(), scenario)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
_STUBS = st.fixed_dictionaries(
    {"url": st.sampled_from([ORDERS + "1", ORDERS + "*", "http://127.0.0.1:8765/x?q=*"])},
    optional={"method": st.sampled_from(["GET", "POST", "DELETE"])},
).flatmap(
    lambda base: st.one_of(
        st.fixed_dictionaries(
            {**{k: st.just(v) for k, v in base.items()}, "timeout": st.just(True)}
        ),
        st.fixed_dictionaries(
            {**{k: st.just(v) for k, v in base.items()}, "error": st.text(min_size=1)}
        ),
        st.fixed_dictionaries(
            {**{k: st.just(v) for k, v in base.items()}, "status": st.integers(100, 599)},
            optional={"json": _JSON},
        ),
    )
)


@given(_STUBS)
def test_a_stub_survives_its_json_form(entry: dict[str, object]) -> None:
    stub = Stub.from_dict(entry)
    again = Stub.from_dict(json.loads(json.dumps(stub.to_dict())))
    assert again.to_dict() == stub.to_dict()
    result, other = stub.result(), again.result()
    assert (result.status, result.timed_out, result.error) == (
        other.status,
        other.timed_out,
        other.error,
    )
    if result.body:
        assert json.loads(result.body) == json.loads(other.body)


# -- the explorer ---------------------------------------------------------------------------
def test_the_explorer_takes_every_exit_of_a_lookup_and_its_routes_replay() -> None:
    flow = orders()
    found = explore(flow)
    assert found.node_coverage == 1.0 and found.edge_coverage == 1.0, found.report()
    assert found.ok
    for exit, target in (("ok", "check"), ("failed", "sorry"), ("timeout", "slow")):
        route = found.paths[("find", exit, target)]
        assert [(o.node, o.exit) for o in route.outcomes] == [("find", exit)]
        assert str(route) == f"dial, enter 1# [find {exit}]"
        call = route.play(flow)
        assert target in call.path and call.lookups == route.outcomes
    # The answer a branch looks for is tried: "shipped" reaches its outcome.
    route = found.paths[("check", "shipped", "on_its_way")]
    [made] = route.outcomes
    assert made.answer is not None and made.method == "GET" and made.url == ORDERS + "1"
    assert json.loads(made.answer.body) == {"order": {"status": "shipped"}}
    assert route.stubs() == [made.answer]
    # Every route, as a recorded scenario, replays on the flow and passes.
    for scenario in found.scenarios():
        assert scenarios.run(flow, json.loads(json.dumps(scenario))).passed, scenario["name"]


def test_the_explorer_flags_a_value_saved_only_on_the_ok_way() -> None:
    flow = orders()
    flow.update("sorry", prompt=["Sorry, order status {status} is unknown."])
    found = explore(flow)
    [unset] = found.unset
    assert unset.node == "sorry" and "{status} is not set" in unset.message
    assert [(o.node, o.exit) for o in unset.route.outcomes] == [("find", "failed")]


def test_a_lookup_exit_without_an_edge_is_a_dead_end_with_its_route() -> None:
    found = explore(orders(failed_edge=False))
    [dead] = found.dead_ends
    assert dead.node == "find"
    assert "the lookup took 'failed' (status 500), which has no edge" in dead.message
    assert [o.exit for o in dead.route.outcomes] == ["failed"]


def test_lookups_one_after_another_are_each_answered_every_way() -> None:
    flow = Flow("two")
    flow.allowed_hosts = [HOST]
    flow.lookup("first", f"https://{HOST}/a", ok="second", failed="second", timed_out="bye")
    flow.lookup("second", f"https://{HOST}/b", save={"name": "name"}, ok="hi", failed="bye")
    flow.hangup("hi", "Hello {name}.")
    flow.hangup("bye", "Bye.")
    found = explore(flow)
    assert found.edge_coverage == 1.0 and found.ok and not found.unset
    route = found.paths["hi"]
    assert [(o.node, o.exit) for o in route.outcomes] == [("first", "ok"), ("second", "ok")]
    assert str(route) == "dial [first ok, second ok]"
    assert route.play(flow).heard == ["Hello <name>."]


def test_a_number_from_a_lookup_is_explored_valid_and_not() -> None:
    flow = Flow("shop")
    flow.allowed_hosts = ["127.0.0.1:8765"]
    flow.subflow(
        "orders", "order_status", exits={"unavailable": "sorry", "done": "bye", "gave_up": "bye"}
    )
    flow.hangup("sorry", "Sorry, try later.")
    flow.hangup("bye", "Goodbye.")
    found = explore(flow)
    assert found.edge_coverage == 1.0 and found.ok, found.report()
    invalid = found.paths[("orders/agent", "invalid", "sorry")].play(flow)
    invalid.assert_heard("Sorry, try later.")
    assert invalid.lookups[0].exit == "ok", "the answer gave no phone number"


@st.composite
def flows_with_lookups(draw: st.DrawFn) -> Flow:
    """A sound random flow with lookups put on some of its edges (each exit going on where the
    edge went), saving variables branches and prompts read."""
    flow = draw(valid_flows(max_nodes=6))
    flow.allowed_hosts = [HOST]
    edges = [(node, key, target) for node in flow.nodes for key, target in flow.edges(node).items()]
    chosen = draw(st.lists(st.sampled_from(edges), unique=True, max_size=2)) if edges else []
    places: list[tuple[str | None, str]] = [(None, str(flow.entry))]
    places += [(f"{node} {key}", target) for node, key, target in chosen]
    for index, (where, target) in enumerate(places):
        if index == 0 and not draw(st.booleans()):
            continue
        node = f"look{index}"
        paths = st.sampled_from(["v", "a.b", "items.0"])
        flow.lookup(
            node,
            f"https://{HOST}/x/{{from_number}}",
            save=draw(st.dictionaries(st.sampled_from(VARIABLES), paths, max_size=2)),
            ok=target,
            failed=target,
            timed_out=target if draw(st.booleans()) else None,
        )
        if where is None:
            flow.entry = node
        else:
            source, key = where.split(" ")
            flow.connect(source, key, node)
    return flow


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows_with_lookups())
def test_on_random_flows_every_lookup_exit_is_explored_and_every_route_replays(flow: Flow) -> None:
    assert errors(validate(flow)) == [], [str(p) for p in validate(flow)]
    found = explore(flow)
    assert not found.unset
    for node in found.reached_nodes:
        if flow.kind(node) == "lookup":
            for key, target in flow.edges(node).items():
                assert (node, key, target) in found.paths, (node, key)
    for scenario in found.scenarios():
        assert scenarios.run(flow, scenario).passed, scenario


# -- the terminal ---------------------------------------------------------------------------
def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jaxl_designer", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_call_in_the_terminal_answers_lookups_from_a_stubs_file(tmp_path: Path) -> None:
    flow_file, stubs, scenario = (
        tmp_path / "orders.json",
        tmp_path / "stubs.json",
        tmp_path / "s.json",
    )
    save_flow(orders(), flow_file)
    stubs.write_text(json.dumps([shipped().to_dict()]))
    done = _cli(
        "call", str(flow_file), "--lookups", str(stubs), "--record", str(scenario), stdin="17\n"
    )
    assert done.returncode == 0, done.stderr
    assert f"IVR: (lookup at find: GET {ORDERS}17 → ok (status 200))" in done.stdout
    assert "IVR: Your order is on its way." in done.stdout
    assert json.loads(scenario.read_text())["lookups"] == [shipped().to_dict()]
    replayed = _cli("test", str(flow_file), str(scenario))
    assert replayed.returncode == 0 and "PASS s (2 steps)" in replayed.stdout
    # Without stubs the lookup fails and says why; a bad stub is one line naming its place.
    done = _cli("call", str(flow_file), stdin="17\n")
    assert f"failed (no stub for GET {ORDERS}17)" in done.stdout
    stubs.write_text(json.dumps([{"url": ORDERS + "*", "status": "ok"}]))
    done = _cli("call", str(flow_file), "--lookups", str(stubs))
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        f"--lookups {stubs}: lookups[0].status: expected an HTTP status, 100 to 599"
    )
