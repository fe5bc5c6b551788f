"""Serving a flow: the app from settings, and the command line that starts a server."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.runtime import MemoryStore, secret_names
from .app import WebhookApp, log_to_stderr, request_log
from .http_server import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    make_server,
    serve,
)
from .loop_server import listening_socket, serve_forked, serve_loop
from .redis_store import RedisStore, redact
from .revisions import FlowRefused, Revisions, read_flow
from .sdk import jaxl_app_class, sdk_response
from .settings import Settings, read_switch
from .uvicorn_serving import UVICORN_OPTIONS, serve_uvicorn, uvicorn_protocol
from .wsgi import make_wsgi

__all__ = [
    "ALLOW_PRIVATE_STATE",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINE",
    "MAX_REQUEST_LINE",
    "UVICORN_OPTIONS",
    "app_from_env",
    "build_app",
    "jaxl_app_class",
    "main",
    "make_server",
    "make_wsgi",
    "sdk_response",
    "serve",
    "serve_flow",
    "serve_flow_asyncio",
    "serve_uvicorn",
    "uvicorn_protocol",
    "worker_processes",
]


# -- building an app ------------------------------------------------------------------------
def build_app(flow_document: Mapping[str, Any], settings: Settings | None = None) -> WebhookApp:
    """A webhook app for a flow document, its call state in Redis or in this process."""
    settings = Settings() if settings is None else settings
    store: Any
    if settings.redis_url:
        store = RedisStore(settings.redis_url, ttl=settings.ttl)
    else:
        store = MemoryStore(max_calls=settings.max_calls, ttl=float(settings.ttl))
    path = settings.flow_file
    if path:
        try:
            flow_document = read_flow(path)
        except FlowRefused as error:
            raise FlowRefused(f"{path} refused: {error}") from None
    _check_secrets(flow_document, os.environ)
    revisions = Revisions(
        flow_document,
        store,
        path=path,
        check=lambda document: _check_secrets(document, os.environ),
        log=log_to_stderr,
    )
    return WebhookApp(
        revisions.runtime,
        token=settings.token,
        log=request_log if settings.log else None,
        revisions=revisions,
        held=True,  # every server of the export says when an answer was written
    )


def _check_secrets(flow_document: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Refuse to serve a flow whose lookups read a secret the environment does not have: each
    of its calls would take the lookup's failed way, which a deploy should not find out late."""
    for node_id, spec in (flow_document.get("nodes") or {}).items():
        if spec.get("kind") != "lookup":
            continue
        for header, value in (spec.get("headers") or {}).items():
            for name in secret_names(str(value)):
                if name not in environ:
                    raise ValueError(
                        f"lookup {node_id!r} sends ${{{name}}} in its {header} header, and "
                        f"{name} is not set: set it in the server's environment"
                    )


