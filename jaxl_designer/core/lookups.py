"""Performing a lookup's HTTP request, blocking or on an event loop, with the standard library.

The runtime says what a call asks (`runtime.Lookup`); this asks it, and gives back what came
(`runtime.LookupResult`) for `Runtime.resume`. The exported webhook carries this module, so it
uses sockets and asyncio streams only. Each lookup opens its own connection and closes it:

- a redirect is not followed (it is an answer like any other, and not 2xx, so the lookup fails);
- the whole exchange (connecting, sending, reading) must end within the lookup's timeout;
- an answer over `MAX_REPLY_BYTES` of body, or `_MAX_HEAD` of status line and headers, fails.

Example:
    >>> parse_answer(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
    LookupResult(200, 2 bytes)
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from .runtime import MAX_REPLY_BYTES, Lookup, LookupResult

__all__ = ["answer_complete", "parse_answer", "perform_lookup", "perform_lookup_async"]

_MAX_HEAD = 16 * 1024
_USER_AGENT = "jaxl-designer-lookup"
_TLS: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()  # certificates are checked, as they must be
    return _TLS


def _request_bytes(lookup: Lookup) -> bytes:
    default = 443 if lookup.scheme == "https" else 80
    host = lookup.host if ":" not in lookup.host else f"[{lookup.host}]"
    authority = host if lookup.port == default else f"{host}:{lookup.port}"
    lines = [f"{lookup.method} {lookup.target} HTTP/1.1", f"Host: {authority}"]
    lines += [f"{name}: {value}" for name, value in lookup.headers]
    lines += [f"User-Agent: {_USER_AGENT}", "Connection: close"]
    if lookup.body is not None or lookup.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(lookup.body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + (lookup.body or b"")


def _too_large(size: int) -> LookupResult | None:
    if size > _MAX_HEAD + MAX_REPLY_BYTES:
        return LookupResult(error=f"the answer is over {MAX_REPLY_BYTES} bytes")
    return None


def answer_complete(raw: bytes) -> bool:
    """Whether `raw` holds a whole answer already (so reading can stop before the close)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = raw[:end].lower()
    body = raw[end + 4 :]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
        if name.strip() == b"transfer-encoding" and b"chunked" in value:
            return body.endswith(b"0\r\n\r\n")
    status = head[9:12]
    return status in (b"204", b"304") or status[:1] == b"1"


def parse_answer(raw: bytes) -> LookupResult:
    """A backend's whole answer (status line, headers, body) as a `LookupResult`."""
    end = raw.find(b"\r\n\r\n")
    if end < 0 or end > _MAX_HEAD:
        return LookupResult(error="the backend's answer is not HTTP")
    lines = raw[:end].split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        return LookupResult(error="the backend's answer is not HTTP")
    if not (status_line[1].isdigit() and len(status_line[1]) == 3):
        return LookupResult(error="the backend's answer is not HTTP")
    status = int(status_line[1])
    body = raw[end + 4 :]
    length = chunked = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit():
                return LookupResult(error="the backend's answer has a bad Content-Length")
            length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if chunked:
        decoded = _unchunk(body)
        if decoded is None:
            return LookupResult(error="the backend's chunked answer is broken")
        body = decoded
    elif length is not None:
        if len(body) < length:
            return LookupResult(error="the backend closed the connection mid-answer")
        body = body[:length]
    if len(body) > MAX_REPLY_BYTES:
        return LookupResult(error=f"the answer is over {MAX_REPLY_BYTES} bytes")
    return LookupResult(status, body)


def _unchunk(body: bytes) -> bytes | None:
    parts: list[bytes] = []
    at = 0
    while True:
        line_end = body.find(b"\r\n", at)
        if line_end < 0:
            return None
        size_text = body[at:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(parts)
        start = line_end + 2
        if len(body) < start + size:
            return None
        parts.append(body[start : start + size])
        at = start + size + 2


def perform_lookup(lookup: Lookup) -> LookupResult:
    """Ask a lookup's backend, blocking this thread (a server's request thread) until it ends."""
    deadline = time.monotonic() + lookup.timeout
    try:
        sock = socket.create_connection((lookup.host, lookup.port), timeout=lookup.timeout)
    except TimeoutError:
        return LookupResult(timed_out=True)
    except OSError as error:
        return LookupResult(error=f"cannot connect to {lookup.host}: {error.strerror or error}")
    try:
        if lookup.scheme == "https":
            sock = _tls().wrap_socket(sock, server_hostname=lookup.host)
        sock.sendall(_request_bytes(lookup))
        raw = b""
        while not answer_complete(raw):
            left = deadline - time.monotonic()
            if left <= 0:
                return LookupResult(timed_out=True)
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
            refused = _too_large(len(raw))
            if refused is not None:
                return refused
    except TimeoutError:
        return LookupResult(timed_out=True)
    except ssl.SSLError as error:
        return LookupResult(error=f"TLS with {lookup.host} failed: {error.reason}")
    except OSError as error:
        return LookupResult(error=f"the connection to {lookup.host} failed: {error.strerror}")
    finally:
        sock.close()
    return parse_answer(raw)


async def perform_lookup_async(lookup: Lookup) -> LookupResult:
    """Ask a lookup's backend on the running event loop: other calls go on meanwhile."""
    try:
        return await asyncio.wait_for(_exchange(lookup), lookup.timeout)
    except (TimeoutError, asyncio.TimeoutError):
        return LookupResult(timed_out=True)
    except ssl.SSLError as error:
        return LookupResult(error=f"TLS with {lookup.host} failed: {error.reason}")
    except OSError as error:
        return LookupResult(error=f"cannot connect to {lookup.host}: {error.strerror or error}")


async def _exchange(lookup: Lookup) -> LookupResult:
    tls = _tls() if lookup.scheme == "https" else None
    reader, writer = await asyncio.open_connection(lookup.host, lookup.port, ssl=tls)
    try:
        writer.write(_request_bytes(lookup))
        await writer.drain()
        raw = b""
        while not answer_complete(raw):
            chunk = await reader.read(65536)
            if not chunk:
                break
            raw += chunk
            refused = _too_large(len(raw))
            if refused is not None:
                return refused
    finally:
        writer.close()
    return parse_answer(raw)
