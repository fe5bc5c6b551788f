"""Publishing a flow to a running webhook: a new revision for new calls, each call on its own.

In process: the swap (a bad file refused, bounded revisions, a call finishing on its revision,
rollback, revisions shared through Redis); then under load against real servers (the stdlib
server, the asyncio server, and uvicorn and the asyncio server with 2 workers and Redis): a
changed flow.json published mid-run drops no call and gives no call an answer from a revision
it did not start on; a bad file is refused.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, RedisServer, free_port, request, uvicorn_command, webhook_command

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import dumps
from jaxl_designer.core.runtime import LookupResult, MemoryStore, Runtime, revision
from jaxl_designer.core.runtime import request as webhook_request
from jaxl_designer.webhook.app import PendingReply, WebhookApp
from jaxl_designer.webhook.revisions import FlowRefused, Revisions, check_flow, read_flow


def tagged(tag: str) -> dict[str, Any]:
    """Acme with every node's first prompt line ending in `[tag]`: answers tell revisions apart."""
    document = json.loads(dumps(acme()))
    for spec in document["nodes"].values():
        if spec.get("prompt"):
            spec["prompt"][0] += f" [{tag}]"
    return document


def tags(answer: Any) -> set[str]:
    """The revision tags an answer's prompt carries."""
    lines = (answer or {}).get("prompt") or []
    return {line.rsplit("[", 1)[1].rstrip("]") for line in lines if line.endswith("]")}


def publish_file(path: Path, text: str) -> None:
    """Publish as an export does: a whole new file renamed over the old one."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class Caller:
    """One Acme call, step by step, against `answer(body) -> JSON answer`."""

    STEPS = (
        {"event": 1},  # the start: the main menu
        {"event": 2, "option": "2"},  # the order number, please
        {"event": 2, "data": "4711*"},  # you entered 4711: press 1 to confirm
        {"event": 2, "option": "1"},  # thank you: hangup
    )

    def __init__(self, call_id: int, answer: Callable[[dict[str, Any]], Any]) -> None:
        self.call_id = call_id
        self.answer = answer
        self.seen: list[set[str]] = []

    def step(self, at: int) -> Any:
        fields = dict(self.STEPS[at])
        body = webhook_request(fields.pop("event"), self.call_id, **fields)
        answer = self.answer(body)
        self.seen.append(tags(answer))
        return answer

    def run(self, pause: Callable[[], None] = lambda: None) -> None:
        """The call's steps from where it is to its end."""
        for at in range(len(self.seen), len(self.STEPS)):
            self.step(at)
            pause()


def app_answer(app: WebhookApp) -> Callable[[dict[str, Any]], Any]:
    def answer(body: dict[str, Any]) -> Any:
        status, _, data = app.handle("POST", "/webhook/", "", {}, json.dumps(body).encode())
        assert status == 200, data
        return json.loads(data)

    return answer


def test_a_call_finishes_on_the_revision_it_started_on_and_new_calls_take_the_new_one() -> None:
    lines: list[str] = []
    revisions = Revisions(tagged("A"), MemoryStore(), log=lines.append)
    app = WebhookApp(revisions.runtime, log=lines.append, revisions=revisions)
    answer = app_answer(app)
    first = Caller(1, answer)
    first.step(0)
    first.step(1)
    new_rev = revisions.publish(tagged("B"), "flow B")
    assert new_rev == revision(tagged("B")) == app.revision
    second = Caller(2, answer)
    second.run()
    first.step(2)
    first.step(3)
    assert first.seen == [{"A"}] * 4
    assert second.seen == [{"B"}] * 4
    answer(webhook_request(1, 3))
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    by_call = {(entry["call_id"], entry["rev"]) for entry in logged}
    assert by_call == {(1, revision(tagged("A"))), (2, new_rev), (3, new_rev)}
    assert any("flow B: revision " + new_rev + " published" in line for line in lines)


