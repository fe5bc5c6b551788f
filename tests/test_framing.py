"""Request framing (issue 19): a request two servers could read two ways is refused, and closed.

Behind a proxy, a request whose headers one parser reads differently from another can hide a
second request in its body (request smuggling, RFC 9112 11.2). Each malformed request below
carries one, `GET /healthz`, right after its headers; it is thrown at every serving form of
the exported webhook, over a raw socket:

- the stdlib server (`python webhook.py`) must answer the project's JSON error, 400 (431 past
  the header limits), with `Connection: close`, and close;
- gunicorn (`webhook:wsgi`, threaded workers, as the README deploys it) and uvicorn
  (`webhook:asgi`, with httptools and with h11) refuse with their parser's own 400/431 page.

Whatever a server does, the smuggled request is never answered. The first request is a `POST
/healthz`, which the app answers 405: a 405 means the malformed request got through the server's
parser. Where uvicorn's or gunicorn's parser takes a request the stdlib server refuses, the row
is an expected failure (`xfail`, strict) whose reason says what that parser does and why
nothing is smuggled by it.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import BIN, Processes, free_port, parse_reply, webhook_command
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaxl_designer.core.examples import acme
from jaxl_designer.core.runtime import Runtime
from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.webhook.app import WebhookApp
from jaxl_designer.webhook.http_server import refuse_head, refuse_head_slowly
from jaxl_designer.webhook.server import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINE,
    MAX_HEADERS,
    make_server,
)

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
N = len(SMUGGLED)
CL = b"Content-Length: %d" % N
#: How long to wait, after a whole answer, for anything more (a second answer, or the close).
QUIET = 1.0
STATUS_LINE = re.compile(rb"HTTP/1\.[01] \d{3} ")


def head(*lines: bytes, start: bytes = b"POST /healthz HTTP/1.1\r\n") -> bytes:
    """A request line and header lines, each ended by CRLF, then the blank line."""
    return start + b"Host: x\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


CL_TE_BODY = b"0\r\n\r\n" + SMUGGLED  # a chunked reader stops after "0": the rest is a request
# (id, the whole malformed request with the smuggled one in its body, the stdlib's status)
ROWS = [
    ("space before the colon", head(b"X-A : y", CL) + SMUGGLED, 400),
    ("space before the colon of Content-Length", head(b"Content-Length : %d" % N) + SMUGGLED,
     400),
    ("two equal Content-Lengths", head(CL, CL) + SMUGGLED, 400),
    ("two different Content-Lengths", head(CL, b"Content-Length: 0") + SMUGGLED, 400),
    ("Content-Length as a list", head(b"Content-Length: %d, %d" % (N, N)) + SMUGGLED, 400),
    ("Content-Length with a sign", head(b"Content-Length: +%d" % N) + SMUGGLED, 400),
    ("Content-Length in hex", head(b"Content-Length: 0x%x" % N) + SMUGGLED, 400),
    ("empty Content-Length", head(b"Content-Length: ") + SMUGGLED, 400),
    ("obs-fold", head(b"X-A: y", b" z", CL) + SMUGGLED, 400),
    ("obs-fold with a tab", head(b"X-A: y", b"\tz", CL) + SMUGGLED, 400),
    ("bare LF after a header", head(b"X-A: y\n" + CL) + SMUGGLED, 400),
    ("bare LF after the request line", head(CL, start=b"POST /healthz HTTP/1.1\n") + SMUGGLED,
     400),
    ("bare LF ending the headers", head(CL)[:-2] + b"\n" + SMUGGLED, 400),
    ("bare CR in a header", head(b"X-A: y\rz", CL) + SMUGGLED, 400),
    ("Transfer-Encoding and Content-Length",
     head(b"Content-Length: %d" % len(CL_TE_BODY), b"Transfer-Encoding: chunked") + CL_TE_BODY,
     400),
    ("Transfer-Encoding gzip", head(b"Transfer-Encoding: gzip") + SMUGGLED, 400),
    ("Transfer-Encoding chunked, gzip", head(b"Transfer-Encoding: chunked, gzip") + SMUGGLED,
     400),
    ("Transfer-Encoding gzip, chunked", head(b"Transfer-Encoding: gzip, chunked") + SMUGGLED,
     400),
    ("Transfer-Encoding twice",
     head(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked") + SMUGGLED, 400),
    ("Transfer-Encoding chnked", head(b"Transfer-Encoding: chnked") + SMUGGLED, 400),
    ("a header line over the limit", head(b"X-A: " + b"a" * MAX_HEADER_LINE, CL) + SMUGGLED,
     431),
    ("more headers than the limit",
     head(*(b"X-%d: v" % n for n in range(MAX_HEADERS + 1)), CL) + SMUGGLED, 431),
    ("a header name with a bad character", head(b"X(A): y", CL) + SMUGGLED, 400),
    ("a header name that is empty", head(b": y", CL) + SMUGGLED, 400),
    ("a header line without a colon", head(b"X-A y", CL) + SMUGGLED, 400),
    ("a control character in a value", head(b"X-A: y\x01z", CL) + SMUGGLED, 400),
]  # fmt: skip

#: Every way the module is served: the stdlib server, gunicorn, uvicorn with each parser,
#: uvicorn as the module runs itself (`python webhook.py --uvicorn`: each head screened), and
#: the module's own asyncio server (`python webhook.py --asyncio`).
FORMS = ["stdlib", "gunicorn", "uvicorn-httptools", "uvicorn-h11", "uvicorn-shipped", "asyncio"]

_H11_MERGES = "h11 merges Content-Length values that are all equal (RFC 9110 8.6 allows it)"
_NO_LIMITS = ("uvicorn sets no bound on one header line or on the number of headers (h11's 16 KB "
              "applies only to a head still incomplete; httptools has none)")  # fmt: skip
_H11_LF = "h11 takes a bare LF as a line end (RFC 9112 2.2 allows a recipient to)"
#: (form, row) -> what that server's parser does instead of refusing; never a smuggled answer.
ACCEPTED = {
    ("uvicorn-h11", "two equal Content-Lengths"): _H11_MERGES,
    ("uvicorn-h11", "Content-Length as a list"): _H11_MERGES,
    ("uvicorn-h11", "obs-fold"): "h11 unfolds obs-fold into a space (RFC 9112 5.2 allows it)",
    ("uvicorn-h11", "obs-fold with a tab"): "h11 unfolds obs-fold into a space (RFC 9112 5.2)",
    ("uvicorn-h11", "bare LF after a header"): _H11_LF,
    ("uvicorn-h11", "bare LF after the request line"): _H11_LF,
    ("uvicorn-h11", "bare LF ending the headers"): _H11_LF,
    ("uvicorn-h11", "a control character in a value"):
        "h11 takes control characters (all but NUL and whitespace) in a header value",
    ("uvicorn-h11", "a header line over the limit"): _NO_LIMITS,
    ("uvicorn-h11", "more headers than the limit"): _NO_LIMITS,
    ("uvicorn-httptools", "a header line over the limit"): _NO_LIMITS,
    ("uvicorn-httptools", "more headers than the limit"): _NO_LIMITS,
    ("gunicorn", "Transfer-Encoding gzip, chunked"):
        "gunicorn takes a coding chain ending in chunked (RFC 9112 6.1), answers it and closes",
}  # fmt: skip


#: (form, row) -> why that server's parser answers the smuggled request too. A real hole.
SMUGGLES: dict[tuple[str, str], str] = {}
#: (form, row) -> the status that server refuses with, where it is not the stdlib's.
STATUS = {("gunicorn", "Transfer-Encoding chnked"): 501}  # RFC 9112 6.1: an unknown coding


class Accepted(AssertionError):
    """A server's parser took a request the stdlib server refuses (see ACCEPTED)."""


