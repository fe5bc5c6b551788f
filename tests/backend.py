"""A JSON backend for lookup tests: a real HTTP server on loopback, in the test process.

It answers `GET /codes/<code>` and `POST /codes` (a JSON body with `code`) by the code:

- `500`: status 500; `501`: 200 with a body that is not JSON; `502`: JSON without the
  `target.phone` field; `503`: answers after `LATE` seconds (past a 0.5 s lookup timeout);
  `504`: 200 with a body over 64 KiB; `505`: a 302 redirect to `/elsewhere/505`, which no
  lookup may follow;
- a code starting with `9`: answers after `slow` seconds (a slow backend), then as any other;
- any other code: 200 `{"target": {"phone": phone_for(code)}, "name": "customer <code>"}`.

Every request is recorded as it arrives (method, path, lower-case headers, body), before any
answer, so a test can tell what reached the backend and what never did.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: How long code 503 takes: longer than the 0.5 s timeout the tests give its lookup.
LATE = 2.0
#: How large code 504's answer is: over the 64 KiB a lookup reads.
OVERSIZED = 70 * 1024


def phone_for(code: str) -> str:
    """The E.164 number the backend gives for `code`: +9180 then the code in 8 digits."""
    return "+9180" + code.zfill(8)[-8:]


@dataclass
class Seen:
    """One request the backend received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Backend:
    """The backend, serving from a daemon thread until `close`."""

    def __init__(self, slow: float = 1.5) -> None:
        self.slow = slow
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                backend.answer(self)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def requests(self, prefix: str = "/") -> list[Seen]:
        """The requests received so far whose path starts with `prefix`."""
        with self.lock:
            return [seen for seen in self.seen if seen.path.startswith(prefix)]

    def wait_for(self, prefix: str, count: int, timeout: float = 5.0) -> bool:
        """Wait until `count` requests under `prefix` have arrived; False if they did not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests(prefix)) >= count:
                return True
            time.sleep(0.01)
        return False

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self.lock:
            self.seen.append(Seen(handler.command, handler.path, headers, body, time.monotonic()))
        code = self._code(handler.command, handler.path, body)
        # A lookup that gave up (its timeout, the size cap) has closed: as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._reply(handler, code)

    @staticmethod
    def _code(method: str, path: str, body: bytes) -> str | None:
        if method == "GET" and path.startswith("/codes/"):
            return path[len("/codes/") :]
        if method == "POST" and path == "/codes":
            try:
                return str(json.loads(body)["code"])
            except (ValueError, KeyError, TypeError):
                return None
        return None

    def _reply(self, handler: BaseHTTPRequestHandler, code: str | None) -> None:
        if code is None:
            return self._send(handler, 404, b'{"error": "no such thing"}')
        if code == "500":
            return self._send(handler, 500, b'{"error": "the database is down"}')
        if code == "501":
            return self._send(handler, 200, b"<html>Hello, this is not JSON</html>", "text/html")
        if code == "502":
            return self._send(handler, 200, json.dumps({"target": {"name": "no phone"}}).encode())
        if code == "503":
            time.sleep(LATE)
        if code == "504":
            filler = "x" * OVERSIZED
            data = {"target": {"phone": phone_for(code)}, "filler": filler}
            return self._send(handler, 200, json.dumps(data).encode())
        if code == "505":
            return self._send(handler, 302, b"", extra=[("Location", "/elsewhere/505")])
        if code.startswith("9"):
            time.sleep(self.slow)
        data = {"target": {"phone": phone_for(code)}, "name": f"customer {code}"}
        return self._send(handler, 200, json.dumps(data).encode())

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        media: str = "application/json",
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", media)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in extra or ():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
