"""The designer's web page: a real HTTP server on loopback, for one flow file saved as edited."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jaxl_designer import acme, load, save
from jaxl_designer.web.server import DesignerPage, make_server

pytestmark = pytest.mark.exe


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = save(acme(), tmp_path / "acme.json")
    server = make_server(DesignerPage(path), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", path
    finally:
        server.shutdown()
        server.server_close()


def _call(url: str, body: bytes | None = None, kind: str = "application/json") -> Any:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": kind})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.headers.get("Content-Type"), answer.read()


def _post(url: str, value: Any) -> dict[str, Any]:
    status, _, body = _call(url, json.dumps(value).encode())
    assert status == 200
    return dict(json.loads(body))


def test_the_page_loads_the_bundled_front_end_from_this_server(served: tuple[str, Path]) -> None:
    base, _ = served
    status, kind, html = _call(base + "/")
    assert status == 200 and kind.startswith("text/html")
    assert b'from "/page.js"' in html and b"<title>acme" in html
    assert b"http" not in html.replace(b'name="viewport"', b"")  # nothing from elsewhere
    state = json.loads(_call(base + "/state")[2])
    assert [node["id"] for node in state["view"]["nodes"]][:2] == ["main", "sales"]


def test_each_edit_is_saved_to_the_flow_file_atomically(served: tuple[str, Path]) -> None:
    base, path = served
    state = _post(base + "/request", {"type": "connect", "source": "order", "key": "gave_up",
                                      "target": "sales"})  # fmt: skip
    assert state["message"] == {"text": "order --gave_up--> sales", "error": False,
                                "serial": state["message"]["serial"]}  # fmt: skip
    assert load(path).edges("order")["gave_up"] == "sales"
    assert not list(path.parent.glob(".*.tmp"))  # the temporary file was renamed into place
    _post(base + "/request", {"type": "undo"})
    assert "gave_up" not in load(path).edges("order")


def test_the_selection_is_kept_by_the_server(served: tuple[str, Path]) -> None:
    base, _ = served
    assert _post(base + "/traits", {"selected": "order", "height": 900})["selected"] == "order"
    assert json.loads(_call(base + "/state")[2])["selected"] == "order"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/request", b"{not json", 400),
        ("/request", b"\xff\xfe", 400),
        ("/nowhere", b"{}", 404),
    ],
)
def test_a_bad_request_is_a_json_error_and_saves_nothing(
    served: tuple[str, Path], path: str, body: bytes, status: int
) -> None:
    base, flow_file = served
    before = flow_file.read_bytes()
    with pytest.raises(urllib.error.HTTPError) as caught:
        _call(base + path, body)
    assert caught.value.code == status
    assert "error" in json.loads(caught.value.read())
    assert flow_file.read_bytes() == before


def test_a_request_the_canvas_never_sends_is_a_message_not_a_crash(
    served: tuple[str, Path],
) -> None:
    base, path = served
    before = path.read_bytes()
    state = _post(base + "/request", {"type": "move", "positions": {"ghost": [1, 2]}})
    assert state["message"]["error"] is True and "ghost" in state["message"]["text"]
    assert path.read_bytes() == before


def test_a_new_file_is_written_on_the_first_edit(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    page = DesignerPage(path)
    assert page.state()["view"]["nodes"] == [] and not path.exists()
    page.request({"type": "add", "kind": "menu", "node": "main"})
    assert load(path).nodes == ["main"] and load(path).name == "new"
