"""A bad environment stops the exported webhook with one line naming the variable, no traceback.

However the module is started: imported (`python -c "import webhook"`, which is what uvicorn,
gunicorn and the Jaxl SDK do), run as a script, or under uvicorn and gunicorn themselves.
Imported, it exits with status 3, which gunicorn and uvicorn take from a worker as "failed to
boot, do not restart it"; as a script, with status 2, as for a bad flag.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN, free_port

#: Each bad environment, and the one line it must give (after "webhook: ").
BAD = {
    "ttl-word": ({"JAXL_TTL": "soon"}, "JAXL_TTL='soon': not a whole number from 1 up"),
    "ttl-zero": ({"JAXL_TTL": "0"}, "JAXL_TTL='0': not a whole number from 1 up"),
    "max-calls": ({"JAXL_MAX_CALLS": "-1"}, "JAXL_MAX_CALLS='-1': not a whole number from 1 up"),
    "no-redis": (
        {"JAXL_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"},
        "JAXL_REDIS_URL='redis://:***@127.0.0.1:1/0': state in Redis needs the redis client: "
        "pip install redis",
    ),
}
#: The ways a webhook.py is started, as (command, exit status); {port} is a free port.
FORMS = {
    "import": ([sys.executable, "-c", "import webhook"], 3),
    "script": ([sys.executable, "webhook.py", "--port", "{port}"], 2),
    "uvicorn": ([str(BIN / "uvicorn"), "webhook:asgi", "--app-dir", ".", "--port", "{port}"], 3),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Acme exported to a folder of its own: the webhook.py to start."""
    from conftest import export_acme

    return export_acme(tmp_path_factory.mktemp("acme")).parent


@pytest.fixture(scope="module")
def no_redis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose `redis` package fails to import, as when the client is not installed."""
    shadow = tmp_path_factory.mktemp("shadow")
    (shadow / "redis").mkdir()
    (shadow / "redis" / "__init__.py").write_text('raise ImportError("no redis client here")\n')
    return shadow


def environment(no_redis: Path, variables: dict[str, str]) -> dict[str, str]:
    """This environment without JAXL_ variables, plus `variables`, `redis` unimportable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAXL_", "PYTHON"))}
    return {**env, **variables, "PYTHONPATH": str(no_redis)}


def start(
    command: list[str], folder: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    port = str(free_port())
    return subprocess.run(
        [part.replace("{port}", port) for part in command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,  # a server that started anyway would still be running
    )


def test_the_shadow_really_hides_redis(folder: Path, no_redis: Path) -> None:
    code = "import redis"
    out = start([sys.executable, "-c", code], folder, environment(no_redis, {}))
    assert out.returncode == 1 and "no redis client here" in out.stderr


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("bad", BAD)
def test_a_bad_variable_is_one_line_and_an_exit_status(
    folder: Path, no_redis: Path, form: str, bad: str
) -> None:
    variables, message = BAD[bad]
    command, status = FORMS[form]
    out = start(command, folder, environment(no_redis, variables))
    assert (out.returncode, out.stderr, out.stdout) == (status, f"webhook: {message}\n", "")


def test_a_good_environment_still_imports(folder: Path, no_redis: Path) -> None:
    env = environment(no_redis, {"JAXL_TTL": "60", "JAXL_MAX_CALLS": "5"})
    code = "import webhook; print(webhook.app.runtime.store.max_calls)"
    out = start([sys.executable, "-c", code], folder, env)
    assert (out.returncode, out.stdout, out.stderr) == (0, "5\n", "")


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "uvicorn"), "webhook:asgi", "--app-dir", ".", "--port", "{port}",
         "--workers", "2"],
        [str(BIN / "gunicorn"), "webhook:wsgi", "--bind", "127.0.0.1:{port}", "--workers", "2"],
    ],
    ids=["uvicorn-workers", "gunicorn-workers"],
)  # fmt: skip
def test_workers_that_cannot_start_stop_the_server(
    folder: Path, no_redis: Path, command: list[str]
) -> None:
    """Not a worker restarted forever, each failing the same way: the server stops, no traceback."""
    variables, message = BAD["ttl-word"]
    env = {**environment(no_redis, variables), "GUNICORN_CMD_ARGS": "--no-control-socket"}
    out = start(command, folder, env, timeout=60)
    assert f"webhook: {message}\n" in out.stderr
    # No traceback through the webhook's own code. (gunicorn's arbiter, with every worker failing
    # at once, can race its own shutdown and print its own HaltServer traceback, exiting 1.)
    frames = [line for line in out.stderr.splitlines() if line.lstrip().startswith('File "')]
    assert not [frame for frame in frames if "gunicorn" not in frame], out.stderr
    if "gunicorn" in command[0]:
        assert out.returncode in (1, 3), out.stderr  # gunicorn: "Worker failed to boot." (3)
    else:
        assert "Traceback" not in out.stderr


def test_a_lookup_secret_missing_from_the_environment_stops_the_server(tmp_path: Path) -> None:
    """Every call would take the lookup's failed way: the deploy hears it at once, in one line."""
    from jaxl_designer.core.flow import Flow
    from jaxl_designer.exporter.export import export

    flow = Flow("orders")
    flow.lookup(
        "find",
        "https://orders.example.com/o",
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        ok="bye",
        failed="bye",
    )
    flow.hangup("bye", "Bye.")
    flow.allowed_hosts = ["orders.example.com"]
    webhook = export(flow, tmp_path / "orders").webhook
    env = {k: v for k, v in os.environ.items() if k != "ORDERS_TOKEN"}
    done = subprocess.run(
        [sys.executable, str(webhook), "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "webhook: lookup 'find' sends ${ORDERS_TOKEN} in its Authorization header, and "
        "ORDERS_TOKEN is not set: set it in the server's environment"
    ]
    imported = subprocess.run(
        [sys.executable, "-c", "import webhook"],
        cwd=webhook.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert imported.returncode == 3 and "ORDERS_TOKEN is not set" in imported.stderr
    assert "Traceback" not in imported.stderr
