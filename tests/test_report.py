"""Reports from request logs: thousands of calls sent to the real webhook, counted back exactly."""

from __future__ import annotations

import gzip
import json
import sys
import threading
from pathlib import Path

import pytest
from callers import SCRIPTS, Tally, interleave, plan, send_all
from conftest import PYTHON, Processes, free_port, request

from jaxl_designer import report as report_api
from jaxl_designer.cli import main
from jaxl_designer.core.examples import EXAMPLES
from jaxl_designer.core.fileformat import save
from jaxl_designer.core.report import LogError, Traffic, read
from jaxl_designer.core.runtime import Runtime
from jaxl_designer.drawing.traffic import report
from jaxl_designer.exporter.export import export
from jaxl_designer.webhook.app import WebhookApp

HEADERS = {"content-type": "application/json"}


def logged(flow: str, calls: int, seed: int) -> tuple[list[str], Tally]:
    """A log of `calls` random calls on an example flow, answered by the webhook's own app."""
    lines: list[str] = []
    app = WebhookApp(Runtime(EXAMPLES[flow]().to_document()), log=lines.append)
    sent, tally = plan(flow, calls, seed)
    send_all(
        lambda body: app.handle("POST", "/webhook/", "", HEADERS, body), interleave(sent, seed)
    )
    return lines, tally


def assert_counts(traffic: Traffic, tally: Tally) -> None:
    assert traffic.calls == tally.calls
    assert traffic.endings == tally.endings
    assert traffic.unfinished == tally.unfinished
    assert traffic.reached == tally.reached
    assert traffic.edge_calls == tally.edge_calls
    assert traffic.taken == tally.taken
    assert traffic.hung_up == tally.hung_up
    assert +traffic.gave_up == +tally.gave_up


@pytest.mark.parametrize("flow", sorted(SCRIPTS))
def test_thousands_of_calls_are_counted_as_sent(flow: str) -> None:
    lines, tally = logged(flow, 3000, seed=7)
    traffic = read([lines])
    assert_counts(traffic, tally)
    assert traffic.lines == tally.requests and traffic.bad == 0
    # The teardown Jaxl sends after the flow ended a call belongs to no call.
    after_end = sum(n for name, n in tally.scripts.items() if name == "sales")
    assert traffic.other == after_end


def test_plain_and_gzip_files_read_alike_and_bad_lines_are_placed(tmp_path: Path) -> None:
    lines, tally = logged("acme", 1000, seed=3)
    text = "\n".join([*lines[:10], "webhook: serving", '{"v": 9}', *lines[10:]]) + "\n"
    plain, packed = tmp_path / "a.log", tmp_path / "b.log.1"  # gzip known by its bytes
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    one, two = read([plain]), read([packed])
    assert_counts(one, tally)
    assert one.endings == two.endings and one.paths == two.paths
    assert (one.messages, one.bad) == (1, 1), "the server's own line is no bad line"
    assert one.bad_lines == [(str(plain), 12, "log format 9 unknown")]


def test_a_cut_gzip_log_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    lines, _ = logged("acme", 500, seed=4)
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    traffic = read([cut])
    assert 0 < traffic.lines < len(lines)
    assert traffic.bad == 1 and "cannot read on" in traffic.bad_lines[0][2]


def test_calls_in_progress_are_bounded_and_the_rest_counted_unfinished() -> None:
    lines, tally = logged("acme", 2000, seed=5)
    traffic = read([lines], max_open=10)
    assert traffic.evicted > 0
    # Evicted calls come back as calls the log joined midway: every ending is still counted.
    assert traffic.endings == tally.endings
    assert traffic.unfinished >= tally.unfinished + traffic.evicted - traffic.partial


def test_report_draws_the_traffic(tmp_path: Path) -> None:
    lines, tally = logged("support", 1000, seed=6)
    shown = report_api(EXAMPLES["support"](), lines)
    operator = next(node for node in shown.drawing().nodes if node.id == "operator")
    assert operator.lines[0].startswith(f"{tally.reached['operator']:,} calls")
    unused = next(node for node in shown.drawing().nodes if node.id == "lines")
    assert unused.states == ("unused",) and unused.lines == ("no calls",)
    assert f"gave_up · {tally.edge_calls['main', 'gave_up', 'operator']:,}" in shown.dot()


@pytest.mark.exe
def test_the_html_page_is_self_contained(tmp_path: Path) -> None:
    lines, tally = logged("acme", 500, seed=8)
    page = report_api(EXAMPLES["acme"](), lines).html()
    assert page.count("<svg") == 1 and "<!DOCTYPE svg" not in page
    assert not any(word in page for word in ("<script", "<link", "@import", "src=", "url("))
    assert f"<td>{tally.calls:,}</td>" in page
    assert "main → order → confirm → thanks (hangup)" in page


@pytest.mark.exe
def test_cli_writes_the_report_and_says_what_it_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, tally = logged("acme", 800, seed=9)
    log = tmp_path / "calls.log.gz"
    log.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    flow = tmp_path / "acme.json"
    save(EXAMPLES["acme"](), flow)
    for out in ("r.html", "r.svg", "r.png"):
        assert main(["report", str(flow), str(log), "-o", str(tmp_path / out)]) == 0
    said = capsys.readouterr().out
    assert f"{tally.calls} calls" in said
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "r.svg").read_text().lstrip().startswith("<?xml")


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "acme.json"
    save(EXAMPLES["acme"](), flow)
    not_log = tmp_path / "notes.txt"
    not_log.write_text("hello\nworld\n")
    cases = [
        ([str(flow), str(tmp_path / "missing.log")], "missing.log: no such file"),
        ([str(flow), str(not_log)], "notes.txt: not a request log (line 1: not JSON)"),
        ([str(tmp_path / "nope.json"), str(not_log)], "nope.json"),
    ]
    for args, words in cases:
        assert main(["report", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err


def test_a_log_that_is_not_a_log_is_a_log_error() -> None:
    with pytest.raises(LogError, match="not a request log"):
        read([["[1, 2]", "{}"]])


def test_webhook_under_load_logs_what_a_report_counts_back(tmp_path: Path) -> None:
    """The exported webhook, a real process, 400 calls from 16 threads at once."""
    webhook = export(EXAMPLES["acme"](), tmp_path / "acme").webhook
    port = free_port()
    processes = Processes(tmp_path)
    try:
        server = processes.start(
            [PYTHON, str(webhook), "--host", "127.0.0.1", "--port", str(port)], port=port
        )
        sent, tally = plan("acme", 400, seed=11, first_id=50_000)
        errors: list[str] = []

        def caller(calls: list[list[dict]]) -> None:
            for call in calls:
                for one in call:
                    status, _, _ = request(port, body=one)
                    if status != 200:
                        errors.append(f"{status} for {one}")

        threads = [threading.Thread(target=caller, args=(sent[i::16],)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
    finally:
        processes.stop_all()
    log = [line for line in server.output().splitlines() if line.startswith("{")]
    traffic = read([log])
    assert_counts(traffic, tally)
    print(f"\n{len(log)} lines from the webhook under load: {traffic}", file=sys.stderr)


def test_paths_are_ranked_by_calls() -> None:
    lines, tally = logged("acme", 1500, seed=12)
    traffic = read([lines])
    top = report(EXAMPLES["acme"](), lines).top_paths(3)
    assert [n for _, n in top] == sorted((n for n in traffic.paths.values()), reverse=True)[:3]
    assert sum(traffic.paths.values()) == tally.calls
    assert json.dumps(traffic.funnel()[0]) == json.dumps(["main", tally.calls])
