"""Call state in Redis for every server: JSON values under one key per call, with a TTL."""

from __future__ import annotations

import importlib
import json
from typing import Any
from urllib.parse import urlsplit

from ..core.runtime import CALL_TTL, StoreError

__all__ = ["FLOW_TTL", "RedisStore", "redact"]

#: Seconds a published flow is kept in Redis after it was last published or served from.
FLOW_TTL = 7 * 24 * 3600


class RedisStore:
    """Call state in Redis, shared by every worker and surviving restarts: JSON with a TTL.

    Any connection error or timeout becomes `StoreError`, which the runtime answers with an
    apology; the client reconnects by itself on the next request.

    Args:
        url: A Redis URL such as `redis://localhost:6379/0`.
        ttl: Seconds a call's state is kept after its last request.
        prefix: Prepended to the call id to make the Redis key.
        timeout: Seconds to wait for Redis before apologising to the caller.
        flow_prefix: Prepended to a flow's revision to make the key its document is kept under,
            for calls on that revision whose requests reach a worker that does not keep it.
        ack_prefix: Prepended to the call id to make the key of the call's last step whose
            answer was delivered (`confirm`), kept apart from the state so that a late
            confirmation never writes over a newer state.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: int = CALL_TTL,
        prefix: str = "jaxl:call:",
        timeout: float = 0.5,
        flow_prefix: str = "jaxl:flow:",
        ack_prefix: str = "jaxl:ack:",
    ) -> None:
        try:
            redis = importlib.import_module("redis")
            backoff = importlib.import_module("redis.backoff")
            retry = importlib.import_module("redis.retry")
        except ImportError:
            raise RuntimeError("state in Redis needs the redis client: pip install redis") from None
        self.url = url
        self.ttl = int(ttl)
        self.prefix = prefix
        self.flow_prefix = flow_prefix
        self.ack_prefix = ack_prefix
        # One immediate retry: a pooled connection that Redis dropped is replaced at once.
        self.client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=retry.Retry(backoff.NoBackoff(), 1),
        )
        self._errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
        )

    def __repr__(self) -> str:
        return f"RedisStore({redact(self.url)!r}, ttl={self.ttl}, prefix={self.prefix!r})"

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, command)(*args, **kwargs)
        except self._errors as error:
            raise StoreError(f"Redis at {redact(self.url)} is not answering: {error}") from None

    def key(self, call_id: int) -> str:
        """The Redis key of a call's state."""
        return f"{self.prefix}{call_id}"

    def ack_key(self, call_id: int) -> str:
        """The Redis key of the call's last step whose answer was delivered."""
        return f"{self.ack_prefix}{call_id}"

    @staticmethod
    def decode(raw: bytes | str | None, ack: bytes | str | None = None) -> dict[str, Any] | None:
        """A call's state from the values kept in Redis (its state, and its confirmed step);
        None when there is none, or not ours."""
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            return None  # not ours, or damaged: treated as a call we do not know
        if not isinstance(state, dict):
            return None
        if ack is not None and ack.isdigit():
            state["ack"] = int(ack)
        return state

    @staticmethod
    def encode(state: dict[str, Any]) -> str:
        """The value kept in Redis for a call's state."""
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    def load(self, call_id: int) -> dict[str, Any] | None:
        """Return the state of a call, or None when the call is unknown or expired."""
        return self.decode(*self._call("mget", self.key(call_id), self.ack_key(call_id)))

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        """Keep a call's state for `ttl` seconds after this request."""
        self._call("set", self.key(call_id), self.encode(state), ex=self.ttl)

    def drop(self, call_id: int) -> None:
        """Forget a call."""
        self._call("delete", self.key(call_id), self.ack_key(call_id))

    def confirm(self, call_id: int, step: int) -> None:
        """Note that the answer of the call's step `step` was delivered (`Runtime.delivered`)."""
        self._call("set", self.ack_key(call_id), b"%d" % step, ex=self.ttl)

    def keep_flow(self, rev: str, document: Any) -> None:
        """Keep a published flow document under its revision, `FLOW_TTL` seconds from now
        (longer than any call on it lives: a call's state expires `ttl` after its last request)."""
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        self._call("set", self.flow_prefix + rev, text, ex=max(FLOW_TTL, self.ttl))

    def load_flow(self, rev: str) -> Any:
        """The flow document kept under revision `rev`, or None."""
        raw = self._call("get", self.flow_prefix + rev)
        return None if raw is None else json.loads(raw)

    def ping(self) -> bool:
        """Whether Redis answers now."""
        try:
            return bool(self._call("ping"))
        except StoreError:
            return False


def redact(url: str) -> str:
    """A URL with its password hidden, fit for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
