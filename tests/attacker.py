"""A hostile client for tests/test_attacks.py, in its own process so that it cannot slow the probes.

    python tests/attacker.py KIND PORT SECONDS COUNT

KIND is one of `flood` (one connection streams small header lines as fast as it can; when
cut, another), `endless` (one header value that never ends; when cut, another), `idle`
(COUNT connections that send nothing), `slow-head` and `slow-body` (COUNT connections
sending one byte every half second, of the headers or of a declared 1,000-byte body). It
attacks for SECONDS, then prints one JSON line: bytes sent (and the most on one connection),
connections opened, and how many the server closed (and after how long, median).
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import time


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (an answer read and dropped counts as open)."""
    try:
        while True:
            data = sock.recv(65536, socket.MSG_DONTWAIT)
            if not data:
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def stream(port: int, seconds: float, head: bytes, piece: bytes) -> dict[str, object]:
    """One connection at a time: `head`, then `piece` again and again until the server cuts it,
    then a new one, until `seconds` pass."""
    started = time.monotonic()
    sent = opened = closed = 0
    most = 0  # the most bytes one connection got to send
    cuts: list[float] = []
    while time.monotonic() - started < seconds:
        begun, this = time.monotonic(), 0
        opened += 1
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(1.0)
            try:
                sock.sendall(head)
                this += len(head)
                while time.monotonic() - started < seconds:
                    sock.sendall(piece)
                    this += len(piece)
            except (TimeoutError, OSError):
                pass  # the server stopped reading (a full window for a second), or closed
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                if _closed(sock):
                    closed += 1
                    cuts.append(time.monotonic() - begun)
                    break
                time.sleep(0.05)
        sent += this
        most = max(most, this)
    return {
        "sent": sent,
        "most": most,
        "opened": opened,
        "closed": closed,
        "cut_after": statistics.median(cuts) if cuts else None,
    }


def many(port: int, seconds: float, count: int, head: bytes, drip: bytes) -> dict[str, object]:
    """`count` connections sending `head`, then one byte of `drip` each every half second."""
    started = time.monotonic()
    socks: list[socket.socket] = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.setblocking(False)
            if head:
                sock.send(head)
            socks.append(sock)
        except OSError:
            pass
    closed_at: dict[int, float] = {}
    sent = len(head) * len(socks)
    step = 0
    while time.monotonic() - started < seconds:
        for number, sock in enumerate(socks):
            if number in closed_at:
                continue
            if _closed(sock):
                closed_at[number] = time.monotonic() - started
            elif drip:
                try:
                    sock.send(drip[step % len(drip) : step % len(drip) + 1])
                    sent += 1
                except OSError:
                    closed_at[number] = time.monotonic() - started
        step += 1
        time.sleep(0.5)
    for number, sock in enumerate(socks):
        if number not in closed_at and _closed(sock):
            closed_at[number] = time.monotonic() - started
        sock.close()
    cut = sorted(closed_at.values())
    return {
        "sent": sent,
        "opened": len(socks),
        "closed": len(cut),
        "cut_after": statistics.median(cut) if cut else None,
    }


def main(argv: list[str]) -> int:
    kind, port, seconds, count = argv[0], int(argv[1]), float(argv[2]), int(argv[3])
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    if kind == "flood":
        result = stream(port, seconds, get, b"X-Pad: 0123456789\r\n" * 512)
    elif kind == "endless":
        result = stream(port, seconds, get + b"X-Endless: ", b"a" * 16384)
    elif kind == "idle":
        result = many(port, seconds, count, b"", b"")
    elif kind == "slow-head":
        result = many(port, seconds, count, b"G", b"ET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 999)
    elif kind == "slow-body":
        head = b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        result = many(port, seconds, count, head + b"Content-Length: 1000\r\n\r\n", b"1" * 1000)
    else:
        raise SystemExit(f"unknown attack {kind!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
