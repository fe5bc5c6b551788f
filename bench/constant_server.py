"""A constant-answer webhook: the ceiling of the HTTP stack, and the load client's own ceiling.

A raw ASGI app that answers every request with the Acme main-menu prompt and does nothing else.
Served by uvicorn (or granian) exactly like the webhook under test, it shows how many requests per
second the server itself allows on one core, and how many a load client can send. It answers a setup
correctly, so `bench/load.py --mode setup` checks it; in calls mode every later step mismatches.

With --raw it skips uvicorn: a bare uvloop protocol that finds each request's end and writes a
canned HTTP/1.1 response, to push a load client to its own ceiling.

With --webhook-loop PATH it is the exported module at PATH served by its own asyncio server
(`python webhook.py --asyncio`), every plain request's answer replaced by the constant one: the
ceiling of that server, whose framing, head checks, deadlines and bookkeeping all still run.
(It logs nothing, whatever JAXL_WEBHOOK_LOG says.)

Usage: python bench/constant_server.py --port 8000 [--no-access-log] [--raw | --webhook-loop PATH]
   or: uvicorn constant_server:asgi --app-dir bench --port 8000
   or: granian --interface rsgi constant_server:rsgi --working-dir bench --port 8000
"""

from __future__ import annotations

import argparse
import json

BODY = json.dumps(
    {
        "prompt": [
            "Welcome to Acme.",
            "Press 1 for sales.",
            "Press 2 to enter your order number.",
            "Press 9 to hear this again.",
        ],
        "num_characters": 1,
    }
).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def asgi(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


class _Rsgi:
    """The same answer as an RSGI application, for granian (`--interface rsgi`)."""

    async def __rsgi__(self, scope, protocol):  # type: ignore[no-untyped-def]
        await protocol()
        protocol.response_bytes(200, STR_HEADERS, BODY)


STR_HEADERS = [(name.decode(), value.decode()) for name, value in HEADERS]
rsgi = _Rsgi()


RAW_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class _Raw:
    """asyncio protocol: answers each complete request (headers + Content-Length body)."""

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        self.transport = transport
        self.buf = b""

    def data_received(self, data):  # type: ignore[no-untyped-def]
        buf = self.buf + data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at) % (len(head) + 1)]) if at >= 0 else 0
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length :]
            out.append(RAW_RESPONSE)
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc):  # type: ignore[no-untyped-def]
        pass

    def eof_received(self):  # type: ignore[no-untyped-def]
        return False


def serve_raw(host: str, port: int) -> None:
    import asyncio

    import uvloop

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(_Raw, host, port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(run())


def serve_webhook_loop(module: str, host: str, port: int) -> None:
    """The exported module's asyncio server, answering every plain request with BODY."""
    import importlib.util
    import os
    import sys

    os.environ["JAXL_WEBHOOK_LOG"] = "0"
    spec = importlib.util.spec_from_file_location("webhook", module)
    assert spec is not None and spec.loader is not None
    webhook = importlib.util.module_from_spec(spec)
    sys.modules["webhook"] = webhook
    spec.loader.exec_module(webhook)
    reply = (200, [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))], BODY)

    class ConstantServer(webhook.LoopServer):  # type: ignore[misc,name-defined]
        def __init__(self, app, settings):  # type: ignore[no-untyped-def]
            super().__init__(app, settings)
            self.answers.begin = lambda body, fields: reply

    webhook.LoopServer = ConstantServer  # what serve_loop makes
    settings = webhook.Settings(host=host, port=port)
    webhook.serve_loop(webhook.app, settings, webhook.listening_socket(host, port))


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve a constant answer (a ceiling).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--raw", action="store_true", help="a bare protocol, not uvicorn")
    parser.add_argument("--webhook-loop", metavar="PATH", help="the module's asyncio server")
    args = parser.parse_args()
    if args.raw:
        serve_raw(args.host, args.port)
        return
    if args.webhook_loop:
        serve_webhook_loop(args.webhook_loop, args.host, args.port)
        return
    uvicorn.run(
        asgi,
        host=args.host,
        port=args.port,
        http="httptools",
        access_log=not args.no_access_log,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