class Smuggled(AssertionError):
    """A server answered the request smuggled in a malformed one's body (see SMUGGLES)."""


def _command(form: str, webhook: Path, port: int) -> list[str]:
    if form == "stdlib":
        return webhook_command(webhook, port)
    if form == "gunicorn":  # threaded workers keep connections alive, as the README deploys it
        return [str(BIN / "gunicorn"), "webhook:wsgi", "--chdir", str(webhook.parent),
                "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]  # fmt: skip
    if form == "uvicorn-shipped":
        return [*webhook_command(webhook, port), "--uvicorn"]
    if form == "asyncio":
        return [*webhook_command(webhook, port), "--asyncio"]
    http = form.split("-", 1)[1]
    return [str(BIN / "uvicorn"), "webhook:asgi", "--app-dir", str(webhook.parent),
            "--host", "127.0.0.1", "--port", str(port), "--http", http,
            "--no-access-log"]  # fmt: skip


@pytest.fixture(scope="module")
def serving(
    acme_webhook: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], int]]:
    """`serving(form)`: the port of that serving form of the exported Acme webhook."""
    processes = Processes(tmp_path_factory.mktemp("framing"))
    ports: dict[str, int] = {}

    def port_of(form: str) -> int:
        if form not in ports:
            port = free_port()
            processes.start(_command(form, acme_webhook, port), port=port,
                            env={"JAXL_WEBHOOK_LOG": "0"})  # fmt: skip
            ports[form] = port
        return ports[form]

    yield port_of
    processes.stop_all()


