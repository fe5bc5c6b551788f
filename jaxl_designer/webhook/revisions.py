"""Revisions: a flow published to a running webhook, each call finishing on its own revision.

A webhook serving a flow file (`--flow PATH`, `JAXL_FLOW_FILE`) looks at the file at most once a
second, as requests come (and at once on SIGHUP, under `python webhook.py`). A changed file is
read and checked first; a good one becomes the revision new calls start on, and a bad one is
refused with one line on stderr while the revision serving goes on. Each call's state records
the revision it started on, and its requests are answered by that revision's runtime: the last
`KEEP_REVISIONS` are kept in each process and, with Redis, every published flow is kept there
under its revision, so a worker that never saw a revision (or restarted) reads it back. Rolling
back is publishing the old file again.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..core.runtime import CallStore, Runtime, StoreError, revision

__all__ = [
    "FLOW_CHECK_SECONDS",
    "KEEP_REVISIONS",
    "FlowRefused",
    "Revisions",
    "check_flow",
    "read_flow",
]

#: How many revisions of the flow each process keeps for calls in flight, the current one included.
KEEP_REVISIONS = 4
#: How often, at most, a webhook serving a flow file looks whether the file changed.
FLOW_CHECK_SECONDS = 1.0
#: The largest flow file a webhook reads.
MAX_FLOW_BYTES = 16 * 1024 * 1024
#: The node kinds the runtime runs.
RUN_KINDS = frozenset({"menu", "collect", "say", "set", "branch", "lookup", "hangup", "transfer"})
_FLOW_FORMAT = "jaxl-designer/flow"


class FlowRefused(ValueError):
    """A flow document or file that cannot be served: one line saying why."""


def _is_parameter(value: Any) -> bool:
    text = value.strip() if isinstance(value, str) else ""
    return text.startswith("{{") and text.endswith("}}")


def check_flow(document: Any) -> dict[str, Any]:
    """`document` if the runtime can serve it as it is; else `FlowRefused` saying why.

    A flow file as the designer saves it serves as it is, unless it still has what only the
    designer puts in (pieces, `{{parameters}}`): such a flow is refused, not half run.

    Example:
        >>> check_flow({"entry": "a", "nodes": {"a": {"kind": "say", "edges": {"next": "b"}}}})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        jaxl_designer...FlowRefused: node 'a': its next edge leads to 'b', which is not a node
    """
    if not isinstance(document, dict):
        raise FlowRefused("not a JSON object")
    if document.get("format", _FLOW_FORMAT) != _FLOW_FORMAT:
        raise FlowRefused(f"format {document.get('format')!r} is not {_FLOW_FORMAT!r}")
    nodes = document.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        raise FlowRefused("it has no nodes")
    entry = document.get("entry")
    if not isinstance(entry, str) or entry not in nodes:
        raise FlowRefused(f"its entry {entry!r} is not a node")
    for node_id, spec in nodes.items():
        if not isinstance(spec, dict):
            raise FlowRefused(f"node {node_id!r} is not an object")
        kind = spec.get("kind")
        if kind == "subflow":
            raise FlowRefused(
                f"node {node_id!r} includes a piece: publish a flow without pieces "
                "(the webhook cannot expand them)"
            )
        if kind not in RUN_KINDS:
            raise FlowRefused(f"node {node_id!r} is of no kind the webhook runs: {kind!r}")
        if kind == "transfer":
            for name, value in spec.items():
                if _is_parameter(value):
                    raise FlowRefused(
                        f"node {node_id!r}: its {name} is the parameter {value.strip()}: "
                        "publish a flow with its environment's values put in"
                    )
        edges = spec.get("edges") or {}
        if not isinstance(edges, dict):
            raise FlowRefused(f"node {node_id!r}: its edges are not an object")
        for key, target in edges.items():
            if not isinstance(target, str) or target not in nodes:
                raise FlowRefused(
                    f"node {node_id!r}: its {key} edge leads to {target!r}, which is not a node"
                )
    try:
        Runtime(document)
    except Exception as error:  # whatever the runtime cannot take: said, not raised
        raise FlowRefused(f"the runtime cannot run it: {type(error).__name__}: {error}") from None
    return document


def read_flow(path: str) -> dict[str, Any]:
    """The flow in the file at `path`, checked (`check_flow`); `FlowRefused` saying why not."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FLOW_BYTES + 1)
    except OSError as error:
        raise FlowRefused(f"cannot be read: {error.strerror or error}") from None
    if len(data) > MAX_FLOW_BYTES:
        raise FlowRefused(f"it is over {MAX_FLOW_BYTES} bytes")
    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise FlowRefused(f"not JSON: {error}") from None
    return check_flow(document)


