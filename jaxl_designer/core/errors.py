"""The one base of every error a user can meet: its message is one line saying what and where."""

from __future__ import annotations

__all__ = ["JaxlDesignerError"]


class JaxlDesignerError(Exception):
    """A mistake in a flow, a file, a scenario, a flag or a call: one line saying what and where.

    Every error jaxl-designer raises for a user to read derives from this class (and, where it
    always has, from `ValueError` or `RuntimeError` too), so a caller catches them all at once.

    Example:
        >>> from jaxl_designer import JaxlDesignerError, loads
        >>> try:
        ...     loads("[]", "flow.json")
        ... except JaxlDesignerError as error:
        ...     print(error)
        flow.json: expected a JSON object at the top, found a list
    """
