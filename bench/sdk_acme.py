"""The Acme flow written by hand as an official-SDK app, the way the SDK's own examples are.

This is the "theirs" side of bench/webhook.py: a `jaxl.api.base.BaseJaxlApp` that keeps each
call's place in a dict keyed by call_id in process memory, as the SDK's examples do. It answers
exactly what `jaxl_designer.core.runtime.Runtime` answers for the Acme flow of
`jaxl_designer/examples.py` (main menu 1/2/9, order number collected until `*`, confirm 1/2,
"Sorry, that is not a valid choice." on other keys, and a restart for a call it does not know);
bench/sdk_server.py checks that before serving. Runs in `.venv-sdk` (scripts/sdk-venv).
"""

from __future__ import annotations

from jaxl.api.base import (
    HANDLER_RESPONSE,
    BaseJaxlApp,
    JaxlCtaResponse,
    JaxlPhoneCta,
    JaxlWebhookRequest,
    JaxlWebhookResponse,
)

KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")
SORRY = "Sorry, that is not a valid choice."
LOST = "Sorry, we lost track of your call. Let us start again."
MAIN_PROMPT = [
    "Welcome to Acme.",
    "Press 1 for sales.",
    "Press 2 to enter your order number.",
    "Press 9 to hear this again.",
]
ORDER_PROMPT = ["Please enter your order number followed by star"]
SALES_PHONE = "+918000000001"

MAIN = JaxlWebhookResponse(prompt=MAIN_PROMPT, num_characters=1)
MAIN_AGAIN = JaxlWebhookResponse(prompt=[SORRY, *MAIN_PROMPT], num_characters=1)
RESTART = JaxlWebhookResponse(prompt=[LOST, *MAIN_PROMPT], num_characters=1)
ASK_ORDER = JaxlWebhookResponse(prompt=ORDER_PROMPT, num_characters="*")


def _confirm(order: str, sorry: bool = False) -> JaxlWebhookResponse:
    prompt = [f"You entered {order}.", "Press 1 to confirm.", "Press 2 to re-enter."]
    return JaxlWebhookResponse(prompt=[SORRY, *prompt] if sorry else prompt, num_characters=1)


def _thanks(order: str) -> JaxlWebhookResponse:
    return JaxlWebhookResponse(
        prompt=["Thank you.", f"Your order {order} is on its way."], num_characters=0
    )


class AcmeApp(BaseJaxlApp):
    """Acme's front desk: sales by transfer, or an order number collected and confirmed."""

    def __init__(self) -> None:
        # call_id -> {"at": "main" | "order" | "confirm", "order": digits}
        self._calls: dict[int, dict[str, str]] = {}

    def _restart(self, call_id: int) -> HANDLER_RESPONSE:
        self._calls[call_id] = {"at": "main"}
        return RESTART

    async def handle_setup(self, req: JaxlWebhookRequest) -> HANDLER_RESPONSE:
        assert req.state
        self._calls[req.state.call_id] = {"at": "main"}
        return MAIN

    async def handle_option(self, req: JaxlWebhookRequest) -> HANDLER_RESPONSE:
        assert req.state
        call_id = req.state.call_id
        call = self._calls.get(call_id)
        if call is None or call["at"] == "order" or req.option not in KEYS:
            return self._restart(call_id)
        if call["at"] == "main":
            if req.option == "1":
                del self._calls[call_id]
                return JaxlCtaResponse(phone=JaxlPhoneCta(to_number=SALES_PHONE, from_number=None))
            if req.option == "2":
                call["at"] = "order"
                return ASK_ORDER
            if req.option == "9":
                return MAIN
            return MAIN_AGAIN
        if req.option == "1":
            del self._calls[call_id]
            return _thanks(call["order"])
        if req.option == "2":
            call["at"] = "order"
            return ASK_ORDER
        return _confirm(call["order"], sorry=True)

    async def handle_user_data(self, req: JaxlWebhookRequest) -> HANDLER_RESPONSE:
        assert req.state and req.data
        call_id = req.state.call_id
        call = self._calls.get(call_id)
        if call is None or call["at"] != "order":
            return self._restart(call_id)
        digits = req.data[:-1] if req.data.endswith("*") else req.data
        if not digits or len(digits) > 64 or not (digits.isdigit() and digits.isascii()):
            return ASK_ORDER
        call["order"] = digits
        call["at"] = "confirm"
        return _confirm(digits)

    async def handle_teardown(self, req: JaxlWebhookRequest) -> HANDLER_RESPONSE:
        if req.state:
            self._calls.pop(req.state.call_id, None)
        return None  # the SDK's server answers its neutral prompt