def test_a_bad_file_is_refused_with_one_line_and_the_old_revision_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    publish_file(path, json.dumps(tagged("A")))
    lines: list[str] = []
    revisions = Revisions(read_flow(str(path)), MemoryStore(), path=str(path), log=lines.append)
    app = WebhookApp(revisions.runtime, log=None, revisions=revisions)
    served = revisions.revision
    call = Caller(1, app_answer(app))
    call.step(0)
    broken = dict(tagged("B"), entry="nowhere")
    bad_files = ['{"entry": "main", "nodes": {', json.dumps(broken), "[]", ""]
    for text in bad_files:
        publish_file(path, text)
        assert revisions.reload() is None
        assert revisions.revision == served
    assert len(lines) == len(bad_files)
    assert all(line.startswith(f"webhook: {path} refused, revision {served}") for line in lines)
    assert "not JSON" in lines[0] and "'nowhere' is not a node" in lines[1]
    call.run()
    assert call.seen == [{"A"}] * 4
    # A file that stays bad is said once, not at every look.
    revisions._next_check = 0.0
    app.handle("POST", "/webhook/", "", {}, json.dumps(webhook_request(1, 9)).encode())
    assert len(lines) == len(bad_files)
    # The file watch: a good file is published at the next look, without a signal.
    publish_file(path, json.dumps(tagged("B")))
    revisions._next_check = 0.0
    assert tags(app_answer(app)(webhook_request(1, 10))) == {"B"}
    assert revisions.revision == revision(tagged("B"))


def test_what_is_refused() -> None:
    good = tagged("A")
    assert check_flow(good) is good
    cases = {
        "includes a piece": {"kind": "subflow", "piece": "x"},
        "is the parameter {{sales}}": {"kind": "transfer", "phone": "{{sales}}"},
        "of no kind the webhook runs": {"kind": "teleport"},
    }
    for why, node in cases.items():
        document = copy.deepcopy(good)
        document["nodes"]["extra"] = node
        with pytest.raises(FlowRefused, match=why):
            check_flow(document)
    with pytest.raises(FlowRefused, match="format"):
        check_flow({**good, "format": "other"})


def test_revisions_are_bounded_and_a_call_on_one_let_go_starts_again() -> None:
    lines: list[str] = []
    revisions = Revisions(tagged("A"), MemoryStore(), keep=2, log=lines.append)
    app = WebhookApp(revisions.runtime, log=None, revisions=revisions)
    answer = app_answer(app)
    on_a = Caller(1, answer)
    on_a.step(0)
    revisions.publish(tagged("B"), "B")
    on_b = Caller(2, answer)
    on_b.step(0)
    revisions.publish(tagged("C"), "C")
    assert revisions.kept() == [revision(tagged("B")), revision(tagged("C"))]
    on_b.run()
    assert on_b.seen == [{"B"}] * 4
    restarted = on_a.step(1)  # revision A is kept nowhere: the call starts again, on C
    assert tags(restarted) == {"C"}
    assert any("kept neither here nor in the store" in line for line in lines)


def test_rollback_is_publishing_the_old_flow_again() -> None:
    revisions = Revisions(tagged("A"), MemoryStore(), log=lambda line: None)
    app = WebhookApp(revisions.runtime, log=None, revisions=revisions)
    answer = app_answer(app)
    first_a = revisions.revision
    first_runtime = revisions.runtime
    revisions.publish(tagged("B"), "B")
    on_b = Caller(1, answer)
    on_b.step(0)
    assert revisions.publish(tagged("A"), "A again") == first_a
    assert revisions.runtime is first_runtime  # the same revision, kept: not built again
    on_a = Caller(2, answer)
    on_a.run()
    on_b.run()
    assert on_a.seen == [{"A"}] * 4
    assert on_b.seen == [{"B"}] * 4
    assert revisions.kept() == [revision(tagged("B")), first_a]


def test_a_call_waiting_on_a_lookup_finishes_on_its_revision() -> None:
    def flow(tag: str) -> dict[str, Any]:
        return {
            "entry": "ask",
            "allowed_hosts": ["orders.test"],
            "nodes": {
                "ask": {
                    "kind": "lookup",
                    "url": "https://orders.test/x",
                    "edges": {"ok": "done", "failed": "done"},
                },
                "done": {"kind": "hangup", "prompt": [f"Done [{tag}]"]},
            },
        }

    revisions = Revisions(flow("A"), MemoryStore(), log=lambda line: None)
    app = WebhookApp(revisions.runtime, log=None, revisions=revisions)
    fields: dict[str, Any] = {}
    pending = app.start_json(json.dumps(webhook_request(1, 1)).encode(), fields)
    revisions.publish(flow("B"), "B")
    assert isinstance(pending, PendingReply)
    reply = app.resume(pending, LookupResult(200, b"{}"))
    assert not isinstance(reply, PendingReply)
    assert json.loads(reply[2])["prompt"] == ["Done [A]"]


