"""Jaxl interop: import and export the IVR schema of Jaxl's IVR simulator, reporting what won't map.

The schema, as read from Jaxl's public `jaxl-ivr-simulator` (its `ivr.json` JSON Schema and the
`IVRConfig` TypedDicts of `jaxl/ivr/frontend/base.py`):

- the document: `ivrs` (a list; the first is where calls start), and the directories `phones`
  (`{name, e164}`), `devices` (`{name, device_id}`) and `groups` (`{name, members: [email]}`);
- an IVR: `name`, `greeting_message` (the schema forbids a final `.`), then either `options`,
  `hangup: true` (speak the greeting and hang up) or `webhook: true` (Python code answers); also
  `pk` and `tags`;
- an option, keyed `0`-`9`, `*`, `#`: `name`, and where it goes: `next` (another IVR's name, or
  `{url, name}` in another file), `phone` (a phone's name), `devices` or `groups` (lists of
  names), or `webhook: true`; `needs_input: {prompt, end_character}` asks for digits first and
  `confirm_input: true` reads them back for confirmation.

Mapping: an IVR with options is a `menu`, one with `hangup` a `hangup`; an option goes to the
next IVR's node, to a `transfer`, or through a `collect` (with a confirm `menu` when
`confirm_input`) to either. Groups have member e-mails but no team id, so a group transfer
becomes `teams: "{{group}}"`, a parameter to fill in per environment. Also read (not in the
published schema): `ivrs` as an object keyed by id, and an option with `hangup: true`. What
Jaxl would say to confirm input is not published; the confirm menu's wording is this module's.
Node positions are not part of the schema and are left out without a report.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> result = to_jaxl(acme())
    >>> sorted(result.document["ivrs"][0]["options"])
    ['1', '2', '9']
    >>> result.document["ivrs"][0]["options"]["1"]
    {'name': 'sales', 'phone': 'sales'}
    >>> print("\\n".join(result.unmapped[2:4]))
    main: the invalid edge (what a wrong key does) not exported
    thanks: prompt uses {order}, which Jaxl would speak as written
"""

from __future__ import annotations

from .reading import from_jaxl
from .schema import CONFIRM_PROMPT, ExportResult, ImportResult, InteropError
from .writing import to_jaxl

__all__ = [
    "CONFIRM_PROMPT",
    "ExportResult",
    "ImportResult",
    "InteropError",
    "from_jaxl",
    "to_jaxl",
]