def converse(port: int, *requests: bytes, until: int = 0) -> tuple[bytes, bool]:
    """Send each request on one connection, the next once the last is answered; read it all.

    Returns every byte the server sent and whether it closed the connection. After the last
    whole answer, wait `QUIET` seconds more for anything else (a second answer, or the close):
    a server that keeps the connection open and says nothing more is taken as not closing.
    With `until`, stop as soon as that many whole answers came.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        received = b""
        for number, data in enumerate(requests):
            if number:
                while len(answers(received)) < number:  # the last request's answer came
                    chunk = sock.recv(65536)
                    if not chunk:
                        return received, True
                    received += chunk
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)  # a server that refuses early closes: read what it said
        while not until or len(answers(received)) < until:
            if parse_reply(received) is not None:
                sock.settimeout(QUIET)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False


def answers(received: bytes) -> list[tuple[int, object]]:
    """Every whole (status, JSON answer) in what a keep-alive connection received, in order."""
    found: list[tuple[int, object]] = []
    while (reply := parse_reply(received)) is not None:
        found.append((reply.status, reply.json()))
        received = received[received.index(b"\r\n\r\n") + 4 + len(reply.body) :]
    return found


def _cases() -> list[object]:
    cases = []
    for form in FORMS:
        for wrong, data, status in ROWS:
            marks = []
            for table, error in ((ACCEPTED, Accepted), (SMUGGLES, Smuggled)):
                if (form, wrong) in table:
                    reason = table[form, wrong]
                    marks.append(pytest.mark.xfail(raises=error, strict=True, reason=reason))
            if form in ("uvicorn-httptools", "uvicorn-h11"):
                status = 400  # uvicorn answers every request its parser refuses 400
            status = STATUS.get((form, wrong), status)
            cases.append(pytest.param(form, data, status, id=f"{form}: {wrong}", marks=marks))
    return cases


@pytest.mark.parametrize(("form", "data", "status"), _cases())
def test_malformed_framing_is_refused_and_nothing_is_smuggled(
    serving: Callable[[str], int], form: str, data: bytes, status: int
) -> None:
    received, closed = converse(serving(form), data)
    # Whatever the server made of it: one answer, never the smuggled request's.
    if len(STATUS_LINE.findall(received)) != 1 or b'"ok"' in received:
        raise Smuggled(received[:2000])
    reply = parse_reply(received)
    assert reply is not None, received[:2000]
    if reply.status != status or not closed:
        raise Accepted(f"answered {reply.status}, {'closed' if closed else 'kept open'}")
    if form in ("stdlib", "asyncio"):
        assert reply.headers["connection"] == "close"
        assert reply.headers["content-type"] == "application/json"
        answer = reply.json()
        assert set(answer) == {"error"} and answer["error"], answer


# -- well-formed requests still get through, on every form ---------------------------------
def post(call_id: int, *lines: bytes, padded: bool = False) -> bytes:
    """A setup request for `call_id` to /webhook/; `padded`: spaces around its Content-Length."""
    body = json.dumps(webhook_request(1, call_id)).encode()
    size = b"Content-Length:    %d   " if padded else b"Content-Length: %d"
    start = b"POST /webhook/ HTTP/1.1\r\n"
    return head(b"Content-Type: application/json", size % len(body), *lines, start=start) + body


MAIN = Runtime(acme().to_document()).handle(webhook_request(1, 1))
GET = b"GET /healthz HTTP/1.1\r\n"
HEALTHZ = head(start=GET)
OK = (200, {"ok": True})
GOOD = [
    ("Content-Length: 0", head(b"Content-Length: 0", start=GET), [OK]),
    ("spaces around the Content-Length", post(9_100_001, padded=True), [(200, MAIN)]),
    ("tabs and obs-text in a value", post(9_100_002, b"X-Name:\tcaf\xe9\tau lait \t"),
     [(200, MAIN)]),
    ("a long header line", head(b"X-A: " + b"a" * 4000, start=GET), [OK]),
    ("two requests in one write (pipelined)", post(9_100_003) + HEALTHZ, [(200, MAIN), OK]),
]  # fmt: skip


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("data", "expected"), [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_well_formed_requests_are_answered(
    serving: Callable[[str], int], form: str, data: bytes, expected: list
) -> None:
    received, _ = converse(serving(form), data, until=len(expected))
    assert answers(received) == expected


@pytest.mark.parametrize("form", FORMS)
def test_keep_alive_serves_two_requests_in_a_row(serving: Callable[[str], int], form: str) -> None:
    received, _ = converse(serving(form), post(9_100_004), HEALTHZ, until=2)
    assert answers(received) == [(200, MAIN), OK]


# -- bodies refused unread: chunked, too large; then the stdlib server's limits exactly --------
@pytest.mark.parametrize("form", FORMS)
def test_a_chunked_body_is_411_and_what_follows_it_is_never_read(
    serving: Callable[[str], int], form: str
) -> None:
    body = b"2\r\n{}\r\n0\r\n\r\n" + SMUGGLED
    data = head(b"Content-Type: application/json", b"Transfer-Encoding: chunked",
                start=b"POST /webhook/ HTTP/1.1\r\n") + body  # fmt: skip
    received, closed = converse(serving(form), data)
    reply = parse_reply(received)
    assert reply is not None and reply.status == 411 and closed
    statuses = [int(line.split()[1]) for line in STATUS_LINE.findall(received)]
    if form == "gunicorn":
        # gunicorn reads chunked bodies itself (and drops the app's Connection header, as PEP
        # 3333 bids it): the request after the body is framed as every proxy frames it, a
        # pipelined request of its own, answered as such. No 400 for a body read as a request.
        assert statuses in ([411], [411, 200]), received[:600]
    else:
        assert reply.headers["connection"] == "close"
        # Nothing after it: no smuggled /healthz, and no 400 for the body read as a request.
        assert statuses == [411], received[:600]


@pytest.mark.parametrize("form", FORMS)
def test_an_endless_refused_body_is_not_read_on(serving: Callable[[str], int], form: str) -> None:
    """A client that declares 10 GB and keeps sending is cut off after the 413, not drained."""
    length = b"Content-Length: %d" % (10 << 30)
    data = head(b"Content-Type: application/json", length, start=b"POST /webhook/ HTTP/1.1\r\n")
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", serving(form)), timeout=5) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + 3
        try:
            while time.monotonic() < deadline:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        else:
            pytest.fail(f"{form} read {sent >> 20} MiB of a refused body and kept the connection")
    assert sent < 64 << 20, f"{form} read {sent >> 20} MiB before closing"


@pytest.mark.parametrize("form", FORMS)
def test_a_body_over_the_limit_is_413_and_the_connection_closes(
    serving: Callable[[str], int], form: str
) -> None:
    length = b"Content-Length: %d" % (2 << 20)
    data = head(b"Content-Type: application/json", length, start=b"POST /webhook/ HTTP/1.1\r\n")
    received, closed = converse(serving(form), data + b"{" + SMUGGLED)
    reply = parse_reply(received)
    assert reply is not None and reply.status == 413 and closed
    assert len(STATUS_LINE.findall(received)) == 1, received[:600]


@pytest.fixture(scope="module")
def in_process() -> Iterator[int]:
    """`make_server` in a thread, on a free port."""
    server = make_server(WebhookApp(Runtime(acme().to_document()), log=None), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _status(port: int, data: bytes) -> tuple[int, bool]:
    received, closed = converse(port, data)
    reply = parse_reply(received)
    assert reply is not None, received[:500]
    return reply.status, closed


def _line(size: int) -> bytes:
    """A header line of `size` bytes, its CRLF included."""
    return b"X-A: " + b"a" * (size - 7)


#: What a second line may have once "Host: x" (9 bytes), a longest line and the blank line have.
REST = MAX_HEADER_BYTES - 9 - MAX_HEADER_LINE - 2
LIMITS = [
    ("a line of the largest size", head(_line(MAX_HEADER_LINE), start=GET), 200),
    ("a line a byte over", head(_line(MAX_HEADER_LINE + 1), start=GET), 431),
    ("the most header lines", head(*(b"X-%d: v" % n for n in range(MAX_HEADERS - 1)), start=GET),
     200),
    ("a header line too many", head(*(b"X-%d: v" % n for n in range(MAX_HEADERS)), start=GET),
     431),
    ("the most header bytes", head(_line(MAX_HEADER_LINE), _line(REST), start=GET), 200),
    ("a header byte too many", head(_line(MAX_HEADER_LINE), _line(REST + 1), start=GET), 431),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "status"), [row[1:] for row in LIMITS], ids=[r[0] for r in LIMITS]
)
def test_the_header_limits_are_exact(in_process: int, data: bytes, status: int) -> None:
    got, closed = _status(in_process, data)
    assert got == status
    assert closed == (status != 200)


def test_a_client_that_hangs_up_mid_headers_gets_no_answer(in_process: int) -> None:
    with socket.create_connection(("127.0.0.1", in_process), timeout=5) as sock:
        sock.sendall(b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Le")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""


# -- the head check's two ways agree ---------------------------------------------------------
_REQUEST_LINES = [b"POST /webhook/ HTTP/1.1", b"GET /healthz HTTP/1.0", b"GET / HTTP/1.1 extra",
                  b"G\x00T / HTTP/1.1", b"GET /\x7f HTTP/1.1", b"GET / HTTP/2.0"]  # fmt: skip
_HEADER_LINES = [b"Host: x", b"Content-Length: 12", b"content-length:7", b"Content-Length: 1 2",
                 b"Transfer-Encoding: chunked", b"X-A : y", b" folded", b"X-B: \x01",
                 b"X-C: caf\xc3\xa9", b"X-D:\tq", b"X-E: \x7f", b"Bad Name: v", b"X-F: v\r",
                 b"X-G", b"Content-Length: 99999999999999999999", b"X-Long: " + b"a" * 9000,
                 b"Transfer-Encoding: gzip"]  # fmt: skip


@settings(max_examples=500, deadline=None, derandomize=True)
@example(_REQUEST_LINES[0], [b"Content-Length: 12", b"content-length:7"], b"\r\n", 0)
@example(_REQUEST_LINES[0], [b"Content-Length: 12", b"Transfer-Encoding: chunked"], b"\r\n", 0)
@example(_REQUEST_LINES[0], [b"Transfer-Encoding: gzip"], b"\r\n", 0)
@example(_REQUEST_LINES[0], [], b"\r\n", 100)
@example(_REQUEST_LINES[0], [], b"\r\n", 101)
@example(_REQUEST_LINES[0], [b"Content-Length: 12"], b"\r\n", 99)
@example(_REQUEST_LINES[1], [b"Content-Length: 12"], b"\r\n", 100)
@given(
    st.sampled_from(_REQUEST_LINES),
    st.lists(st.sampled_from(_HEADER_LINES), max_size=6),
    st.sampled_from([b"\r\n", b"\r\n", b"\n"]),
    st.integers(0, 110),
)
def test_the_quick_head_check_says_what_the_line_by_line_one_says(
    request_line: bytes, lines: list[bytes], ending: bytes, extra: int
) -> None:
    """`refuse_head` passes a plain head on one match and sends any other to the line-by-line
    check: for every head, it answers what that check answers."""
    head = ending.join([request_line, *lines, *[b"X-N: n"] * extra]) + ending + ending
    assert refuse_head(head) == refuse_head_slowly(head)
