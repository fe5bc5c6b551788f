"""Asking a backend: the blocking and the event-loop client against real local servers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jaxl_designer.core import lookups
from jaxl_designer.core.lookups import parse_answer, perform_lookup, perform_lookup_async
from jaxl_designer.core.runtime import MAX_REPLY_BYTES, Lookup, LookupResult

#: What the raw backend writes back for a path: bytes, or a function of the connection.
Answer = bytes | Callable[[socket.socket], None]
#: The backend fixture: its port, its answers by path, and the requests it received.
Backend = tuple[int, dict[str, Answer], list[bytes]]


@pytest.fixture
def backend() -> Iterator[Backend]:
    """A raw TCP backend on a loopback port: answers by path with exactly the given bytes."""
    answers: dict[str, Answer] = {}
    seen: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            raw = b""
            while b"\r\n\r\n" not in raw:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                raw += chunk
            seen.append(raw)
            path = raw.split(b" ", 2)[1].decode()
            answer = answers.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            try:
                if callable(answer):
                    answer(conn)
                else:
                    conn.sendall(answer)
            except OSError:
                pass

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, answers, seen
    stop.set()
    thread.join()
    server.close()


def _lookup(port: int, path: str, timeout: float = 2.0, method: str = "GET") -> Lookup:
    body = b'{"code":"17"}' if method == "POST" else None
    headers = [("Authorization", "Bearer s3cr3t")]
    return Lookup("find", method, f"http://127.0.0.1:{port}{path}", headers, body, timeout)


def _both(lookup: Lookup) -> list[LookupResult]:
    return [perform_lookup(lookup), asyncio.run(perform_lookup_async(lookup))]


def _json(body: bytes, status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def test_an_answer_with_a_length_is_read_whole(backend: Backend) -> None:
    port, answers, seen = backend
    answers["/orders/17"] = _json(b'{"status": "shipped"}')
    for result in _both(_lookup(port, "/orders/17", method="POST")):
        assert (result.status, result.body) == (200, b'{"status": "shipped"}')
    head = seen[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /orders/17 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}" in head and "Authorization: Bearer s3cr3t" in head
    assert "Content-Length: 13" in head and "Connection: close" in head


def test_chunked_and_close_delimited_answers_are_read(backend: Backend) -> None:
    port, answers, _ = backend
    answers["/chunked"] = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"a":\r\n3;x=y\r\n 1}\r\n0\r\n\r\n'
    )

    def until_close(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\n\r\n{"a": 2}')

    answers["/close"] = until_close
    for result in _both(_lookup(port, "/chunked")):
        assert (result.status, result.body) == (200, b'{"a": 1}')
    for result in _both(_lookup(port, "/close")):
        assert (result.status, result.body) == (200, b'{"a": 2}')


def test_a_redirect_is_an_answer_not_followed(backend: Backend) -> None:
    port, answers, seen = backend
    answers["/old"] = b"HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"
    answers["/new"] = _json(b"{}")
    for result in _both(_lookup(port, "/old")):
        assert result.status == 302
    assert all(b"/new" not in request.split(b"\r\n")[0] for request in seen)


def test_an_answer_over_the_cap_is_refused_without_reading_on(backend: Backend) -> None:
    port, answers, _ = backend
    big = b"[" + b"1," * MAX_REPLY_BYTES + b"1]"
    answers["/big"] = _json(big)

    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        for _ in range(10_000):
            conn.sendall(b"x" * 4096)

    answers["/endless"] = endless
    for path in ("/big", "/endless"):
        for result in _both(_lookup(port, path)):
            assert result.status == 0 and f"over {MAX_REPLY_BYTES} bytes" in result.error


def test_a_backend_that_drips_is_cut_off_at_the_timeout(backend: Backend) -> None:
    port, answers, _ = backend

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            time.sleep(0.05)  # each read is quick, the whole answer is not
            conn.sendall(b"x")

    answers["/drip"] = drip
    for result in _both(_lookup(port, "/drip", timeout=0.6)):
        assert result.timed_out


def test_a_refused_connection_fails_at_once() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    started = time.monotonic()
    for result in _both(_lookup(port, "/x")):
        assert result.status == 0 and "cannot connect to 127.0.0.1" in result.error
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage\r\n\r\n", b"HTTP/1.1 2000 OK\r\n\r\n", b"SSH-2.0-OpenSSH\r\n\r\n"],
)
def test_what_is_not_http_is_an_error(raw: bytes) -> None:
    result = parse_answer(raw)
    assert result.status == 0 and "not HTTP" in result.error


def test_an_answer_cut_short_is_an_error() -> None:
    result = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")
    assert "mid-answer" in result.error


@pytest.fixture
def tls_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Path]]:
    """An HTTPS backend on loopback with a self-signed certificate for 127.0.0.1."""
    import http.server
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"secure": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(lookups, "_TLS", None)  # the trusted certificates are read afresh
    yield int(server.server_address[1]), cert
    server.shutdown()
    server.server_close()


def test_https_backends_are_asked_with_their_certificates_checked(
    tls_backend: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_backend
    lookup = Lookup("find", "GET", f"https://127.0.0.1:{port}/x", [], None, 5.0)
    for result in _both(lookup):  # not trusted: no answer is read from it
        assert result.status == 0 and "CERTIFICATE_VERIFY_FAILED" in result.error
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setattr(lookups, "_TLS", None)
    for result in _both(lookup):
        assert (result.status, result.body) == (200, b'{"secure": true}')