@pytest.mark.redis
def test_workers_share_revisions_through_redis(redis_server: RedisServer) -> None:
    from jaxl_designer.webhook.redis_store import RedisStore

    lines: list[str] = []

    def worker(document: dict[str, Any]) -> tuple[Revisions, WebhookApp]:
        revisions = Revisions(document, RedisStore(redis_server.url, ttl=60), log=lines.append)
        return revisions, WebhookApp(revisions.runtime, log=None, revisions=revisions)

    one, app_one = worker(tagged("A"))
    two, app_two = worker(tagged("A"))
    one.publish(tagged("B"), "B")  # worker two has not seen it yet
    on_b = Caller(1, app_answer(app_one))
    on_b.step(0)
    on_b.answer = app_answer(app_two)
    on_b.step(1)
    assert on_b.seen == [{"B"}, {"B"}]
    assert revision(tagged("B")) in two.kept() and two.revision == revision(tagged("A"))
    # A worker started afresh on C answers a call on A from what Redis keeps.
    on_a = Caller(2, app_answer(app_two))
    on_a.step(0)
    _, app_three = worker(tagged("C"))
    on_a.answer = app_answer(app_three)
    on_a.step(1)
    on_a.step(2)
    on_a.step(3)
    assert on_a.seen == [{"A"}] * 4
    assert not [line for line in lines if "kept neither" in line]


def test_the_app_without_revisions_given_serves_its_runtime_as_before() -> None:
    runtime = Runtime(tagged("A"))
    app = WebhookApp(runtime, log=None)
    assert app.runtime is runtime and app.revision == revision(tagged("A"))
    assert tags(app_answer(app)(webhook_request(1, 1))) == {"A"}


