"""Serving settings, each default once: read from the environment and from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from ..core.runtime import CALL_TTL, MAX_CALLS
from .redis_store import redact

__all__ = ["Settings", "read_switch"]

_ON = ("1", "yes", "true", "on")
_OFF = ("0", "no", "false", "off")


# -- reading a value: a flag's or a variable's string, or a value of the right type ---------
def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def _text_or_none(value: Any) -> str | None:
    return None if value is None else _text(value) or None


def _redis_url(value: Any) -> str | None:
    url = _text_or_none(value)
    if url is not None:
        try:  # checked here, so that the error names the flag or the variable asking for Redis
            importlib.import_module("redis")
        except ImportError:
            raise ValueError("state in Redis needs the redis client: pip install redis") from None
    return url


def _shown(name: str, value: Any) -> str:
    """`value` as an error message shows it: a Redis URL with its password hidden."""
    if name == "redis_url" and isinstance(value, str):
        try:
            value = redact(value)
        except ValueError:  # not even a URL: nothing in it can be told from a password
            value = "***"
    return repr(value)


def _loopback(host: str) -> bool:
    """Whether `host` is an address only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: where it points is not ours to know


def read_switch(value: Any) -> bool:
    """An on/off setting as given (`1`, `yes`, `true`, `on` or their opposites), as a bool."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _ON or word in _OFF:
        return word in _ON
    raise ValueError(f"not on ({', '.join(_ON)}) or off ({', '.join(_OFF)})")


def _number(value: Any, kind: Callable[[str], Any]) -> Any:
    """`value` as an int or float, None when it is not one (True is not the number 1)."""
    if isinstance(value, bool):
        return None
    try:
        return kind(str(value))
    except ValueError:
        return None


def _count(value: Any) -> int:
    number: int | None = _number(value, int)
    if number is None or number < 1:
        raise ValueError("not a whole number from 1 up")
    return number


def _port(value: Any) -> int:
    number: int | None = _number(value, int)
    if number is None or not 0 <= number <= 65535:
        raise ValueError("not a port number (0 to 65535)")
    return number


def _seconds(value: Any) -> float:
    number: float | None = _number(value, float)
    if number is None or not 0 < number < math.inf:  # NaN fails both comparisons
        raise ValueError("not a positive number of seconds")
    return number


def _setting(
    default: Any, flag: str, what: str, read: Callable[[Any], Any], env: str | None = None
) -> Any:
    """A field of `Settings`: its default, its flag, what it does, how it is read, its variable."""
    return dataclasses.field(
        default=default, metadata={"flag": flag, "what": what, "read": read, "env": env}
    )


@dataclasses.dataclass(frozen=True, repr=False)
class Settings:
    """How a webhook is served: every setting with its default, its flag and its variable.

    Each value is read and checked when set, so a string will do (`Settings(port="80").port`
    is 80) and a bad value is one line naming it. `from_env` reads the environment, as uvicorn
    and gunicorn workers need; `add_arguments` and `from_args` are the command line, where a flag
    wins over its variable and a variable over the default.

    Attributes:
        host: The address to listen on.
        port: The port to listen on (0: any free port).
        flow_file: A flow file to serve instead of the flow built in; the webhook looks at it
            once a second (and on SIGHUP) and publishes it when it changes (`Revisions`).
        redis_url: Where call state is kept, shared by every worker; None keeps it in memory.
            A URL is refused when the redis client cannot be imported.
        token: A secret every webhook request must carry; None accepts any request.
        no_token: Serve on an address other machines reach without a token (`open_to_all`
            refuses to otherwise): for a proxy in front that authenticates Jaxl itself.
        log: Whether each request writes one JSON line to standard error.
        max_calls: How many calls are kept in memory at most (without Redis).
        ttl: Seconds an idle call's state is kept.
        timeout: Seconds before an idle connection is closed (the standard-library server; the
            keep-alive timeout under `--uvicorn`).
        header_timeout: Seconds a request's head (request line and headers) may take to arrive,
            from its first byte: a slow client is answered 408 and closed.
        body_timeout: Seconds a request's body may take to arrive after its head (408).
        max_connections: Open connections at most, per process: past it a new connection
            closes the one that has waited longest for its request, or is refused (503) when
            every connection is being answered.
        threads: Requests answered at once (the standard-library server's worker threads; a
            connection only holds one while its request, all arrived, is answered).

    Example:
        >>> settings = Settings.from_env({"JAXL_MAX_CALLS": "500", "JAXL_WEBHOOK_LOG": "off"})
        >>> settings.max_calls, settings.log, settings.port
        (500, False, 9919)
        >>> Settings.from_env({"JAXL_TTL": "soon"})
        Traceback (most recent call last):
        ValueError: JAXL_TTL='soon': not a whole number from 1 up
    """

    host: str = _setting("127.0.0.1", "--host", "address to listen on", _text)
    port: int = _setting(9919, "--port", "port to listen on", _port)
    redis_url: str | None = _setting(
        None,
        "--redis-url",
        "keep call state in Redis, e.g. redis://localhost:6379/0",
        _redis_url,
        "JAXL_REDIS_URL",
    )
    token: str | None = _setting(
        None,
        "--token",
        "require this secret in X-Jaxl-Token or ?token=",
        _text_or_none,
        "JAXL_WEBHOOK_TOKEN",
    )
    log: bool = _setting(
        True, "--no-log", "no JSON line per request", read_switch, "JAXL_WEBHOOK_LOG"
    )
    max_calls: int = _setting(
        MAX_CALLS, "--max-calls", "calls kept in memory without Redis", _count, "JAXL_MAX_CALLS"
    )
    ttl: int = _setting(CALL_TTL, "--ttl", "seconds an idle call is kept", _count, "JAXL_TTL")
    timeout: float = _setting(
        15.0, "--timeout", "seconds before an idle connection is closed", _seconds
    )
    header_timeout: float = _setting(
        10.0,
        "--header-timeout",
        "seconds a request's whole head may take from its first byte",
        _seconds,
        "JAXL_HEADER_TIMEOUT",
    )
    body_timeout: float = _setting(
        10.0,
        "--body-timeout",
        "seconds a request's whole body may take after its head",
        _seconds,
        "JAXL_BODY_TIMEOUT",
    )
    max_connections: int = _setting(
        1024,
        "--max-connections",
        "open connections at most; past it the one waiting longest is closed",
        _count,
        "JAXL_MAX_CONNECTIONS",
    )
    threads: int = _setting(
        32, "--threads", "requests answered at once (threads)", _count, "JAXL_THREADS"
    )
    flow_file: str | None = _setting(
        None,
        "--flow",
        "serve the flow in this file (default: the one built in), published again when it changes",
        _text_or_none,
        "JAXL_FLOW_FILE",
    )
    no_token: bool = _setting(
        False,
        "--no-token",
        "serve beyond this machine without a token (a proxy in front authenticates)",
        read_switch,
        "JAXL_NO_TOKEN",
    )

    def __post_init__(self) -> None:
        for setting in dataclasses.fields(self):
            value = getattr(self, setting.name)
            try:
                object.__setattr__(self, setting.name, setting.metadata["read"](value))
            except ValueError as error:
                raise ValueError(f"{setting.name}={_shown(setting.name, value)}: {error}") from None

    def __repr__(self) -> str:
        """The settings with the token and any Redis password hidden, fit for logs."""
        shown = {setting.name: getattr(self, setting.name) for setting in dataclasses.fields(self)}
        if self.token:
            shown["token"] = "***"
        if self.redis_url:
            shown["redis_url"] = redact(self.redis_url)
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def open_to_all(self) -> str | None:
        """Why these settings must not serve, or None: an address other machines reach, no
        token, and no `--no-token` (anyone reaching it could act on a live call by its id).

        Example:
            >>> Settings(host="0.0.0.0").open_to_all() is not None
            True
            >>> Settings(host="0.0.0.0", token="s3cret").open_to_all() is None
            True
        """
        if self.token or self.no_token or _loopback(self.host):
            return None
        return (
            f"--host {self.host} without a token lets anyone who reaches it act on a live call "
            "by its id: set --token (JAXL_WEBHOOK_TOKEN) and give Jaxl the webhook URL with "
            "?token=..., or --no-token (JAXL_NO_TOKEN=1) behind a proxy that authenticates"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment (`os.environ` unless given) asks for, the rest defaults.

        A variable set to the empty string counts as not set. Raises ValueError naming the
        variable of a bad value.
        """
        return cls.from_args(argparse.Namespace(), environ)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add a flag for each setting to `parser`, its help naming the default and the variable.

        A flag not given parses as None, so that `from_args` can tell it from a value given.
        """
        for setting in dataclasses.fields(cls):
            flag, env = setting.metadata["flag"], setting.metadata["env"]
            switch = isinstance(setting.default, bool)
            notes = [] if switch or setting.default is None else [f"default {setting.default}"]
            if env:
                notes.append(f"env {env}={int(not setting.default)}" if switch else f"env {env}")
            what = setting.metadata["what"] + (f" ({', '.join(notes)})" if notes else "")
            if switch:
                action = "store_false" if setting.default else "store_true"
                parser.add_argument(flag, dest=setting.name, action=action, default=None, help=what)
            else:
                parser.add_argument(flag, dest=setting.name, default=None, help=what)

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """The settings parsed `args` ask for: each flag given, else its variable, else default.

        `args` is what a parser given `add_arguments` returns; the variables are read from
        `environ` (`os.environ` unless given). Raises ValueError naming the flag or the variable
        of a bad value.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in dataclasses.fields(cls):
            flag, variable = setting.metadata["flag"], setting.metadata["env"]
            value = getattr(args, setting.name, None)
            where = flag
            if value is None and variable and env.get(variable):
                value, where = env[variable], variable
            if value is None:
                continue
            try:
                values[setting.name] = setting.metadata["read"](value)
            except ValueError as error:
                raise ValueError(f"{where}={_shown(setting.name, value)}: {error}") from None
        return cls(**values)
