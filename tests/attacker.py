"""A hostile client for tests/test_attacks.py, in its own process so that it cannot slow the probes.

    python tests/attacker.py KIND PORT SECONDS COUNT [hold] [RATE]

KIND is one of `flood` (one connection streams small header lines as fast as it can; when
cut, another), `endless` (one header value that never ends; when cut, another), `idle`
(COUNT connections that send nothing), `slow-head` and `slow-body` (COUNT connections
sending one byte every half second, of the headers or of a declared 1,000-byte body). It
attacks for SECONDS, then prints one JSON line: bytes sent (and the most on one connection),
connections opened, and how many the server closed (and after how long, median). With `hold`,
each connection the server closes is opened again at once (and sends its head again), so COUNT
are attempted all along, as an attacker holding a server down would; opening them all may take
a while, and counts as attacking time. RATE: at most so many connections opened a second
(default: as fast as it can). For thousands of connections the attacker raises its own
open-file limit (root, or a hard limit that allows it); when it cannot, it prints
`{"cannot": why}` and exits with status 3.
"""

from __future__ import annotations

import json
import resource
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


def _open(port: int, head: bytes) -> socket.socket | None:
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        sock.setblocking(False)
        if head:
            sock.send(head)
        return sock
    except OSError:
        return None


def many(
    port: int,
    seconds: float,
    count: int,
    head: bytes,
    drip: bytes,
    hold: bool = False,
    rate: float = 0.0,
) -> dict[str, object]:
    """`count` connections sending `head`, then one byte of `drip` each every half second;
    with `hold`, one closed by the server is opened again at once. `rate`: at most so many
    connections opened a second (0: as fast as it can)."""
    started = time.monotonic()
    socks: list[socket.socket | None] = []
    born: list[float] = []
    for number in range(count):
        if rate:
            ahead = started + number / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        socks.append(_open(port, head))
        born.append(time.monotonic())
        if time.monotonic() - started > seconds:
            break
    opened = sum(sock is not None for sock in socks)
    sent = len(head) * opened
    cuts: list[float] = []
    step = 0
    while time.monotonic() - started < seconds:
        for number, sock in enumerate(socks):
            if sock is None:
                continue
            if _closed(sock):
                cut = True
            elif drip:
                try:
                    sock.send(drip[step % len(drip) : step % len(drip) + 1])
                    sent += 1
                    cut = False
                except OSError:
                    cut = True
            else:
                cut = False
            if cut:
                cuts.append(time.monotonic() - born[number])
                sock.close()
                socks[number] = _open(port, head) if hold else None
                born[number] = time.monotonic()
                if socks[number] is not None:
                    opened += 1
                    sent += len(head)
        step += 1
        time.sleep(0.5)
    for number, sock in enumerate(socks):
        if sock is not None:
            if _closed(sock):
                cuts.append(time.monotonic() - born[number])
            sock.close()
    cuts.sort()
    return {
        "sent": sent,
        "opened": opened,
        "closed": len(cuts),
        "cut_after": statistics.median(cuts) if cuts else None,
    }


def _files_for(count: int) -> str | None:
    """Raise this process's open-file limit for `count` connections; why it cannot, or None."""
    need = count + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
    except (ValueError, OSError) as error:
        return f"cannot open {count} connections: the open-file limit is {hard} ({error})"
    return None


def main(argv: list[str]) -> int:
    kind, port, seconds, count = argv[0], int(argv[1]), float(argv[2]), int(argv[3])
    hold = "hold" in argv[4:]
    rate = next((float(arg) for arg in argv[4:] if arg != "hold"), 0.0)
    cannot = _files_for(count)
    if cannot:
        print(json.dumps({"cannot": cannot}))
        return 3
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    if kind == "flood":
        result = stream(port, seconds, get, b"X-Pad: 0123456789\r\n" * 512)
    elif kind == "endless":
        result = stream(port, seconds, get + b"X-Endless: ", b"a" * 16384)
    elif kind == "idle":
        result = many(port, seconds, count, b"", b"", hold, rate)
    elif kind == "slow-head":
        drip = b"ET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 999
        result = many(port, seconds, count, b"G", drip, hold, rate)
    elif kind == "slow-body":
        head = b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += b"Content-Length: 1000\r\n\r\n"
        result = many(port, seconds, count, head, b"1" * 1000, hold, rate)
    else:
        raise SystemExit(f"unknown attack {kind!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
