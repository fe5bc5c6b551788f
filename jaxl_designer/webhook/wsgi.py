"""WSGI for the webhook (gunicorn and any other WSGI server)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

from .app import WebhookApp, body_length

__all__ = [
    "make_wsgi",
]


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _wsgi_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def make_wsgi(app: WebhookApp) -> Callable[..., Iterable[bytes]]:
    """A WSGI callable for `app`, for gunicorn and any other WSGI server.

    Example:
        >>> from jaxl_designer.core.runtime import Runtime
        >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> wsgi = make_wsgi(WebhookApp(Runtime(flow), log=None))
        >>> wsgi({"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"}, lambda s, h: print(s))
        200 OK
        [b'{"ok":true}']
    """

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = _wsgi_headers(environ)
        length = body_length(headers, app.max_body)
        body = environ["wsgi.input"].read(length) if length else b""
        fields: dict[str, Any] = {}
        status, reply_headers, data = app.handle(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO", "") or "/",
            environ.get("QUERY_STRING", ""),
            headers,
            body,
            fields,
        )
        if ("Connection", "close") in reply_headers:
            _stop_reading(environ)
        start_response(_reason(status), list(reply_headers))  # a server may add to the list
        if "delivery" in fields:  # a webhook answer: delivered once the server has written it
            return _then_delivered(data, app, fields)
        return [data]

    return application


def _then_delivered(data: bytes, app: WebhookApp, fields: dict[str, Any]) -> Iterator[bytes]:
    """The body of a webhook answer, telling `app` it was delivered once the server wrote it.

    A WSGI server asks for the next part of a body after writing the one before, so the code
    after `yield` runs once the answer is out; a server that could not write it closes the
    body instead, and the call's step stays undelivered (a retry is answered the same).
    """
    yield data
    app.delivered(fields)


def _stop_reading(environ: Mapping[str, Any]) -> None:
    """Make a WSGI server close a connection whose body was refused unread.

    PEP 3333 lets no app send `Connection: close`, and gunicorn drops it, then reads the refused
    body to its end (an endless one for ever) and parses what follows as a request. Shutting
    the socket's reading side (gunicorn hands the app its socket as `gunicorn.socket`) makes
    that read end at once: the answer still goes out, and the connection then closes.
    """
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)