# -- under load: real servers, many whole calls, a publish and a bad file mid-run -------------
class Tally:
    """What the calls under load heard."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[float, float, str, list[set[str]]]] = []  # start, end, rev, tags
        self.errors: list[str] = []

    def add(self, started: float, ended: float, seen: list[set[str]]) -> None:
        first = next(iter(seen[0])) if len(seen[0]) == 1 else "?"
        with self.lock:
            self.calls.append((started, ended, first, seen))

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def _load(port: int, flow_json: Path, seconds: float = 6.0, threads: int = 24) -> dict[str, Any]:
    """Whole Acme calls from `threads` threads for `seconds`; a changed flow published at a
    third of the run, a bad file at two thirds. The figures, and the calls, returned."""
    tally = Tally()
    ids = iter(range(10_000_000, 20_000_000))
    ids_lock = threading.Lock()
    stop = threading.Event()

    def answer(body: dict[str, Any]) -> Any:
        status, _, data = request(port, body=body)
        if status != 200 or not isinstance(data, dict) or not data.get("prompt"):
            raise AssertionError(f"status {status}: {data!r}")
        return data

    def caller() -> None:
        while not stop.is_set():
            with ids_lock:
                call_id = next(ids)
            call = Caller(call_id, answer)
            started = time.monotonic()
            try:
                call.run(pause=lambda: time.sleep(0.02))
            except Exception as error:  # a dropped call: an error, never retried
                tally.error(f"call {call_id} at step {len(call.seen)}: {error}")
                continue
            tally.add(started, time.monotonic(), call.seen)

    workers = [threading.Thread(target=caller, daemon=True) for _ in range(threads)]
    begun = time.monotonic()
    for worker in workers:
        worker.start()
    time.sleep(seconds / 3)
    publish_file(flow_json, json.dumps(tagged("B"), indent=2))
    published = time.monotonic()
    time.sleep(seconds / 3)
    publish_file(flow_json, '{"format": "jaxl-designer/flow", "entry": "main", "nodes": {')
    bad = time.monotonic()
    time.sleep(seconds / 3 + 1.5)  # past the look at the bad file
    stop.set()
    for worker in workers:
        worker.join(30)
    calls = tally.calls
    wrong = [c for c in calls if c[2] == "?" or any(tags != {c[2]} for tags in c[3])]
    settled = published + 1.2  # every process looked at the file (once a second)
    # The calls in flight while the publish was taking hold: from the file's change until
    # every process had looked at it.
    spanning = [c for c in calls if c[0] < settled and c[1] > published]
    figures = {
        "calls": len(calls),
        "calls during the publish": len(spanning),
        "of them on A": sum(1 for c in spanning if c[2] == "A"),
        "of them on B": sum(1 for c in spanning if c[2] == "B"),
        "errors": len(tally.errors),
        "wrong answers": sum(sum(1 for tags in c[3] if tags != {c[2]}) for c in wrong),
        "new calls on A after the publish": sum(1 for c in calls if c[0] > settled and c[2] != "B"),
        "calls on B after the bad file": sum(1 for c in calls if c[0] > bad + 1.2 and c[2] == "B"),
        "calls before the publish on A": sum(1 for c in calls if c[1] < published and c[2] == "A"),
        "seconds": round(time.monotonic() - begun, 1),
    }
    return {"figures": figures, "errors": tally.errors[:5], "wrong": wrong[:5]}


def _check(result: dict[str, Any], form: str) -> None:
    figures = result["figures"]
    print(f"\npublish under load ({form}): {figures}")
    assert figures["errors"] == 0, result["errors"]
    assert figures["wrong answers"] == 0, result["wrong"]
    assert figures["new calls on A after the publish"] == 0
    assert figures["calls during the publish"] > 0 and figures["of them on A"] > 0
    assert figures["calls on B after the bad file"] > 0
    assert figures["calls before the publish on A"] > 0


def _served_folder(tmp_path: Path) -> tuple[Path, Path]:
    from conftest import export_acme

    webhook = export_acme(tmp_path / "acme")
    flow_json = webhook.parent / "flow.json"
    publish_file(flow_json, json.dumps(tagged("A"), indent=2))
    return webhook, flow_json


@pytest.mark.parametrize("form", ["stdlib", "asyncio"])
def test_publishing_under_load_on_one_process(tmp_path: Path, spawn: Processes, form: str) -> None:
    webhook, flow_json = _served_folder(tmp_path)
    port = free_port()
    extra = ["--asyncio"] if form == "asyncio" else []
    command = webhook_command(webhook, port, "--flow", str(flow_json), *extra)
    server = spawn.start(command, port=port)
    _check(_load(port, flow_json), f"python webhook.py {' '.join(extra)}".strip())
    output = server.output()
    assert output.count(f"revision {revision(tagged('B'))} published") == 1, output
    assert output.count(f"{flow_json} refused, revision {revision(tagged('B'))}") == 1, output
    assert "Traceback" not in output and "kept neither" not in output


@pytest.mark.redis
@pytest.mark.parametrize("form", ["uvicorn", "asyncio"])
def test_publishing_under_load_with_two_workers_and_redis(
    tmp_path: Path, spawn: Processes, redis_server: RedisServer, form: str
) -> None:
    webhook, flow_json = _served_folder(tmp_path)
    port = free_port()
    if form == "uvicorn":
        command = uvicorn_command(webhook, port, 2)
    else:
        command = webhook_command(webhook, port, "--asyncio", "--workers", "2")
    env = {"JAXL_REDIS_URL": redis_server.url, "JAXL_FLOW_FILE": str(flow_json),
           "JAXL_WEBHOOK_LOG": "0"}  # fmt: skip
    server = spawn.start(command, port=port, env=env)
    time.sleep(1.0)  # both workers up
    _check(_load(port, flow_json), f"{form}, 2 workers, Redis")
    output = server.output()
    assert output.count(f"revision {revision(tagged('B'))} published") == 2, output
    assert output.count(f"{flow_json} refused, revision {revision(tagged('B'))}") == 2, output
    assert "Traceback" not in output and "kept neither" not in output
