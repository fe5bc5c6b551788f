"""The designer as a web page: the canvas for one flow file, served on loopback, saved as you go.

`jaxl-designer design flow.json` serves a page that runs the same canvas front end the notebook
shows, talking to this server instead of a kernel; every edit is carried out by a
`CanvasEditor` and the flow file is written atomically after each one that changed it.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..core.fileformat import load, save
from ..core.flow import Flow
from ..editing.canvas import BUNDLE, PAGE_BUNDLE, CanvasEditor
from ..editing.forms import forms

__all__ = ["DesignerPage", "make_server"]

#: The most a request body may hold: a whole flow's worth of typed text, and then some.
MAX_BODY = 1 << 20
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · jaxl-designer</title>
<style>html, body {{ margin: 0; height: 100%; }} #app {{ height: 100%; }}</style>
</head>
<body>
<div id="app"></div>
<script type="module">
import {{ start }} from "/page.js";
start(document.getElementById("app"));
</script>
</body>
</html>
"""


class DesignerPage:
    """One flow file being designed: its editor, and saving after each edit that changed it.

    A file that does not exist yet is a new flow named after it, written on the first edit.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            flow = load(self.path)
        else:
            flow = Flow(self.path.stem)
            flow.folder = self.path.resolve().parent
        self.editor = CanvasEditor(flow)
        self.lock = threading.Lock()  # one request at a time changes the flow
        self.saved = flow.to_document() if self.path.exists() else None
        self.serial = 0

    def state(self) -> dict[str, Any]:
        """Everything the page draws, as its synced traits."""
        message = self.editor.session.message
        self.serial += 1
        return {
            "view": self.editor.view(),
            "selected": self.editor.session.selected,
            "message": {"text": message.text, "error": message.error, "serial": self.serial},
            "forms": forms(),
            "file": str(self.path),
        }

    def request(self, content: Any) -> dict[str, Any]:
        """Carry out one canvas request, save the file if the flow changed, give the new state."""
        with self.lock:
            self.editor.handle(content)
            self._save()
            return self.state()

    def traits(self, changes: Any) -> dict[str, Any]:
        """Traits the page set (the selection); others are the page's own (its height)."""
        with self.lock:
            if isinstance(changes, dict) and isinstance(changes.get("selected"), str):
                self.editor.session.select(changes["selected"])
            return self.state()

    def _save(self) -> None:
        document = self.editor.flow.to_document()
        if document == self.saved:
            return
        try:
            save(self.editor.flow, self.path)
        except OSError as error:
            self.editor.session.tell(f"{self.path}: cannot save: {error.strerror}", error=True)
            return
        self.saved = document


def make_server(
    page: DesignerPage, host: str = "127.0.0.1", port: int = 8765
) -> ThreadingHTTPServer:
    """An HTTP server for `page` (not started: call `serve_forever`)."""
    bundles = {"/canvas.js": BUNDLE, "/page.js": PAGE_BUNDLE}
    title = page.editor.flow.name

    class Handler(BaseHTTPRequestHandler):
        server_version = "jaxl-designer"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a designer's page is quiet: no line per request

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            body = json.dumps(value, ensure_ascii=False).encode("utf-8")
            self._send(status, body, "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                html = _PAGE.format(title=_escape(title)).encode("utf-8")
                self._send(HTTPStatus.OK, html, "text/html; charset=utf-8")
            elif path in bundles:
                if not bundles[path].is_file():
                    self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "run scripts/setup"})
                    return
                self._send(HTTPStatus.OK, bundles[path].read_bytes(), "text/javascript")
            elif path == "/state":
                with page.lock:
                    self._json(HTTPStatus.OK, page.state())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ("/request", "/traits"):
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "a Content-Length is needed"})
                return
            if not 0 <= length <= MAX_BODY:
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
                return
            try:
                content = json.loads(self.rfile.read(length).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
                return
            if path == "/request":
                self._json(HTTPStatus.OK, page.request(content))
            else:
                self._json(HTTPStatus.OK, page.traits(content))

    return ThreadingHTTPServer((host, port), Handler)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
