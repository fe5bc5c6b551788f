"""One hostile client must not take the webhook away from everyone else (issue 17, issue 19).

Each serving form, as shipped (`python webhook.py`; `python webhook.py --uvicorn`; `gunicorn`
with the exported gunicorn.conf.py), is attacked on loopback by tests/attacker.py in its own
process, while a well-behaved client opens a fresh connection every 20 ms and asks /healthz.
Over the attack the probes' p99 must stay under 100 ms, none may fail, and the server's
resident memory (its process and children, from /proc) under a stated bound; connections that
send slowly are cut by the server's deadlines. The deadlines are set to 2 s here
(JAXL_HEADER_TIMEOUT, JAXL_BODY_TIMEOUT; 10 s by default) to keep each test a few seconds.
At the scale the issue measured (20,400 idle connections, 8,000 slowloris heads, opened at
4,000 a second and held), each form caps its connections (1,024 per process: the one that has
waited longest for its request is closed for a new one), and the probes must still get
through; 20,400 connections come from two attacker processes (a process may open 20,000 here).
Opened as fast as one attacker process can on this 2-core machine, the probes' p99 was 70-100 ms
(the attacker then takes a core, and the probes queue behind its connections in the kernel).
Figures print with -s.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import BIN, PYTHON, Processes, children, free_port

ATTACKER = Path(__file__).with_name("attacker.py")
FORMS = ["stdlib", "uvicorn", "gunicorn", "asyncio"]
DEADLINE = 2.0  # seconds, for heads and bodies, in these tests
ATTACK_SECONDS = 4.0
P99_MS = 100.0
#: The most resident memory a form may reach under attack, its processes together (MB).
RSS_BOUND_MB = {"stdlib": 80.0, "uvicorn": 100.0, "gunicorn": 140.0, "asyncio": 80.0}
#: attack: (the attacker's kind, count of connections)
ATTACKS = {
    "header flood": ("flood", 1),
    "endless header value": ("endless", 1),
    "idle connections": ("idle", 500),
    "slowloris headers": ("slow-head", 200),
    "slowloris body": ("slow-body", 200),
}
#: The issue's figures.
AT_SCALE = {
    "20,400 idle connections": ("idle", 20_400),
    "8,000 slowloris heads": ("slow-head", 8_000),
}
SCALE_SECONDS = 8.0
#: Connections opened a second, by all the attacker processes together, at scale.
SCALE_RATE = 4_000
#: The connections each serving process keeps open (JAXL_MAX_CONNECTIONS, by default).
CAP = 1024
#: The most connections one attacker process opens.
PER_ATTACKER = 10_200
FIGURES: list[str] = []


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children, in MB (VmRSS)."""
    total = 0.0
    for each in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def start(form: str, webhook: Path, spawn: Processes) -> tuple[int, int]:
    """Serve Acme as `form` ships it; return its port and the pid to measure."""
    port = free_port()
    env = {
        "JAXL_HEADER_TIMEOUT": str(DEADLINE),
        "JAXL_BODY_TIMEOUT": str(DEADLINE),
        "JAXL_WEBHOOK_LOG": "0",
    }
    if form == "stdlib":
        args = [PYTHON, str(webhook), "--port", str(port)]
    elif form in ("uvicorn", "asyncio"):
        args = [PYTHON, str(webhook), f"--{form}", "--port", str(port)]
    else:  # gunicorn reads the exported gunicorn.conf.py from its working directory
        args = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}"]
    process = spawn.start(args, port=port, env=env, cwd=webhook.parent)
    return port, process.popen.pid


