"""The webhook: the HTTP code an export carries verbatim (standard library and the runtime only)."""
