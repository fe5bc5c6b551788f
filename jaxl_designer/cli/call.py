"""`jaxl-designer call FLOW.json`: place a call to a flow from the terminal and press keys."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.fileformat import load
from ..core.runtime import DEFAULT_FROM_NUMBER, DEFAULT_TO_NUMBER, KEYS
from ..core.scenarios import record, save
from ..core.simulator import Call, Lookups, Simulator, StubError
from ..core.validation import error_summary, validate
from . import CommandError

__all__ = ["register", "run"]

_WHO = {"ivr": "IVR", "caller": "You"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `call` verb."""
    parser = subparsers.add_parser(
        "call", help="call a flow from the terminal: hear prompts, press keys"
    )
    parser.add_argument("flow", help="the flow file")
    parser.add_argument("--from", dest="from_number", default=DEFAULT_FROM_NUMBER, metavar="N")
    parser.add_argument("--to", dest="to_number", default=DEFAULT_TO_NUMBER, metavar="N")
    parser.add_argument("--at", metavar="ISO-TIME", help="the time the call is placed")
    parser.add_argument("--env", help="the environment whose values fill {{parameters}}")
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the call's context, repeatable: direction=outbound, metadata.order_id=4711, ...",
    )
    parser.add_argument(
        "--lookups",
        metavar="STUBS",
        help="what answers the flow's lookups: a JSON file of stubs (a list, or a scenario "
        "with its lookups), or 'http' to ask the backends for real; without it lookups fail",
    )
    parser.add_argument("--record", metavar="SCENARIO", help="save the call as a scenario file")
    parser.set_defaults(run=run)


def _ask(response: dict[str, Any]) -> str:
    expects = response.get("num_characters")
    if expects == 1:
        return "press a key (h hangs up)> "
    if isinstance(expects, str):
        return f"enter digits, then {expects} (h hangs up)> "
    return f"enter {expects} digits (h hangs up)> "


def _turn(call: Call) -> bool:
    """Read one line and send it; False when the caller hangs up."""
    response = call.response
    while True:
        try:
            line = input(_ask(response)).strip()
        except EOFError:
            print()
            return False
        if line.lower() in ("h", "hangup"):
            return False
        if not line or any(ch not in KEYS for ch in line):
            print("  (keys are 0-9, * and #)")
            continue
        expects = response.get("num_characters")
        if expects == 1:
            if len(line) != 1:
                print("  (one key at a time here)")
                continue
            call.press(line)
        else:
            if isinstance(expects, str) and not line.endswith(expects):
                line += expects
            call.enter(line)
        return True


def _lookups(given: str | None) -> Lookups:
    """`--lookups`: None, "http", or the stubs a JSON file holds (a list, or a scenario's)."""
    if given is None or given == "http":
        return given
    try:
        stubs = json.loads(Path(given).read_text(encoding="utf-8"))
    except OSError as error:
        raise CommandError(f"--lookups {given}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"--lookups {given}: not valid JSON: {error}") from None
    if isinstance(stubs, dict) and "lookups" in stubs:
        stubs = stubs["lookups"]
    if not isinstance(stubs, list):
        raise CommandError(f"--lookups {given}: expected a list of stubs, or a scenario file")
    return stubs


def run(args: argparse.Namespace) -> int:
    """Play the call; at the end print the path, and save a scenario when asked."""
    flow = load(args.flow)
    given = getattr(args, "lookups", None)
    try:
        sim = Simulator(flow, now=args.at, env=args.env, lookups=_lookups(given))
    except StubError as error:
        raise CommandError(f"--lookups {given}: {error}") from None
    except ValueError as error:
        raise CommandError(str(error)) from None
    context = {}
    for given in args.context:
        name, sign, value = given.partition("=")
        if not sign or not name:
            raise CommandError(f"--context {given}: expected NAME=VALUE, like direction=outbound")
        context[name.strip()] = value
    summary = error_summary(validate(flow))
    if summary:  # the call is placed anyway: a flow being built is tried as it stands
        print(f"jaxl-designer call: {summary} (jaxl-designer validate lists them)", file=sys.stderr)
    try:
        call = sim.dial(args.from_number, args.to_number, context=context)
    except ValueError as error:
        raise CommandError(f"--context: {error}") from None
    shown = 0
    while True:
        lines = call.transcript
        for who, text in lines[shown:]:
            if who == "ivr":
                print(f"{_WHO[who]}: {text}", flush=True)
        shown = len(lines)
        if call.ended:
            break
        if not _turn(call):
            call.hangup()
            print("You: (hang up)")
            shown = len(call.transcript)
    print("Path: " + " → ".join(call.path))
    if args.record:
        save(record(call, Path(args.record).stem, now=args.at), args.record)
        print(f"recorded {args.record} ({len(call.steps)} steps)")
    return 0
