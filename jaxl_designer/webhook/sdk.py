"""The Jaxl SDK: a `BaseJaxlApp` whose every handler is answered by the runtime."""

from __future__ import annotations

import importlib
from typing import Any

from ..core.lookups import perform_lookup_async
from ..core.runtime import STORE_DOWN_PROMPT, Runtime, StoreError
from .app import lookup_raised

__all__ = [
    "jaxl_app_class",
    "sdk_response",
]


def jaxl_app_class(runtime: Runtime) -> type:
    """A `jaxl.api.base.BaseJaxlApp` subclass whose handlers are answered by `runtime`.

    For `jaxl apps run --app webhook:JaxlApp`; needs the SDK (`pip install 'jaxl-python[app]'`).
    The SDK's handlers are async, on uvicorn's event loop: a lookup is awaited there
    (`perform_lookup_async`), so a slow backend holds up only the call that waits on it.
    """
    try:
        base = importlib.import_module("jaxl.api.base")
    except ImportError:
        raise AttributeError("JaxlApp needs the Jaxl SDK: pip install 'jaxl-python[app]'") from None

    async def answer(request: Any) -> Any:
        reply = await sdk_response(runtime, request.model_dump(mode="json"))
        if reply is None:  # a mark
            return None
        if "prompt" in reply:
            return base.JaxlWebhookResponse(**reply)
        return base.JaxlCtaResponse(**reply)

    async def handle(self: Any, req: Any) -> Any:
        return await answer(req)

    handlers = (
        "handle_configure",
        "handle_setup",
        "handle_option",
        "handle_user_data",
        "handle_mark",
    )
    namespace: dict[str, Any] = {name: handle for name in (*handlers, "handle_teardown")}
    namespace["__doc__"] = "A Jaxl SDK app that answers every webhook event from the flow."
    return type("JaxlApp", (base.BaseJaxlApp,), namespace)


async def sdk_response(runtime: Runtime, request: Any) -> dict[str, Any] | None:
    """`runtime.handle(request)` with each lookup awaited on the running event loop.

    A store that fails after a lookup is what the runtime says when its store fails.
    """
    turn = runtime.respond(request)
    while turn.lookup is not None:
        try:
            result = await perform_lookup_async(turn.lookup)
        except Exception as error:
            result = lookup_raised(error)
        try:
            turn = runtime.resume(turn, result)
        except StoreError:
            return {"prompt": list(STORE_DOWN_PROMPT), "num_characters": 0}
    return None if turn.silent else turn.response
