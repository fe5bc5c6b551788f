"""The ASGI adapter's own Redis client against a real redis-server: logins, databases, failures."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest
from conftest import Processes, RedisServer, free_port

from jaxl_designer.core.runtime import StoreError
from jaxl_designer.webhook.redis_async import AsyncRedis
from jaxl_designer.webhook.redis_store import RedisStore

pytestmark = pytest.mark.redis


def client(url: str, timeout: float = 0.5) -> AsyncRedis:
    return AsyncRedis(RedisStore(url, ttl=60), timeout=timeout)


def sync(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def test_states_go_in_and_come_out_under_the_stores_keys(redis_server: RedisServer) -> None:
    redis = client(redis_server.url)

    async def run() -> list[Any]:
        await redis.write(1, {"node": "main", "vars": {"order": "123"}})
        await redis.write(2, {"node": "बिक्री"})
        await redis.write(2, None)
        return [await redis.load(1), await redis.load(2), await redis.load(3)]

    assert asyncio.run(run()) == [{"node": "main", "vars": {"order": "123"}}, None, None]
    plain = sync(redis_server.url)
    assert plain.ttl("jaxl:call:1") == 60  # the store's time-to-live, as the sync store sets it
    assert RedisStore(redis_server.url).load(1) == {"node": "main", "vars": {"order": "123"}}


def test_many_requests_at_once_share_one_connection_without_cross_talk(
    redis_server: RedisServer,
) -> None:
    redis = client(redis_server.url)

    async def one(call_id: int) -> Any:
        await redis.write(call_id, {"node": f"n{call_id}", "pad": "x" * (call_id % 97) * 50})
        return await redis.load(call_id)

    async def run() -> list[Any]:
        return await asyncio.gather(*(one(call_id) for call_id in range(500)))

    states = asyncio.run(run())
    assert [s["node"] for s in states] == [f"n{i}" for i in range(500)]
    assert all(len(s["pad"]) == (i % 97) * 50 for i, s in enumerate(states))


def test_a_value_larger_than_one_read_arrives_whole(redis_server: RedisServer) -> None:
    redis = client(redis_server.url)
    big = {"node": "main", "vars": {"notes": "0123456789" * 200_000}}  # 2 MB

    async def run() -> Any:
        await redis.write(9, big)
        return await redis.load(9)

    assert asyncio.run(run()) == big


def test_a_password_and_a_database_from_the_url(spawn: Processes, tmp_path: Any) -> None:
    port = free_port()
    spawn.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--requirepass", "p@ss word", "--dir", str(tmp_path)], port=port)  # fmt: skip
    url = f"redis://:p%40ss%20word@127.0.0.1:{port}/3"

    async def run(redis: AsyncRedis) -> Any:
        await redis.write(4, {"node": "main"})
        return await redis.load(4)

    assert asyncio.run(run(client(url))) == {"node": "main"}
    plain = sync(url)
    assert plain.exists("jaxl:call:4") and not sync(url.replace("/3", "/0")).exists("jaxl:call:4")
    with pytest.raises(StoreError):
        asyncio.run(run(client(f"redis://:wrong@127.0.0.1:{port}/3")))


def test_an_error_reply_fails_that_command_only(redis_server: RedisServer) -> None:
    sync(redis_server.url).rpush("jaxl:call:5", "not a string")
    redis = client(redis_server.url)

    async def run() -> Any:
        with pytest.raises(StoreError, match="WRONGTYPE"):
            await redis.load(5)
        await redis.write(6, {"node": "main"})
        return await redis.load(6)

    assert asyncio.run(run()) == {"node": "main"}


def test_a_redis_that_stops_answering_is_given_up_on_then_reconnected(
    redis_server: RedisServer,
) -> None:
    assert redis_server.process is not None
    pid = redis_server.process.popen.pid
    redis = client(redis_server.url, timeout=0.3)

    async def run() -> tuple[float, Any]:
        await redis.write(7, {"node": "main"})
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(StoreError, match=r"did not answer within 0\.3 s"):
                await redis.load(7)
            waited = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        return waited, await redis.load(7)

    waited, state = asyncio.run(run())
    assert 0.25 < waited < 2 and state == {"node": "main"}


def test_a_killed_connection_and_a_restarted_redis_are_reconnected(
    redis_server: RedisServer,
) -> None:
    redis = client(redis_server.url)

    async def run() -> list[Any]:
        await redis.write(8, {"node": "main"})
        sync(redis_server.url).client_kill_filter(_type="normal", skipme=True)
        await asyncio.sleep(0.1)
        seen = [await redis.load(8)]  # a new connection, at once
        redis_server.stop()
        with pytest.raises(StoreError, match=r"not answering|closed|not connected"):
            await redis.load(8)
        redis_server.start()
        seen.append(await redis.load(8))  # back, empty: nothing was saved
        return seen

    assert asyncio.run(run()) == [{"node": "main"}, None]


@pytest.mark.parametrize(
    ("url", "usable"),
    [("redis://localhost:6379/0", True), ("rediss://u:p@host/2", True), ("redis://h", True),
     ("unix:///tmp/redis.sock", False), ("redis://h/0?protocol=3", False)],
)  # fmt: skip
def test_urls_this_client_does_not_speak_are_left_to_redis_py(url: str, usable: bool) -> None:
    assert AsyncRedis.usable(url) is usable
