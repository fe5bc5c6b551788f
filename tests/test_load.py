"""Load with every answer checked: thousands of interleaved whole Acme calls, no mismatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, free_port, play_calls, uvicorn_command, webhook_command

#: Whole calls per server; each is about 7 requests, so about 21,000 requests a run.
CALLS = 3000
CONCURRENCY = 64


def check(tally: Any, calls: int = CALLS) -> None:
    assert tally.calls == calls, tally
    assert tally.mismatches == [], f"{tally}: {tally.mismatches[:5]}"
    assert tally.errors == [], f"{tally}: {tally.errors[:5]}"
    assert tally.requests >= 3 * calls  # setup, something, teardown at the least


@pytest.mark.slow
def test_the_stdlib_server_answers_thousands_of_interleaved_calls_exactly(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = free_port()
    server = spawn.start(webhook_command(acme_webhook, port), port=port)
    tally = play_calls(port, CALLS, concurrency=CONCURRENCY, seed=3)
    check(tally)
    assert "Traceback" not in server.output()


@pytest.mark.slow
@pytest.mark.redis
def test_two_uvicorn_workers_sharing_redis_answer_thousands_of_calls_exactly(
    acme_webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    import redis

    port = free_port()
    env = {"JAXL_REDIS_URL": redis_server.url, "JAXL_WEBHOOK_LOG": "0"}
    server = spawn.start(uvicorn_command(acme_webhook, port), port=port, env=env)
    tally = play_calls(port, CALLS, concurrency=CONCURRENCY, seed=4)
    check(tally)
    assert "Traceback" not in server.output()
    # every call ended with a teardown, so nothing is left behind in Redis
    assert redis.Redis.from_url(redis_server.url).keys("jaxl:call:*") == []


def test_a_wrong_answer_is_caught(tmp_path: Path, spawn: Processes) -> None:
    """The checker itself: a server answering another flow is reported, not passed."""
    from jaxl_designer.core.examples import support_menu
    from jaxl_designer.exporter.export import export

    other = export(support_menu(), tmp_path / "support").webhook
    port = free_port()
    spawn.start(webhook_command(other, port), port=port)
    tally = play_calls(port, 20, concurrency=4, seed=5)
    assert tally.mismatches and not tally.errors
