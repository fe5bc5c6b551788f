"""Serving settings: every variable, every flag, bad values in one line, the same defaults shown."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, free_port, request

from jaxl_designer.cli import main as cli_main
from jaxl_designer.core.runtime import CALL_TTL, MAX_CALLS, MemoryStore
from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.webhook.server import app_from_env
from jaxl_designer.webhook.settings import Settings

FLOW = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
EVERY_VARIABLE = {
    "JAXL_REDIS_URL": "redis://:pw@redis.example:6380/2",
    "JAXL_WEBHOOK_TOKEN": "from-env",
    "JAXL_WEBHOOK_LOG": "0",
    "JAXL_MAX_CALLS": "500",
    "JAXL_TTL": "60",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    Settings.add_arguments(parser)
    return parser.parse_args(argv)


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any JAXL_ variable, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAXL_")}
    return {**env, **variables}


# -- the environment -----------------------------------------------------------------------
def test_every_variable_is_read() -> None:
    settings = Settings.from_env(EVERY_VARIABLE)
    assert settings.redis_url == "redis://:pw@redis.example:6380/2"
    assert (settings.token, settings.log, settings.max_calls, settings.ttl) == (
        "from-env",
        False,
        500,
        60,
    )
    assert (settings.host, settings.port, settings.timeout) == ("127.0.0.1", 9919, 15.0)


def test_no_variables_or_empty_ones_are_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env(dict.fromkeys(EVERY_VARIABLE, "")) == Settings()
    assert (Settings().max_calls, Settings().ttl) == (MAX_CALLS, CALL_TTL)


@pytest.mark.parametrize(
    ("word", "log"),
    [("1", True), ("yes", True), ("TRUE", True), (" on ", True), ("0", False), ("No", False),
     ("false", False), ("off", False)],
)  # fmt: skip
def test_the_log_switch_takes_the_usual_words(word: str, log: bool) -> None:
    assert Settings.from_env({"JAXL_WEBHOOK_LOG": word}).log is log


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("JAXL_MAX_CALLS", "abc", "not a whole number from 1 up"),
        ("JAXL_MAX_CALLS", "0", "not a whole number from 1 up"),
        ("JAXL_MAX_CALLS", "2.5", "not a whole number from 1 up"),
        ("JAXL_TTL", "-1", "not a whole number from 1 up"),
        ("JAXL_TTL", "an hour", "not a whole number from 1 up"),
        ("JAXL_WEBHOOK_LOG", "maybe", "not on (1, yes, true, on) or off (0, no, false, off)"),
    ],
)
def test_a_bad_variable_is_one_line_naming_it(variable: str, value: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({**EVERY_VARIABLE, variable: value})
    assert str(caught.value) == f"{variable}={value!r}: {reason}"


def test_the_app_for_servers_is_set_up_from_the_variables() -> None:
    app = app_from_env(FLOW, {"JAXL_WEBHOOK_TOKEN": "t", "JAXL_MAX_CALLS": "7", "JAXL_TTL": "9"})
    store = app.runtime.store
    assert isinstance(store, MemoryStore) and (store.max_calls, store.ttl) == (7, 9.0)
    assert app.token == b"t" and app.log is not None
    assert app_from_env(FLOW, {"JAXL_WEBHOOK_LOG": "off"}).log is None
    with pytest.raises(ValueError, match=r"^JAXL_TTL='0': "):
        app_from_env(FLOW, {"JAXL_TTL": "0"})


@pytest.mark.parametrize(
    ("read", "line"),
    [
        (lambda: Settings.from_env({"JAXL_REDIS_URL": "redis://:pw@h:6379/0"}),
         "JAXL_REDIS_URL='redis://:***@h:6379/0'"),
        (lambda: Settings.from_args(parse(["--redis-url", "redis://u:pw@h/1"]), {}),
         "--redis-url='redis://u:***@h/1'"),
        (lambda: Settings(redis_url="redis://:pw@[::1"), "redis_url='***'"),  # not even a URL
        (lambda: app_from_env(FLOW, {"JAXL_REDIS_URL": "redis://:pw@h/0"}),
         "JAXL_REDIS_URL='redis://:***@h/0'"),
    ],
)  # fmt: skip
def test_redis_without_its_client_is_one_line_naming_the_setting_not_its_password(
    monkeypatch: pytest.MonkeyPatch, read: Any, line: str
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis: ImportError
    with pytest.raises(ValueError) as caught:
        read()
    assert str(caught.value) == f"{line}: state in Redis needs the redis client: pip install redis"
    assert Settings.from_env({"JAXL_REDIS_URL": ""}).redis_url is None  # no Redis: no client


# -- the settings themselves ---------------------------------------------------------------
def test_values_are_read_and_checked_when_set() -> None:
    assert Settings(port="8080", ttl="5", log="off").port == 8080  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^port=70000: not a port number \(0 to 65535\)$"):
        Settings(port=70000)
    with pytest.raises(ValueError, match=r"^timeout=0: "):
        Settings(timeout=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_the_repr_hides_the_token_and_the_redis_password() -> None:
    shown = repr(Settings.from_env(EVERY_VARIABLE))
    assert "from-env" not in shown and ":pw@" not in shown
    assert "token='***'" in shown and "redis_url='redis://:***@redis.example:6380/2'" in shown


# -- the command line ----------------------------------------------------------------------
def test_flags_not_given_parse_as_none_and_take_the_variables() -> None:
    args = parse([])
    assert all(getattr(args, field.name) is None for field in dataclasses.fields(Settings))
    assert Settings.from_args(args, EVERY_VARIABLE) == Settings.from_env(EVERY_VARIABLE)
    assert Settings.from_args(args, {}) == Settings()


def test_flags_win_over_the_variables() -> None:
    argv = ["--host", "0.0.0.0", "--port", "8080", "--token", "from-flag", "--max-calls", "7",
            "--ttl", "9", "--timeout", "2.5", "--redis-url", "redis://localhost/0"]  # fmt: skip
    settings = Settings.from_args(parse(argv), {**EVERY_VARIABLE, "JAXL_WEBHOOK_LOG": "1"})
    assert settings == Settings(
        "0.0.0.0", 8080, "redis://localhost/0", "from-flag", True, 7, 9, 2.5
    )
    assert Settings.from_args(parse(["--no-log"]), {"JAXL_WEBHOOK_LOG": "on"}).log is False
    # a flag given: its variable is not even read, so a bad one does not stand in the way
    assert Settings.from_args(parse(["--ttl", "9"]), {"JAXL_TTL": "soon"}).ttl == 9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port='70000': not a port number (0 to 65535)"),
        (["--port", "http"], "--port='http': not a port number (0 to 65535)"),
        (["--max-calls", "0"], "--max-calls='0': not a whole number from 1 up"),
        (["--ttl", "1e3"], "--ttl='1e3': not a whole number from 1 up"),
        (["--timeout", "0"], "--timeout='0': not a positive number of seconds"),
        (["--timeout", "inf"], "--timeout='inf': not a positive number of seconds"),
        (["--timeout", "nan"], "--timeout='nan': not a positive number of seconds"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_args(parse(argv), {})
    assert str(caught.value) == message


def test_jaxl_designer_serve_says_a_bad_setting_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "flow.json"  # never read: the settings are refused first
    assert cli_main(["serve", str(flow), "--port", "-1"]) == 2
    assert capsys.readouterr().err == (
        "jaxl-designer serve: --port='-1': not a port number (0 to 65535)\n"
    )
    monkeypatch.setenv("JAXL_MAX_CALLS", "lots")
    assert cli_main(["serve", str(flow)]) == 2
    err = capsys.readouterr().err
    assert err == "jaxl-designer serve: JAXL_MAX_CALLS='lots': not a whole number from 1 up\n"


@pytest.mark.parametrize(
    ("argv", "variables", "line"),
    [
        (["--ttl", "0"], {}, "webhook: --ttl='0': not a whole number from 1 up"),
        ([], {"JAXL_TTL": "soon"}, "webhook: JAXL_TTL='soon': not a whole number from 1 up"),
    ],
)
def test_the_generated_module_says_a_bad_setting_in_one_line(
    acme_webhook: Path, argv: list[str], variables: dict[str, str], line: str
) -> None:
    out = subprocess.run(
        [sys.executable, str(acme_webhook), *argv],
        capture_output=True,
        text=True,
        env=clean_env(**variables),
        timeout=30,
    )
    assert (out.returncode, out.stderr, out.stdout) == (2, line + "\n", "")


def _options(help_text: str) -> dict[str, str]:
    """Each flag of a --help text and the help after it, whitespace made single spaces."""
    options = " ".join(help_text.split("options:", 1)[1].split())
    parts = re.split(r"(?:^| )(--[a-z-]+)(?: [A-Z_]+)? ", options)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_help_shows_the_defaults_the_webhook_runs_with(acme_webhook: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-S", str(acme_webhook), "--help"],
        capture_output=True,
        text=True,
        env=clean_env(JAXL_TTL="60"),  # the help shows defaults, not this environment
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    shown = _options(out.stdout)
    defaults = Settings()
    expected = {
        "--host": f"address to listen on (default {defaults.host})",
        "--port": f"port to listen on (default {defaults.port})",
        "--redis-url": "keep call state in Redis, e.g. redis://localhost:6379/0 "
        "(env JAXL_REDIS_URL)",
        "--token": "require this secret in X-Jaxl-Token or ?token= (env JAXL_WEBHOOK_TOKEN)",
        "--no-log": "no JSON line per request (env JAXL_WEBHOOK_LOG=0)",
        "--max-calls": f"calls kept in memory without Redis (default {MAX_CALLS}, env "
        "JAXL_MAX_CALLS)",
        "--ttl": f"seconds an idle call is kept (default {CALL_TTL}, env JAXL_TTL)",
        "--timeout": f"seconds before an idle connection is closed (default {defaults.timeout})",
        "--header-timeout": "seconds a request's whole head may take from its first byte "
        f"(default {defaults.header_timeout}, env JAXL_HEADER_TIMEOUT)",
        "--body-timeout": "seconds a request's whole body may take after its head (default "
        f"{defaults.body_timeout}, env JAXL_BODY_TIMEOUT)",
        "--max-connections": "open connections at most; past it the one waiting longest is "
        f"closed (default {defaults.max_connections}, env JAXL_MAX_CONNECTIONS)",
        "--threads": f"requests answered at once (threads) (default {defaults.threads}, env "
        "JAXL_THREADS)",
        "--flow": "serve the flow in this file (default: the one built in), published again "
        "when it changes (env JAXL_FLOW_FILE)",
        "--no-token": "serve beyond this machine without a token (a proxy in front "
        "authenticates) (env JAXL_NO_TOKEN=1)",
    }
    uvicorn = {
        "--uvicorn",
        "--asyncio",
        "--workers",
    }  # the generated module's own: `jaxl-designer serve` lacks them
    assert {
        flag: text for flag, text in shown.items() if flag not in ("--help", *uvicorn)
    } == expected
    assert set(shown) == {"--help", *uvicorn, *expected}
    # the defaults shown are the ones an app gets when nothing is set
    store = app_from_env(FLOW, {}).runtime.store
    assert isinstance(store, MemoryStore)
    assert (store.max_calls, store.ttl) == (MAX_CALLS, CALL_TTL)
    # and `jaxl-designer serve` shows the same flags with the same help
    serve = subprocess.run(
        [sys.executable, "-m", "jaxl_designer", "serve", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    assert {k: v for k, v in _options(serve.stdout).items() if k in expected} == expected


def test_the_generated_module_takes_a_variable_and_a_flag_over_it(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = free_port()
    env = {"JAXL_WEBHOOK_TOKEN": "from-env", "JAXL_WEBHOOK_LOG": "0"}
    args = [sys.executable, str(acme_webhook), "--port", str(port), "--token", "from-flag"]
    process = spawn.start(args, port=port, env=env)
    setup: Any = webhook_request(1, 1)
    assert request(port, body=setup, headers={"X-Jaxl-Token": "from-env"})[0] == 401
    assert request(port, body=setup, headers={"X-Jaxl-Token": "from-flag"})[0] == 200
    assert '"status":' not in process.output()  # JAXL_WEBHOOK_LOG=0: no request log
