"""No one gets in where they do not belong: tokens, other calls, templates, files, drawings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, exchange, free_port, http_request, webhook_command

from jaxl_designer.core.examples import acme
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.exporter.export import ExportError, export, generate_webhook

ORDER = {"prompt": ["Please enter your order number followed by star"], "num_characters": "*"}


def send(port: int, payload: Any, method: str = "POST", path: str = "/webhook/",
         **headers: str) -> tuple[int, Any]:  # fmt: skip
    reply, raw = exchange(port, http_request(method, json.dumps(payload).encode(), path, headers))
    assert reply is not None, raw
    return reply.status, reply.json()


def keys(url: str) -> dict[str, Any]:
    """The call states in Redis (the published flows it also keeps, `jaxl:flow:*`, are not)."""
    import redis

    client = redis.Redis.from_url(url)
    return {key.decode(): json.loads(client.get(key)) for key in client.keys("jaxl:call:*")}


# -- the token ----------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["stdlib", "uvicorn", "gunicorn", "asyncio"])
def test_an_address_others_reach_needs_a_token_or_a_word_saying_a_proxy_has_one(
    acme_webhook: Path, spawn: Processes, form: str
) -> None:
    """The secure form is the default one: without a token, only this machine is served."""
    import subprocess
    import sys

    from conftest import BIN

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAXL_")}
    if form == "gunicorn":
        args = [str(BIN / "gunicorn"), "--bind", f"0.0.0.0:{port}"]
    else:
        args = [sys.executable, str(acme_webhook), "--host", "0.0.0.0", "--port", str(port)]
        args += [] if form == "stdlib" else [f"--{form}"]
    refused = subprocess.run(args, env=env, cwd=acme_webhook.parent, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert refused.returncode != 0
    line = refused.stderr.strip().splitlines()[-1]
    assert "0.0.0.0" in line and "without a token" in line and "Traceback" not in refused.stderr
    # With a token it serves on every address, and asks for the token.
    served = spawn.start(args, port=port, env={**env, "JAXL_WEBHOOK_TOKEN": "s3cret"},
                         cwd=acme_webhook.parent)  # fmt: skip
    assert send(port, webhook_request(1, 4401))[0] == 401
    reply, raw = exchange(port, http_request("POST", json.dumps(webhook_request(1, 4401)).encode(),
                                             "/webhook/", {"X-Jaxl-Token": "s3cret"}))  # fmt: skip
    assert reply is not None and reply.status == 200, raw
    served.stop()
    # A proxy in front authenticates: said in so many words, it serves without one.
    spawn.start(args, port=port, env={**env, "JAXL_NO_TOKEN": "1"}, cwd=acme_webhook.parent)
    assert send(port, webhook_request(1, 4402))[0] == 200


@pytest.mark.redis
def test_without_the_right_token_nothing_is_written(
    acme_webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    port = free_port()
    args = webhook_command(acme_webhook, port, "--redis-url", redis_server.url, "--token", "s3cret")
    spawn.start(args, port=port)
    wrong: list[tuple[str, str, dict[str, str]]] = [
        ("POST", "/webhook/", {}),
        ("POST", "/webhook/", {"X-Jaxl-Token": ""}),
        ("POST", "/webhook/", {"X-Jaxl-Token": "S3CRET"}),
        ("POST", "/webhook/", {"X-Jaxl-Token": "s3cret "}),
        ("POST", "/webhook/", {"X-Jaxl-Token": "s3cretX"}),
        ("POST", "/webhook/?token=s3cre", {}),
        ("POST", "/webhook/?Token=s3cret", {}),
        ("POST", "/webhook/?token=", {}),
        ("DELETE", "/webhook/", {"Authorization": "Bearer s3cret"}),
    ]
    for call_id, (method, path, headers) in enumerate(wrong, 100):
        for event, option in ((1, None), (2, "2"), (3, None)):
            status, answer = send(port, webhook_request(event, call_id, option=option), method,
                                  path, **headers)  # fmt: skip
            assert (status, answer) == (401, {"error": "missing or wrong token"}), (path, headers)
    assert keys(redis_server.url) == {}
    assert send(port, webhook_request(1, 1), **{"X-Jaxl-Token": "s3cret"})[0] == 200
    assert send(port, webhook_request(1, 2), path="/webhook/?token=s3cret")[0] == 200
    assert set(keys(redis_server.url)) == {"jaxl:call:1", "jaxl:call:2"}
    # a teardown without the token does not end a call that has it
    assert send(port, webhook_request(3, 1), "DELETE")[0] == 401
    assert set(keys(redis_server.url)) == {"jaxl:call:1", "jaxl:call:2"}


# -- one call cannot reach another --------------------------------------------------------------
@pytest.mark.redis
def test_one_call_id_never_reads_or_changes_another_calls_variables(
    acme_webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    """Call 42 enters 1111, call 43 enters 2222; no spelling of an id reaches the other call.

    A numeric string is read as the number Jaxl means ("00042", "+42", " 42" are call 42, as the
    SDK's own model reads them); anything else that is not an integer is refused with 422.
    """
    port = free_port()
    spawn.start(webhook_command(acme_webhook, port, "--redis-url", redis_server.url), port=port)
    for step in ((1, None, None), (2, "2", None)):
        for call_id in (42, 43):
            send(port, webhook_request(step[0], call_id, option=step[1]))
    assert send(port, webhook_request(2, 42, option="2", data="1111*"))[1]["prompt"][0] == (
        "You entered 1111."
    )
    assert send(port, webhook_request(2, 43, option="2", data="2222*"))[1]["prompt"][0] == (
        "You entered 2222."
    )
    before = keys(redis_server.url)
    assert set(before) == {"jaxl:call:42", "jaxl:call:43"}
    # other calls, however close their id: each starts on its own, none hears 1111 or 2222
    others = [-42, -43, 420, 4, 2**64 + 42, 2**63 + 42, 10**30 + 42, "-4200", "0", "9" * 19]
    for other in others:
        status, answer = send(port, webhook_request(2, 0, option="1") | {
            "state": {**webhook_request(2, 0)["state"], "call_id": other}})  # fmt: skip
        assert (
            status == 200 and "1111" not in json.dumps(answer) and "2222" not in json.dumps(answer)
        )
        assert answer["prompt"][0] == "Sorry, we lost track of your call. Let us start again."
    refused = [42.0, 4.2e1, True, "42.0", "4_2", "42:x", "0x2a", "42*", "*", "4 2", "", None,
               "9" * 20, [42], {"id": 42}, "４２"]  # fmt: skip
    for other in refused:
        payload = webhook_request(2, 0, option="1")
        payload["state"]["call_id"] = other
        assert send(port, payload)[0] == 422, other
    huge = http_request("POST", json.dumps(webhook_request(2, 0, option="1")).encode()
                        .replace(b'"call_id": 0', b'"call_id": ' + b"4" * 5000))  # fmt: skip
    assert exchange(port, huge)[0].status == 400  # past Python's int-from-text limit
    after = keys(redis_server.url)
    assert {k: v for k, v in after.items() if k in before} == before  # 42 and 43 untouched
    assert all("1111" not in json.dumps(v) and "2222" not in json.dumps(v)
               for k, v in after.items() if k not in before)  # fmt: skip
    spelled = {f"jaxl:call:{s}" for s in ("00042", "+42", " 42 ", "42.0", "True", "1", "４２")}
    assert not spelled & set(after)
    # the same call, spelled as Jaxl may spell it: one key, the same variables
    for spelling in ("00042", "+42", " 42 "):
        payload = webhook_request(2, 0, option="2")
        payload["state"]["call_id"] = spelling
        assert send(port, payload) == (200, ORDER)
        payload["data"] = "1111*"
        assert send(port, payload)[1]["prompt"][0] == "You entered 1111."
    assert send(port, webhook_request(2, 43, option="1"))[1]["prompt"] == [
        "Thank you.", "Your order 2222 is on its way."]  # fmt: skip


# -- templates -----------------------------------------------------------------------------------
def hostile_flow() -> Flow:
    flow = Flow("hostile")
    flow.collect("order", ["Order then star."], "order", terminator="*", then="bye")
    flow.hangup("bye", ["{order.__class__} {__builtins__} {order[0]} {order.__init__.__globals__}",
                        "{from_number} said {order}; {to_number!r} {order:digits} {{order}}",
                        "{__class__}{self}{runtime}{call}{vars}{store}{node}"])  # fmt: skip
    return flow


def test_export_refuses_a_template_naming_what_no_node_collects() -> None:
    with pytest.raises(ExportError, match=r"\{__builtins__\} is never collected"):
        export(hostile_flow(), Path("/nonexistent/never-written"))


def test_templates_reach_no_attribute_and_no_other_calls_data(
    tmp_path: Path, spawn: Processes
) -> None:
    """Past validation (a hand-edited webhook.py): the runtime still only looks names up."""
    webhook = tmp_path / "webhook.py"
    webhook.write_text(generate_webhook(hostile_flow()), encoding="utf-8")
    port = free_port()
    process = spawn.start(webhook_command(webhook, port), port=port)
    victim, attacker = webhook_request(1, 1), webhook_request(1, 2, from_number="{order}")
    for call in (victim, attacker):
        send(port, call)
    send(port, {**victim, "data": "987654*"})
    status, answer = send(port, {**attacker, "data": "5*"})
    assert status == 200
    assert answer["prompt"] == [
        "{order.__class__}  {order[0]} {order.__init__.__globals__}",
        "{order} said 5; {to_number!r} 5 {order}",
        "",
    ]
    assert "987654" not in json.dumps(answer) and "Traceback" not in process.output()


# -- export writes nowhere but its folder --------------------------------------------------------
def test_a_linked_flow_json_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    outside = tmp_path / "precious.json"
    outside.write_bytes(b'{"format": "jaxl-designer/flow", "mine": 1}\n')
    for link_to in (outside, tmp_path / "missing.json"):  # a live link, and a dangling one
        out = tmp_path / f"out-{link_to.stem}"
        out.mkdir()
        (out / "flow.json").symlink_to(link_to)
        for force in (False, True):
            with pytest.raises(ExportError, match="not a plain file"):
                export(acme(), out, force=force)
        assert sorted(p.name for p in out.iterdir()) == ["flow.json"]  # webhook.py not written
    assert outside.read_bytes() == b'{"format": "jaxl-designer/flow", "mine": 1}\n'
    assert not (tmp_path / "missing.json").exists()


def test_a_hard_link_is_replaced_in_the_folder_not_written_through(tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(acme(), out)
    outside = tmp_path / "elsewhere.py"
    os.link(out / "webhook.py", outside)
    before = outside.read_bytes()
    flow = acme()
    flow.description = "changed"
    export(flow, out)
    assert outside.read_bytes() == before  # the other name still holds the old text
    assert (out / "webhook.py").read_text(encoding="utf-8") == generate_webhook(flow)


def test_an_out_dir_that_is_a_link_to_a_folder_is_followed_and_nothing_else_is_written(
    tmp_path: Path,
) -> None:
    """What export promises: the folder you name, even through a link, and only its two files."""
    real = tmp_path / "deploy" / "v1"
    real.mkdir(parents=True)
    (tmp_path / "current").symlink_to(real, target_is_directory=True)
    result = export(acme(), tmp_path / "current")
    assert sorted(p.name for p in real.iterdir()) == ["flow.json", "gunicorn.conf.py", "webhook.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "deploy"]
    assert result.webhook == tmp_path / "current" / "webhook.py"
    (real / "webhook.py").unlink()
    (real / "webhook.py").symlink_to(tmp_path / "deploy" / "stolen.py")
    with pytest.raises(ExportError, match="not a plain file"):
        export(acme(), tmp_path / "current", force=True)
    assert not (tmp_path / "deploy" / "stolen.py").exists()


# -- drawings ------------------------------------------------------------------------------------
HOSTILE = [
    "<script>alert(1)</script>",
    '"]; evil [label="x',
    "</svg><foreignObject>",
    "<![CDATA[x]]>",
    "&amp; &#x3c; {order}",
    'a" onload="alert(1)',
    "\\l\\n\\G",
    "-->",
]


def test_hostile_prompts_and_labels_stay_text_in_a_drawing() -> None:
    render = pytest.importorskip(
        "jaxl_designer.drawing.render", reason="jaxl_designer/render.py does not exist yet"
    )
    import xml.etree.ElementTree as ElementTree

    flow = Flow("x<script>")
    flow.menu("main", HOSTILE, keys={"1": "bye", "2": "main"})
    flow.hangup("bye", HOSTILE)
    svg = render.render_svg(flow)
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    root = ElementTree.fromstring(text)
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert not tags & {"script", "foreignObject", "iframe", "object", "embed"}
    assert not any(name.startswith("on") for e in root.iter() for name in e.attrib)
    titles = {e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "title"}
    assert not any("evil" in (title or "") for title in titles)  # no node smuggled in by DOT
    assert "<script>alert(1)</script>" in "".join(root.itertext())  # kept, as text


def test_jaxl_designer_serve_refuses_an_address_others_reach_without_a_token(
    tmp_path: Path,
) -> None:
    """The package's own `jaxl-designer serve` holds to the same rule as the exported module."""
    import subprocess
    import sys

    from jaxl_designer.core.fileformat import save

    flow_file = tmp_path / "acme.json"
    save(acme(), flow_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAXL_")}
    for extra in ([], ["--asyncio"]):
        args = [sys.executable, "-m", "jaxl_designer", "serve", str(flow_file), "--host",
                "0.0.0.0", "--port", "0", *extra]  # fmt: skip
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "without a token" in out.stderr, out.stderr
