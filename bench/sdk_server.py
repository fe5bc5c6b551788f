"""Serve bench/sdk_acme.py with the official SDK's own server code, offline.

`jaxl apps run` logs in to Jaxl before serving (and so cannot start here); this builds the same
FastAPI app with `jaxl.api.resources.apps._start_server(app)` and runs it under uvicorn the way
`apps_run` does (httptools, one worker), with uvicorn's access log on unless --no-access-log.

Usage (in the SDK's venv, made by scripts/sdk-venv):
    .venv-sdk/bin/python bench/sdk_server.py --port 9919 [--no-access-log]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jaxl.api.resources.apps import _start_server
from sdk_acme import AcmeApp

#: The ASGI app, for `uvicorn sdk_server:asgi --app-dir bench`.
asgi = _start_server(AcmeApp())


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the hand-written Acme SDK app offline.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9919)
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args()
    uvicorn.run(
        asgi,
        host=args.host,
        port=args.port,
        http="httptools",
        ws="wsproto",
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