@dataclass
class Probes:
    """A well-behaved client: a fresh connection and GET /healthz every 20 ms."""

    port: int
    pid: int
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last_rss = 0.0
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while b'{"ok":true}' not in data:
                        chunk = sock.recv(4096)
                        if not chunk:
                            raise ConnectionError(f"closed after {data[:80]!r}")
                        data += chunk
                self.latencies.append((time.perf_counter() - started) * 1000)
            except OSError as error:
                self.latencies.append((time.perf_counter() - started) * 1000)
                self.failures.append(f"{type(error).__name__}: {error}")
            if time.monotonic() - last_rss > 0.1:
                last_rss = time.monotonic()
                self.rss.append(rss_mb(self.pid))
            time.sleep(0.02)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def attack(
    form: str, name: str, webhook: Path, spawn: Processes, scale: bool = False
) -> tuple[Probes, dict]:
    port, pid = start(form, webhook, spawn)
    time.sleep(0.3)
    kind, count = AT_SCALE[name] if scale else ATTACKS[name]
    seconds = SCALE_SECONDS if scale else ATTACK_SECONDS
    probes = Probes(port, pid)
    probes.rss.append(rss_mb(pid))
    thread = threading.Thread(target=probes.run, daemon=True)
    thread.start()
    shares = [min(PER_ATTACKER, count - at) for at in range(0, count, PER_ATTACKER)]
    attackers = [
        subprocess.Popen([PYTHON, str(ATTACKER), kind, str(port), str(seconds), str(share),
                          *([str(SCALE_RATE / len(shares))] if scale else [])],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for share in shares
    ]  # fmt: skip
    outs = [attacker.communicate(timeout=120) for attacker in attackers]
    probes.stop.set()
    thread.join(5)
    results = [json.loads(out) for out, _ in outs]
    for result in results:
        if "cannot" in result:
            pytest.skip(result["cannot"])
    assert all(attacker.returncode == 0 for attacker in attackers), [err for _, err in outs]
    result = {key: sum(r[key] for r in results) for key in ("sent", "opened", "closed")}
    result["most"] = max(r.get("most", 0) for r in results)
    cuts = [r["cut_after"] for r in results if r["cut_after"] is not None]
    result["cut_after"] = max(cuts) if cuts else None
    line = (
        f"{form:8} {name:22} probes {len(probes.latencies):4}  p50 "
        f"{statistics.median(probes.latencies):6.1f} ms  p99 {probes.p99():7.1f} ms  "
        f"max {max(probes.latencies):7.1f} ms  failed {len(probes.failures):3}  RSS "
        f"{probes.rss[0]:5.1f} -> {max(probes.rss):6.1f} MB  attacker sent "
        f"{result['sent'] / 1e6:7.2f} MB, {result['closed']}/{result['opened']} connections cut"
        + (f" (median {result['cut_after']:.1f} s)" if result["cut_after"] else "")
    )
    FIGURES.append(line)
    print("\n" + line)
    return probes, result


#: What a form cannot do, and why: expected failures, strict (they fail if the form gets better).
CANNOT: dict[tuple[str, str], str] = {}


def _cases() -> list[object]:
    cases = []
    for name in ATTACKS:
        for form in FORMS:
            reason = CANNOT.get((form, name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(form, name, marks=marks, id=f"{form}: {name}"))
    return cases


@pytest.mark.parametrize(("form", "name"), _cases())
def test_one_hostile_client_does_not_take_the_service_away(
    acme_webhook: Path, spawn: Processes, form: str, name: str
) -> None:
    probes, result = attack(form, name, acme_webhook, spawn)
    assert len(probes.latencies) > 50, "the probe client hardly ran"
    assert not probes.failures, probes.failures[:5]
    assert probes.p99() < P99_MS
    assert max(probes.rss) < RSS_BOUND_MB[form], probes.rss
    kind = ATTACKS[name][0]
    if kind in ("flood", "endless"):  # refused at the header limits, well before 64 MB
        assert result["closed"] == result["opened"] and result["most"] < 16 * 2**20, result
    elif kind.startswith("slow"):  # every slow connection cut at its deadline
        assert result["closed"] == result["opened"], result
        assert result["cut_after"] < DEADLINE + 1.5, result


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", list(AT_SCALE))
def test_thousands_of_hostile_connections_do_not_take_the_service_away(
    acme_webhook: Path, spawn: Processes, form: str, name: str
) -> None:
    probes, result = attack(form, name, acme_webhook, spawn, scale=True)
    assert len(probes.latencies) > 100, "the probe client hardly ran"
    assert not probes.failures, probes.failures[:5]
    assert probes.p99() < P99_MS
    assert max(probes.rss) < RSS_BOUND_MB[form], probes.rss
    # Every connection opened past the cap was cut (the longest waiting first); slow heads
    # also at their deadline, idle ones are kept to the idle timeout (15 s).
    kind = AT_SCALE[name][0]
    # The attack ran at scale, the cap passed many times over. A connection the server's full
    # backlog left unanswered for 2 s is one the attacker could not open, not a failure of the
    # server (on a busy CI machine 949 of 20,400 against gunicorn, 3,601 against stdlib).
    assert result["opened"] > 4 * CAP, result
    kept = 0 if kind.startswith("slow") else CAP
    assert result["closed"] >= result["opened"] - kept, result