def _file_mark(path: str) -> tuple[int, int, int] | None:
    """What tells one version of a file from another: its inode, size and modification time."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


class Revisions:
    """The revisions of the flow a webhook answers with: the current one, which new calls start
    on, and the last few before it, for the calls still in flight on them.

    Each revision has a `Runtime` per call store (the webhook's own, and the store an event loop
    reads ahead, `on`); each runtime answers a call that started on another revision with that
    revision's runtime (`Runtime.others`). Publishing swaps the current revision in one
    assignment: a request already being answered finishes as it began.

    Args:
        document: The flow served first.
        store: Where call state lives; with Redis, each published flow is kept there too.
        path: The flow file to watch, if any: `poll` and `reload` publish it when it changes.
        keep: How many revisions are kept in this process, the current one included.
        check: A further check of a flow before it is published (raises ValueError).
        clock, secrets: The runtimes' (see `Runtime`).
        log: Where lines about publishing go (stderr by default).

    Example:
        >>> hello = {"entry": "a", "nodes": {"a": {"kind": "hangup", "prompt": ["Hello."]}}}
        >>> said: list[str] = []
        >>> served = Revisions(hello, log=said.append)
        >>> bye = {"entry": "a", "nodes": {"a": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> served.publish(bye, "bye") == served.revision, len(served.kept()), len(said)
        (True, 2, 1)
        >>> served.publish({"entry": "b", "nodes": {}}, "bad"), len(served.kept())
        (None, 2)
        >>> said[-1].startswith("webhook: bad refused, revision ")
        True
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        store: CallStore | None = None,
        *,
        path: str | None = None,
        keep: int = KEEP_REVISIONS,
        check: Callable[[Mapping[str, Any]], Any] | None = None,
        clock: Callable[[], float] = time.time,
        secrets: Mapping[str, str] | None = None,
        log: Callable[[str], None] | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        if keep < 1:
            raise ValueError("Revisions needs keep >= 1")
        first = runtime if runtime is not None else Runtime(document, store, clock, secrets)
        self.store: CallStore = first.store
        self.path = os.path.abspath(path) if path else None
        self.keep = keep
        self.check = check
        self.clock = first.clock
        self.secrets = first.secrets
        self.log = log if log is not None else _stderr
        self._lock = threading.Lock()
        self._publishing = threading.Lock()
        rev = revision(first.flow)
        first.rev, first.others = rev, self._finder(self.store)
        #: The flow documents kept, by revision, least recently published or used first.
        self._documents: dict[str, Mapping[str, Any]] = {rev: first.flow}
        #: Each store's runtimes, by revision (copied on change, so reads take no lock).
        self._runtimes: dict[int, dict[str, Runtime]] = {id(self.store): {rev: first}}
        self._stores: dict[int, CallStore] = {id(self.store): self.store}
        #: The revision new calls start on.
        self.revision = rev
        self.runtime = first
        #: Revisions Redis was down for when published: kept there once it is back.
        self._unshared: dict[str, Mapping[str, Any]] = {}
        self._mark = _file_mark(self.path) if self.path else None
        self._next_check = time.monotonic() + FLOW_CHECK_SECONDS
        self._share(rev, first.flow)

    # -- answering ------------------------------------------------------------------------
    def on(self, store: CallStore) -> StoreRevisions:
        """The same revisions with their calls' state in `store` (an event loop's read-ahead)."""
        with self._lock:
            self._stores.setdefault(id(store), store)
        return StoreRevisions(self, store)

    def runtime_on(self, store: CallStore, rev: str | None = None) -> Runtime | None:
        """The runtime of revision `rev` (the current one by default) on `store`; None when
        the revision is kept neither here nor, with Redis, there."""
        rev = self.revision if rev is None else rev
        found = self._runtimes.get(id(store), {}).get(rev)
        if found is not None:
            return found
        document = self._documents.get(rev)
        if document is None:
            document = self._fetch(rev)
            if document is None:
                return None
        with self._lock:
            found = self._runtimes.get(id(store), {}).get(rev)
            if found is None:
                found = Runtime(
                    document, store, self.clock, self.secrets, rev=rev, others=self._finder(store)
                )
                self._runtimes[id(store)] = {**self._runtimes.get(id(store), {}), rev: found}
        return found

    def kept(self) -> list[str]:
        """The revisions this process keeps, least recently published or used first."""
        return list(self._documents)

    def _finder(self, store: CallStore) -> Callable[[str], Runtime | None]:
        def find(rev: str) -> Runtime | None:
            found = self.runtime_on(store, rev)
            if found is None:
                self.log(
                    f"webhook: a call is on revision {rev}, which is kept neither here nor in "
                    f"the store; it starts again on revision {self.revision}"
                )
            return found

        return find

    # -- publishing -----------------------------------------------------------------------
    def publish(self, document: Mapping[str, Any], source: str = "the flow") -> str | None:
        """Make `document` the revision new calls start on; its revision, or None when it is
        refused (one line to the log saying why; the current revision goes on serving)."""
        try:
            checked = check_flow(document)
            if self.check is not None:
                self.check(checked)
        except ValueError as error:
            self._refused(source, str(error))
            return None
        return self._swap(checked, source)

    def poll(self) -> None:
        """Publish the flow file if it changed, and keep in Redis the revisions it was down
        for; looks at most once per `FLOW_CHECK_SECONDS`."""
        if time.monotonic() < self._next_check:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is looking
        try:
            self._next_check = time.monotonic() + FLOW_CHECK_SECONDS
            unshared, self._unshared = self._unshared, {}
            mark = _file_mark(self.path) if self.path else None
            changed = mark != self._mark
            self._mark = mark
        finally:
            self._lock.release()
        for rev, document in unshared.items():
            if rev in self._documents:  # still kept: a worker may need it for a call on it
                self._share(rev, document)
        if changed and self.path is not None:
            self._read(self.path)

    def reload(self) -> str | None:
        """Read the flow file now and publish it (SIGHUP); its revision, or None if refused."""
        if self.path is None:
            return None
        self._mark = _file_mark(self.path)
        return self._read(self.path)

    def _read(self, path: str) -> str | None:
        try:
            document = read_flow(path)
        except ValueError as error:
            self._refused(path, str(error))
            return None
        return self.publish(document, path)

    def _refused(self, source: str, why: str) -> None:
        self.log(f"webhook: {source} refused, revision {self.revision} goes on serving: {why}")

    def _swap(self, document: Mapping[str, Any], source: str) -> str:
        rev = revision(document)
        with self._publishing:
            was = self.revision
            self._keep(rev, document)
            runtime = self.runtime_on(self.store, rev)
            assert runtime is not None  # kept just now
            self._share(rev, document)  # before any call can start on it, for other workers
            self.runtime, self.revision = runtime, rev
        if rev != was:
            self.log(
                f"webhook: {source}: revision {rev} published, was {was}; "
                f"{len(self._documents)} revision(s) kept"
            )
        return rev

    def _keep(self, rev: str, document: Mapping[str, Any]) -> None:
        """Keep `document` as the most recent revision, and forget the oldest past `keep`."""
        with self._lock:
            documents = {k: v for k, v in self._documents.items() if k != rev}
            documents[rev] = self._documents.get(rev, document)
            self._set(self._trim(documents, rev))

    def _set(self, documents: dict[str, Mapping[str, Any]]) -> None:
        """Keep `documents`, and the runtimes of those alone (with the lock held)."""
        self._documents = documents
        self._runtimes = {
            key: {k: v for k, v in runtimes.items() if k in documents}
            for key, runtimes in self._runtimes.items()
        }

    def _trim(self, documents: dict[str, Mapping[str, Any]], rev: str) -> dict[str, Any]:
        """`documents` without the oldest past `keep`: never `rev`, nor the current one unless
        `keep` leaves no room for it."""
        while len(documents) > self.keep:
            old = [k for k in documents if k != rev]
            spare = [k for k in old if k != self.revision] or old
            del documents[spare[0]]
        return documents

    # -- sharing revisions through Redis --------------------------------------------------
    def _share(self, rev: str, document: Mapping[str, Any]) -> None:
        keep_flow = getattr(self.store, "keep_flow", None)
        if keep_flow is None:
            return
        try:
            keep_flow(rev, document)
        except StoreError:  # Redis down (said elsewhere): kept there once it is back
            self._unshared[rev] = document
            return
        except Exception as error:
            self.log(f"webhook: revision {rev} could not be kept in the store: {error}")
        self._unshared.pop(rev, None)

    def _fetch(self, rev: str) -> Mapping[str, Any] | None:
        """A revision kept in the store (Redis) by another worker, checked, or None."""
        load_flow = getattr(self.store, "load_flow", None)
        if load_flow is None:
            return None
        try:
            document = check_flow(load_flow(rev))
        except Exception:  # not there, Redis down, or not a flow: a revision not known
            return None
        if revision(document) != rev:
            return None
        with self._lock:
            if rev not in self._documents:
                documents = {rev: document, **self._documents}  # an old one: first to go
                self._set(self._trim(documents, rev))
            return document


class StoreRevisions:
    """`Revisions` seen with calls' state in another store: the current runtime on it."""

    def __init__(self, revisions: Revisions, store: CallStore) -> None:
        self.revisions = revisions
        self.store = store

    @property
    def runtime(self) -> Runtime:
        """The runtime new calls start on, on this store."""
        found = self.revisions.runtime_on(self.store)
        assert found is not None  # the current revision is always kept
        return found

    @property
    def revision(self) -> str:
        return self.revisions.revision

    def poll(self) -> None:
        self.revisions.poll()

    def reload(self) -> str | None:
        return self.revisions.reload()


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