def app_from_env(
    flow_document: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> WebhookApp:
    """A webhook app set up from the environment, as uvicorn and gunicorn workers need.

    The variables are `Settings.from_env`'s and `ALLOW_PRIVATE_STATE`: a bad value is a
    ValueError naming its variable. Started as one of several uvicorn or gunicorn worker
    processes with call state in memory (no JAXL_REDIS_URL), it refuses with a RuntimeError
    saying why and what to do, unless `ALLOW_PRIVATE_STATE` is on: then it warns on stderr.
    """
    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    allow = _private_state_allowed(env)
    if not settings.redis_url:  # uvicorn and gunicorn workers start here, not in serve_flow
        _refuse_private_state(worker_processes(), allow)
    app = build_app(flow_document, settings)
    _say_if_down(app.runtime.store)
    return app


#: The variable that lets several worker processes each keep their own calls in memory.
ALLOW_PRIVATE_STATE = "JAXL_ALLOW_PRIVATE_STATE"


def _private_state_allowed(env: Mapping[str, str]) -> bool:
    """What `ALLOW_PRIVATE_STATE` says (off when unset); a ValueError naming it when unreadable."""
    allowed = env.get(ALLOW_PRIVATE_STATE) or "0"
    try:
        return read_switch(allowed)
    except ValueError as error:
        raise ValueError(f"{ALLOW_PRIVATE_STATE}={allowed!r}: {error}") from None


_SAID_WORKERS: list[int] = []


def _refuse_private_state(workers: int, allow: bool) -> None:
    """Refuse (or, when allowed, warn once per process) `workers` > 1 keeping calls in memory.

    Jaxl sends each step of a call as its own request, and the server hands each request to
    whichever worker is free: a worker that did not see the call's start answers it as lost.
    """
    if workers < 2:
        return
    lost = "a call whose requests reach different workers is lost"
    if not allow:
        raise RuntimeError(
            f"{workers} worker processes would keep calls in memory each: {lost}. Set "
            "JAXL_REDIS_URL (pip install redis), serve with one worker, or set "
            f"{ALLOW_PRIVATE_STATE}=1 to serve so anyway"
        )
    if not _SAID_WORKERS:
        _SAID_WORKERS.append(workers)
        log_to_stderr(
            f"webhook: {workers} worker processes keep calls in memory each: {lost}. "
            "Set JAXL_REDIS_URL (pip install redis), or serve with one worker."
        )


def worker_processes() -> int:
    """How many worker processes the uvicorn or gunicorn importing this module runs; else 1.

    Read from the server's own settings object, found on the stack of the import, so that
    however the count was given (a flag, WEB_CONCURRENCY, GUNICORN_CMD_ARGS, a config file)
    it is the server's own reading of it, with no race against workers not yet started:

    - gunicorn imports the app in each worker it forks, from `Arbiter.spawn_worker` (in the
      master from `Arbiter.setup` with --preload): the arbiter's `num_workers` is the count,
      TTIN and TTOU included.
    - uvicorn imports it in each worker process under its `Config`, whose `workers` is the
      count; with --reload one process serves, whatever --workers says.

    Nothing found (`python webhook.py`, a plain import, the Jaxl SDK) is 1.

    >>> worker_processes()
    1
    """
    arbiter = getattr(sys.modules.get("gunicorn.arbiter"), "Arbiter", None)
    config = getattr(sys.modules.get("uvicorn.config"), "Config", None)
    if arbiter is None and config is None:  # neither server has been imported: neither runs
        return 1
    found: Any = None
    try:
        frame: Any = sys._getframe(1)
        while frame is not None:
            for value in list(frame.f_locals.values()):
                if arbiter is not None and isinstance(value, arbiter):  # gunicorn wins: its
                    return _whole(getattr(value, "num_workers", 1))  # uvicorn worker class too
                if found is None and config is not None and isinstance(value, config):
                    found = value
            frame = frame.f_back
    except Exception:  # an object on the stack that resists isinstance: count what was seen
        pass
    if found is None or getattr(found, "should_reload", False):
        return 1
    return _whole(getattr(found, "workers", 1))


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


_SAID_DOWN: set[str] = set()


def _say_if_down(store: Any) -> None:
    """Say on stderr, once per process and URL, that the Redis a webhook starts with is down."""
    if isinstance(store, RedisStore) and store.url not in _SAID_DOWN and not store.ping():
        _SAID_DOWN.add(store.url)
        log_to_stderr(
            f"webhook: Redis at {redact(store.url)} is not answering; serving anyway "
            "(callers hear an apology and /healthz answers 503 until it is back)"
        )


# -- command line ---------------------------------------------------------------------------
def _banner(app: WebhookApp, host: str, port: int, how: str = "") -> str:
    store = app.runtime.store
    name = app.runtime.flow.get("name", "flow")
    kept = (
        f"calls kept in Redis at {redact(store.url)}"
        if isinstance(store, RedisStore)
        else "calls kept in memory"
    )
    return f"webhook: serving {name!r} on http://{host}:{port}/webhook/ ({kept}{how})"


def serve_flow_asyncio(
    flow_document: Mapping[str, Any], settings: Settings | None = None, workers: int = 1
) -> int:
    """Serve a flow with the asyncio server (`--asyncio`) until SIGTERM or SIGINT; returns an
    exit status. `workers` > 1 forks that many processes sharing the listening socket, each
    with its own event loop; they need Redis (or `ALLOW_PRIVATE_STATE`) to share calls."""
    settings = Settings() if settings is None else settings
    try:
        if not settings.redis_url:
            _refuse_private_state(workers, _private_state_allowed(os.environ))
        app = build_app(flow_document, settings)
    except (RuntimeError, ValueError) as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    _say_if_down(app.runtime.store)
    try:
        sock = listening_socket(settings.host, settings.port)
    except OSError as error:
        log_to_stderr(
            f"webhook: cannot listen on {settings.host}:{settings.port}: {error.strerror or error}"
        )
        return 1
    bound = sock.getsockname()[1]
    how = ", asyncio" + (f", {workers} worker processes" if workers > 1 else "")
    log_to_stderr(_banner(app, settings.host, bound, how))
    try:
        if workers == 1:
            serve_loop(app, settings, sock)
            return 0
        return serve_forked(lambda: build_app(flow_document, settings), settings, sock, workers)
    finally:
        sock.close()


def serve_flow(flow_document: Mapping[str, Any], settings: Settings | None = None) -> int:
    """Serve a flow over HTTP as `settings` say, until interrupted; returns an exit status."""
    settings = Settings() if settings is None else settings
    try:
        app = build_app(flow_document, settings)
    except (RuntimeError, ValueError) as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    store = app.runtime.store
    _say_if_down(store)
    host, port = settings.host, settings.port
    try:
        server = make_server(
            app,
            host,
            port,
            timeout=settings.timeout,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_connections=settings.max_connections,
            threads=settings.threads,
        )
    except OSError as error:
        log_to_stderr(f"webhook: cannot listen on {host}:{port}: {error.strerror or error}")
        return 1
    log_to_stderr(_banner(app, host, server.server_address[1]))
    if settings.flow_file:
        _reload_on_hangup(app)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _reload_on_hangup(app: WebhookApp) -> None:
    """Publish the flow file at once on SIGHUP (where there is one), not at the next look."""
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None:
        return
    revisions = app.revisions
    with contextlib.suppress(ValueError):  # not the main thread: the file is still looked at
        signal.signal(hangup, lambda number, frame: revisions.reload())


def main(
    argv: Sequence[str] | None, flow_document: Mapping[str, Any], module: str | None = None
) -> int:
    """The generated module's command line: `python webhook.py --port 8080 ...`.

    `module` is the module's own path, which `--uvicorn` has uvicorn import.
    """
    parser = argparse.ArgumentParser(description="Serve this Jaxl webhook over HTTP.")
    Settings.add_arguments(parser)
    if module is not None:
        parser.add_argument(
            "--uvicorn",
            action="store_true",
            help="serve with uvicorn (pip install uvicorn), every head checked, these deadlines "
            "and this connection cap",
        )
        parser.add_argument(
            "--asyncio",
            action="store_true",
            help="serve on one asyncio event loop (uvloop's when installed): the fastest, "
            "standard library only, the same limits and deadlines",
        )
        parser.add_argument(
            "--workers",
            default="1",
            help="worker processes, with --uvicorn or --asyncio (default 1; several need "
            "JAXL_REDIS_URL)",
        )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_args(args)
    except ValueError as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    refusal = settings.open_to_all()
    if refusal is not None:
        log_to_stderr(f"webhook: {refusal}")
        return 2
    if module is None or not (args.uvicorn or args.asyncio):
        return serve_flow(flow_document, settings)
    if args.uvicorn and args.asyncio:
        log_to_stderr("webhook: --uvicorn and --asyncio are two servers: choose one")
        return 2
    workers = str(args.workers)
    if not (workers.isascii() and workers.isdigit() and int(workers) >= 1):
        log_to_stderr(f"webhook: --workers={workers!r}: not a whole number from 1 up")
        return 2
    if args.asyncio:
        return serve_flow_asyncio(flow_document, settings, int(workers))
    return serve_uvicorn(module, settings, int(workers))
