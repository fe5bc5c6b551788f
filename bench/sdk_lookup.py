"""The SDK's `request_code_and_send_to_phone.py` example, completed as its TODO asks: the "theirs"
side of bench/lookup.py.

The example asks for a code followed by star and sends the caller to the phone number the code
resolves to; its `resolve_code_to_target_phone_number` is a TODO ("complete me with real
implementation"). Here it asks a backend over HTTP, `GET {backend}/codes/{code}`, with httpx (the
SDK's own dependency) through one `httpx.AsyncClient` made once and shared by every call (its
connection pool keeps connections to the backend alive), and reads `target.phone` from the JSON
answer. A backend that fails, times out (2 s, as our lookup's default) or answers without a
phone gets the caller an apology. Served by the SDK's own `_start_server(app)` under uvicorn
(httptools, one worker), as bench/sdk_server.py serves the Acme app.

Usage (in the SDK's venv, made by scripts/sdk-venv):
    .venv-sdk/bin/python bench/sdk_lookup.py --port 9919 --backend http://127.0.0.1:8765 \
        [--no-access-log]
"""

from __future__ import annotations

import argparse
import os

import httpx
from jaxl.api.base import (
    HANDLER_RESPONSE,
    BaseJaxlApp,
    JaxlCtaResponse,
    JaxlPhoneCta,
    JaxlWebhookRequest,
    JaxlWebhookResponse,
)

ASK_FOR_CODE_RESPONSE = JaxlWebhookResponse(
    prompt=["Please enter your code followed by star sign"],
    num_characters="*",
)
SORRY = JaxlWebhookResponse(
    prompt=["Sorry, we cannot find that code right now. Please call again later."],
    num_characters=0,
)
TIMEOUT = 2.0


class RequestCodeAndSendToPhone(BaseJaxlApp):
    """Ask for a code, resolve it to a phone number at a backend, send the caller there."""

    def __init__(self, backend: str) -> None:
        self.backend = backend.rstrip("/")
        # One client for the whole app: its pool keeps connections to the backend alive.
        self.client = httpx.AsyncClient()

    async def resolve_code_to_target_phone_number(self, code: str) -> str | None:
        """The phone number the backend gives for `code`, or None when it gives none."""
        try:
            answer = await self.client.get(f"{self.backend}/codes/{code}", timeout=TIMEOUT)
            answer.raise_for_status()
            phone = answer.json()["target"]["phone"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None
        return phone if isinstance(phone, str) else None

    async def handle_setup(self, req: JaxlWebhookRequest) -> HANDLER_RESPONSE:
        return ASK_FOR_CODE_RESPONSE

    async def handle_user_data(self, req: JaxlWebhookRequest) -> HANDLER_RESPONSE:
        assert req.state and req.data
        code = req.data[:-1] if req.data.endswith("*") else req.data
        if not code.isdigit():
            return ASK_FOR_CODE_RESPONSE
        phone = await self.resolve_code_to_target_phone_number(code)
        if phone is None:
            return SORRY
        return JaxlCtaResponse(phone=JaxlPhoneCta(to_number=phone, from_number=None))


def main() -> None:
    import uvicorn
    from jaxl.api.resources.apps import _start_server

    parser = argparse.ArgumentParser(description="Serve the SDK's code-to-phone example offline.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9919)
    parser.add_argument(
        "--backend",
        default=os.environ.get("LOOKUP_BACKEND", "http://127.0.0.1:8765"),
        help="where codes are resolved: GET <backend>/codes/<code>",
    )
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args()
    uvicorn.run(
        _start_server(RequestCodeAndSendToPhone(args.backend)),
        host=args.host,
        port=args.port,
        http="httptools",
        ws="wsproto",
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
