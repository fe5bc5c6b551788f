"""Where a call's state lives between its requests: the store protocol, and the in-memory store.

The runtime reads and writes a call's state through a `CallStore`; `MemoryStore` keeps it in this
process, the webhook's `RedisStore` in Redis. Standard library only: the exported webhook module
carries this code verbatim.
"""

from __future__ import annotations

import marshal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["CALL_TTL", "MAX_CALLS", "MAX_STORE_BYTES", "CallStore", "MemoryStore", "StoreError"]

#: How many calls an in-memory store keeps at most, and for how long an idle call is kept (s).
MAX_CALLS = 100_000
CALL_TTL = 3600
#: How many bytes of call state an in-memory store keeps at most, whatever the calls hold.
MAX_STORE_BYTES = 256 * 1024 * 1024


class StoreError(RuntimeError):
    """The call-state store cannot be reached; the runtime answers with an apology instead."""


class CallStore(Protocol):
    """Where per-call state lives between requests: a JSON-able dict per call id."""

    def load(self, call_id: int) -> dict[str, Any] | None:
        """Return the state of a call, or None when the call is unknown or expired."""

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        """Keep the state of a call until it ends or idles past the store's time-to-live."""

    def drop(self, call_id: int) -> None:
        """Forget a call; forgetting an unknown call is not an error."""

    # A store may also have `confirm(call_id, step)`: a held answer was delivered, and `load`
    # then gives the call's state with `"ack": step` until it is saved again (`MemoryStore`).


class MemoryStore:
    """A bounded in-process store: least recently used calls go first, idle calls expire.

    Each call's state is kept as `marshal` bytes, not as the dicts themselves: 100,000 waiting
    calls are then objects the garbage collector never walks, where dicts made every full
    collection walk them all (pauses of 20-50 ms under load), and they take less memory.
    A state holds JSON values only, so nothing is lost; `load` gives a fresh dict each time.

    It is bounded twice: by `max_calls`, and by `max_bytes` of kept state, so that calls whose
    state is large (long context values, many variables) cannot grow the process without bound.

    Example:
        >>> store = MemoryStore(max_calls=2)
        >>> for call_id in (1, 2, 3):
        ...     store.save(call_id, {"node": "main"})
        >>> len(store), store.load(1), store.load(3)
        (2, None, {'node': 'main'})
    """

    def __init__(
        self,
        max_calls: int = MAX_CALLS,
        ttl: float = CALL_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = MAX_STORE_BYTES,
    ) -> None:
        if max_calls < 1 or ttl <= 0 or max_bytes < 1:
            raise ValueError("MemoryStore needs max_calls >= 1, ttl > 0 and max_bytes >= 1")
        self.max_calls = max_calls
        self.max_bytes = max_bytes
        #: The bytes of state kept now (the sum of each call's marshalled state).
        self.bytes = 0
        self.ttl = ttl
        self._clock = clock
        # call id -> (last touched, marshalled state, the step confirmed delivered or 0)
        self._calls: OrderedDict[int, tuple[float, bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._calls)

    def load(self, call_id: int) -> dict[str, Any] | None:
        """Return the state of a call, or None when the call is unknown or expired."""
        with self._lock:
            entry = self._calls.get(call_id)
            if entry is None:
                return None
            if self._clock() - entry[0] > self.ttl:
                del self._calls[call_id]
                self.bytes -= len(entry[1])
                return None
        state: dict[str, Any] = marshal.loads(entry[1])
        if entry[2]:
            state["ack"] = entry[2]
        return state

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        """Keep a call's state; evict expired calls, then the least recently used over a bound."""
        now = self._clock()
        kept = marshal.dumps(state)
        with self._lock:
            calls = self._calls
            old = calls.pop(call_id, None)  # saved again, it goes last: the most recently used
            calls[call_id] = (now, kept, 0)
            self.bytes += len(kept) - (0 if old is None else len(old[1]))
            # Most saves evict nothing: no bound is passed and the oldest call is not expired.
            # (The loop below would find the same, after a few more looks.)
            if (
                len(calls) <= self.max_calls
                and self.bytes <= self.max_bytes
                and now - next(iter(calls.values()))[0] <= self.ttl
            ):
                return
            while calls:
                oldest_id, (touched, oldest, _) = next(iter(calls.items()))
                over = len(calls) > self.max_calls or self.bytes > self.max_bytes
                if (over and oldest_id != call_id) or now - touched > self.ttl:
                    del calls[oldest_id]
                    self.bytes -= len(oldest)
                else:
                    break

    def drop(self, call_id: int) -> None:
        """Forget a call."""
        with self._lock:
            entry = self._calls.pop(call_id, None)
            if entry is not None:
                self.bytes -= len(entry[1])

    def confirm(self, call_id: int, step: int) -> None:
        """Note that the answer of a call's step `step` was delivered (`Runtime.delivered`):
        `load` then gives the state with `"ack": step`, until the call is saved again."""
        with self._lock:
            entry = self._calls.get(call_id)
            if entry is not None:
                self._calls[call_id] = (entry[0], entry[1], step)
